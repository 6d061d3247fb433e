"""The omnistock pytest plugin (entry point ``pytest11: omnistock``).

Installed with omnistock, it is loaded by every pytest run in that
environment, so a third-party store or channel adapter gets the contract
suites with nothing to configure::

    from omnistock.testing import AdapterContract, StoreContract

It provides the fixtures those suites (and their authors) use:

- ``omnistock_clock``: a :class:`~omnistock.testing.FakeClock` at
  2024-01-01 12:00 UTC that moves only on ``advance(seconds)``;
- ``omnistock_inventory``: :func:`~omnistock.testing.standard_inventory`
  on that clock (memory store, closed after the test).

Loading it imports the ``omnistock`` package (the fixtures' engine modules
load when a fixture is first used); ``-p no:omnistock`` turns it off.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..inventory import Inventory
    from .world import FakeClock

__all__ = ["omnistock_clock", "omnistock_inventory", "pytest_report_header"]


def pytest_report_header() -> str:
    try:
        v = version("omnistock")
    except PackageNotFoundError:  # run from a source tree that is not installed
        v = "(not installed)"
    return f"omnistock {v}: contract suites StoreContract, AdapterContract (omnistock.testing)"


@pytest.fixture
def omnistock_clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    from .world import FakeClock

    return FakeClock()


@pytest.fixture
def omnistock_inventory(omnistock_clock: FakeClock) -> Iterator[Inventory]:
    """The standard adapter-test ledger (``S``, ``W``; ``web``, ``pos``,
    ``marketplace``; 10 of ``A`` and ``B`` at each location)."""
    from .world import standard_inventory

    inv = standard_inventory(omnistock_clock)
    try:
        yield inv
    finally:
        inv.close()
