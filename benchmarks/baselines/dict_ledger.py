"""A pure-Python dict ledger: ``(sku, loc) -> [on_hand, reserved]``.

This is the structure most backends start with in application memory. It is
kept as fast as plain Python reasonably gets: integer keys, the inputs turned
into Python lists before timing, locals bound, one dict probe a line.
"""

from __future__ import annotations

from collections.abc import Callable

from ..workloads import Workload

Pos = tuple[int, int]

# Above this many positions only the positions the stream touches are loaded
# (a dict of 10M two-element lists needs ~2 GB). That favours the baseline:
# a smaller table has fewer cache misses.
ALL_POSITIONS_UP_TO = 2_000_000


class DictLedger:
    """Positions in a dict; a reservation succeeds if ``on_hand - reserved >= qty``."""

    __slots__ = ("pos",)

    def __init__(self) -> None:
        self.pos: dict[Pos, list[int]] = {}

    def load(self, w: Workload) -> None:
        if w.positions <= ALL_POSITIONS_UP_TO:
            rows = w.stock.tolist()
            self.pos = {(s, l): [v, 0] for s, row in enumerate(rows) for l, v in enumerate(row)}
        else:
            ts, tl = w.touched()
            vals = w.stock[ts, tl].tolist()
            self.pos = {
                (s, l): [v, 0] for s, l, v in zip(ts.tolist(), tl.tolist(), vals, strict=True)
            }

    def reserve(self, sku: int, loc: int, qty: int) -> bool:
        p = self.pos[(sku, loc)]
        if p[0] - p[1] >= qty:
            p[1] += qty
            return True
        return False

    def reserve_lines(self, s: list[int], l: list[int], qty: list[int]) -> int:
        pos = self.pos
        n = 0
        for key, q in zip(zip(s, l), qty):  # noqa: B905  (equal lengths; strict costs time)
            p = pos[key]
            if p[0] - p[1] >= q:
                p[1] += q
                n += 1
        return n

    def reserve_orders(self, orders: list[list[tuple[int, int, int]]]) -> int:
        """All-or-nothing per order; returns the orders reserved."""
        pos = self.pos
        n = 0
        for lines in orders:
            done = []
            for s, l, q in lines:
                p = pos[(s, l)]
                if p[0] - p[1] >= q:
                    p[1] += q
                    done.append((p, q))
                else:
                    for p2, q2 in done:
                        p2[1] -= q2
                    break
            else:
                n += 1
        return n

    def reserved_total(self) -> int:
        return sum(p[1] for p in self.pos.values())


def prepare_lines(w: Workload) -> Callable[[], int]:
    """Load ``w``'s stock (untimed); the returned callable runs the stream."""
    led = DictLedger()
    led.load(w)
    s, l, q = w.s.tolist(), w.l.tolist(), w.qty.tolist()
    return lambda: led.reserve_lines(s, l, q)


def prepare_orders(w: Workload) -> Callable[[], int]:
    led = DictLedger()
    led.load(w)
    orders = w.orders()
    return lambda: led.reserve_orders(orders)
