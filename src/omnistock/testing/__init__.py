"""A reusable contract suite for journal stores (``omnistock.storage.base.Store``).

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

The suite needs only pytest and the port; it is imported by tests, never by
omnistock itself. ``import omnistock.testing`` does not import pytest: the
row helpers (:func:`new_row`, :data:`T0`) work without it, and pytest is
imported when :class:`StoreContract` is first asked for. It is
store-agnostic: every conflict test uses rows of one SKU so a store
partitioned by SKU conflicts too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .rows import T0, new_row

if TYPE_CHECKING:
    from .contract import StoreContract

__all__ = ["T0", "StoreContract", "new_row"]


def __getattr__(name: str) -> Any:
    # StoreContract is a pytest class; load it (and pytest) on first use only.
    if name == "StoreContract":
        from .contract import StoreContract

        return StoreContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
