"""``memory://``: the default store, a journal in process memory.

Fast and volatile: nothing survives the process. Several ``Inventory``
objects in one process may share one store object (``Inventory(store=...)``),
and the optimistic-concurrency rules hold between them as for any store.

Times are clamped to the previous row's under the lock that numbers the
rows. The hash chain is computed lazily, the first time a row's hash is
read (``read_chain``, ``hash_at``): the rows live in this process's memory,
where nothing outside it can edit them, so hashing at append time would
cost every command and prove nothing more.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence

from ..errors import ConcurrencyConflict
from . import forks
from .base import Commit, KeyRecord, Row, Store
from .chain import GENESIS, row_hash

KEEP_SNAPSHOTS = 3


class MemoryStore(Store):
    """A list of rows, a dict of keys and a list of snapshots, under a lock."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._rows: list[Row] = []
        self._keys: dict[str, KeyRecord] = {}
        self._snaps: list[tuple[int, bytes]] = []
        self._hashes: list[bytes] = []  # the chain of rows[: len(_hashes)]
        self._cursors: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._lock = threading.Lock()
        forks.track(self)

    def _after_fork(self) -> None:
        """In a forked child (``forks``): a fresh lock, as a parent thread
        may have held this one. The child's journal is its own copy from
        then on: a memory store is shared by threads, never processes."""
        self._lock = threading.Lock()

    def head(self) -> int:
        return len(self._rows)

    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        with self._lock:
            if len(self._rows) != expected_head:
                raise ConcurrencyConflict(
                    f"head moved: expected {expected_head}, store is at {len(self._rows)}"
                )
            seen: set[str] = set()
            for c in commits:
                if c.key is not None and (c.key in self._keys or c.key in seen):
                    raise ConcurrencyConflict(f"key={c.key!r} was recorded by another writer")
                if c.key is not None:
                    seen.add(c.key)
            seq = expected_head
            rows = self._rows
            last = rows[-1][1] if rows else None
            for c in commits:
                for r in c.rows:
                    seq += 1
                    if last is not None and r[0] < last:
                        r = (last, *r[1:])  # time never goes backwards
                    last = r[0]
                    rows.append((seq, *r))
                if c.key is not None:
                    assert c.fingerprint is not None
                    self._keys[c.key] = KeyRecord(c.key, c.fingerprint, c.result, seq)
            return seq

    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        end = len(self._rows) if until is None else min(until, len(self._rows))
        # Slice under no lock: rows are only appended, never changed.
        yield from self._rows[max(0, since) : end]

    def read_chain(
        self, since: int = 0, until: int | None = None
    ) -> Iterator[tuple[Row, bytes | None]]:
        end = len(self._rows) if until is None else min(until, len(self._rows))
        since = max(0, since)
        if since >= end:
            return
        self._chain_upto(end)
        yield from zip(self._rows[since:end], self._hashes[since:end], strict=True)

    def hash_at(self, seq: int) -> bytes | None:
        if seq == 0:
            return GENESIS
        if not 0 < seq <= len(self._rows):
            return None
        self._chain_upto(seq)
        return self._hashes[seq - 1]

    def _chain_upto(self, end: int) -> None:
        """Hash rows up to ``end`` that were never hashed."""
        if len(self._hashes) >= end:
            return
        with self._lock:
            hashes, rows = self._hashes, self._rows
            prev = hashes[-1] if hashes else GENESIS
            for i in range(len(hashes), end):
                prev = row_hash(prev, rows[i])
                hashes.append(prev)

    def lookup_key(self, key: str) -> KeyRecord | None:
        return self._keys.get(key)

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        with self._lock:
            self._snaps = [x for x in self._snaps if x[0] != seq]
            i = bisect.bisect_left([s for s, _ in self._snaps], seq)
            self._snaps.insert(i, (seq, blob))
            del self._snaps[:-KEEP_SNAPSHOTS]  # the newest few, as durable stores

    def load_snapshot(self, max_seq: int | None = None) -> tuple[int, bytes] | None:
        for seq, blob in reversed(self._snaps):
            if max_seq is None or seq <= max_seq:
                return seq, blob
        return None

    def cursor(self, consumer: str, stream: str = "") -> tuple[int, str | None]:
        return self._cursors.get((consumer, stream), (0, None))

    def cursors(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return sorted((c, s, v[0]) for (c, s), v in self._cursors.items())

    def set_cursor(
        self, consumer: str, seq: int, state: str | None = None, stream: str = ""
    ) -> int:
        with self._lock:
            k = (consumer, stream)
            old = self._cursors.get(k, (0, None))[0]
            if seq >= old:
                self._cursors[k] = (seq, state)
                return seq
            return old

    def seq_at(self, ts_us: int) -> int:
        rows = self._rows
        lo, hi = 0, len(rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if rows[mid][1] <= ts_us:
                lo = mid + 1
            else:
                hi = mid
        return lo
