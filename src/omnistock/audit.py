"""Reading the journal back: history, point-in-time views, ``check()`` (the
built-in reconciler) and the trusted start: ``restore`` loads the newest
sound snapshot and replays the journal after it.

A snapshot is used only if its seal holds (``ledger.snapshot.unseal``: the
checksum of its bytes, the seq it was taken at and the journal's chain hash
at that seq); otherwise it is ignored, the fallback is logged on the
``omnistock`` logger at WARNING, and an older snapshot or the journal from
the start is used. ``check`` verifies the journal's hash chain
(``storage.chain``) while it replays it, and reports the first bad seq of
each problem. ``anchor``/``verify_anchor`` let a deployment pin the head's
hash outside the store, which is what makes a rewritten tail detectable
(docs/concepts.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from . import history as _history
from ._validate import check_opt_id, check_qty, check_when, to_micros
from .errors import InvalidInput, StorageError
from .ledger import snapshot
from .ledger.replay import replay
from .ledger.rows import BATCH_KINDS
from .ledger.state import LedgerState
from .reports import CheckReport
from .storage import Row, Store
from .storage.chain import ChainFault, verify
from .values import Entry

log = logging.getLogger("omnistock.audit")
snap_log = logging.getLogger("omnistock.snapshot")

MAX_REFUSED = 3
"""Refused snapshots tried (each older than the last) before a full replay."""


def entries(
    store: Store,
    sku: str | None,
    location: str | None,
    ref: str | None,
    since: int | datetime,
    until: int | datetime | None,
    kind: str | None,
    limit: int | None,
    order: str | None = None,
    tokens: Callable[[str], list[str]] | None = None,
) -> list[Entry]:
    """Journal entries matching every filter given, oldest first (see
    ``Inventory.history``). ``tokens(order)`` names the bulk holds the order
    has members in (the ledger knows). Raises ``InvalidInput`` for a bad
    filter."""
    check_opt_id("sku", sku)
    check_opt_id("location", location)
    check_opt_id("ref", ref)
    check_opt_id("order", order)
    lo = _seq_bound(store, "since", since, True)
    assert lo is not None
    hi = None if until is None else _seq_bound(store, "until", until, False)
    check_opt_id("kind", kind)
    if limit is not None:
        limit = check_qty("limit", limit, 0)
        if limit == 0:
            return []
    out: list[Entry] = []
    if order is not None:
        blocks = [] if tokens is None else tokens(order)
        rows = _history.rows_for_order(store, lo, hi, order, blocks)
        if sku is not None or location is not None or ref is not None:
            rows = (r for r in rows if r[2] in BATCH_KINDS or _keeps(r, sku, location, ref))
    else:
        rows = _history.rows_for(store, lo, hi, sku, location, ref)
    for e in _history.entries(store, rows, sku, location, ref, order):
        if kind is not None and e.kind != kind:
            continue
        out.append(e)
        if limit is not None and len(out) >= limit:
            break
    return out


def _keeps(r: Row, sku: str | None, location: str | None, ref: str | None) -> bool:
    return (
        (sku is None or r[3] == sku)
        and (location is None or r[4] == location)
        and (ref is None or r[6] == ref)
    )


def _seq_bound(store: Store, field: str, value: int | datetime, after: bool) -> int:
    """A ``since``/``until`` bound as a seq. A datetime ``since`` keeps the
    entries at or after it (the bound is the last seq before it), a
    datetime ``until`` those at or before it."""
    if isinstance(value, datetime):
        us = to_micros(check_when(field, value))
        return store.seq_at(us - 1 if after else us)
    return check_qty(field, value, 0)


def sealed(store: Store, st: LedgerState) -> bytes:
    """A snapshot of ``st`` for ``store``, sealed with the journal's chain
    hash at ``st.head`` (``ledger.snapshot.seal_state``: compressed as it
    is written, never held whole)."""
    return snapshot.seal_state(st, st.head, store.hash_at(st.head))


def from_snapshot(store: Store, upto: int | None = None) -> LedgerState:
    """The newest snapshot at or before seq ``upto`` (any if None) whose
    seal holds, loaded; a fresh ledger if there is none. A refused snapshot
    is logged at WARNING and the next older one tried, up to
    ``MAX_REFUSED``. The caller replays the journal after ``head``."""
    limit = upto
    for _ in range(MAX_REFUSED):
        found = store.load_snapshot(limit)
        if found is None:
            break
        seq, blob = found
        try:
            return _unsealed(blob, seq, store.hash_at(seq))
        except StorageError as exc:
            snap_log.warning("ignoring the snapshot at seq %d, replaying the journal: %s", seq, exc)
        if seq <= 0:
            break
        limit = seq - 1
    return LedgerState()


def restore(store: Store, upto: int | None = None) -> LedgerState:
    """The ledger at seq ``upto`` (the head if None): ``from_snapshot``,
    then the journal after it."""
    st = from_snapshot(store, upto)
    replay(st, store.read(st.head, upto))
    return st


def _unsealed(blob: bytes, seq: int, row_hash: bytes | None) -> LedgerState:
    snapshot.check_seal(blob, seq, row_hash)
    try:
        st = LedgerState.from_bytes(blob)  # decompressed as it is read
    except StorageError:
        raise
    except Exception as exc:  # a sealed payload that does not load: a defect or a forgery
        raise StorageError(f"snapshot at seq {seq} does not load: {exc!r}") from exc
    if st.head != seq:
        raise StorageError(f"snapshot at seq {seq} holds a ledger at seq {st.head}")
    return st


def state_at(store: Store, when: int | datetime, head: int) -> LedgerState:
    """The ledger as it was at a sequence number or a time (the last entry
    at or before it), from the newest sound snapshot before it and the
    journal (``restore``)."""
    if isinstance(when, datetime):
        seq = store.seq_at(to_micros(check_when("when", when)))
    else:
        seq = check_qty("when", when, 0)
        if seq > head:
            raise InvalidInput("when", when, f"is past the head {head}")
    return restore(store, seq)


def check(store: Store, live: LedgerState) -> CheckReport:
    """Replay the whole journal into a fresh ledger while verifying its hash
    chain, compare the replay with the live ledger and check every
    invariant. Reports a gap in the sequence, a deleted, inserted or edited
    row and a broken chain, each naming its first bad seq. O(journal +
    positions)."""
    fresh = LedgerState()
    faults: list[ChainFault] = []
    n = replay(fresh, verify(store.read_chain(0, live.head), faults))
    problems = [str(f) for f in faults]
    if store.guarded:  # a seq no append committed: only a server crash leaves one
        holes = store.holes(0, live.head)
        problems += [
            f"journal: seq {h} was taken by an append that never committed (the server "
            "crashed during it) or its row was deleted"
            for h in sorted(holes)[:10]
            if not any(f.seq == h for f in faults)
        ]
    # A guarded store's seqs past the head may be in flight or holes, not missing.
    end = None if store.guarded else _missing_tail(store, fresh.head, live.head)
    if end is not None:
        problems.append(
            f"journal: seq {fresh.head + 1}..{end} missing: the rows end at {fresh.head} "
            f"but the journal's head is {max(end, live.head)} (rows deleted at the end)"
        )
    if fresh.digest() != live.digest():
        problems.append("live ledger differs from a replay of the journal")
    problems += live.violations()
    problems += [f"replay: {p}" for p in fresh.violations() if p not in problems]
    if store.guarded:
        problems += _counter_problems(store, fresh)
    return CheckReport(not problems, live.head, n, live.digest(), tuple(problems))


def _counter_problems(store: Store, fresh: LedgerState) -> list[str]:
    """A guarded store's counter tables against a replay of the journal
    they were read with. O(journal) when the store moved past ``fresh``."""
    from .ledger.deltas import Counters, counters_of

    c = store.counters()
    if c is None:
        log.warning("check: appends in flight; the counter tables were not compared")
        return []
    st = fresh if c.seq == fresh.head else replay_to(store, c.seq)
    theirs = Counters()
    theirs.positions, theirs.reservations = c.positions, c.reservations
    theirs.usage, theirs.network = c.usage, c.network
    return [f"counters: {d}" for d in counters_of(st).differences(theirs)]


def replay_to(store: Store, seq: int) -> LedgerState:
    """A fresh ledger replayed from the journal up to ``seq``."""
    st = LedgerState()
    replay(st, store.read(0, seq))
    return st


def _missing_tail(store: Store, last: int, seen: int) -> int | None:
    """The last missing seq if rows after ``last`` (the last row read) are
    missing up to the head the ledger has seen or the store reports (a
    store such as PostgreSQL keeps its head apart from its rows), else
    None. Rows another writer appended meanwhile are not missing."""
    head = max(seen, store.head())
    if head <= last:
        return None
    following = next(iter(store.read(last, head)), None)
    if following is not None and following[0] == last + 1:
        return None
    return head if following is None else following[0] - 1


def anchor(store: Store, seq: int | None = None) -> tuple[int, str]:
    """``(seq, hex chain hash)`` of the journal at ``seq`` (the head if
    None): the value to keep outside the store (a log, another database, a
    signed message) so that a rewrite of everything up to ``seq`` is seen by
    ``verify_anchor`` later."""
    at = store.head() if seq is None else check_qty("seq", seq, 0)
    h = store.hash_at(at)
    if h is None:
        raise InvalidInput("seq", at, "has no chain hash in this journal")
    return at, h.hex()


def verify_anchor(store: Store, seq: int, hash_hex: str) -> str | None:
    """None if the journal's row ``seq`` still has the chain hash
    ``hash_hex`` recorded by ``anchor``; otherwise the problem. Together
    with a ``check()`` that finds the chain sound, this proves rows
    ``1..seq`` are the rows that were anchored."""
    seq = check_qty("seq", seq, 0)
    h = store.hash_at(seq)
    if h is None:
        return f"journal: row {seq} of the anchor is missing"
    if h.hex() != hash_hex.lower():
        return f"journal: row {seq} has chain hash {h.hex()}, the anchor says {hash_hex}"
    return None
