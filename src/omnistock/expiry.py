"""The expiry plan: what is due by the clock, and ``Swept``, what a sweep did.

Expiry is lazy: the runner plans it first in any commit (and before any
query) once something is due, so correctness never waits for a cron job.
``inv.sweep()`` runs the same plan, bounded, for deployments that want the
journal (and so the feed) to show expiries promptly. Each reservation's
expiry is journaled once, as ``expired`` rows (one per line) or one
``expired-batch`` row per held batch. A paid pickup (a committed pickup
order with a due time, see ``Policy.pickup_window_hours``) sits in the same
index as the holds: when its due time passes it is released as a no-show,
journaled as ``no-show`` rows (one per line), its units back in stock.

The seam for other things that expire (pickup windows, lots; other issues
add them): each is one more *source* in ``_SOURCES``: an iterator of
``(expires_us, ref)`` in expiry order and the rows that expire one ref.
Sources are merged by expiry time, so a bounded sweep takes the oldest
first whatever their kind, and ``Swept.more`` looks at every source.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Literal, NamedTuple

import attrs
import numpy as np

from ._validate import from_micros
from .ledger import heldbatches
from .ledger.holds import COMMITTED
from .ledger.rows import Kind, make
from .ledger.state import LedgerState
from .picks import give_back
from .planning import Context, Emit, Plan
from .storage import NewRow
from .values import Resourced

__all__ = ["Expiry", "Swept", "plan_expiry"]

What = Literal["hold", "batch", "no-show", "lot"]


@attrs.frozen
class Expiry:
    """One thing a sweep expired: a held reservation (``hold``, ``ref`` its
    id), a held batch (``batch``, ``ref`` its token), a paid pickup not
    collected (``no-show``, ``ref`` its reservation id) or a lot at one
    location (``lot``, ``ref`` the JSON ``[sku, location, lot]``), due at
    ``due_at``."""

    what: What
    ref: str
    channel: str | None
    due_at: datetime


@attrs.frozen
class Swept:
    """What one ``sweep()`` journaled, oldest due first.

    ``more`` is True when more was due at ``at`` than the call's ``limit``
    let it take: call again (``omnistock worker`` loops until it is False).
    A sweep that found the expiries already journaled by another process
    reports nothing for them."""

    expired: tuple[Expiry, ...]
    more: bool
    at: datetime
    resourced: tuple[Resourced, ...] = ()
    """Reservations that expired lots left uncovered, re-sourced."""

    @property
    def count(self) -> int:
        """How many reservations and batches were expired."""
        return len(self.expired)

    @property
    def reservations(self) -> tuple[str, ...]:
        """Ids of the reservations expired."""
        return tuple(e.ref for e in self.expired if e.what == "hold")

    @property
    def no_shows(self) -> tuple[str, ...]:
        """Ids of the paid pickups released as no-shows."""
        return tuple(e.ref for e in self.expired if e.what == "no-show")

    @property
    def batches(self) -> tuple[str, ...]:
        """Tokens of the held batches expired."""
        return tuple(e.ref for e in self.expired if e.what == "batch")


class _Source(NamedTuple):
    what: What
    due: Callable[[LedgerState], Iterator[tuple[int, str]]]
    """Every ``(expires_us, ref)`` of this kind, in expiry order."""
    rows: Callable[[LedgerState, int, str], tuple[list[NewRow], str | None]]
    """The rows expiring one ref at journal time ``ts``, and its channel."""


def _hold_rows(st: LedgerState, ts: int, rid: str) -> tuple[list[NewRow], str | None]:
    """One ``expired`` row per line (a paid pickup: one ``no-show`` row per
    line); a reservation's picks taken today go back to its locations'
    daily capacity (``picks``)."""
    g, h = st.grid, st.holds.by_id[rid]
    paid = h.state == COMMITTED
    kind = Kind.NO_SHOW if paid else Kind.EXPIRED
    rows = [  # backordered units free their supply first (see fulfilment/backorders.py)
        make(
            Kind.BACKORDER_RELEASED,
            ts,
            sku=g.skus[item.sku],
            location=g.locs[item.loc],
            qty=q,
            ref=rid,
            channel=h.channel,
            data=json.dumps({"sid": sid, "close": "expired"}),
        )
        for sid, q in h.waiting.items()
        for item in (st.supply.by_id[sid],)
    ]
    rows += [
        make(kind, ts, sku=g.skus[s], location=g.locs[l], qty=q, ref=rid, channel=h.channel)
        for (s, l), q in h.lines.items()
    ]
    if paid and not rows:  # every unit still in transit: one row closes it
        coming = next(i for i in st.supply.by_id.values() if i.res == rid)
        rows.append(
            make(kind, ts, sku=g.skus[coming.sku], location=h.pickup, ref=rid, channel=h.channel)
        )
    if h.picked:
        rows += give_back(st, ts, ts, None, h, [g.locs[l] for (_, l) in h.lines])
    return rows, h.channel


def _batch_rows(st: LedgerState, ts: int, token: str) -> tuple[list[NewRow], str | None]:
    g, b = st.grid, st.holds.batches[token]
    m = b.live_lines()
    names = [g.skus[i] for i in np.unique(b.s[m]).tolist()]
    members = [b.orders[j] for j in b.live_members()]
    text = json.dumps(
        {"orders": heldbatches.pack_strs(members), "skus": heldbatches.pack_strs(names)},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    row = make(
        Kind.EXPIRED_BATCH,
        ts,
        sku=heldbatches.BATCH_SKU,
        qty=int(b.q[m].sum()),
        ref=token,
        channel=b.channel,
        data=text,
    )
    return [row], b.channel


def _lots_due(st: LedgerState) -> Iterator[tuple[int, str]]:
    g = st.grid
    for exp, s, l, name in st.lots.expiry:
        yield exp, json.dumps([g.skus[s], g.locs[l], name])


def _lot_rows(st: LedgerState, ts: int, ref: str) -> tuple[list[NewRow], str | None]:
    """One ``lot-expired`` row: the lot's sellable units become "expired"."""
    sku, loc, name = json.loads(ref)
    lot = st.lots.by_pos[(st.grid.sku_ix[sku], st.grid.loc_ix[loc])][name]
    data = json.dumps({"lot": name})
    return [make(Kind.LOT_EXPIRED, ts, sku=sku, location=loc, qty=lot.qty, data=data)], None


_SOURCES: tuple[_Source, ...] = (
    _Source("hold", lambda st: iter(st.holds.expiry), _hold_rows),
    _Source("batch", lambda st: iter(st.holds.batch_expiry), _batch_rows),
    _Source("lot", _lots_due, _lot_rows),
)


def _what(st: LedgerState, k: int, ref: str) -> What:
    """What source ``k``'s ``ref`` is: the holds' index also keeps the paid
    pickups due (committed, released as no-shows)."""
    what = _SOURCES[k].what
    if what == "hold" and st.holds.by_id[ref].state == COMMITTED:
        return "no-show"
    return what


def next_due(st: LedgerState) -> int | None:
    """The earliest expiry of anything that expires, or None. O(sources)."""
    a, b = st.holds.first_expiry(), st.lots.first_expiry()
    return a if b is None else b if a is None else min(a, b)


def resource_expired(st: LedgerState, cx: Context, swept: Swept, emit: Emit) -> Swept:
    """Follow-up of an expiry that expired lots: re-source the reservations
    their units no longer cover (as any shortage), in the same commit."""
    lots = [json.loads(e.ref) for e in swept.expired if e.what == "lot"]
    if not lots:
        return swept
    from .fulfilment.resourcing import resource_uncovered  # services: only when lots expire

    g = st.grid
    positions = {(g.sku_ix[s], g.loc_ix[loc]): 0 for s, loc, _ in lots}
    done = resource_uncovered(st, cx.without_key(), positions, emit)
    return attrs.evolve(swept, resourced=done) if done else swept


def plan_expiry(st: LedgerState, cx: Context, limit: int | None = None) -> Plan[Swept]:
    """Rows expiring what is due at ``cx.now``: everything (the lazy path,
    ``limit=None``), or the ``limit`` oldest due reservations and batches
    (a sweep). Its result, read after the fold, says what it expired and
    whether more is still due. O(expiring lines + limit log sources); O(1)
    when nothing is due."""
    now = cx.now
    first = next_due(st)
    if first is None or first > now:
        return Plan([], [], lambda _s: Swept((), False, from_micros(now)))
    merged = heapq.merge(*(_tagged(k, src.due(st)) for k, src in enumerate(_SOURCES)))
    due = _until(merged, now)
    # Taken whole before any row is made: the rows' fold edits the indexes.
    taken = list(due if limit is None else islice(due, limit))
    rows: list[NewRow] = []
    done: list[tuple[int, What, str, str | None]] = []
    for exp, k, ref in taken:
        what = _what(st, k, ref)
        new, channel = _SOURCES[k].rows(st, cx.ts, ref)
        rows.extend(new)
        done.append((exp, what, ref, channel))

    def result(after: LedgerState) -> Swept:
        nxt = next_due(after)
        expired = tuple(
            Expiry(what, ref, channel, from_micros(exp)) for exp, what, ref, channel in done
        )
        return Swept(expired, nxt is not None and nxt <= now, from_micros(now))

    return Plan(rows, [None] * len(rows), result)


def _tagged(k: int, due: Iterator[tuple[int, str]]) -> Iterator[tuple[int, int, str]]:
    for exp, ref in due:
        yield exp, k, ref


def _until(due: Iterator[tuple[int, int, str]], now: int) -> Iterator[tuple[int, int, str]]:
    """``due`` up to the first item past ``now`` (the merge is in expiry
    order, so nothing after it is due)."""
    for item in due:
        if item[0] > now:
            return
        yield item
