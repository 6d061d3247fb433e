"""Catch-up: process A commits and process B, blocked in ``store.wait``,
sees it within a bounded time.

On PostgreSQL ``wait`` polls the sequence's last value (no NOTIFY: one
per commit takes a global lock at commit and serialises writers), backing
off from 1 ms to 50 ms, then reads the rows behind the safe horizon: B
counts the statements it sends and they stay bounded by that back-off.
SQLite has no notifications either: its ``wait`` polls the head (a cheap
``max(seq)`` on the primary key) every 10 ms, which this test shows by
counting those reads.

The PostgreSQL case needs a server (``OMNISTOCK_PG_DSN``); it is skipped
without one unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _workers import LOCS, SKUS, setup_network, store_url

from omnistock import Inventory

WORKERS_PY = str(Path(__file__).with_name("_workers.py"))
WAIT = 10.0  # B's timeout: far longer than it should take to see A's commit
QUIET = 1.0  # how long A lets B wait before committing


def _line(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the waiting process said nothing in {timeout} s: {err.decode()}")
    out: dict[str, Any] = json.loads(line)
    return out


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_commit_wakes_a_waiting_process(kind: str, tmp_path: Path) -> None:
    with store_url(kind, tmp_path, "catchup") as url:
        setup_network(url, 5)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        b = subprocess.Popen(
            [sys.executable, WORKERS_PY, "wait", url, str(WAIT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            waiting = _line(b, 60)
            with Inventory.open(url) as a:  # process A is this one
                assert a.refresh() == waiting["waiting"]
                time.sleep(QUIET)  # B is blocked in wait() by now (or is about to be)
                sending = time.time()
                a.receive(SKUS[0], LOCS[0], 7)
                committed = time.time()
                head = a.refresh()
            done = _line(b, 30)
            assert b.wait(30) == 0
        finally:
            if b.poll() is None:
                b.kill()
                b.wait()
        lag = done["returned"] - committed
        print(
            f"\n{kind}: A's receive took {(committed - sending) * 1000:.1f} ms; B's wait "
            f"returned {(done['returned'] - sending) * 1000:.1f} ms after A began it; B sent "
            f"{done['statements']} head reads/statements while waiting "
            f"{done['elapsed']:.2f} s"
        )
        assert done["moved"] is True
        assert done["returned"] >= sending  # woken by A's commit, not before it
        assert lag < 5.0  # bounded, and far below WAIT: B was woken, not timed out
        assert done["elapsed"] < WAIT - 1
        assert done["head"] == head  # and B's ledger caught up with A's commit
        assert done["available"] == 5 + 7
        if kind == "postgresql":
            # A backed-off poll: at most a few reads per 50 ms of waiting.
            assert done["statements"] <= 20 + 3 * done["elapsed"] / 0.05, done


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_wait_times_out_when_nothing_is_committed(kind: str, tmp_path: Path) -> None:
    with store_url(kind, tmp_path, "catchup") as url:
        head = setup_network(url, 5)
        with Inventory.open(url) as b:
            t0 = time.monotonic()
            assert b.store.wait(head, timeout=0.5) is False
            assert time.monotonic() - t0 >= 0.5
            assert b.store.wait(head - 1, timeout=5) is True  # already past: at once
