"""Values of lots, expiry and recall (kept apart from ``values.py``,
which imports ``LotLine`` for the ``lots`` of its results)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from .values import Resourced, Shortage

__all__ = ["LotLine", "Recalled"]


@attrs.frozen
class LotLine:
    """``qty`` units of lot ``lot`` of ``sku`` at ``location`` (a serial
    number is a lot of one unit). ``lot`` is ``""`` for units that came
    without a lot. ``expires``: the lot's expiry, if it has one."""

    sku: str
    location: str
    lot: str
    qty: int
    expires: datetime | None = None


@attrs.frozen
class Recalled:
    """What ``recall(sku, lot)`` did: ``quarantined`` lists, per location,
    the lot's units moved to quarantine; ``shortages`` the reservations that
    left uncovered and ``resourced`` where they went. ``seq``: the journal
    head after it."""

    seq: int
    sku: str
    lot: str
    quarantined: tuple[LotLine, ...]
    shortages: tuple[Shortage, ...] = ()
    resourced: tuple[Resourced, ...] = ()
