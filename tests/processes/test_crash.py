"""Crash: ``kill -9`` a writer at random moments, 50 times, while four of its
threads group-commit keyed holds and keyed ``hold_many`` lists and commit
keyed bulk holds (``hold_many(HoldBatch)``: one ``held-batch`` row each), on
SQLite and on PostgreSQL. One store is reused across the kills; the writer is
restarted each time. Writers are forked from a server that imported
omnistock and loaded its kernels once (``tests/processes/_warm.py``), so a restart
costs opening the store, not importing numba.

The writer (``_workers.crash_writer``) logs the keys it is about to send and,
once a call has returned, each key with its result (flush + fsync). After
every kill the store is reopened and must show that:

- no command is partly applied: a key's journal rows are exactly its order's
  lines (all of them, once) or absent, and the key is recorded iff its rows are;
  a bulk hold's key is recorded iff its one ``held-batch`` row is there, once,
  with every order of its batch and the token its recorded result names;
- no acknowledged command is lost: every logged key is recorded with the
  logged result;
- a retried key is not applied twice: re-running acknowledged keys returns the
  logged result (for a bulk hold, the same token) and leaves the head where it
  was; re-running the keys that were in flight at the kill applies each at
  most once;
- ``check()`` passes (the live ledger equals a replay; every invariant holds).

The PostgreSQL case needs a server (``OMNISTOCK_PG_DSN``); it is skipped
without one unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from _workers import (
    CRASH_TTL,
    BulkOrders,
    crash_batch,
    crash_lines,
    crash_order,
    crash_writer,
    decode_held_batch,
    is_batch_key,
    setup_network,
    store_url,
    warm_context,
)

from omnistock import HoldBatchResult, Inventory, codec
from omnistock.ledger import heldbatches

KILLS = 50


# The only rows the journal may hold: the set-up, the holds (with the id
# claims a partitioned store needs) and the bulk holds. Nothing expires.
KINDS = frozenset(("location-added", "received", "held", "claimed", heldbatches.HELD_BATCH))


def _start_writer(ctx: Any, url: str, log: Path, run: int, err: Path) -> Any:
    """Fork writer ``run``; return it once its first acknowledgement is on disk."""
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=crash_writer, args=(url, str(log), run, run, 4, str(err), send), daemon=True
    )
    proc.start()
    send.close()
    try:
        said = recv.recv() if recv.poll(60) else None
    except EOFError:  # it exited
        said = None
    finally:
        recv.close()
    if said != "ready":
        proc.kill()
        proc.join()
        text = err.read_text() if err.exists() else ""
        pytest.fail(f"writer {run} did not start (exit code {proc.exitcode})\n{text}")
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
    """What the journal says, accumulated across kills: held rows per key,
    and per bulk-hold key its ``held-batch`` rows (token, decoded orders)."""

    def __init__(self) -> None:
        self.head = 0
        self.rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        self.batches: dict[str, list[tuple[str, BulkOrders]]] = defaultdict(list)

    def scan(self, inv: Inventory) -> set[str]:
        """Fold in rows past the last scan; return the keys they touched."""
        touched: set[str] = set()
        for row in inv.store.read(self.head):
            self.head = row[0]
            kind, sku, loc, qty, ref, key = row[2], row[3], row[4], row[5], row[6], row[8]
            assert kind in KINDS, f"unexpected row {row}"
            if kind == heldbatches.HELD_BATCH:
                assert key is not None and ref is not None, f"unkeyed bulk hold row {row}"
                assert sku == heldbatches.BATCH_SKU and loc is None, row
                orders = decode_held_batch(row[9])
                assert qty == sum(q for _, ls in orders for _, _, q in ls), row
                self.batches[key].append((ref, orders))
                touched.add(key)
                continue
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
        if is_batch_key(key):
            found = journal.batches.get(key, [])
            assert not rows, f"key {key}: held rows {rows} for a bulk hold"
            if rec is None:
                assert not found, f"bulk key {key}: row {found} without the key record"
                continue
            assert len(found) == 1, f"bulk key {key}: {len(found)} held-batch rows"
            token, orders = found[0]
            res = codec.decode(rec.result)
            assert isinstance(res, HoldBatchResult) and res.token == token, (key, token)
            assert res.held == len(res) == len(orders), key
            assert orders == crash_batch(key)[1], (
                f"bulk key {key}: its row holds {orders}, its batch is {crash_batch(key)[1]}"
            )
            continue
        if rec is None:
            assert not rows, f"key {key}: rows {rows} without the key record (partly applied)"
        else:
            assert rows == crash_lines(key), (
                f"key {key}: journal rows {rows}, its order has {crash_lines(key)}"
            )


def _retry(inv: Inventory, key: str) -> str:
    """Send ``key``'s command again; returns its encoded result. Asserts it
    was applied at most once: a recorded key appends nothing and returns its
    recorded result (a bulk hold: the same token); a key that was not
    recorded appends its rows now."""
    before = inv.store.head()
    rec = inv.store.lookup_key(key)
    res: Any
    if is_batch_key(key):
        res = inv.hold_many(crash_batch(key)[0], ttl=CRASH_TTL, key=key)
        grew = 1  # one held-batch row, whatever the store
    else:
        res = inv.hold(crash_order(key), ttl=CRASH_TTL, key=key)
        # its lines, plus the id claim row a partitioned store needs (a
        # guarded store checks claims in a table: no row)
        claim = inv.store.partitioned and not inv.store.guarded
        grew = len(crash_lines(key)) + (1 if claim else 0)
    after = inv.store.head()
    if rec is not None:
        assert codec.encode(res) == rec.result, key
        if is_batch_key(key):
            assert res.token == codec.decode(rec.result).token, key
        assert after == before, f"retried key {key} was applied again"
    else:
        assert after == before + grew, key
    return codec.encode(res)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_group_commits_loses_and_doubles_nothing(kind: str, tmp_path: Path) -> None:
    rng = random.Random(4)
    with store_url(kind, tmp_path, "crash") as url:
        setup_network(url, 10**9)
        journal = Journal()
        acked: dict[str, str] = {}
        in_flight_total = bulk_in_flight = retried = 0
        ctx = warm_context()
        started = time.monotonic()
        for run in range(KILLS):
            log = tmp_path / f"run-{run}.log"
            err = tmp_path / f"run-{run}.err"
            proc = _start_writer(ctx, url, log, run, err)
            try:
                time.sleep(rng.uniform(0.02, 0.2))
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(30)
            assert proc.exitcode == -signal.SIGKILL, (proc.exitcode, run, err.read_text())

            acks, in_flight = _read_log(log)
            assert acks, f"run {run}: the writer said ready before any acknowledgement"
            acked.update(acks)
            in_flight_total += len(in_flight)
            bulk_in_flight += sum(map(is_batch_key, in_flight))
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

                # Retry: a few acknowledged keys (from any run, one of
                # them a bulk hold's) must change nothing; the in-flight
                # keys apply at most once.
                keys = sorted(acked)
                again = rng.sample(keys, min(3, len(keys)))
                bulk = [k for k in keys if is_batch_key(k)]
                if bulk:
                    again.append(rng.choice(bulk))
                again += in_flight
                for key in again:
                    res = _retry(inv, key)
                    if key in acked:
                        assert res == acked[key], key
                    retried += 1
                touched = journal.scan(inv)
                _verify(inv, journal, touched | set(again))
        took = time.monotonic() - started

        # Over all runs: every held or held-batch row belongs to a recorded
        # key, exactly once.
        with Inventory.open(url) as inv:
            journal.scan(inv)
            _verify(inv, journal, set(journal.rows) | set(journal.batches))
            for key, result in acked.items():
                rec = inv.store.lookup_key(key)
                assert rec is not None and rec.result == result, key
            assert inv.check().ok
        n_bulk = sum(map(is_batch_key, acked))
        # Some kills landed while a bulk hold was being committed.
        assert bulk_in_flight, "no kill landed during a bulk hold"
        print(
            f"\n{kind}: {KILLS} kills in {took:.1f} s; {len(acked)} acknowledged keys "
            f"({n_bulk} bulk holds), {in_flight_total} in flight at a kill "
            f"({bulk_in_flight} bulk), {retried} retries; journal {journal.head} rows"
        )
