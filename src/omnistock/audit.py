"""Reading the journal back: history, point-in-time views and ``check()``,
the built-in reconciler."""

from __future__ import annotations

from datetime import datetime

from . import history as _history
from ._validate import check_opt_id, check_qty, check_when, to_micros
from .errors import InvalidInput
from .ledger.replay import replay
from .ledger.state import LedgerState
from .reports import CheckReport
from .storage import Store
from .values import Entry


def entries(
    store: Store,
    sku: str | None,
    location: str | None,
    ref: str | None,
    since: int,
    until: int | None,
    kind: str | None,
    limit: int | None,
) -> list[Entry]:
    """Journal entries matching every filter given, oldest first (see
    ``Inventory.history``). Raises ``InvalidInput`` for a bad filter."""
    check_opt_id("sku", sku)
    check_opt_id("location", location)
    check_opt_id("ref", ref)
    since = check_qty("since", since, 0)
    if until is not None:
        until = check_qty("until", until, 0)
    check_opt_id("kind", kind)
    if limit is not None:
        limit = check_qty("limit", limit, 0)
        if limit == 0:
            return []
    out: list[Entry] = []
    rows = _history.rows_for(store, since, until, sku, location, ref)
    for e in _history.entries(store, rows, sku, location, ref):
        if kind is not None and e.kind != kind:
            continue
        out.append(e)
        if limit is not None and len(out) >= limit:
            break
    return out


def state_at(store: Store, when: int | datetime, head: int) -> LedgerState:
    """The ledger as it was at a sequence number or a time (the last entry
    at or before it), from the newest snapshot before it and the journal."""
    if isinstance(when, datetime):
        seq = store.seq_at(to_micros(check_when("when", when)))
    else:
        seq = check_qty("when", when, 0)
        if seq > head:
            raise InvalidInput("when", when, f"is past the head {head}")
    snap = store.load_snapshot(seq)
    st = LedgerState.from_bytes(snap[1]) if snap else LedgerState()
    replay(st, store.read(st.head, seq))
    return st


def check(store: Store, live: LedgerState) -> CheckReport:
    """Replay the whole journal into a fresh ledger, compare it with the live
    one and check every invariant. O(journal + positions)."""
    fresh = LedgerState()
    n = replay(fresh, store.read(0, live.head))
    problems = []
    if fresh.digest() != live.digest():
        problems.append("live ledger differs from a replay of the journal")
    problems += live.violations()
    problems += [f"replay: {p}" for p in fresh.violations() if p not in problems]
    return CheckReport(not problems, live.head, n, live.digest(), tuple(problems))
