"""A worker without a replica: plan each command on the counters of what it
names, not on a copy of the whole ledger (``Inventory.open(url,
replica=False)``, PostgreSQL only).

A web worker makes one reservation per checkout. It needs the figures of
the SKUs in the order and, for a command on a reservation, that
reservation: not the ledger. So the runner's ledger holds only:

- the network (locations, channels, policy), read once at start from the
  network rows (and again after a conflict, if its digest moved);
- the positions of the SKUs that commands named, at every location, set
  from the store's counter tables (``Store.counted``), with the channel
  usage of those SKUs and today's picks;
- the reservations that commands named (and the holds this worker made),
  folded from their own journal rows (``Store.rows_of``);
- holds due by the clock (read with the counters, up to ``DUE_LIMIT``),
  so a hold past its expiry frees its units for whichever worker touches or
  reads the position: their expiry is planned and journaled once, guarded
  by their state, as on a replica.

Nothing here is trusted further than a replica is. Every figure a plan
relies on is guarded by the database (``guarding.py``), so a figure that
went stale makes the append fail, the worker forgets what it knew
(``conflicted``) and plans again on fresh counters; a refusal is checked
once more on fresh counters before it is the answer. Queries read the
counters of the SKU they are asked about, every time.

What this cannot plan (commands that read many reservations of a position,
such as counts and walk-in sales that may leave reservations uncovered,
waves, bulk holds, click & collect transfers, kits and reservations that
hold them, ``check()``, ``at()``,
``history()``) makes the worker load the full replica once and stay one
(``go_replica``), logged at INFO: the answer is always the replica's.
Memory is bounded: past ``MAX_SKUS`` SKUs or ``MAX_HOLDS`` reservations
known, the worker forgets everything and starts again from the network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .ledger.grid import N_STATES
from .ledger.heldbatches import split_rid
from .ledger.rows import Kind
from .ledger.state import LedgerState

if TYPE_CHECKING:
    from .command import Command
    from .runner import Runner

log = logging.getLogger("omnistock.scoped")

Scope = tuple[tuple[str, ...], tuple[str, ...]]
"""What a command or query names: ``(skus, reservation ids)``. A command
without a scope (None) needs the replica."""

DUE_LIMIT = 256
"""Holds due read (and so expired) per load, earliest first."""
MAX_SKUS = 4096
"""SKUs a worker keeps the positions of before it forgets them all."""
MAX_HOLDS = 20_000
"""Reservations a worker keeps before it forgets them all."""
SIBLINGS = 0
"""Reservation ids of an order read before a hold plans (``o#1``..). None
by default: a new order (the common case) then costs no read, and a repeat
of an order mints an id that is taken, so its append conflicts and the
worker reads that id, and the next (``learned``), before planning again:
the order id stays a natural key, as on a replica."""


class NeedsReplica(Exception):
    """What was asked cannot be planned on counters: load the replica."""


def order_scope(order: Any) -> Scope:
    """A hold's or an allocation's scope: its SKUs, and its order's first ids."""
    skus = tuple(sorted({line.sku for line in order.lines}))
    return skus, tuple(f"{order.id}#{i}" for i in range(1, SIBLINGS + 1))


def reservation_scope(res_id: Any) -> Scope | None:
    """A command on one reservation; None for a bulk hold's member (its
    block's figures cover every member: only a replica has them)."""
    if not isinstance(res_id, str) or split_rid(res_id) is not None:
        return None
    return (), (res_id,)


class Scoped:
    """The ledger of a worker without a replica (see the module doc)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.replica = False
        """True once the worker loaded the replica: nothing here runs then."""
        self.skus: set[str] = set()
        """SKUs whose positions hold counters read since the last reset."""
        self.refs: set[str] = set()
        """Reservations (and their ids) folded since the last reset."""
        self.learned: set[str] = set()
        """Ids an append found taken: read with the next load."""
        self.due_blocks = False
        """Due bulk-hold blocks were seen: a refusal needs the replica."""
        self.due_full = False
        """The last read of holds due filled its page: more may be due."""
        self._network_rows = runner.store.network_rows()
        self._network = ""

    # -- the ledger ----------------------------------------------------------------------
    def fresh_state(self) -> LedgerState:
        """A ledger holding the network only. O(network rows)."""
        st = LedgerState()
        st.apply_all(self._network_rows)
        st.head = 0  # not a journal prefix: nothing may snapshot it
        self.skus, self.refs = set(), set()
        return st

    def reset(self) -> None:
        """Forget every figure and record (after a conflict, or when full)."""
        self.runner.state = self.fresh_state()

    def go_replica(self, why: str) -> None:
        """Load the full replica and keep it from now on."""
        from .tailing import Tailing

        log.info("worker loads the full replica: %s", why)
        r = self.runner
        r.state = r.load_replica()
        r._last_snap = r.state.head
        r.tailing = Tailing(r)
        self.replica = True

    # -- before planning -----------------------------------------------------------------
    def prepare(self, batch: Sequence[Command[Any]], now: int) -> None:
        """Make sure the ledger holds what ``batch`` names (or load the
        replica when a command names nothing it can plan on)."""
        skus: set[str] = set()
        refs: set[str] = set()
        for cmd in batch:
            if cmd.scope is None:
                self.go_replica(f"{cmd.name} needs the whole ledger")
                return
            skus.update(cmd.scope[0])
            refs.update(cmd.scope[1])
        try:
            self.load(skus, refs, now, fresh=False)
        except NeedsReplica as exc:
            self.go_replica(str(exc))

    def read(
        self, scope: Scope | None, now: int, states: bool = False, supply: bool = False
    ) -> None:
        """Before a query: fresh counters of its SKUs, its reservations read
        again, holds due read (the runner then expires them). ``states``:
        the query tells unsellable units by state, which the counters keep
        as one total: a SKU that has some is answered by the replica.
        ``supply``: the SKUs' open purchase orders and transfers are read
        too, afresh (``promise``)."""
        if scope is None:
            self.go_replica("a query over the whole ledger")
            return
        if scope[1] or supply:
            self.reset()
        try:
            refs = set(scope[1])
            if supply:
                store = self.runner.store
                refs.update(store.supply_refs(sorted(scope[0])))
                if store.backordered_supply(sorted(scope[0])):
                    raise NeedsReplica("supply with backorders waiting on it")
            self.load(set(scope[0]), refs, now, fresh=True)
            g = self.runner.state.grid
            rows = {g.sku_ix[s] for s in scope[0] if s in g.sku_ix}
            if states and any(p[0] in rows for p in g.unsell):
                raise NeedsReplica("unsellable units by state")
        except NeedsReplica as exc:
            self.go_replica(str(exc))

    def conflicted(self, minted: Iterable[str]) -> None:
        """An append failed on a guard: forget everything (the next load
        reads fresh counters), and remember ids it found taken."""
        if self.due_blocks:  # a bulk hold's block may be what is in the way
            self.go_replica("a refusal or conflict with bulk-hold blocks due")
            return
        if self.due_full:  # what is in the way may be due past the page read
            self.go_replica(f"more than {DUE_LIMIT} holds due: run omnistock worker (sweep)")
            return
        self.learned.update(minted)
        self.reset()

    def load(self, skus: set[str], refs: set[str], now: int, fresh: bool) -> None:
        """Read what is missing (``fresh``: the SKUs' counters again).
        At most three round trips: the reservations' rows, the counters
        (with the holds due), the due holds' rows. O(what is read)."""
        r = self.runner
        st = r.state
        if len(self.skus) > MAX_SKUS or len(st.holds.by_id) > MAX_HOLDS:
            self.reset()
            st = r.state
        known = st.holds.by_id
        asked = _with_earlier_ids((refs | self.learned) - self.refs)
        want_refs = sorted(x for x in asked if x not in known)
        want_skus = set(skus) if fresh else skus - self.skus
        if not want_refs and not want_skus:
            return
        store = r.store
        rows = store.rows_of(want_refs) if want_refs else []
        self._fold(st, rows)
        for row in rows:  # a named reservation's SKUs are read too
            if row[3] is not None:
                want_skus.add(row[3])
        self.refs.update(want_refs)
        self.learned.clear()
        names = sorted(want_skus)
        keys = [f"c|{ch}|{s}" for ch in st.channels for s in names]
        days = {loc.id: loc.day(now) for loc in st.locations.values()}  # local days
        keys += [f"p|{loc}|{day}" for loc, day in days.items()]
        keys += [f"l|lots|{s}" for s in names]
        got = store.counted(names, keys, now, DUE_LIMIT)
        # A kit is named by journal rows but has no position (ledger/kits.py).
        stocked = {p[0] for p in got.positions if any(p[2])}
        bare = [s for s in names if s in got.known and s not in stocked]
        if bare and store.rows_of(["kit:" + s for s in bare]):
            raise NeedsReplica("a kit: its lines are planned on the replica")
        lotted = [s for s in names if got.usage.get(f"l|lots|{s}")]
        if lotted:  # lots expire by the clock and ship FEFO: the replica's job
            raise NeedsReplica(f"SKU {lotted[0]} has lots")
        if got.network != self._network:
            if self._network:  # the network moved: start again from it
                self._network_rows = store.network_rows()
                self.reset()
                self._network = got.network
                self.load(skus, refs, now, fresh)
                return
            self._network = got.network
        self.due_full = len(got.due) >= DUE_LIMIT
        due = [d for d in got.due if d not in self.refs and d not in st.holds.by_id]
        self.due_blocks = any(_is_block(d) for d in due)
        due = [d for d in due if not _is_block(d)]
        if due:
            due_rows = store.rows_of(due)
            self._fold(st, due_rows)
            self.refs.update(due)
            for row in due_rows:  # folded on top of counters: no longer fresh
                if row[3] is not None and row[3] not in want_skus:
                    self.skus.discard(row[3])
        names = [s for s in names if s in got.known or s in st.grid.sku_ix]
        self._set_counters(st, names, got.positions, got.usage, days)
        self.skus.update(names)

    def _fold(self, st: LedgerState, rows: list[Any]) -> None:
        """Fold reservations' rows (their figures are overwritten by the
        counters next). A reservation kept only as a block member, or one
        waiting for a transfer, is a replica's job."""
        if not rows:
            return
        head, last = st.head, st.last_ts
        for row in rows:
            kind = row[2]
            if kind in (Kind.HELD_BATCH, Kind.EXPIRED_BATCH):
                raise NeedsReplica(f"row {row[0]} ({kind}) belongs to a bulk hold's block")
            if kind in _BACKORDER_KINDS:
                raise NeedsReplica(f"reservation {row[6]} waits for dated supply")
            if kind == Kind.KIT_HELD or (kind == Kind.HELD and '"kits"' in (row[9] or "")):
                raise NeedsReplica(f"reservation {row[6]} holds kits")
            if kind in (Kind.TRANSFER_OUT, Kind.TRANSFER_IN) and '"res"' in (row[9] or ""):
                raise NeedsReplica(f"transfer {row[6]} is earmarked for an order")
            st.apply(row)
        st.head = head  # never a journal prefix
        st.last_ts = max(last, st.last_ts)
        for rid in {row[6] for row in rows}:
            h = st.holds.by_id.get(rid)
            if h is not None and h.pickup is not None:
                raise NeedsReplica(f"reservation {rid} is a click & collect order")

    def _set_counters(
        self,
        st: LedgerState,
        names: list[str],
        positions: list[tuple[str, str, tuple[int, int, int, int]]],
        usage: dict[str, int],
        days: dict[str, int],
    ) -> None:
        """Overwrite the SKUs' positions (every location), their channel
        usage and today's picks with the counters. O(SKUs x locations)."""
        g = st.grid
        rows = [g.sku(s) for s in names]
        for loc in st.locations:
            g.loc(loc)
        for s in rows:
            g.holdable[s, :] = 0
            g.reserved[s, :] = 0
        for p in [p for p in g.safety if p[0] in rows]:
            del g.safety[p]
        for p in [p for p in g.unsell if p[0] in rows]:
            del g.unsell[p]
        for sku, loc, (h, r, sf, u) in positions:
            p = (g.sku(sku), g.loc(loc))
            g.holdable[p] = h
            g.reserved[p] = r
            if sf:
                g.safety[p] = sf
            if u:  # one total (on hand and ATP need no more; ``read`` knows)
                g.unsell[p] = [u] + [0] * (N_STATES - 1)
            if h or r or sf or u:
                g.ranged.add(p)
        for ch in st.channels:
            for sku, s in zip(names, rows, strict=True):
                n = usage.get(f"c|{ch}|{sku}", 0)
                if n:
                    st.chan_used[(ch, s)] = n
                else:
                    st.chan_used.pop((ch, s), None)
        for loc, day in days.items():
            n = usage.get(f"p|{loc}|{day}", 0)
            if n:
                st.picks[(loc, day)] = n
            else:
                st.picks.pop((loc, day), None)


_BACKORDER_KINDS = frozenset((Kind.BACKORDERED, Kind.BACKORDER_FILLED, Kind.BACKORDER_RELEASED))
"""A backorder's rows: its supply's promised units are a replica's."""


def _with_earlier_ids(refs: Iterable[str]) -> set[str]:
    """``refs`` and, for each ``<order>#<n>``, the order's ids ``#1``..``#n``:
    an order's reservations are read together, so the ledger counts them as
    a replica does (``Holds.per_order``, the order id as a natural key)."""
    out = set(refs)
    for ref in list(out):
        order, sep, n = ref.rpartition("#")
        if sep and n.isdigit() and 1 < int(n) <= 10_000:
            out.update(f"{order}#{i}" for i in range(1, int(n)))
    return out


def _is_block(rid: str) -> bool:
    """A bulk hold's block token (``heldbatches``: ``b`` and 12 hex digits)."""
    return len(rid) == 13 and rid[0] == "b" and all(c in "0123456789abcdef" for c in rid[1:])


def check_replica_option(store: Any, replica: object) -> bool:
    """``replica`` as given to ``Inventory.open``: a bool, and False only on a
    store that checks guards itself."""
    from .errors import InvalidInput

    if replica is not True and replica is not False:
        raise InvalidInput("replica", replica, "must be True or False")
    if not replica and not getattr(store, "guarded", False):
        why = "a worker without a replica needs a store that checks guards (PostgreSQL)"
        raise InvalidInput("replica", replica, why)
    return replica


__all__ = [
    "NeedsReplica",
    "Scope",
    "Scoped",
    "check_replica_option",
    "order_scope",
    "reservation_scope",
]
