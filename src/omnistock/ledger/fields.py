"""The ledger's fields: what the fold, the invariants and snapshots work on.

Kept apart from ``state.LedgerState`` (which adds ``apply`` and friends by
calling ``fold``, ``invariants`` and ``snapshot``) so those modules can name
the type without importing ``state``: no import cycle.
"""

from __future__ import annotations

from typing import Any

from ..skus import Sku
from ..values import Channel, Location
from .grid import Grid, Ranged
from .holds import Holds
from .kits import Kits
from .lots import Lots
from .supply import Supply
from .thresholds import Thresholds

__all__ = ["LedgerFields"]


class LedgerFields:
    """Everything the journal implies, at ``head``: the fields only. The
    fold, the invariants and the snapshot format work on these;
    ``state.LedgerState`` adds the methods that call them."""

    __slots__ = (
        "catalogue",
        "chan_used",
        "channels",
        "grid",
        "head",
        "holds",
        "kits",
        "last_ts",
        "locations",
        "lots",
        "picks",
        "policy",
        "supply",
        "thresholds",
    )

    def __init__(self) -> None:
        self.grid = Grid()
        self.holds = Holds()
        self.supply = Supply()
        self.locations: dict[str, Location] = {}
        self.channels: dict[str, Channel] = {}
        # Orders picked per (location, UTC day): ship-from-store capacity.
        self.picks: dict[tuple[str, int], int] = {}
        # The sourcing policy as a plain dict (the ledger knows no services).
        self.policy: dict[str, Any] | None = None
        # Open reserved units per (channel, sku index): ring-fence "used".
        self.chan_used: dict[tuple[str, int], int] = {}
        # Low-stock marks and alert counts (``thresholds.py``).
        self.thresholds = Thresholds()
        # Declared SKUs (``skus.Sku``: units, decimals), by id.
        self.catalogue: dict[str, Sku] = {}
        # Kit definitions and which kits use each component (``kits.py``).
        self.kits = Kits()
        # Lots of lotted positions only (``lots.py``): beside the grid.
        self.lots = Lots()
        self.head = 0
        self.last_ts = 0

    @property
    def ranged(self) -> Ranged:
        """Positions that have ever been stocked: the location ranges the
        SKU. Kept by the grid, one bool a position in its shape."""
        return self.grid.ranged
