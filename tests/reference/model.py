"""A small pure-Python reference model of the stock ledger.

Plain dicts and ints, no numpy and nothing from omnistock: it states what the
ledger should do, so ``test_stateful.py`` can drive a real ``Inventory`` side
by side with it and compare every figure after every step.

Per (sku, location) position the model keeps units by state (``sellable``
may go negative after an oversell; safety stock is part of the sellable
units), ``safety`` and ``reserved``:

    atp = on_hand - unsellable - reserved - safety
        = sellable - safety - reserved

A refused command raises ``Refused(kind)`` naming the ``omnistock.errors``
class the real ledger must raise, and leaves the model exactly as it was.
Results are plain tuples (see ``applied`` and ``Res.result``), so the test
can compare them with the real values field by field.

The model also counts journal rows (``head``) the way the ledger journals
them: one row per line of a stock movement, one per reservation line for
every reservation transition and expiry, none for a no-op.

Low-stock thresholds (issue 16): a mark per (sku, location or None for
network-wide); ``crossings()`` is what follows every command and every
expiry that journaled something: one ``threshold-crossed`` row per
threshold whose "at or below its mark" state changed (a cleared mark that
was alerted counts as coming back up).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

SELLABLE = "sellable"
UNSELLABLE = ("damaged", "inspection", "quarantine", "display", "expired")
STATES = (SELLABLE, *UNSELLABLE)
CONDITIONS = (*STATES[:-1], "write_off")  # a return is never "expired"

HELD, COMMITTED, FULFILLED, EXPIRED, RELEASED = (
    "held",
    "committed",
    "fulfilled",
    "expired",
    "released",
)
OPEN = (HELD, COMMITTED)
PAID_PICKUP = timedelta(days=7, hours=24)
"""The default policy's pickup window plus grace: a paid pickup's due time."""

Pos = tuple[str, str]  # (sku, location)
F = TypeVar("F", bound=Callable[..., Any])


def traced(fn: F) -> F:
    """Record each command call in ``Model.trace`` (for failure reports)."""

    @functools.wraps(fn)
    def run(self: Model, *args: Any) -> Any:
        self.trace.append(f"{fn.__name__}{args!r}")
        return fn(self, *args)

    return run  # type: ignore[return-value]


class Refused(Exception):
    """The real ledger must raise ``omnistock.errors.<kind>``."""

    def __init__(self, kind: str, why: str = "") -> None:
        super().__init__(f"{kind}: {why}")
        self.kind = kind


@dataclass
class Position:
    units: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    safety: int = 0
    reserved: int = 0

    @property
    def on_hand(self) -> int:
        return sum(self.units.values())

    @property
    def unsellable(self) -> int:
        return sum(self.units[s] for s in UNSELLABLE)

    @property
    def atp(self) -> int:
        return self.on_hand - self.unsellable - self.reserved - self.safety

    @property
    def available(self) -> int:
        return max(0, self.atp)


@dataclass
class Res:
    id: str
    order_id: str
    state: str
    lines: dict[Pos, int]  # what is still reserved, in creation order
    expires_at: datetime | None
    # Creation order, (n, 0) or for a bulk hold's members (n, place in the
    # batch): shortages name the newest first.
    created: tuple[int, int] = (0, 0)
    shipped: dict[Pos, int] = field(default_factory=dict)
    # The bulk hold's token while the reservation is still kept in its block
    # (the ledger detaches it the first time a command journals a row for it).
    block: str | None = None
    # A pickup order's store: paid, it is released as a no-show when due.
    pickup: str | None = None
    # A kit hold's kits per (kit, location), and each kit's components
    # (ledger/kits.py).
    kits: dict[tuple[str, str], int] = field(default_factory=dict)
    kit_defs: dict[str, dict[str, int]] = field(default_factory=dict)

    def kits_left(self) -> dict[tuple[str, str], int]:
        """The kits left: at most what the component units at each location
        make up, ever (units that leave never bring a kit back)."""
        for (kit, loc), n in list(self.kits.items()):
            comps = self.kit_defs[kit]
            n = min([n] + [self.lines.get((c, loc), 0) // q for c, q in comps.items()])
            if n > 0:
                self.kits[(kit, loc)] = n
            else:
                del self.kits[(kit, loc)]
        return self.kits

    def result(self) -> tuple[Any, ...]:
        """The reservation as the test normalises a real ``Reservation``."""
        out = (
            "reservation",
            self.id,
            self.state,
            tuple((s, l, q) for (s, l), q in self.lines.items()),
            self.expires_at,
            self.order_id,
            None,
            tuple((s, l, q) for (s, l), q in self.shipped.items()),
        )
        if not self.kits or not self.kits_left():
            return out
        lines = tuple(sorted((s, l, q) for (s, l), q in self.lines.items()))
        return (*out[:3], lines, *out[4:], tuple((k, l, n) for (k, l), n in self.kits.items()))


def applied(seq: int, shortages: tuple[tuple[Any, ...], ...] = ()) -> tuple[Any, ...]:
    return ("applied", seq, shortages, ())  # the last: re-sourcing (see Model.resource)


@dataclass
class Location:
    id: str
    accepts_returns: bool = True


class Model:
    """The reference ledger. Every command first expires due holds at ``now``."""

    def __init__(self, skus: list[str], locations: list[Location]) -> None:
        self.skus = list(skus)
        self.locations = {loc.id: loc for loc in locations}
        self.known: set[str] = set()  # SKUs the ledger has journaled
        self.pos: dict[Pos, Position] = {}
        self.res: dict[str, Res] = {}
        self.per_order: dict[str, int] = {}
        self.by_pos: dict[Pos, list[str]] = {}  # open reservations, oldest first
        self.head = len(locations)  # one location-added row each
        self.expired_rows = 0
        self.no_show_rows = 0
        self.trace: list[str] = []
        self.marks: dict[tuple[str, str | None], int] = {}
        self.alerted: set[tuple[str, str | None]] = set()
        self.crossing_rows = 0
        # Open purchase order lines: id -> [sku, location, qty still expected, eta].
        self.supply: dict[str, list[Any]] = {}
        # Declared SKUs' decimals: their quantities here are scaled ints, as in the ledger.
        self.decimals: dict[str, int] = {}
        self.kits: dict[str, dict[str, int]] = {}
        # Lots of lotted positions: lot -> [expiry or None, receipt order, sellable units].
        self.lots: dict[Pos, dict[str, list[Any]]] = {}

    # -- kits (ledger/kits.py) ---------------------------------------------
    def add_kit(self, kit: str, comps: dict[str, int]) -> tuple[Any, ...]:
        """Declare a kit: the same definition again is a no-op, another one
        or a kit that is a stocked SKU is refused."""
        want = dict(sorted(comps.items()))
        old = self.kits.get(kit)
        if old is not None and old != want:
            raise Refused("InvalidInput", f"kit {kit} is {old}")
        if old is None:
            if kit in self.known:
                raise Refused("InvalidInput", f"{kit} is a stocked SKU")
            self.kits[kit] = want
            self.head += 1
        return ("kit", tuple(want.items()))

    def kit_atp(self, kit: str, loc: str) -> int:
        return min(
            (self.p(c, loc).atp if c in self.known else 0) // q for c, q in self.kits[kit].items()
        )

    def kit_available(self, kit: str, loc: str | None = None) -> int:
        locs = [loc] if loc is not None else list(self.locations)
        return sum(max(0, self.kit_atp(kit, x)) for x in locs)

    def hold_kit(
        self, order_id: str, kit: str, n: int, loc: str, now: datetime, ttl: timedelta
    ) -> tuple[Any, ...]:
        """A kit line held at ``loc``: its components, all there; the last
        held row records the kits when a reservation is made (no row of
        its own)."""
        comps = self.kits[kit]
        head = self.head
        out = self.hold(order_id, [(c, n * q, loc) for c, q in comps.items()], now, ttl)
        r = self.res[out[1]]
        if self.head != head:
            r.kits[(kit, loc)] = n
            r.kit_defs[kit] = comps
        return r.result()
        # Lots of lotted positions: lot -> [expiry or None, receipt order, sellable units].
        self.lots: dict[Pos, dict[str, list[Any]]] = {}

    # -- figures ---------------------------------------------------------
    def p(self, sku: str, loc: str) -> Position:
        return self.pos.setdefault((sku, loc), Position())

    def available(self, sku: str, loc: str | None = None) -> int:
        if sku not in self.known:
            raise Refused("UnknownSku", sku)
        if loc is not None:
            return self.p(sku, loc).available
        return sum(self.p(sku, x).available for x in self.locations)

    # -- expiry ------------------------------------------------------------
    def expire(self, now: datetime) -> list[str]:
        """Holds due expire; paid pickups due are released as no-shows (one
        ``no-show`` row per line), all in due order."""
        due = sorted(
            (r.expires_at, r.id)
            for r in self.res.values()
            if r.state in OPEN and r.expires_at is not None and r.expires_at <= now
        )
        blocks = {self.res[rid].block for _, rid in due} - {None}
        for _, rid in due:
            r = self.res[rid]
            if r.state == COMMITTED:  # a paid pickup not collected
                self.no_show_rows += len(r.lines)
                self._close(r, RELEASED)
                continue
            self.expired_rows += len(r.lines)
            self._close(r, EXPIRED)
        self.head += len(blocks)  # one expired-batch row per block
        lots = self.expire_lots(now)
        if due or lots:
            self.crossings()
        return [rid for _, rid in due]

    # -- lots ---------------------------------------------------------------------
    def expire_lots(self, now: datetime) -> int:
        """Lots whose expiry passed: their sellable units become "expired",
        one ``lot-expired`` row each. (Lotted SKUs are never held here.)"""
        n = 0
        for p, book in self.lots.items():
            for lot in book.values():
                if lot[0] is not None and lot[0] <= now and lot[2] > 0:
                    self.p(*p).units[SELLABLE] -= lot[2]
                    self.p(*p).units["expired"] += lot[2]
                    lot[2] = 0
                    n += 1
        self.head += n
        return n

    def fefo(self, p: Pos, qty: int) -> list[tuple[str, int]]:
        """First-expiry-first-out: earliest expiry, no expiry last, ties by
        receipt; what the lots lack comes from units without a lot ("")."""
        out, left = [], qty
        book = self.lots.get(p, {})
        order = sorted(book, key=lambda k: (book[k][0] is None, book[k][0] or 0, book[k][1]))
        for name in order:
            n = min(left, book[name][2])
            if n > 0:
                out.append((name, n))
                left -= n
        return [*out, ("", left)] if left > 0 else out

    @traced
    def receive_lot(
        self, sku: str, loc: str, qty: int, lot: str, exp: datetime | None, now: datetime
    ) -> tuple[Any, ...]:
        for (s, _), book in self.lots.items():
            if s == sku and lot in book and book[lot][0] != exp:
                raise Refused("InvalidInput", f"lot {lot} has another expiry")
        if exp is not None and exp <= now:
            raise Refused("InvalidInput", "expiry passed")
        book = self.lots.setdefault((sku, loc), {})
        if lot not in book:
            book[lot] = [exp, len(book), 0]
        book[lot][2] += qty
        return self.receive(sku, loc, qty)

    def sell_lot(self, loc: str, sku: str, qty: int) -> tuple[tuple[Any, ...], list[Any]]:
        """A sale of a lotted SKU and the lots it takes."""
        taken = self.fefo((sku, loc), qty) if (sku, loc) in self.lots else []
        got = self.sell(loc, [(sku, qty)])
        for name, n in taken:
            if name:
                self.lots[(sku, loc)][name][2] -= n
        return got, taken

    # -- thresholds ---------------------------------------------------------
    def threshold_atp(self, sku: str, loc: str | None) -> int:
        """A position's ATP, or the network's sum of max(0, atp); 0 for a SKU
        the ledger has never journaled."""
        if sku not in self.known:
            return 0
        if loc is None:
            return sum(self.p(sku, x).available for x in self.locations)
        return self.p(sku, loc).atp

    def alerts(self) -> list[tuple[str, str | None, int, int]]:
        """(sku, location, low, atp) of every mark at or below, by SKU then
        location (network first)."""
        out = []
        for (sku, loc), low in self.marks.items():
            atp = self.threshold_atp(sku, loc)
            if atp <= low:
                out.append((sku, loc, low, atp))
        return sorted(out, key=lambda a: (a[0], a[1] or ""))

    @traced
    def set_threshold(self, sku: str, loc: str | None, low: int | None) -> tuple[Any, ...]:
        if loc is not None and loc not in self.locations:
            raise Refused("UnknownLocation", loc)
        if self.marks.get((sku, loc)) == low:
            return applied(self.head)
        if low is None:
            del self.marks[(sku, loc)]
        else:
            self.marks[(sku, loc)] = low
        self.head += 1
        return applied(self.head)

    def crossings(self) -> int:
        """Journal a crossing for each threshold whose state changed."""
        low_now = {(a[0], a[1]) for a in self.alerts()}
        changed = low_now ^ self.alerted
        self.alerted = low_now
        self.head += len(changed)
        self.crossing_rows += len(changed)
        return len(changed)

    def _close(self, r: Res, state: str) -> None:
        if r.block is not None:  # expired inside its block: the block's one row
            r.block = None
            self.head -= len(r.lines)
        self.head += len(r.lines)
        for p, q in r.lines.items():
            self.pos[p].reserved -= q
            self.by_pos[p].remove(r.id)
        r.lines = {}
        r.state = state
        r.expires_at = None

    # -- stock movements ---------------------------------------------------
    def _need(self, sku: str) -> None:
        if sku not in self.known:
            raise Refused("UnknownSku", sku)

    def _shortages(self, taken: dict[Pos, int]) -> tuple[tuple[Any, ...], ...]:
        """Reservations left uncovered once ``taken`` sellable units leave each
        position (safety stock counts as physically there), newest first."""
        out = []
        for p, q in taken.items():
            if p[0] not in self.known:
                continue
            pos = self.p(*p)
            deficit = pos.reserved - max(0, pos.units[SELLABLE] - q)
            if deficit <= 0:
                continue
            names, covered = [], 0
            for rid in sorted(
                self.by_pos.get(p, []), key=lambda x: self.res[x].created, reverse=True
            ):
                names.append(rid)
                covered += self.res[rid].lines[p]
                if covered >= deficit:
                    break
            out.append((p[0], p[1], deficit, tuple(names)))
        return tuple(out)

    @traced
    def add_sku(self, sku: str, decimals: int) -> None:
        """A SKU declared with ``decimals``: one catalogue row; every
        quantity of it is kept (and compared) as ``qty * 10**decimals``."""
        self.decimals[sku] = decimals
        self.head += 1

    @traced
    def receive(self, sku: str, loc: str, qty: int) -> tuple[Any, ...]:
        self.known.add(sku)
        self.p(sku, loc).units[SELLABLE] += qty
        self.head += 1
        return applied(self.head)

    @traced
    def count(self, sku: str, loc: str, qty: int, state: str = SELLABLE) -> tuple[Any, ...]:
        short = ()
        if sku in self.known and state == SELLABLE:
            short = self._shortages({(sku, loc): self.p(sku, loc).units[SELLABLE] - qty})
        self.known.add(sku)
        self.p(sku, loc).units[state] = qty
        self.head += 1
        return applied(self.head, short)

    @traced
    def sell(self, loc: str, lines: list[tuple[str, int]]) -> tuple[Any, ...]:
        taken: dict[Pos, int] = {}
        for sku, qty in lines:
            self._need(sku)
            taken[(sku, loc)] = taken.get((sku, loc), 0) + qty
        short = self._shortages(taken)
        for (sku, _), qty in taken.items():
            self.p(sku, loc).units[SELLABLE] -= qty
        self.head += len(lines)
        return applied(self.head, short)

    @traced
    def set_safety(self, sku: str, loc: str, qty: int) -> tuple[Any, ...]:
        old = self.p(sku, loc).safety if sku in self.known else 0
        if qty == old:
            return applied(self.head)  # nothing journaled
        self.known.add(sku)
        self.p(sku, loc).safety = qty
        self.head += 1
        return applied(self.head)

    @traced
    def change_state(
        self, sku: str, loc: str, qty: int, to: str, from_: str = SELLABLE
    ) -> tuple[Any, ...]:
        self._need(sku)
        pos = self.p(sku, loc)
        if pos.units[from_] < qty:
            raise Refused("InsufficientStock", f"{pos.units[from_]} {from_} < {qty}")
        short = self._shortages({(sku, loc): qty}) if from_ == SELLABLE else ()
        pos.units[from_] -= qty
        pos.units[to] += qty
        self.head += 1
        return applied(self.head, short)

    @traced
    def return_items(
        self, loc: str, lines: list[tuple[str, int]], condition: str = SELLABLE
    ) -> tuple[Any, ...]:
        if not self.locations[loc].accepts_returns:
            raise Refused("InvalidInput", f"{loc} does not accept returns")
        for sku, _ in lines:
            self._need(sku)
        if condition != "write_off":  # a written-off return never enters stock
            for sku, qty in lines:
                self.p(sku, loc).units[condition] += qty
        self.head += len(lines)
        return applied(self.head)

    def resource(
        self,
        shortages: tuple[tuple[Any, ...], ...],
        moves: list[tuple[str, str, str, int, tuple[tuple[str, int], ...], int]],
    ) -> None:
        """Follow-up of a movement that left ``shortages``: the ledger moves
        the uncovered reservation lines, newest reservation first, to other
        locations its sourcing policy picks. The model does not re-implement
        the policy: it checks that the ledger's ``moves`` (reservation, sku,
        source, qty, [(to, n)], missing) are the right lines and quantities,
        that each target had the ATP to take them, and applies them."""
        expect = []
        for sku, loc, deficit, names in shortages:
            left = deficit
            for rid in names:
                if left <= 0:
                    break
                take = min(left, self.res[rid].lines.get((sku, loc), 0))
                expect.append((rid, sku, loc, take))
                left -= take
        assert [m[:4] for m in moves] == expect, f"re-sourced {moves}, expected {expect}"
        for rid, sku, src, qty, to, missing in moves:
            r = self.res[rid]
            assert r.state in OPEN, f"re-sourced closed reservation {rid}"
            moved = sum(n for _, n in to)
            if moved:  # rows journaled for it: detached from its block
                r.block = None
            # whole kits may move more units than were short (kit_moves.py)
            assert missing == (max(0, qty - moved) if r.kits else qty - moved) >= 0, (qty, to)
            if r.kits and r.kits_left():
                to = self._move_kits(r, sku, src, qty, to)
                moved = sum(n for _, n in to)
            for loc, n in to:
                p = (sku, loc)
                assert loc != src and n > 0, (src, loc, n)
                assert self.p(*p).atp >= n, f"moved {n} of {rid} to {p} with atp {self.p(*p).atp}"
                self.pos[p].reserved += n
                if p not in r.lines:
                    self.by_pos.setdefault(p, []).append(rid)
                r.lines[p] = r.lines.get(p, 0) + n
                self.head += 1  # held there
            if moved:
                p = (sku, src)
                self.pos[p].reserved -= moved
                r.lines[p] -= moved
                if not r.lines[p]:
                    del r.lines[p]
                    self.by_pos[p].remove(rid)
                self.head += 1  # released at the source

    def _move_kits(
        self, r: Res, sku: str, src: str, qty: int, to: tuple[tuple[str, int], ...]
    ) -> tuple[tuple[str, int], ...]:
        """Past the plain units of ``sku`` at ``src``, whole kits moved to
        the ledger's first target; returns the targets left for plain units."""
        mine = [(k, n) for k, n in r.kits.items() if k[1] == src and sku in r.kit_defs[k[0]]]
        if not mine:
            return to
        (kit, _), n = mine[0]
        comps = r.kit_defs[kit]
        plain = r.lines.get((sku, src), 0) - n * comps[sku]
        if min(qty, r.lines.get((sku, src), 0)) <= plain or not to:
            return to
        k = min(n, -(-(qty - plain) // comps[sku]))
        new, units = to[0]
        assert units == k * comps[sku], (to, k)
        for c, q in comps.items():
            assert self.p(c, new).atp >= k * q, f"kit moved to {new} without {c}"
            for p, d in (((c, new), k * q), ((c, src), -k * q)):
                self.pos[p].reserved += d
                if p not in r.lines:
                    self.by_pos.setdefault(p, []).append(r.id)
                r.lines[p] = r.lines.get(p, 0) + d
                if not r.lines[p]:
                    del r.lines[p]
                    self.by_pos[p].remove(r.id)
        r.kits[(kit, new)] = r.kits.get((kit, new), 0) + k
        self.head += 2 * len(comps) + 1  # held there, kit-held, released here
        return to[1:]

    # -- reservations --------------------------------------------------------
    @traced
    def hold(
        self,
        order_id: str,
        lines: list[tuple[str, int, str]],
        now: datetime,
        ttl: timedelta,
        pickup: str | None = None,
    ) -> tuple[Any, ...]:
        """All-or-nothing: every aggregated (sku, location) quantity must fit
        in that position's ATP. The order id is a natural key: an open
        reservation of the same order (made by a hold, ``<order>#<n>``, or a
        held-batch member still in its block) is returned when its lines
        are the same, and other lines are an ``IdempotencyConflict``."""
        want: dict[Pos, int] = {}
        for sku, qty, loc in lines:
            want[(sku, loc)] = want.get((sku, loc), 0) + qty
        same = self._open_order(order_id)
        if same is not None:
            have: dict[Pos, int] = {}
            for part in (same.lines, same.shipped):
                for p, q in part.items():
                    have[p] = have.get(p, 0) + q
            if have != want:
                raise Refused("IdempotencyConflict", f"{order_id} is open as {same.id}")
            return same.result()
        for sku, _qty, _loc in lines:
            self._need(sku)
        for p, q in want.items():
            atp = self.p(*p).atp
            if atp < q:
                raise Refused("InsufficientStock", f"{p}: {q} > atp {atp}")
        n = self.per_order.get(order_id, 0) + 1
        while f"{order_id}#{n}" in self.res:
            n += 1
        r = Res(f"{order_id}#{n}", order_id, HELD, dict(want), now + ttl, (len(self.res), 0))
        r.pickup = pickup
        self.res[r.id] = r
        self.per_order[order_id] = self.per_order.get(order_id, 0) + 1
        for p, q in want.items():
            self.pos[p].reserved += q
            self.by_pos.setdefault(p, []).append(r.id)
            assert self.pos[p].atp >= 0, "a hold took ATP below zero"
        self.head += len(want)
        return r.result()

    def _open_order(self, order_id: str) -> Res | None:
        """The open reservation the ledger finds for ``order_id``: the
        newest ``<order>#<n>``, else the oldest held-batch member still in
        its block."""
        open_ = ("held", "committed")
        for n in range(self.per_order.get(order_id, 0), 0, -1):
            r = self.res.get(f"{order_id}#{n}")
            if r is not None and r.state in open_:
                return r
        members = [
            r
            for r in self.res.values()
            if r.order_id == order_id and r.block is not None and r.state == "held"
        ]
        return min(members, key=lambda r: r.created) if members else None

    def _open(self, rid: str, allowed: tuple[str, ...]) -> Res:
        r = self.res[rid]
        if r.state not in allowed:
            raise Refused("InvalidTransition", f"{rid} is {r.state}")
        r.block = None  # every accepted command journals rows for it: detached
        return r

    @traced
    def hold_batch(
        self,
        orders: list[tuple[str, list[tuple[str, int, str]]]],
        now: datetime,
        ttl: timedelta,
        token: str | None,
    ) -> tuple[int, ...]:
        """``hold_many(HoldBatch)``: each order as ``hold`` would decide it,
        in turn; a status per order (1 held, 0 short, 2 unknown SKU). The held
        ones share one journal row, ids ``<order>#<token>`` and a seq."""
        status = []
        created = len(self.res)
        for j, (order_id, lines) in enumerate(orders):
            if any(sku not in self.known for sku, _, _ in lines):
                status.append(2)
                continue
            want: dict[Pos, int] = {}
            for sku, qty, loc in lines:
                want[(sku, loc)] = want.get((sku, loc), 0) + qty
            if any(self.p(*p).atp < q for p, q in want.items()):
                status.append(0)
                continue
            assert token is not None
            r = Res(
                f"{order_id}#{token}",
                order_id,
                HELD,
                dict(want),
                now + ttl,
                (created, j),
                block=token,
            )
            self.res[r.id] = r
            for p, q in want.items():
                self.pos[p].reserved += q
                self.by_pos.setdefault(p, []).append(r.id)
            status.append(1)
        if 1 in status:
            self.head += 1
        return tuple(status)

    @traced
    def commit(self, rid: str, now: datetime | None = None) -> tuple[Any, ...]:
        """A pickup order paid at ``now`` is due for collection by now + the
        default pickup window and grace (``PAID_PICKUP``)."""
        r = self._open(rid, OPEN)
        if r.state == HELD:
            paid = r.pickup is not None and now is not None
            r.state, r.expires_at = COMMITTED, (now + PAID_PICKUP if paid else None)
            self.head += len(r.lines)
        return r.result()

    @traced
    def extend(self, rid: str, now: datetime, ttl: timedelta) -> tuple[Any, ...]:
        r = self._open(rid, (HELD,))
        r.expires_at = now + ttl
        self.head += len(r.lines)
        return r.result()

    @traced
    def release(self, rid: str) -> tuple[Any, ...]:
        self._close(self._open(rid, OPEN), RELEASED)
        return self.res[rid].result()

    @traced
    def ship(
        self,
        rid: str,
        lines: list[tuple[str, int, str | None]] | None = None,
        allowed: tuple[str, ...] = (COMMITTED,),
    ) -> tuple[Any, ...]:
        """Ship all of a committed reservation, or ``(sku, qty, location or
        None)`` lines of it, taken from its lines in order."""
        r = self._open(rid, allowed)
        if lines is None:
            take = dict(r.lines)
        else:
            take = {}
            for sku, qty, loc in lines:
                need = qty
                for p, have in r.lines.items():
                    if p[0] != sku or (loc is not None and p[1] != loc):
                        continue
                    t = min(need, have - take.get(p, 0))
                    if t > 0:
                        take[p] = take.get(p, 0) + t
                        need -= t
                    if need == 0:
                        break
                if need:
                    raise Refused("InvalidQuantity", f"{rid} holds less {sku}")
        for p, q in take.items():
            pos = self.pos[p]
            pos.reserved -= q
            pos.units[SELLABLE] -= q
            r.shipped[p] = r.shipped.get(p, 0) + q
            left = r.lines[p] - q
            if left:
                r.lines[p] = left
            else:
                del r.lines[p]
                self.by_pos[p].remove(rid)
        self.head += len(take)
        if not r.lines:
            r.state, r.expires_at = FULFILLED, None
        return r.result()

    @traced
    def collect(self, rid: str) -> tuple[Any, ...]:
        return self.ship(rid, None, OPEN)

    # -- order changes -------------------------------------------------------------
    def _check_open(self, rid: str, allowed: tuple[str, ...]) -> Res:
        """``_open`` without detaching: for commands that may still refuse."""
        r = self.res[rid]
        if r.state not in allowed:
            raise Refused("InvalidTransition", f"{rid} is {r.state}")
        return r

    @traced
    def release_lines(self, rid: str, lines: list[tuple[str, int, str | None]]) -> tuple[Any, ...]:
        """Release ``(sku, qty, location or None)`` units of an open
        reservation, taken from its lines in order. A line it does not hold
        is InvalidInput, more than it holds InvalidQuantity. With no line
        left it closes: fulfilled if it shipped some units, else released."""
        r = self._check_open(rid, OPEN)
        take: dict[Pos, int] = {}
        for sku, qty, loc in lines:
            need, found = qty, False
            for p, have in r.lines.items():
                if p[0] != sku or (loc is not None and p[1] != loc):
                    continue
                found = True
                t = min(need, have - take.get(p, 0))
                if t > 0:
                    take[p] = take.get(p, 0) + t
                    need -= t
                if need == 0:
                    break
            if not found:
                raise Refused("InvalidInput", f"{rid} does not hold {sku}@{loc}")
            if need:
                raise Refused("InvalidQuantity", f"{rid} holds less {sku}")
        r.block = None
        for p, q in take.items():
            self.pos[p].reserved -= q
            left = r.lines[p] - q
            if left:
                r.lines[p] = left
            else:
                del r.lines[p]
                self.by_pos[p].remove(rid)
        self.head += len(take)
        if not r.lines:
            r.state = FULFILLED if r.shipped else RELEASED
            r.expires_at = None
        return r.result()

    @traced
    def amend(self, rid: str, lines: list[tuple[str, int, str]]) -> tuple[Any, ...]:
        """Set an open reservation's lines to the pinned ``(sku, qty,
        location)`` lines: positions not named are released, only increases
        are checked against ATP (all or nothing). Released rows first, in
        the reservation's line order, then held rows in the lines' order."""
        r = self._check_open(rid, OPEN)
        target: dict[Pos, int] = {}
        for sku, qty, loc in lines:
            self._need(sku)
            if r.pickup is not None and loc != r.pickup:
                raise Refused("InvalidInput", f"{sku}@{loc}: a pickup's lines are at its store")
            if (sku, loc) in target:
                raise Refused("InvalidInput", f"{sku}@{loc} twice")
            target[(sku, loc)] = qty
        for p, q in target.items():
            delta = q - r.lines.get(p, 0)
            if delta > 0 and self.p(*p).atp < delta:
                raise Refused("InsufficientStock", f"{p}: {delta} > atp {self.p(*p).atp}")
        r.block = None if target != r.lines else r.block
        for p in list(r.lines):
            t = target.get(p, 0)
            if t < r.lines[p]:
                self.pos[p].reserved -= r.lines[p] - t
                self.head += 1
                if t:
                    r.lines[p] = t
                else:
                    del r.lines[p]
                    self.by_pos[p].remove(rid)
        if r.kits:  # plain lines name no kit: those the releases left go (a kit-held row each)
            self.head += len(r.kits_left())
            r.kits.clear()
        for p, q in target.items():
            delta = q - r.lines.get(p, 0)
            if delta > 0:
                self.pos[p].reserved += delta
                if p not in r.lines:
                    self.by_pos.setdefault(p, []).append(rid)
                r.lines[p] = r.lines.get(p, 0) + delta
                self.head += 1
        return r.result()

    # -- purchase orders -------------------------------------------------------------
    @traced
    def expect(self, sku: str, loc: str, qty: int, eta: datetime, ref: str | None) -> str:
        """A PO line (a fresh ``ref``, or ``po-<seq>``); its SKU becomes known."""
        sid = ref or f"po-{self.head + 1}"
        assert sid not in self.supply, "the machine expects fresh refs only"
        self.known.add(sku)
        self.supply[sid] = [sku, loc, qty, eta]
        self.head += 1
        return sid

    def _po(self, ref: str) -> list[Any]:
        if ref not in self.supply:
            raise Refused("UnknownSupply", ref)
        return self.supply[ref]

    @traced
    def receive_po(self, sku: str, loc: str, qty: int, ref: str) -> tuple[Any, ...]:
        """A receipt against an open PO line of that SKU and location draws it
        down (partial or over: it closes at zero)."""
        po = self._po(ref)
        if (po[0], po[1]) != (sku, loc):
            raise Refused("InvalidInput", f"{ref} is {po[0]}@{po[1]}")
        self.p(sku, loc).units[SELLABLE] += qty
        po[2] -= qty
        if po[2] <= 0:
            del self.supply[ref]
        self.head += 1
        return applied(self.head)

    @traced
    def cancel_expected(self, ref: str) -> tuple[Any, ...]:
        self._po(ref)
        del self.supply[ref]
        self.head += 1
        return applied(self.head)

    @traced
    def redate(self, ref: str, eta: datetime) -> tuple[Any, ...]:
        self._po(ref)[3] = eta
        self.head += 1
        return applied(self.head)

    def promise(self, sku: str, qty: int, now: datetime) -> tuple[Any, ...]:
        """Stock first, then open PO lines by (ETA, id), leaving out those
        whose ETA has passed; ``(date, from_stock, [(loc, qty, eta, id)])``."""
        stock = self.available(sku)
        if stock >= qty:
            return (now, qty, ())
        need, got = qty - stock, []
        for sid, (s, loc, q, eta) in sorted(self.supply.items(), key=lambda x: (x[1][3], x[0])):
            if s != sku or eta < now:
                continue
            take = min(need, q)
            got.append((loc, take, max(eta, now), sid))
            need -= take
            if need == 0:
                return (max(x[2] for x in got), stock, tuple(got))
        return (None, stock, tuple(got))
