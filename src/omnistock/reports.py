"""Read-side result values: explanations, promises and check reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs


@attrs.frozen
class PositionFigures:
    """Every term of ``atp = on_hand - unsellable - reserved - safety`` at one
    location."""

    location: str
    on_hand: int
    unsellable: dict[str, int]
    reserved: int
    safety: int

    @property
    def atp(self) -> int:
        return self.on_hand - sum(self.unsellable.values()) - self.reserved - self.safety

    def __str__(self) -> str:
        u = sum(self.unsellable.values())
        detail = ", ".join(f"{k} {v}" for k, v in self.unsellable.items() if v)
        return (
            f"{self.location}: on_hand {self.on_hand} - unsellable {u}"
            + (f" ({detail})" if detail else "")
            + f" - reserved {self.reserved} - safety {self.safety} = atp {self.atp}"
        )


@attrs.frozen
class Explanation:
    """Why ``available()`` gave what it gave.

    ``positions`` lists each location counted. ``positive_sum`` is the sum of
    ``max(0, atp)`` over them (a short location never drags another down);
    then the channel's ``buffer`` is taken off and its ``cap`` applied.
    """

    sku: str
    location: str | None
    channel: str | None
    positions: tuple[PositionFigures, ...]
    positive_sum: int
    buffer: int
    cap: int | None
    available: int
    kit: tuple[Any, ...] = ()
    """For a kit: one ``kit_reads.KitPosition`` per location (its kits, its
    limiting component, every component's terms); ``positions`` is empty
    and ``positive_sum`` sums ``max(0, kits)``."""
    limiting: str | None = None
    """For a kit: the component allowing the fewest kits over the scope."""

    def __str__(self) -> str:
        scope = self.location or (f"channel {self.channel}" if self.channel else "network")
        lines = [f"{self.sku} @ {scope}: available {self.available}"]
        lines += [f"  {p}" for p in self.positions]
        if self.kit:
            lines.append(f"  kit limited by {self.limiting}")
            lines += [f"  {p}" for p in self.kit]
        lines.append(f"  sum of max(0, atp) = {self.positive_sum}")
        if self.channel is not None:
            lines.append(f"  - buffer {self.buffer}" + (f", cap {self.cap}" if self.cap else ""))
        return "\n".join(lines)


@attrs.frozen
class SupplyLine:
    location: str
    qty: int
    eta: datetime
    kind: str
    ref: str


@attrs.frozen
class Promise:
    """The earliest date ``qty`` of ``sku`` can be had.

    ``date`` is None when neither stock nor dated supply covers ``qty``.
    ``from_stock`` units come from today's ATP; ``supply`` lists the dated
    supply counted on, in arrival order."""

    sku: str
    qty: int
    date: datetime | None
    from_stock: int
    supply: tuple[SupplyLine, ...]

    @property
    def now(self) -> bool:
        return self.date is not None and not self.supply


@attrs.frozen
class CheckReport:
    """Result of ``check()``: the journal replayed from scratch against the
    live ledger, plus every invariant."""

    ok: bool
    head: int
    rows_replayed: int
    digest: str
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"check ok: {self.rows_replayed} rows replayed, head {self.head}"
        return "check FAILED:\n" + "\n".join(f"  - {p}" for p in self.problems)
