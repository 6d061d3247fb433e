"""The result of sourcing an order: ``Allocation``.

All are frozen attrs values that round-trip through ``to_jsonable`` /
``from_jsonable``, so an idempotency key can return the first result
unchanged, trace included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from .._validate import from_micros, to_micros
from ..codec import line_jsonable, transfer_jsonable, transfer_of
from ..values import Reservation, ReservationLine, Transfer
from .sourcing import CandidateTrace, Trace

Status = Literal["allocated", "partial", "unfillable"]


@attrs.frozen
class Suggestion:
    """A pickup store that can serve the whole order now."""

    location: str
    distance_km: float


@attrs.frozen
class Allocation:
    """Where an order is served from.

    ``status``: ``allocated`` (every unit reserved), ``partial`` (some, when
    the order allows it) or ``unfillable`` (nothing reserved; ``reason`` says
    why, and for pickup orders ``suggestions`` names stores that could serve
    it). ``lines`` are what was reserved now, per location; ``transfers`` are
    units on their way to the pickup store, ready at ``ready_at``. ``trace``
    explains the sourcing decision for the unpinned lines."""

    order_id: str
    status: Status
    reservation: Reservation | None = None
    lines: tuple[ReservationLine, ...] = ()
    trace: Trace | None = None
    suggestions: tuple[Suggestion, ...] = ()
    reason: str | None = None
    transfers: tuple[Transfer, ...] = ()
    ready_at: datetime | None = None

    @property
    def locations(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for line in self.lines:
            seen[line.location] = None
        return tuple(seen)

    @property
    def splits(self) -> int:
        return max(0, len(self.locations) - 1)

    def to_jsonable(self) -> dict[str, Any]:
        from ..codec import to_jsonable

        return {
            "order_id": self.order_id,
            "status": self.status,
            "reservation": None if self.reservation is None else to_jsonable(self.reservation)["v"],
            "lines": [line_jsonable(x) for x in self.lines],
            "trace": None if self.trace is None else attrs.asdict(self.trace),
            "suggestions": [[s.location, s.distance_km] for s in self.suggestions],
            "reason": self.reason,
            "transfers": [transfer_jsonable(t) for t in self.transfers],
            "ready_at": None if self.ready_at is None else to_micros(self.ready_at),
        }

    @classmethod
    def from_jsonable(cls, d: dict[str, Any]) -> Allocation:
        from ..codec import decode_reservation

        tr = d["trace"]
        trace = (
            None
            if tr is None
            else Trace(
                candidates=tuple(
                    CandidateTrace(**{**c, "keys": tuple((k, v) for k, v in c["keys"])})
                    for c in tr["candidates"]
                ),
                preferences=tuple(tr["preferences"]),
                filters=tuple(tr["filters"]),
                explanation=tuple(tr["explanation"]),
            )
        )
        return cls(
            order_id=d["order_id"],
            status=d["status"],
            reservation=None if d["reservation"] is None else decode_reservation(d["reservation"]),
            lines=tuple(ReservationLine(*x) for x in d["lines"]),
            trace=trace,
            suggestions=tuple(Suggestion(a, b) for a, b in d["suggestions"]),
            reason=d["reason"],
            transfers=tuple(transfer_of(t) for t in d["transfers"]),
            ready_at=None if d["ready_at"] is None else from_micros(d["ready_at"]),
        )
