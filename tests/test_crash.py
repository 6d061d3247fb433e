"""Crash: ``kill -9`` a writer at random moments, 50 times, while four of its
threads group-commit keyed holds and keyed ``hold_many`` batches, on SQLite
and on PostgreSQL. One store is reused across the kills; the writer is
restarted each time.

The writer (``_workers.crash_writer``) logs the keys it is about to send and,
once a call has returned, each key with its result (flush + fsync). After
every kill the store is reopened and must show that:

- no command is partly applied: a key's journal rows are exactly its order's
  lines (all of them, once) or absent, and the key is recorded iff its rows are;
- no acknowledged command is lost: every logged key is recorded with the
  logged result;
- a retried key is not applied twice: re-running acknowledged keys returns the
  logged result and leaves the head where it was; re-running the keys that
  were in flight at the kill applies each at most once;
- ``check()`` passes (the live ledger equals a replay; every invariant holds).

The PostgreSQL case needs a server (``OMNISTOCK_PG_DSN``); it is skipped
without one unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from _workers import CRASH_TTL, crash_lines, crash_order, setup_network, store_url
from omnistock import Inventory, codec

KILLS = 50
WORKERS_PY = str(Path(__file__).with_name("_workers.py"))


def _start_writer(url: str, log: Path, run: int, err: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with open(err, "wb") as errf:
        proc = subprocess.Popen(
            [sys.executable, WORKERS_PY, "crash", url, str(log), str(run), str(run)],
            stdout=subprocess.PIPE, stderr=errf, env=env,
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else b""
    if line.strip() != b"ready":
        proc.kill()
        proc.wait()
        pytest.fail(f"writer {run} did not start: {line!r}\n{err.read_text()}")
    return proc


def _read_log(log: Path) -> tuple[dict[str, str], list[str]]:
    """(acknowledged key -> result, keys sent but not acknowledged). A last
    line cut short by the kill was never acknowledged, so it is ignored."""
    acks: dict[str, str] = {}
    intents: list[str] = []
    if not log.exists():
        return acks, intents
    for line in log.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        rec = json.loads(line)
        if "intent" in rec:
            intents.extend(rec["intent"])
        elif "ack" in rec:
            acks[rec["ack"]] = rec["result"]
        else:
            pytest.fail(f"the writer was refused: {rec}")
    return acks, [k for k in intents if k not in acks]


class Journal:
    """What the journal says, accumulated across kills: held rows per key."""

    def __init__(self) -> None:
        self.head = 0
        self.rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)

    def scan(self, inv: Inventory) -> set[str]:
        """Fold in rows past the last scan; return the keys they touched."""
        touched: set[str] = set()
        for row in inv.store.read(self.head):
            self.head = row[0]
            kind, sku, loc, qty, key = row[2], row[3], row[4], row[5], row[8]
            if kind != "held":
                continue
            assert key is not None, f"unkeyed hold row {row}"
            self.rows[key].append((sku, loc, qty))
            touched.add(key)
        return touched


def _verify(inv: Inventory, journal: Journal, keys: set[str]) -> None:
    """Each key: recorded with all its rows exactly once, or neither."""
    for key in keys:
        rows = sorted(journal.rows.get(key, ()))
        rec = inv.store.lookup_key(key)
        if rec is None:
            assert not rows, f"key {key}: rows {rows} without the key record (partly applied)"
        else:
            assert rows == crash_lines(key), (
                f"key {key}: journal rows {rows}, its order has {crash_lines(key)}"
            )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_group_commits_loses_and_doubles_nothing(
    kind: str, tmp_path: Path
) -> None:
    rng = random.Random(4)
    with store_url(kind, tmp_path, "crash") as url:
        setup_network(url, 10**9)
        journal = Journal()
        acked: dict[str, str] = {}
        in_flight_total = retried = 0
        started = time.monotonic()
        for run in range(KILLS):
            log = tmp_path / f"run-{run}.log"
            proc = _start_writer(url, log, run, tmp_path / f"run-{run}.err")
            time.sleep(rng.uniform(0.02, 0.2))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, (proc.returncode, run)

            acks, in_flight = _read_log(log)
            assert acks, f"run {run}: the writer said ready before any acknowledgement"
            acked.update(acks)
            in_flight_total += len(in_flight)
            with Inventory.open(url) as inv:
                report = inv.check()
                assert report.ok, (run, report.problems)
                touched = journal.scan(inv)

                # No acknowledged command is lost, and none is partly applied.
                for key, result in acks.items():
                    rec = inv.store.lookup_key(key)
                    assert rec is not None, f"run {run}: acknowledged key {key} was lost"
                    assert rec.result == result, key
                _verify(inv, journal, touched | set(acks) | set(in_flight))

                # Retry: a few acknowledged keys (from any run) must change
                # nothing; the in-flight keys apply at most once.
                again = rng.sample(sorted(acked), min(3, len(acked))) + in_flight
                for key in again:
                    before = inv.store.head()
                    rec = inv.store.lookup_key(key)
                    res = inv.hold(crash_order(key), ttl=CRASH_TTL, key=key)
                    after = inv.store.head()
                    if rec is not None:
                        assert codec.encode(res) == rec.result, key
                        assert after == before, f"retried key {key} was applied again"
                    else:
                        # its lines, plus the id claim a partitioned store needs
                        claim = 1 if inv.store.partitioned else 0
                        assert after == before + len(crash_lines(key)) + claim, key
                    if key in acked:
                        assert codec.encode(res) == acked[key], key
                    retried += 1
                touched = journal.scan(inv)
                _verify(inv, journal, touched | set(again))
        took = time.monotonic() - started

        # Over all runs: every held row belongs to a recorded key, exactly once.
        with Inventory.open(url) as inv:
            journal.scan(inv)
            _verify(inv, journal, set(journal.rows))
            for key, result in acked.items():
                rec = inv.store.lookup_key(key)
                assert rec is not None and rec.result == result, key
            assert inv.check().ok
        print(f"\n{kind}: {KILLS} kills in {took:.1f} s; {len(acked)} acknowledged keys, "
              f"{in_flight_total} in flight at a kill, {retried} retries; "
              f"journal {journal.head} rows")
