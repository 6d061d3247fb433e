"""omnistock: one fast, truthful stock ledger for omnichannel retail.

from omnistock import Inventory, Location, Line, Order
inv = Inventory.open("sqlite:///shop.db")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors
from .expiry import Swept
from .feeds.availability import AvailabilityChange
from .fulfilment.batch import BatchResult, OrderBatch
from .fulfilment.policy import Policy
from .fulfilment.results import Allocation, Suggestion
from .holdbatch import HoldBatch, HoldBatchResult
from .inventory import Inventory
from .lot_values import LotLine, Recalled
from .low_stock import Alert
from .queries import LedgerView
from .reports import CheckReport, Explanation, PositionFigures, Promise
from .skus import Sku
from .values import (
    Applied,
    Channel,
    Entry,
    Line,
    Location,
    Order,
    Point,
    Reservation,
    ReservationLine,
    Resourced,
    Shortage,
    Transfer,
)


def _version() -> str:
    """The installed distribution's version (one source: pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omnistock")
    except PackageNotFoundError:  # imported from a source tree, not installed
        return "0+unknown"


__version__ = _version()

if TYPE_CHECKING:
    from .aio import AsyncInventory


def __getattr__(name: str) -> object:
    """``AsyncInventory`` is imported on first use: ``import omnistock`` does
    not pay for asyncio (~30 ms) in programs that never use it."""
    if name == "AsyncInventory":
        from .aio import AsyncInventory

        return AsyncInventory
    raise AttributeError(f"module 'omnistock' has no attribute {name!r}")


__all__ = [
    "Alert",
    "Allocation",
    "Applied",
    "AsyncInventory",
    "AvailabilityChange",
    "BatchResult",
    "Channel",
    "CheckReport",
    "Entry",
    "Explanation",
    "HoldBatch",
    "HoldBatchResult",
    "Inventory",
    "LedgerView",
    "Line",
    "Location",
    "LotLine",
    "Order",
    "OrderBatch",
    "Point",
    "Policy",
    "PositionFigures",
    "Promise",
    "Recalled",
    "Reservation",
    "ReservationLine",
    "Resourced",
    "Shortage",
    "Sku",
    "Suggestion",
    "Swept",
    "Transfer",
    "errors",
    "warmup",
]


def warmup() -> int:
    """Compile every numba kernel now (or load it from the on-disk cache), so
    no request pays the compile cost later. Returns how many kernels. The
    kernels are those of ``ledger.compiler``'s registry (``KERNEL_MODULES``)."""
    from .ledger import compiler

    return compiler.warmup_all()
