"""W8 (cold start), W9 (replay and open) and W10 (bytes per position).

W8 runs a fresh interpreter per sample: ``import omnistock`` then the first
hold (optionally after ``omnistock.warmup()``), timed inside the child with
``perf_counter`` from before the import; the parent also records the whole
process wall time. "warm" uses the normal numba cache (primed first);
"cold" points ``NUMBA_CACHE_DIR`` at an empty temporary directory.

W9 and W10 read a synthetic journal (``workloads.journal_rows``) from a
store that generates its rows lazily, so 10M rows need no memory; W9 also
opens the same journal written into a real SQLite file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from omnistock.storage import chain
from omnistock.storage.base import Commit, KeyRecord, Row, Store

from .workloads import journal_rows

# -- W8 --------------------------------------------------------------------------

CHILD = r"""
import json, time
t0 = time.perf_counter()
import omnistock
from omnistock import Inventory, Line, Location, Order
if {warmup}:
    omnistock.warmup()
inv = Inventory.open("memory://")
inv.add_location(Location("L1"))
inv.receive("S1", "L1", 5)
r = inv.hold(Order("o1", lines=[Line("S1", 1, "L1")]), ttl=600)
t1 = time.perf_counter()
assert r.lines[0].qty == 1 and inv.available("S1", "L1") == 4
print(json.dumps({{"seconds": t1 - t0}}))
"""


def start_once(warmup: bool, cache_dir: str | None) -> tuple[float, float]:
    """(import + first hold inside the child, whole process wall time)."""
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    code = CHILD.format(warmup=bool(warmup))
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    wall = time.perf_counter() - t0
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"]), wall


def cold_start(warmup: bool, warm_cache: bool, repeats: int = 3) -> list[tuple[float, float]]:
    """Samples of W8. ``warm_cache``: the default numba cache, primed by one
    untimed run; otherwise a new empty ``NUMBA_CACHE_DIR`` for every sample."""
    out = []
    if warm_cache:
        start_once(True, None)  # prime the on-disk cache
        for _ in range(repeats):
            out.append(start_once(warmup, None))
    else:
        for _ in range(repeats):
            d = tempfile.mkdtemp(prefix="omnistock-numba-cold-")
            try:
                out.append(start_once(warmup, d))
            finally:
                shutil.rmtree(d, ignore_errors=True)
    return out


# -- W9 / W10: a journal generated on the fly ----------------------------------------------


class GeneratedStore(Store):
    """A read-only store over ``journal_rows(n_rows, skus, locs)``; snapshots
    are kept in memory."""

    def __init__(self, n_rows: int, skus: int, locs: int, count_rows: bool = True) -> None:
        self.url = "generated://"
        self.args = (n_rows, skus, locs)
        self._head = sum(1 for _ in journal_rows(*self.args)) if count_rows else n_rows
        self._snaps: list[tuple[int, bytes]] = []
        self._hashes: list[bytes] | None = None  # the chain, as a real store keeps it
        if count_rows:  # counting read every row already: keep their hashes too
            self._chain()

    def _chain(self) -> list[bytes]:
        """Every row's chain hash (``storage.chain``), computed once: a real
        store stores them, so reading one is O(1) there too."""
        if self._hashes is None:
            hashes, prev = [chain.GENESIS], chain.GENESIS
            for row in journal_rows(*self.args):
                if row[0] > self._head:
                    break
                prev = chain.row_hash(prev, row)
                hashes.append(prev)
            self._hashes = hashes
        return self._hashes

    def read_chain(self, since: int = 0, until: int | None = None) -> Iterator[tuple[Row, bytes]]:
        hashes = self._chain()
        return ((r, hashes[r[0]]) for r in self.read(since, until))

    def hash_at(self, seq: int) -> bytes | None:
        hashes = self._chain()
        return hashes[seq] if 0 <= seq < len(hashes) else None

    def head(self) -> int:
        return self._head

    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        raise NotImplementedError("a generated journal is read-only")

    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        if since >= self._head:
            return iter(())
        end = self._head if until is None else min(until, self._head)
        return (r for r in journal_rows(*self.args) if since < r[0] <= end)

    def lookup_key(self, key: str) -> KeyRecord | None:
        return None

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        self._snaps.append((seq, blob))
        self._snaps.sort(key=lambda x: x[0])

    def load_snapshot(self, max_seq: int | None = None) -> tuple[int, bytes] | None:
        for seq, blob in reversed(self._snaps):
            if max_seq is None or seq <= max_seq:
                return seq, blob
        return None


def write_sqlite_journal(path: str, n_rows: int, skus: int, locs: int, chunk: int = 50_000) -> int:
    """Write the synthetic journal into an omnistock SQLite store; returns
    its head."""
    from omnistock.storage import open_store

    store = open_store(f"sqlite:///{path}")
    try:
        head = store.head()
        buf: list[Any] = []
        for r in journal_rows(n_rows, skus, locs):
            buf.append(r[1:])
            if len(buf) >= chunk:
                head = store.append([Commit(tuple(buf))], head)
                buf = []
        if buf:
            head = store.append([Commit(tuple(buf))], head)
        return head
    finally:
        store.close()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    v = fn()
    return time.perf_counter() - t0, v


def replay_open(n_rows: int, skus: int, locs: int) -> dict[str, Any]:
    """W9 on the generated journal: a full replay (no snapshot), then a
    snapshot and an open from it. Both must give the same ledger."""
    from omnistock import Inventory

    store = GeneratedStore(n_rows, skus, locs)
    t_full, inv = timed(lambda: Inventory(store=store))
    digest = inv.digest()
    head = inv._state.head
    inv.snapshot()
    t_snap, inv2 = timed(lambda: Inventory(store=store))
    assert inv2._state.head == head == store.head()
    assert inv2.digest() == digest, "snapshot open differs from the full replay"
    return {"rows": head, "full_replay_s": t_full, "snapshot_open_s": t_snap, "digest": digest}


def replay_open_sqlite(n_rows: int, skus: int, locs: int, workdir: str) -> dict[str, Any]:
    """W9 on a real SQLite file: open with a full replay, snapshot, reopen."""
    from omnistock import Inventory

    path = os.path.join(workdir, "journal.db")
    head = write_sqlite_journal(path, n_rows, skus, locs)
    url = f"sqlite:///{path}"
    t_full, inv = timed(lambda: Inventory.open(url))
    digest = inv.digest()
    assert inv._state.head == head
    inv.snapshot()
    inv.close()
    t_snap, inv2 = timed(lambda: Inventory.open(url))
    assert inv2.digest() == digest, "snapshot open differs from the full replay"
    inv2.close()
    return {"rows": head, "full_replay_s": t_full, "snapshot_open_s": t_snap}


def bytes_per_position(skus: int, locs: int) -> dict[str, Any]:
    """W10: ``Inventory._state.grid.nbytes() / positions`` after bulk loading
    every position (one receipt each), three ways:

    - ``replay``: opened from the journal; the grid grows by doubling;
    - ``presized``: ``Grid.reserve_capacity(skus, locs)`` before the same replay;
    - ``snapshot``: reopened from a snapshot (sized exactly on load).
    """
    from omnistock import Inventory
    from omnistock.ledger.replay import replay

    positions = skus * locs
    n_rows = locs + 2 * positions  # receipts take half the budget: all positions
    store = GeneratedStore(n_rows, skus, locs, count_rows=False)
    store._head = locs + positions
    inv = Inventory(store=store)
    g = inv._state.grid
    assert g.shape == (skus, locs), g.shape
    out: dict[str, Any] = {
        "positions": positions,
        "replay": g.nbytes() / positions,
        "replay_capacity": list(g.holdable.shape),
    }
    digest = inv.digest()
    inv.snapshot()
    del inv, g
    inv2 = Inventory(store=store)
    assert inv2.digest() == digest
    out["snapshot"] = inv2._state.grid.nbytes() / positions
    del inv2
    empty = GeneratedStore(0, skus, locs, count_rows=False)
    inv3 = Inventory(store=empty)
    inv3._state.grid.reserve_capacity(skus, locs)
    replay(inv3._state, store.read(0))
    assert inv3.digest() == digest
    out["presized"] = inv3._state.grid.nbytes() / positions
    return out
