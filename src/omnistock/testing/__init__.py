"""Reusable contract suites for journal stores (``omnistock.storage.base.Store``)
and channel adapters (``omnistock.channels.ChannelAdapter``).

Every store, built in or third party, proves the port's guarantees by
subclassing :class:`StoreContract` in a test module::

    from omnistock.testing import StoreContract

    class TestMyStore(StoreContract):
        durable = True

        def make_store(self, tmp_path):
            return MyStore(f"my:///{tmp_path}/journal")

``make_store(tmp_path)`` must return a store at a place derived only from
``tmp_path``, so that calling it again opens *the same* journal (that is how
``reopen`` and the multi-writer tests get a second store object). Stores whose
data does not outlive the object (``memory://``) set ``durable = False``: the
reopen tests skip and the "other writer" is the same object used from another
thread.

A channel adapter does the same with :class:`AdapterContract`
(``make_adapter()`` and ``valid_payloads()``). Both use fixtures of the
omnistock pytest plugin (:mod:`omnistock.testing.plugin`), which pytest loads
by itself wherever omnistock is installed.

The suites need only pytest and the ports; they are imported by tests, never
by omnistock itself. ``import omnistock.testing`` does not import pytest:
the row helpers (:func:`new_row`, :data:`T0`), :class:`FakeClock` and
:func:`standard_inventory` work without it, and pytest is imported when
:class:`StoreContract` or :class:`AdapterContract` is first asked for. The
store suite is store-agnostic: every conflict test uses rows of one SKU so a store
partitioned by SKU conflicts too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .rows import T0, new_row
from .world import FakeClock, standard_inventory

if TYPE_CHECKING:
    from .adapters import AdapterContract
    from .contract import StoreContract

__all__ = ["T0", "AdapterContract", "FakeClock", "StoreContract", "new_row", "standard_inventory"]


def __getattr__(name: str) -> Any:
    # The contracts are pytest classes; load them (and pytest) on first use only.
    if name == "StoreContract":
        from .contract import StoreContract

        return StoreContract
    if name == "AdapterContract":
        from .adapters import AdapterContract

        return AdapterContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
