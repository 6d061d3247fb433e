"""The face's fulfilment commands: allocate, waves, BOPIS, ship-from-store
rejections, transfers and shortage re-sourcing.

``OrderCommands`` is a mixin of ``Inventory``: it decides with the sourcing
service (``omnistock.fulfilment``) and journals through the same command
machinery as every other command, so each decision is one atomic,
idempotent, replayable commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

import attrs
import numpy as np

from . import codec
from ._validate import check_id, check_opt_id, check_qty, check_ttl, check_when, from_micros
from ._validate import to_micros as _to_us
from .commands import DEFAULT_TTL, CommandBase, Emit, _Request
from .commands import Plan as CmdPlan
from .errors import InsufficientStock, InvalidInput, InvalidQuantity, UnknownSku
from .fulfilment.batch import BatchResult, OrderBatch
from .fulfilment.geo import haversine_km
from .fulfilment.kernels import UNLIMITED, allocate_wave_single, nearest, wave_policy
from .fulfilment.optimize import optimize_wave
from .fulfilment.policy import DEFAULT_POLICY, Policy
from .fulfilment.results import Allocation, Status, Suggestion
from .fulfilment.sourcing import Plan, Trace, source
from .ledger.grid import Pos
from .ledger.holds import HELD, OPEN
from .ledger.state import SELLABLE, LedgerState
from .queries import _reservation
from .values import (
    Applied,
    Channel,
    Line,
    Location,
    Order,
    Point,
    Reservation,
    ReservationLine,
    Resourced,
    Transfer,
)

if TYPE_CHECKING:
    from .storage import NewRow

DAY_US = 86_400_000_000
REJECT_REASONS = ("not_found", "damaged", "mismatch")
codec.register("Allocation", Allocation.from_jsonable)


class OrderCommands(CommandBase):
    """Fulfilment commands of ``Inventory`` (see the module doc)."""

    _policy_cache: tuple[Any, Policy] | None = None

    # -- the policy -------------------------------------------------------
    @property
    def policy(self) -> Policy:
        """The sourcing policy in force (journaled, shared by every process)."""
        return self._policy_of(self._sync())

    def _policy_of(self, st: LedgerState) -> Policy:
        d = st.policy
        if d is None:
            return DEFAULT_POLICY
        cached = self._policy_cache
        if cached is not None and cached[0] is d:
            return cached[1]
        pol = Policy.from_dict(d)
        self._policy_cache = (d, pol)
        return pol

    def set_policy(self, policy: Policy, key: str | None = None) -> Policy:
        """Make ``policy`` the sourcing policy of this inventory (journaled)."""
        if not isinstance(policy, Policy):
            raise InvalidInput("policy", policy, "must be a Policy")
        d = policy.to_dict()

        def plan(now: int) -> CmdPlan:
            data = {"policy": d}
            row = (self._ts(now), "policy-set", None, None, 0, None, None, key, json.dumps(data))
            return [row], [data], None

        self._run("set_policy", d, key, plan)
        return policy

    # -- allocate -----------------------------------------------------------
    def allocate(
        self, order: Order, ttl: Any = None, key: str | None = None, policy: Policy | None = None
    ) -> Allocation:
        """Reserve ``order``, choosing locations for its unpinned lines with
        the sourcing policy (pinned lines are reserved where pinned).

        Ship orders: the policy filters and ranks every location; daily
        capacity is counted (journaled) per location used. Pickup orders
        (BOPIS): reserved at ``pickup_at``; if that store is short, the
        policy's ``bopis_fallback`` transfers stock in (the allocation says
        when it is ready) or suggests the nearest stores that can serve the
        whole order; otherwise the order is refused with the reason.

        Returns an ``Allocation`` whatever the stock: ``unfillable`` is an
        answer, not an error; nothing is journaled for it but the key. Raises
        typed errors only for bad input. The hold lasts ``ttl`` (default 15
        minutes; for a transfer, from when the units are ready)."""
        if not isinstance(order, Order):
            raise InvalidInput("order", order, "must be an Order")
        ttl_us = check_ttl("ttl", DEFAULT_TTL if ttl is None else ttl) // timedelta(microseconds=1)
        if policy is not None and not isinstance(policy, Policy):
            raise InvalidInput("policy", policy, "must be a Policy")

        def plan(now: int) -> CmdPlan:
            pol = policy or self._policy_of(self._state)
            return self._plan_order(order, now, ttl_us, pol, key)

        def args() -> list[Any]:
            return [codec.order_args(order), ttl_us, None if policy is None else policy.to_dict()]

        result: Allocation = self._run("allocate", args, key, plan)
        return result

    @overload
    def allocate_many(
        self,
        orders: OrderBatch,
        ttl: Any = None,
        policy: Policy | None = None,
        optimize: bool = False,
    ) -> BatchResult: ...
    @overload
    def allocate_many(
        self,
        orders: Sequence[Order],
        ttl: Any = None,
        policy: Policy | None = None,
        optimize: bool = False,
    ) -> list[Allocation]: ...

    def allocate_many(
        self,
        orders: Sequence[Order] | OrderBatch,
        ttl: Any = None,
        policy: Policy | None = None,
        optimize: bool = False,
    ) -> list[Allocation] | BatchResult:
        """Allocate a wave in one store transaction. Orders are decided in
        sequence, each against the ledger as the previous ones left it, so
        the decisions are exactly those of calling ``allocate`` one order at a
        time in the same sequence. One bad order (bad input) raises before
        anything is reserved.

        A columnar ``OrderBatch`` of single-line ship orders goes through the
        numba wave kernel (one call for the wave) and returns a columnar
        ``BatchResult``; waves whose channel has a buffer, cap or fences, or
        whose policy starts with ``lowest_cost``/``highest_stock`` ties, are
        decided by the same kernel only when the channel has no fence (else
        one order at a time). O(orders x candidates^2) in the kernel.

        ``optimize=True`` (an ``OrderBatch`` only) re-plans the greedy wave by
        min-cost flow: never fewer orders served, and the least total cost
        among plans that serve as many (cost: the policy's per-parcel and
        per-km terms, or km when it has none; multi-unit orders keep the
        greedy location). Orders are then no longer decided one by one."""
        if optimize is not True and optimize is not False:
            raise InvalidInput("optimize", optimize, "must be True or False")
        if optimize and not isinstance(orders, OrderBatch):
            raise InvalidInput("optimize", optimize, "re-planning needs a columnar OrderBatch")
        if isinstance(orders, OrderBatch):
            ttl_b = check_ttl("ttl", DEFAULT_TTL if ttl is None else ttl) // timedelta(
                microseconds=1
            )
            if policy is not None and not isinstance(policy, Policy):
                raise InvalidInput("policy", policy, "must be a Policy")
            batch = orders
            st = self._sync()
            ch = st.channels.get(batch.channel) if batch.channel is not None else None
            if ch is not None and self._fenced(st, ch):
                if optimize:
                    raise InvalidInput(
                        "optimize",
                        optimize,
                        f"channel {ch.id!r} has a buffer, "
                        "cap or fences: its waves are decided order by order",
                    )
                # The channel's room is per SKU across the wave: order by order.
                return _batch_of(batch, self.allocate_many(batch.orders(), ttl, policy))

            def plan_b(now: int) -> CmdPlan:
                pol = policy or self._policy_of(self._state)
                return self._plan_batch(batch, now, ttl_b, pol, optimize)

            result: BatchResult = self._run("allocate_many", None, None, plan_b)
            return result
        orders = list(orders)
        for i, o in enumerate(orders):
            if not isinstance(o, Order):
                raise InvalidInput(f"orders[{i}]", o, "must be an Order")
        ttl_us = check_ttl("ttl", DEFAULT_TTL if ttl is None else ttl) // timedelta(microseconds=1)
        reqs = []
        for o in orders:

            def plan(now: int, o: Order = o) -> CmdPlan:
                pol = policy or self._policy_of(self._state)
                return self._plan_order(o, now, ttl_us, pol, None)

            reqs.append(_Request("allocate", None, None, plan))
        self._submit_many(reqs)
        out: list[Allocation] = []
        for r in reqs:
            if r.error is not None:
                raise r.error
            out.append(r.result)
        return out

    def _plan_batch(
        self, b: OrderBatch, now: int, ttl_us: int, pol: Policy, optimize: bool = False
    ) -> CmdPlan:
        """Decide a columnar wave with the kernel, then journal it."""
        st = self._state
        g = st.grid
        n = len(b)
        ch = self._channel(st, b.channel) if b.channel is not None else None
        ix = g.sku_ix
        try:
            sku_rows = np.array([ix[x] for x in b.skus], dtype=np.int64)
        except KeyError as exc:
            raise UnknownSku(exc.args[0], "skus") from None
        # The static filters are the same for the whole wave: leave those
        # locations out (the kernel's contract); relative order is kept.
        cands = [c for c in st.locations.values() if _static_ok(c, "ship", ch, pol)]
        k = len(cands) if pol.candidates is None else min(len(cands), pol.candidates)
        cols = np.array([g.loc_ix[c.id] for c in cands], dtype=np.int64)
        start = np.arange(n + 1, dtype=np.int64) * k
        idx, dist = _nearest(b.lat, b.lon, cands, k)
        cand = cols[idx]
        ns, nl = g.shape
        atp = np.ascontiguousarray(g.holdable[:ns, :nl] - g.reserved[:ns, :nl])
        prio = np.zeros(nl, dtype=np.int64)
        cap = np.full(nl, UNLIMITED, dtype=np.int64)
        left = self._capacity_left(now) if "capacity" in pol.filters else {}
        for c in st.locations.values():
            prio[g.loc_ix[c.id]] = c.priority
            if c.id in left:
                cap[g.loc_ix[c.id]] = left[c.id]
        flags = np.full(n, int(b.allow_split) | (int(b.allow_partial) << 1), dtype=np.uint8)
        prefs, radius, per_parcel, per_km = wave_policy(pol)
        if "radius" not in pol.filters:
            radius = -1.0
        take = np.zeros(n * k, dtype=np.int64)
        status = np.zeros(n, dtype=np.int8)
        atp0, cap0 = (atp.copy(), cap.copy()) if optimize else (atp, cap)
        allocate_wave_single(
            start,
            cand,
            dist,
            sku_rows,
            b.qty,
            flags,
            prio,
            cap,
            atp,
            prefs,
            radius,
            per_parcel,
            per_km,
            take,
            status,
        )
        if optimize:
            cost = per_parcel + per_km * dist if (per_parcel or per_km) else dist.copy()
            if radius >= 0:
                cost[~(dist <= radius)] = np.inf
            plan = optimize_wave(
                start,
                cand,
                cost,
                sku_rows,
                b.qty,
                atp0,
                cap0 if "capacity" in pol.filters else None,
                greedy_take=take,
            )
            take = plan.take
            status = np.where(plan.qty >= b.qty, 1, np.where(plan.qty > 0, 2, 0)).astype(np.int8)
        return self._batch_rows(b, now, ttl_us, start, cand, take, status)

    def _batch_rows(
        self,
        b: OrderBatch,
        now: int,
        ttl_us: int,
        start: np.ndarray,
        cand: np.ndarray,
        take: np.ndarray,
        status: np.ndarray,
    ) -> CmdPlan:
        """Journal rows and the columnar result of a decided wave. Visits only
        the candidate entries that took units: O(orders + takes)."""
        st = self._state
        g = st.grid
        ts = self._ts(now)
        exp = now + ttl_us
        pick = {"day": now // DAY_US}
        pick_text = json.dumps(pick)
        capped = {g.loc_ix[c.id] for c in st.locations.values() if c.daily_capacity is not None}
        entries = np.flatnonzero(take)
        owner = np.searchsorted(start, entries, side="right") - 1
        rows: list[NewRow] = []
        datas: list[Any] = []
        rids: list[str | None] = [None] * len(b)
        taken_ids: set[str] = set()
        channel = b.channel
        locs = g.locs
        lat, lon = b.lat, b.lon
        last = -1
        rid = ""
        text = ""
        data: dict[str, Any] = {}
        for e, j in zip(entries.tolist(), owner.tolist(), strict=True):
            if j != last:
                last = j
                oid = b.order_ids[j]
                rid = st.holds.next_id(oid, taken_ids)
                taken_ids.add(rid)
                rids[j] = rid
                claim = self._claim(ts, None, "order:" + oid)
                rows.extend(claim)
                datas.extend([None] * len(claim))
                data = {"order": oid, "exp": exp}
                if not np.isnan(lat[j]):
                    data["to"] = [float(lat[j]), float(lon[j])]
                text = json.dumps(data)
            col = int(cand[e])
            rows.append((ts, "held", b.skus[j], locs[col], int(take[e]), rid, channel, None, text))
            datas.append(data)
            if col in capped:
                rows.append((ts, "picked", None, locs[col], 1, None, None, None, pick_text))
                datas.append(pick)
        counts = np.bincount(owner, minlength=len(b)) if len(b) else np.zeros(0, np.int64)
        out_start = np.zeros(len(b) + 1, dtype=np.int64)
        np.cumsum(counts, out=out_start[1:])
        return (
            rows,
            datas,
            BatchResult(
                b.order_ids,
                status.copy(),
                tuple(rids),
                out_start,
                tuple(locs[int(c)] for c in cand[entries]),
                take[entries].astype(np.int64),
            ),
        )

    def _plan_order(
        self, order: Order, now: int, ttl_us: int, pol: Policy, key: str | None
    ) -> CmdPlan:
        rows, datas, result = self._decide_order(order, now, ttl_us, pol, key)
        if rows:  # a reservation was minted: claim its id
            claim = self._claim(self._ts(now), key, "order:" + order.id)
            rows, datas = claim + rows, [*([None] * len(claim)), *datas]
        return rows, datas, result

    def _decide_order(
        self, order: Order, now: int, ttl_us: int, pol: Policy, key: str | None
    ) -> CmdPlan:
        st = self._state
        for ln in order.lines:
            self._sku(st, ln.sku)
            if ln.location is not None:
                self._loc(st, ln.location, "lines")
        ch = self._channel(st, order.channel) if order.channel is not None else None
        if order.method == "pickup":
            return self._plan_pickup(order, now, ttl_us, pol, key, ch)
        pinned = tuple(ln for ln in order.lines if ln.location is not None)
        loose = [ln for ln in order.lines if ln.location is None]
        want: dict[Pos, int] = {}
        if pinned:
            try:
                want = self._pinned(attrs.evolve(order, lines=pinned))
            except InsufficientStock as exc:
                return [], [], Allocation(order.id, "unfillable", reason=str(exc))
        refusal = self._channel_refusal(st, ch, order.lines)
        if refusal:
            return [], [], Allocation(order.id, "unfillable", reason=refusal)
        plan: Plan | None = None
        if loose:
            plan = self._source(
                loose,
                "ship",
                order.ship_to,
                ch,
                pol,
                now,
                want,
                (),
                order.allow_split,
                order.allow_partial,
            )
            if plan.status == "unfillable":
                return (
                    [],
                    [],
                    Allocation(order.id, "unfillable", trace=plan.trace, reason=plan.reason),
                )
            self._add_plan(plan, want)
        asked = sum(ln.qty for ln in order.lines)
        status: Status = "allocated" if sum(want.values()) >= asked else "partial"
        rid = st.holds.next_id(order.id)
        rows, datas = self._hold_rows(rid, order, want, now, now + ttl_us, key)
        rows_p, datas_p = self._pick_rows(order.method, want, now, key)
        res = self._new_reservation(rid, order, want, now + ttl_us)
        reason = plan.reason if plan is not None and plan.status == "partial" else None
        return (
            rows + rows_p,
            datas + datas_p,
            Allocation(
                order.id,
                status,
                res,
                res.lines,
                None if plan is None else plan.trace,
                reason=reason,
            ),
        )

    def _channel_refusal(
        self, st: LedgerState, ch: Channel | None, lines: Iterable[Line]
    ) -> str | None:
        if ch is None or not self._fenced(st, ch):
            return None
        need: dict[str, int] = {}
        for ln in lines:
            need[ln.sku] = need.get(ln.sku, 0) + ln.qty
        for sku, q in need.items():
            room = self._channel_room(st, ch, st.grid.sku_ix[sku])
            if q > room:
                return (
                    f"channel {ch.id!r} may sell {room} of sku {sku!r} "
                    f"(buffer {ch.buffer}, cap {ch.cap}, others' fences), order asks {q}"
                )
        return None

    def _source(
        self,
        lines: Sequence[Line],
        method: str,
        ship_to: Point | None,
        ch: Channel | None,
        pol: Policy,
        now: int,
        taken: dict[Pos, int],
        exclude: tuple[str, ...],
        allow_split: bool = True,
        allow_partial: bool = False,
    ) -> Plan:
        """Run the sourcing policy for unpinned lines, with ATP less what this
        command has already ``taken``. Candidates are every location, or the
        policy's K nearest that pass the static filters; distances come from
        the same vectorised haversine the wave path uses, so both decide
        alike."""
        st = self._state
        g = st.grid
        if exclude:
            pol = attrs.evolve(pol, exclude=tuple(dict.fromkeys(pol.exclude + exclude)))
        cands = list(st.locations.values())
        if pol.candidates is not None:
            cands = [c for c in cands if _static_ok(c, method, ch, pol)]
        k = len(cands) if pol.candidates is None else min(len(cands), pol.candidates)
        idx, dist = _nearest(
            np.array([np.nan if ship_to is None else ship_to.lat]),
            np.array([np.nan if ship_to is None else ship_to.lon]),
            cands,
            k,
        )
        cands = [cands[i] for i in idx]
        cols = np.array([g.loc_ix[c.id] for c in cands], dtype=np.int64)
        atp = np.empty((len(lines), len(cands)), dtype=np.int64)
        for i, ln in enumerate(lines):
            s = g.sku_ix[ln.sku]
            row = g.holdable[s, cols] - g.reserved[s, cols]
            for (ts, tl), q in taken.items():
                if ts == s:
                    row[cols == tl] -= q
            atp[i] = row
        unpinned = [Line(ln.sku, ln.qty) for ln in lines]
        return source(
            unpinned,
            cands,
            atp,
            pol,
            method="ship" if method == "ship" else "pickup",
            ship_to=ship_to,
            channel=ch,
            capacity_left=self._capacity_left(now),
            allow_split=allow_split,
            allow_partial=allow_partial,
            distances_km=dist,
        )

    def _capacity_left(self, now: int) -> dict[str, int]:
        st = self._state
        day = now // DAY_US
        return {
            loc.id: max(0, loc.daily_capacity - st.picks.get((loc.id, day), 0))
            for loc in st.locations.values()
            if loc.daily_capacity is not None
        }

    def _add_plan(self, plan: Plan, want: dict[Pos, int]) -> None:
        g = self._state.grid
        for lp in plan.lines:
            s = g.sku_ix[lp.sku]
            for loc, q in lp.sources:
                p = (s, g.loc_ix[loc])
                want[p] = want.get(p, 0) + q

    def _hold_data(
        self, order_id: str | None, dest: Point | None, pickup: str | None, exp: int | None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"order": order_id}
        if exp is not None:
            data["exp"] = exp
        if dest is not None:
            data["to"] = [dest.lat, dest.lon]
        if pickup is not None:
            data["pickup"] = pickup
        return data

    def _hold_rows(
        self, rid: str, order: Order, want: dict[Pos, int], now: int, exp: int, key: str | None
    ) -> tuple[list[NewRow], list[Any]]:
        g = self._state.grid
        data = self._hold_data(
            order.id, order.ship_to, order.pickup_at if order.method == "pickup" else None, exp
        )
        text = json.dumps(data)
        ts = self._ts(now)
        rows: list[NewRow] = [
            (ts, "held", g.skus[s], g.locs[l], q, rid, order.channel, key, text)
            for (s, l), q in want.items()
        ]
        return rows, [data] * len(rows)

    def _pick_rows(
        self, method: str, want: dict[Pos, int], now: int, key: str | None
    ) -> tuple[list[NewRow], list[Any]]:
        """One pick per capacity-limited location a ship order uses today."""
        st = self._state
        if method != "ship":
            return [], []
        data = {"day": now // DAY_US}
        text = json.dumps(data)
        locs = dict.fromkeys(st.grid.locs[l] for (_, l) in want)
        rows: list[NewRow] = [
            (self._ts(now), "picked", None, loc, 1, None, None, key, text)
            for loc in locs
            if st.locations[loc].daily_capacity is not None
        ]
        return rows, [data] * len(rows)

    def _new_reservation(
        self, rid: str, order: Order, want: dict[Pos, int], exp: int
    ) -> Reservation:
        g = self._state.grid
        return Reservation(
            id=rid,
            state="held",
            expires_at=from_micros(exp),
            order_id=order.id,
            channel=order.channel,
            lines=tuple(ReservationLine(g.skus[s], g.locs[l], q) for (s, l), q in want.items()),
        )

    # -- BOPIS --------------------------------------------------------------
    def _plan_pickup(
        self, order: Order, now: int, ttl_us: int, pol: Policy, key: str | None, ch: Channel | None
    ) -> CmdPlan:
        st = self._state
        g = st.grid
        assert order.pickup_at is not None
        store_id = order.pickup_at
        l = self._loc(st, store_id, "pickup_at")
        store = st.locations[store_id]
        if not store.pickup:
            raise InvalidInput("pickup_at", store_id, "does not offer pickup")
        for ln in order.lines:
            if ln.location is not None and ln.location != store_id:
                raise InvalidInput(
                    "lines",
                    ln,
                    "a pickup order is reserved at its pickup_at "
                    "store; do not pin its lines elsewhere",
                )
        refusal = self._channel_refusal(st, ch, order.lines)
        if refusal:
            return [], [], Allocation(order.id, "unfillable", reason=refusal)
        need: dict[str, int] = {}
        for ln in order.lines:
            need[ln.sku] = need.get(ln.sku, 0) + ln.qty
        here = {sku: min(q, max(0, g.atp(g.sku_ix[sku], l))) for sku, q in need.items()}
        short = {sku: q - here[sku] for sku, q in need.items() if q > here[sku]}
        want = {(g.sku_ix[sku], l): q for sku, q in here.items() if q > 0}
        rid = st.holds.next_id(order.id)
        if not short:
            exp = now + ttl_us
            rows, datas = self._hold_rows(rid, order, want, now, exp, key)
            res = self._new_reservation(rid, order, want, exp)
            return rows, datas, Allocation(order.id, "allocated", res, res.lines)
        missing = ", ".join(f"{q} x {sku}" for sku, q in short.items())
        reason = f"pickup store {store_id!r} is short of {missing}"
        for outcome in pol.bopis_fallback:
            if outcome == "transfer":
                planned = self._plan_transfer_in(
                    order, rid, short, store, now, ttl_us, pol, want, key
                )
                if planned is not None:
                    return planned
            elif outcome == "suggest":
                sugg = self._suggest(need, store, pol.suggestions)
                if sugg:
                    names = ", ".join(f"{s.location} ({s.distance_km:.1f} km)" for s in sugg)
                    return (
                        [],
                        [],
                        Allocation(
                            order.id,
                            "unfillable",
                            suggestions=sugg,
                            reason=f"{reason}; can serve it now: {names}",
                        ),
                    )
        if order.allow_partial and want:
            exp = now + ttl_us
            rows, datas = self._hold_rows(rid, order, want, now, exp, key)
            res = self._new_reservation(rid, order, want, exp)
            return rows, datas, Allocation(order.id, "partial", res, res.lines, reason=reason)
        return (
            [],
            [],
            Allocation(
                order.id, "unfillable", reason=f"{reason}; no transfer or nearby store can cover it"
            ),
        )

    def _transfer_policy(self, pol: Policy) -> Policy:
        # Transfers are internal moves: only distance and exclusions filter them.
        return attrs.evolve(
            pol,
            filters=("radius", "excluded"),
            radius_km=pol.transfer_radius_km,
            preferences=("fewest_splits", "closest", "priority"),
        )

    def _plan_transfer_in(
        self,
        order: Order,
        rid: str,
        short: dict[str, int],
        store: Location,
        now: int,
        ttl_us: int,
        pol: Policy,
        want: dict[Pos, int],
        key: str | None,
    ) -> CmdPlan | None:
        lines = [Line(sku, q) for sku, q in short.items()]
        plan = self._source(
            lines, "ship", store.point, None, self._transfer_policy(pol), now, want, (store.id,)
        )
        if plan.status != "allocated":
            return None
        eta = now + int(pol.transfer_hours * 3600 * 1_000_000)
        exp = eta + ttl_us
        rows, datas = self._hold_rows(rid, order, want, now, exp, key)
        t_rows, t_datas, transfers = self._transfer_rows(
            plan, store.id, rid, order, now, eta, exp, key
        )
        res = self._new_reservation(rid, order, want, exp)
        return (
            rows + t_rows,
            datas + t_datas,
            Allocation(
                order.id,
                "allocated",
                res,
                res.lines,
                plan.trace,
                transfers=transfers,
                ready_at=from_micros(eta),
            ),
        )

    def _transfer_rows(
        self,
        plan: Plan,
        dst: str,
        rid: str,
        order: Order | None,
        now: int,
        eta: int,
        exp: int | None,
        key: str | None,
        channel: str | None = None,
    ) -> tuple[list[NewRow], list[Any], tuple[Transfer, ...]]:
        ts = self._ts(now)
        rows: list[NewRow] = self._claim(ts, key, "transfer:" + rid)
        datas: list[Any] = [None] * len(rows)
        transfers = []
        n = sum(1 for i in self._state.supply.by_id.values() if i.res == rid)
        for lp in plan.lines:
            for src, q in lp.sources:
                n += 1
                tid = f"{rid}/T{n}"
                data: dict[str, Any] = {"to": dst, "eta": eta, "res": rid}
                if order is not None:
                    data["order"] = order.id
                    data["pickup"] = dst
                    channel = order.channel
                if exp is not None:
                    data["exp"] = exp
                rows.append(
                    (ts, "transfer-out", lp.sku, src, q, tid, channel, key, json.dumps(data))
                )
                datas.append(data)
                transfers.append(Transfer(tid, lp.sku, src, dst, q, from_micros(eta), rid))
        return rows, datas, tuple(transfers)

    def _suggest(self, need: dict[str, int], store: Location, n: int) -> tuple[Suggestion, ...]:
        """Pickup stores (other than ``store``) that can serve every line now,
        nearest first."""
        st = self._state
        g = st.grid
        out = []
        for loc in st.locations.values():
            if loc.id == store.id or not loc.pickup:
                continue
            l = g.loc_ix[loc.id]
            if all(g.atp(g.sku_ix[sku], l) >= q for sku, q in need.items()):
                out.append(Suggestion(loc.id, round(haversine_km(store.point, loc.point), 3)))
        out.sort(key=lambda s: (s.distance_km, s.location))
        return tuple(out[:n])

    # -- transfers ------------------------------------------------------------
    def transfer(
        self,
        sku: str,
        source: str,
        destination: str,
        qty: int,
        eta: datetime | None = None,
        key: str | None = None,
    ) -> Transfer:
        """Send ``qty`` units from ``source`` to ``destination``: they leave
        ``source`` now (journaled ``transfer-out``), are in transit (counted by
        ``promise()``, never in today's ATP) and arrive with
        ``receive_transfer``. ``eta`` defaults to the policy's transfer lead
        time. Only units free at ``source`` (its ATP) can be sent."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = None if eta is None else _to_us(check_when("eta", eta))

        def plan(now: int) -> CmdPlan:
            st = self._state
            s, l = self._known_pos(sku, source)
            self._loc(st, destination, "destination")
            if source == destination:
                raise InvalidInput("destination", destination, "is the source")
            self._sku(st, sku)
            atp = st.grid.atp(s, l)
            if atp < q:
                raise InsufficientStock(sku, q, max(0, atp), source)
            hours = self._policy_of(st).transfer_hours
            due = eta_us if eta_us is not None else now + int(hours * 3600 * 1_000_000)
            tid = f"T{st.head + 1}"
            data = {"to": destination, "eta": due}
            claim = self._claim(self._ts(now), key, "head:" + tid)
            row = (self._ts(now), "transfer-out", sku, source, q, tid, None, key, json.dumps(data))
            return (
                [*claim, row],
                [None] * len(claim) + [data],
                Transfer(tid, sku, source, destination, q, from_micros(due)),
            )

        result: Transfer = self._run("transfer", [sku, source, destination, q, eta_us], key, plan)
        return result

    def transfers(self) -> list[Transfer]:
        """Transfers in transit, soonest first."""
        st = self._sync()
        g = st.grid
        out = [
            Transfer(
                i.id,
                g.skus[i.sku],
                g.locs[i.src] if i.src is not None else "?",
                g.locs[i.loc],
                i.qty,
                from_micros(i.eta_us),
                i.res,
            )
            for i in st.supply.by_id.values()
            if i.kind == "transfer"
        ]
        return sorted(out, key=lambda t: (t.eta, t.id))

    def receive_transfer(
        self, transfer_id: str, qty: int | None = None, key: str | None = None
    ) -> Applied:
        """Units of a transfer arrive at its destination (all, or ``qty``).
        Units earmarked for an open reservation arrive reserved for it."""
        check_id("transfer_id", transfer_id)
        q_in = None if qty is None else check_qty("qty", qty)

        def plan(now: int) -> CmdPlan:
            st = self._state
            item = st.supply.by_id.get(transfer_id)
            if item is None or item.kind != "transfer":
                raise InvalidInput("transfer_id", transfer_id, "no such transfer in transit")
            q = item.qty if q_in is None else q_in
            if q > item.qty:
                raise InvalidQuantity("qty", q, f"only {item.qty} in transit")
            data: dict[str, Any] = {}
            h = st.holds.peek(item.res) if item.res is not None else None
            if h is not None and h.state in OPEN:
                data["res"] = h.id
            g = st.grid
            row = (
                self._ts(now),
                "transfer-in",
                g.skus[item.sku],
                g.locs[item.loc],
                q,
                transfer_id,
                None,
                key,
                json.dumps(data) if data else None,
            )
            return [row], [data or None], Applied(st.head + 1)

        result: Applied = self._run("receive_transfer", [transfer_id, q_in], key, plan)
        return result

    # -- rejection and re-sourcing ------------------------------------------------
    def reject(
        self,
        res_id: str,
        sku: str,
        reason: str,
        location: str | None = None,
        key: str | None = None,
    ) -> Allocation:
        """A store cannot fulfil a reservation line. Inventory effect at that
        store, then the line is re-sourced by the policy (the same
        reservation now holds it elsewhere) and the new ``Allocation`` for it
        is returned:

        - ``not_found``: the position is counted to zero;
        - ``damaged``: the line's units move to ``damaged``;
        - ``mismatch``: on_hand drops by the line's quantity.

        Other reservations the effect leaves uncovered are re-sourced too,
        newest first (see ``history``)."""
        check_id("sku", sku)
        check_opt_id("location", location)
        if reason not in REJECT_REASONS:
            raise InvalidInput("reason", reason, f"must be one of {', '.join(REJECT_REASONS)}")

        def plan(now: int) -> CmdPlan:
            st = self._state
            g = st.grid
            h = self._open_hold(res_id, OPEN, "reject")
            found = [
                (p, q)
                for p, q in h.lines.items()
                if g.skus[p[0]] == sku and (location is None or g.locs[p[1]] == location)
            ]
            if not found:
                raise InvalidInput(
                    "sku",
                    sku,
                    f"is not held by reservation {res_id!r}"
                    + (f" at {location!r}" if location else ""),
                )
            if len(found) > 1:
                raise InvalidInput(
                    "location",
                    location,
                    f"reservation holds {sku!r} at several locations; say which",
                )
            (s, l), q = found[0]
            loc = g.locs[l]
            ts = self._ts(now)
            rows: list[NewRow] = []
            datas: list[Any] = []
            sellable = g.sellable(s, l)
            if reason == "not_found":
                d: dict[str, Any] = {"state": SELLABLE, "to": 0, "reason": reason}
                rows.append((ts, "counted", sku, loc, -sellable, res_id, None, key, json.dumps(d)))
                datas.append(d)
            elif reason == "damaged":
                moved = min(q, max(0, sellable))
                if moved:
                    d = {"from": SELLABLE, "to": "damaged", "reason": reason}
                    rows.append(
                        (ts, "state-changed", sku, loc, moved, res_id, None, key, json.dumps(d))
                    )
                    datas.append(d)
            else:
                d = {"state": SELLABLE, "reason": reason}
                rows.append((ts, "written-off", sku, loc, q, res_id, None, key, json.dumps(d)))
                datas.append(d)
            return rows, datas, (h.id, (s, l), q)

        def follow(now: int, found: Any, emit: Emit) -> Allocation:
            rid, p, q = found
            moved, trace = self._move_line(now, rid, p, q, key, emit, reason)
            h = self._state.holds.need_peek(rid)
            self._resource_uncovered(now, {p: 0}, key, emit)
            st = self._state
            res = _reservation(st, h)
            lines = tuple(ReservationLine(sku, loc, n) for loc, n in moved.to)
            if moved.transfers:
                lines = tuple(res.lines)
            status: Status = (
                "allocated"
                if not moved.missing
                else ("partial" if moved.to or moved.transfers else "unfillable")
            )
            why = (
                None if not moved.missing else (f"{moved.missing} x {sku} could not be re-sourced")
            )
            ready = max((t.eta for t in moved.transfers), default=None)
            return Allocation(
                h.order_id or rid,
                status,
                res,
                lines,
                trace,
                reason=why,
                transfers=moved.transfers,
                ready_at=ready,
            )

        result: Allocation = self._run("reject", [res_id, sku, reason, location], key, plan, follow)
        return result

    def _move_line(
        self, now: int, rid: str, p: Pos, q: int, key: str | None, emit: Emit, why: str
    ) -> tuple[Resourced, Trace | None]:
        """Move ``q`` units of reservation ``rid`` off position ``p``: re-source
        them by the policy elsewhere (a pickup order by a transfer into its
        store), then release them at ``p``. Units nowhere to be had stay.
        Returns what moved and the sourcing trace of the decision."""
        st = self._state
        g = st.grid
        h = st.holds.need_peek(rid)
        sku, loc = g.skus[p[0]], g.locs[p[1]]
        pol = self._policy_of(st)
        q = min(q, h.lines.get(p, 0))
        if q <= 0:
            return Resourced(rid, sku, loc, 0), None
        ts = self._ts(now)
        to: tuple[tuple[str, int], ...] = ()
        transfers: tuple[Transfer, ...] = ()
        moved = 0
        if h.pickup is not None:
            store = st.locations[h.pickup]
            plan = self._source(
                [Line(sku, q)],
                "ship",
                store.point,
                None,
                self._transfer_policy(pol),
                now,
                {},
                (loc, store.id) if loc != store.id else (loc,),
                True,
                True,
            )
            if plan.status != "unfillable":
                eta = now + int(pol.transfer_hours * 3600 * 1_000_000)
                # A held pickup keeps what was left of its window, counted from
                # when the units are ready (at least the default window).
                exp = None
                if h.state == HELD and h.expires_us is not None:
                    window = max(h.expires_us - now, DEFAULT_TTL // timedelta(microseconds=1))
                    exp = max(h.expires_us, eta + window)
                rows, datas, transfers = self._transfer_rows(
                    plan, store.id, rid, None, now, eta, exp, key, h.channel
                )
                emit(rows, datas)
                moved = sum(t.qty for t in transfers)
        else:
            dest = None if h.dest is None else Point(*h.dest)
            ch = st.channels.get(h.channel) if h.channel is not None else None
            plan = self._source([Line(sku, q)], "ship", dest, ch, pol, now, {}, (loc,), True, True)
            if plan.status != "unfillable":
                want: dict[Pos, int] = {}
                self._add_plan(plan, want)
                d = self._hold_data(h.order_id, None, None, None)
                d["from"] = loc
                emit(
                    [
                        (ts, "held", g.skus[s], g.locs[l], n, rid, h.channel, key, json.dumps(d))
                        for (s, l), n in want.items()
                    ],
                    [d] * len(want),
                )
                rows_p, datas_p = self._pick_rows("ship", want, now, key)
                emit(rows_p, datas_p)
                to = tuple((g.locs[l], n) for (_, l), n in want.items())
                moved = sum(n for _, n in to)
        if moved:
            h = st.holds.need_peek(rid)  # as the emitted rows left it
            others = sum(v for k, v in h.lines.items() if k != p) or bool(transfers)
            d = {"resize": 1, "reason": why} if (others or h.lines[p] > moved) else {"reason": why}
            emit([(ts, "released", sku, loc, moved, rid, h.channel, key, json.dumps(d))], [d])
        return Resourced(rid, sku, loc, q, to, q - moved, transfers), plan.trace

    def _resource_uncovered(
        self, now: int, positions: dict[Pos, int], key: str | None, emit: Emit
    ) -> tuple[Resourced, ...]:
        """Re-source reservations that physical stock no longer covers at
        ``positions``, newest first."""
        out = []
        for sh in self._shortages(positions):
            g = self._state.grid
            p = (g.sku_ix[sh.sku], g.loc_ix[sh.location])
            left = sh.qty
            for rid in sh.reservations:
                if left <= 0:
                    break
                h = self._state.holds.need_peek(rid)
                take = min(left, h.lines.get(p, 0))
                r, _ = self._move_line(now, rid, p, take, key, emit, "shortage")
                left -= take
                out.append(r)
        return tuple(out)

    def _resource_follow(self, now: int, result: Any, emit: Emit) -> Any:
        """Follow-up of sell/count/state changes: re-source what they left
        uncovered, in the same commit, and report it in the result."""
        if not isinstance(result, Applied) or not result.shortages:
            return result
        g = self._state.grid
        positions = {(g.sku_ix[s.sku], g.loc_ix[s.location]): 0 for s in result.shortages}
        done = self._resource_uncovered(now, positions, None, emit)
        return attrs.evolve(result, seq=self._state.head, resourced=done)


def _batch_of(b: OrderBatch, allocs: list[Allocation]) -> BatchResult:
    codes = {"unfillable": 0, "allocated": 1, "partial": 2}
    start = [0]
    locs: list[str] = []
    qty: list[int] = []
    for a in allocs:
        for ln in a.lines:
            locs.append(ln.location)
            qty.append(ln.qty)
        start.append(len(locs))
    return BatchResult(
        b.order_ids,
        np.array([codes[a.status] for a in allocs], dtype=np.int8),
        tuple(None if a.reservation is None else a.reservation.id for a in allocs),
        np.array(start, dtype=np.int64),
        tuple(locs),
        np.array(qty, dtype=np.int64),
    )


def _points(locs: Sequence[Location]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([np.nan if c.point is None else c.point.lat for c in locs], dtype=np.float64)
    lon = np.array([np.nan if c.point is None else c.point.lon for c in locs], dtype=np.float64)
    return lat, lon


def _nearest(
    olat: np.ndarray, olon: np.ndarray, locs: Sequence[Location], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the ``k`` nearest of ``locs`` (all, in their order, when
    ``k == len(locs)``): flat index and km arrays (see ``kernels.nearest``)."""
    lat, lon = _points(locs)
    idx = np.empty(len(olat) * k, dtype=np.int64)
    dist = np.empty(len(olat) * k, dtype=np.float64)
    if k:
        nearest(
            np.ascontiguousarray(olat, dtype=np.float64),
            np.ascontiguousarray(olon, dtype=np.float64),
            lat,
            lon,
            k,
            idx,
            dist,
        )
    return idx, dist


def _static_ok(c: Location, method: str, ch: Channel | None, pol: Policy) -> bool:
    """The filters that do not change during a wave."""
    if "capability" in pol.filters and not (c.ships if method == "ship" else c.pickup):
        return False
    if (
        "channel" in pol.filters
        and ch is not None
        and ch.locations is not None
        and c.id not in ch.locations
    ):
        return False
    return not ("excluded" in pol.filters and c.id in pol.exclude)


__all__ = ["REJECT_REASONS", "Allocation", "OrderCommands", "Suggestion"]
