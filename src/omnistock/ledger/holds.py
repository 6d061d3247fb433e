"""Reservation records and the hold-expiry index.

Each reservation keeps its remaining units per position. Held reservations
sit in a ``SortedList`` by expiry, so finding what is due at time ``t`` is
O(log n + due). ``by_pos`` holds the ids of the open reservations at each
position; ``newest_at`` orders them by creation, so a shortage can name the
newest first.
"""

from __future__ import annotations

from sortedcontainers import SortedList

from .grid import Pos

HELD, COMMITTED, FULFILLED, EXPIRED, RELEASED = (
    "held", "committed", "fulfilled", "expired", "released",
)
OPEN = (HELD, COMMITTED)


class Hold:
    """Mutable ledger-side record of one reservation."""

    __slots__ = ("channel", "dest", "expires_us", "id", "lines", "order_id", "pickup", "seq",
                 "shipped", "state")

    def __init__(self, rid: str, order_id: str | None, channel: str | None, seq: int) -> None:
        self.id = rid
        self.state = HELD
        self.order_id = order_id
        self.channel = channel
        self.expires_us: int | None = None
        self.lines: dict[Pos, int] = {}
        self.shipped: dict[Pos, int] = {}
        self.seq = seq
        # Where the order goes, so a lost line can be re-sourced by the policy.
        self.dest: tuple[float, float] | None = None
        self.pickup: str | None = None

    def copy(self) -> Hold:
        h = Hold(self.id, self.order_id, self.channel, self.seq)
        h.state = self.state
        h.expires_us = self.expires_us
        h.lines = dict(self.lines)
        h.shipped = dict(self.shipped)
        h.dest = self.dest
        h.pickup = self.pickup
        return h


class Holds:
    __slots__ = ("by_id", "by_pos", "expiry", "per_order")

    def __init__(self) -> None:
        self.by_id: dict[str, Hold] = {}
        self.expiry: SortedList = SortedList()
        self.by_pos: dict[Pos, set[str]] = {}
        self.per_order: dict[str, int] = {}

    def next_id(self, order_id: str, taken: set[str] | None = None) -> str:
        """A readable, deterministic id: ``<order>#<n>``."""
        n = self.per_order.get(order_id, 0)
        while True:
            n += 1
            rid = f"{order_id}#{n}"
            if rid not in self.by_id and (taken is None or rid not in taken):
                return rid

    def open_hold(self, rid: str, order_id: str | None, channel: str | None, seq: int) -> Hold:
        h = self.by_id.get(rid)
        if h is None:
            h = Hold(rid, order_id, channel, seq)
            self.by_id[rid] = h
            if order_id is not None:
                self.per_order[order_id] = self.per_order.get(order_id, 0) + 1
        return h

    def set_expiry(self, h: Hold, expires_us: int | None) -> None:
        if h.expires_us == expires_us:
            return
        if h.expires_us is not None:
            self.expiry.discard((h.expires_us, h.id))
        h.expires_us = expires_us
        if expires_us is not None:
            self.expiry.add((expires_us, h.id))

    def add_line(self, h: Hold, p: Pos, qty: int) -> None:
        h.lines[p] = h.lines.get(p, 0) + qty
        self.by_pos.setdefault(p, set()).add(h.id)

    def take_line(self, h: Hold, p: Pos, qty: int) -> None:
        left = h.lines.get(p, 0) - qty
        if left > 0:
            h.lines[p] = left
        else:
            h.lines.pop(p, None)
            ids = self.by_pos.get(p)
            if ids is not None:
                ids.discard(h.id)
                if not ids:
                    del self.by_pos[p]

    def close(self, h: Hold, state: str) -> None:
        h.state = state
        self.set_expiry(h, None)

    def due(self, now_us: int) -> list[str]:
        """Ids of held reservations whose expiry is at or before ``now_us``."""
        out = []
        for exp, rid in self.expiry:
            if exp > now_us:
                break
            out.append(rid)
        return out

    def newest_at(self, p: Pos) -> list[str]:
        """Open reservations at ``p``, newest first. O(k log k) for k there."""
        by_id = self.by_id
        return sorted(self.by_pos.get(p, ()), key=lambda rid: (by_id[rid].seq, rid), reverse=True)
