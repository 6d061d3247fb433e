"""The journal feed: a consumer's entries after its acknowledged seq.

A consumer is a name; its cursor (the last seq it acknowledged) is kept in
the store (``Store.cursor``), so delivery resumes after a restart or from
another process. Delivery is at-least-once: ``deliver`` never moves the
cursor, ``acknowledge`` does, and only forwards.

On a store whose seqs commit out of order (PostgreSQL), rows are read
through ``Store.read``, which stops at the safe horizon: a row that took
its seq early and commits late is delivered in its place, never skipped,
and recorded holes are stepped over.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, Final

from .. import history
from .._validate import check_float, check_id, check_int
from ..errors import InvalidInput
from ..storage import Row, Store
from ..values import Entry

MAX_LIMIT: Final = 100_000
"""Most rows one ``feed`` call delivers (bounds its memory)."""
MAX_WAIT: Final = 3600.0
"""Longest ``wait=`` accepted, in seconds."""


def check_consumer(consumer: Any) -> str:
    """A consumer name: a non-empty printable string id of at most 200 characters."""
    return check_id("consumer", consumer)


def check_limit(limit: Any) -> int:
    """A row count in ``[1, MAX_LIMIT]``."""
    n = check_int("limit", limit, 1)
    if n > MAX_LIMIT:
        raise InvalidInput("limit", limit, f"must be at most {MAX_LIMIT}")
    return n


def check_wait(wait: Any) -> float:
    """Seconds in ``[0, MAX_WAIT]``."""
    return check_float("wait", wait, 0.0, MAX_WAIT)


def check_seq(seq: Any) -> int:
    """A journal seq: an integer >= 0."""
    return check_int("seq", seq, 0)


def rows_after(store: Store, since: int, limit: int) -> list[Row]:
    """Up to ``limit`` rows after seq ``since``, in seq order, behind the
    safe horizon. O(limit) rows read: a gap-free store's next ``limit``
    seqs hold them; on a guarded store, holes may leave that window short
    of rows, and when it holds none the read goes on past it."""
    rows = list(store.read(since, since + limit))
    if rows or not store.guarded:
        return rows
    return list(itertools.islice(store.read(since), limit))


def after(store: Store, since: int, limit: int, wait: float) -> list[Row]:
    """``rows_after``, waiting up to ``wait`` seconds for a row when there
    is none yet (``Store.wait``: polling, see docs/integration.md).

    On a guarded store the wait starts from the horizon read together with
    the check that no row is there (``Store.tail``), so it steps over known
    holes yet never over a row that committed after the first look."""
    rows = rows_after(store, since, limit)
    if rows or wait <= 0:
        return rows
    deadline = time.monotonic() + wait
    base = since
    while True:
        if store.guarded:
            found, horizon = store.tail(since)
            if found:
                return found[:limit]
            base = max(base, horizon)
        left = deadline - time.monotonic()
        if left <= 0 or not store.wait(base, left):
            return []
        rows = rows_after(store, since, limit)
        if rows:
            return rows


def entries_of(store: Store, rows: list[Row]) -> list[Entry]:
    """The rows as ``Entry`` values, as ``history()`` shows them: a bulk
    hold's row is one entry per reservation line, all with its seq."""
    return list(history.entries(store, iter(rows), None, None, None))


def acknowledge(store: Store, consumer: str, seq: int, safe: Callable[[int], bool]) -> int:
    """Move the consumer's cursor to ``seq`` if it is ahead of it; returns
    the cursor after. ``safe(seq)`` says whether every row up to ``seq`` is
    behind the safe horizon (asked only on guarded stores, and only when
    the cursor moves). Raises ``InvalidInput`` naming ``seq`` when it is
    past the journal's head or, on a guarded store, not behind the horizon
    (rows before it may still commit: acking it could skip them)."""
    current = store.cursor(consumer)[0]
    if seq <= current:
        return current  # an older or repeated ack: the cursor stays
    head = store.head()
    if seq > head:
        raise InvalidInput("seq", seq, f"is past the journal's head {head}")
    if store.guarded and not safe(seq):
        raise InvalidInput(
            "seq", seq, "was not delivered yet: appends before it are still in flight"
        )
    return store.set_cursor(consumer, seq)


def behind_horizon(store: Store, since: int, seq: int) -> bool:
    """True if every seq in ``(since, seq]`` is a row readers see or a
    recorded hole. O(seq - since)."""
    seen = {r[0] for r in store.read(since, seq)}
    missing = {s for s in range(since + 1, seq + 1) if s not in seen}
    return not missing or missing <= store.holes(since, seq)
