"""The reference model with backorders (issue 15, item 2), kept beside
``model.py`` and built on it (a subclass: nothing in ``Model`` changes).

A backordered hold takes ATP first, then open PO lines at the line's
location, earliest (ETA, id) first, never an overdue one, never a unit
another backorder waits for. Receipts against the PO turn waiting units
into reserved ones, first taken first. Cancelling a PO (or re-dating it
later) moves what waited on it, oldest first: to ATP at the location,
else the next PO there (due before the new ETA, for a re-date); what
cannot move is released (a re-date: keeps waiting). Releases and
expiries free what waited. ``promise()`` offers only what no backorder
waits for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from model import FULFILLED, HELD, OPEN, RELEASED, Model, Pos, Refused, Res, applied, traced


@dataclass
class BRes(Res):
    """A reservation that may wait on supply: ``waiting`` is PO id ->
    units; ``supply`` the model's open PO lines (for their SKU, location
    and ETA)."""

    waiting: dict[str, int] = field(default_factory=dict)
    supply: dict[str, list[Any]] = field(default_factory=dict)

    def result(self) -> tuple[Any, ...]:
        base = super().result()
        ws = sorted((self.supply[sid][3], sid, q) for sid, q in self.waiting.items())
        waits = tuple((self.supply[sid][0], self.supply[sid][1], q) for _, sid, q in ws)
        return (*base[:3], base[3] + waits, *base[4:])


class BackorderModel(Model):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.booked: dict[str, dict[str, int]] = {}  # PO id -> {reservation: units}, FIFO
        self.now = datetime.min

    # -- helpers ---------------------------------------------------------------------
    def waits(self, rid: str) -> dict[str, int]:
        r = self.res.get(rid)
        return r.waiting if isinstance(r, BRes) else {}

    def _book(self, sid: str, rid: str, q: int) -> None:
        r = self.res[rid]
        assert isinstance(r, BRes)
        r.waiting[sid] = r.waiting.get(sid, 0) + q
        if r.waiting[sid] <= 0:
            del r.waiting[sid]
        b = self.booked.setdefault(sid, {})
        b[rid] = b.get(rid, 0) + q
        if b[rid] <= 0:
            del b[rid]

    def free(self, sid: str) -> int:
        return self.supply[sid][2] - sum(self.booked.get(sid, {}).values())

    def eligible(
        self, sku: str, loc: str, taken: dict[str, int], skip: str | None, before: Any
    ) -> list[tuple[str, int]]:
        out = []
        for sid, (s, at, _q, eta) in sorted(self.supply.items(), key=lambda x: (x[1][3], x[0])):
            if s != sku or at != loc or sid == skip or eta < self.now:
                continue
            if before is not None and eta >= before:
                continue
            n = self.free(sid) - taken.get(sid, 0)
            if n > 0:
                out.append((sid, n))
        return out

    def _unwait_all(self, r: BRes) -> None:
        self.head += len(r.waiting)  # one backorder-released row per PO
        for sid, q in list(r.waiting.items()):
            self._book(sid, r.id, -q)

    # -- commands --------------------------------------------------------------------
    def expire(self, now: datetime) -> list[str]:
        self.now = now
        for r in self.res.values():
            if (
                isinstance(r, BRes)
                and r.state == HELD
                and r.expires_at is not None
                and r.expires_at <= now
            ):
                self._unwait_all(r)
        return super().expire(now)

    @traced
    def hold_backorder(
        self, order_id: str, lines: list[tuple[str, int, str]], now: datetime, ttl: timedelta
    ) -> tuple[Any, ...]:
        want: dict[Pos, int] = {}
        for sku, qty, loc in lines:
            self._need(sku)
            want[(sku, loc)] = want.get((sku, loc), 0) + qty
        same = self._open_order(order_id)
        if same is not None:
            have: dict[Pos, int] = {}
            for part in (same.lines, same.shipped):
                for p, q in part.items():
                    have[p] = have.get(p, 0) + q
            for sid, q in self.waits(same.id).items():
                p = (self.supply[sid][0], self.supply[sid][1])
                have[p] = have.get(p, 0) + q
            if have != want:
                raise Refused("IdempotencyConflict", f"{order_id} is open as {same.id}")
            return same.result()
        here: dict[Pos, int] = {}
        waits: list[tuple[str, int]] = []
        taken: dict[str, int] = {}
        for p, q in want.items():
            n = min(q, max(0, self.p(*p).atp))
            if n:
                here[p] = n
            short = q - n
            for sid, free in self.eligible(p[0], p[1], taken, None, None):
                if short <= 0:
                    break
                k = min(free, short)
                waits.append((sid, k))
                taken[sid] = taken.get(sid, 0) + k
                short -= k
            if short > 0:
                raise Refused("InsufficientStock", f"{p}: {q} > atp and supply")
        n = self.per_order.get(order_id, 0) + 1
        while f"{order_id}#{n}" in self.res:
            n += 1
        r = BRes(
            f"{order_id}#{n}", order_id, HELD, dict(here), now + ttl, (len(self.res), 0),
            supply=self.supply,
        )  # fmt: skip
        self.res[r.id] = r
        self.per_order[order_id] = self.per_order.get(order_id, 0) + 1
        for p, q in here.items():
            self.pos[p].reserved += q
            self.by_pos.setdefault(p, []).append(r.id)
        for sid, k in waits:
            self._book(sid, r.id, k)
        self.head += len(here) + len(waits)
        return r.result()

    def _waiting_positions(self, rid: str) -> int:
        return len({(self.supply[s][0], self.supply[s][1]) for s in self.waits(rid)})

    @traced
    def commit(self, rid: str, now: datetime | None = None) -> tuple[Any, ...]:
        if self.res[rid].state == HELD:
            self.head += self._waiting_positions(rid)
        return super().commit(rid, now)

    @traced
    def extend(self, rid: str, now: datetime, ttl: timedelta) -> tuple[Any, ...]:
        if self.res[rid].state == HELD:
            self.head += self._waiting_positions(rid)
        return super().extend(rid, now, ttl)

    @traced
    def release(self, rid: str) -> tuple[Any, ...]:
        r = self.res[rid]
        if isinstance(r, BRes) and r.state in OPEN:
            self._unwait_all(r)
        return super().release(rid)

    @traced
    def ship_waiting(self, rid: str) -> tuple[Any, ...]:
        """``ship`` of a reservation still waiting on supply: refused."""
        if self.res[rid].state != "committed":
            raise Refused("InvalidTransition", f"{rid} is {self.res[rid].state}")
        raise Refused("AwaitingSupply", rid)

    @traced
    def receive_po(self, sku: str, loc: str, qty: int, ref: str) -> tuple[Any, ...]:
        fifo = list(self.booked.get(ref, {}).items())
        out = super().receive_po(sku, loc, qty, ref)
        left = qty
        for rid, q in fifo:
            if left <= 0:
                break
            k = min(q, left)
            left -= k
            r = self.res[rid]
            assert isinstance(r, BRes)
            r.waiting[ref] -= k
            if not r.waiting[ref]:
                del r.waiting[ref]
            b = self.booked[ref]
            b[rid] -= k
            if not b[rid]:
                del b[rid]
            self._add(r, (sku, loc), k)
            self.head += 1
        if ref not in self.supply:
            self.booked.pop(ref, None)
        return ("applied", self.head, out[2], out[3])

    def _add(self, r: Res, p: Pos, k: int) -> None:
        self.pos[p].reserved += k
        if p not in r.lines:
            self.by_pos.setdefault(p, []).append(r.id)
        r.lines[p] = r.lines.get(p, 0) + k

    @traced
    def cancel_expected(self, ref: str) -> tuple[Any, ...]:
        po = self._po(ref)
        sku, loc = po[0], po[1]
        fifo = list(self.booked.pop(ref, {}).items())
        super().cancel_expected(ref)
        return self._resupply(ref, sku, loc, fifo, None)

    @traced
    def redate(self, ref: str, eta: datetime) -> tuple[Any, ...]:
        po = self._po(ref)
        later = eta > po[3]
        super().redate(ref, eta)
        if not later:
            return applied(self.head)
        return self._resupply(ref, po[0], po[1], list(self.booked.get(ref, {}).items()), eta)

    def _resupply(
        self, sid: str, sku: str, loc: str, fifo: list[tuple[str, int]], before: Any
    ) -> tuple[Any, ...]:
        out = []
        for rid, q in fifo:
            r = self.res[rid]
            assert isinstance(r, BRes) and r.state in OPEN
            here = min(q, max(0, self.p(sku, loc).atp))
            if here:
                self._add(r, (sku, loc), here)
                self.head += 1
            rest = q - here
            moved: list[tuple[str, int]] = []
            for other, free in self.eligible(sku, loc, {}, sid, before):
                if rest <= 0:
                    break
                k = min(free, rest)
                moved.append((other, k))
                self._book(other, rid, k)
                rest -= k
            self.head += len(moved)
            missing = rest if before is None else 0
            gone = q - rest + missing
            if not gone:
                continue
            self.head += 1  # backorder-released
            r.waiting[sid] -= gone
            if not r.waiting[sid]:
                del r.waiting[sid]
            if sid in self.booked:
                self.booked[sid][rid] -= gone
                if not self.booked[sid][rid]:
                    del self.booked[sid][rid]
            if not r.lines and not r.waiting:
                r.state = FULFILLED if r.shipped else RELEASED
                r.expires_at = None
            to = ((loc, here),) if here else ()
            out.append((rid, sku, loc, q, to, missing, (), tuple(moved)))
        return ("applied", self.head, (), tuple(reversed(out)))

    def promise(self, sku: str, qty: int, now: datetime) -> tuple[Any, ...]:
        """As ``Model.promise``, but a PO line offers only its free units."""
        stock = self.available(sku)
        if stock >= qty:
            return (now, qty, ())
        need, got = qty - stock, []
        for sid, (s, loc, _q, eta) in sorted(self.supply.items(), key=lambda x: (x[1][3], x[0])):
            if s != sku or eta < now or self.free(sid) <= 0:
                continue
            take = min(need, self.free(sid))
            got.append((loc, take, max(eta, now), sid))
            need -= take
            if need == 0:
                return (max(x[2] for x in got), stock, tuple(got))
        return (None, stock, tuple(got))
