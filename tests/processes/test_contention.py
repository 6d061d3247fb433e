"""Contention: 8 processes hammer 3 hot SKUs at 2 locations through the
face (``Inventory``) with hold, hold_many, bulk holds (``hold_many(HoldBatch)``),
allocate (unpinned lines the policy sources, some orders partial; an
``unfillable`` answer is a refusal), commit, release, sell and receive, some
holds, allocations and bulk holds with a TTL short enough to expire by the
clock during the run, on one SQLite file and on one PostgreSQL schema.
Afterwards the journal is replayed row by row to prove that no hold ever took
more than was available (a ``held-batch`` row is decoded and its lines summed
per position), every acknowledged command is in the journal exactly once (and
nothing else is: an allocation's rows carry its key, a refusal wrote nothing),
every bulk hold decided its orders as sequential holds would have on the
journal before its row, a bulk hold's members expired by one ``expired-batch``
row exactly when no command had named them, only short holds expired and
never before their expiry, and every process's ledger equals a fresh replay.
On PostgreSQL no command gave up after the bounded retries: a refusal is
re-checked once after catching up, and a conflict on one position re-plans.

The PostgreSQL case needs a server (``OMNISTOCK_PG_DSN``); it is skipped
without one unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import queue
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _workers import (
    HELD,
    POSITIONS,
    contention_worker,
    decode_held_batch,
    setup_network,
    store_url,
    warm_context,
)

from omnistock import Allocation, HoldBatchResult, Inventory, codec
from omnistock.ledger import heldbatches
from omnistock.ledger.holds import HELD as HELD_STATE
from omnistock.ledger.state import LedgerState

WORKERS = 8
OPS = 150  # commands per worker
STOCK = 12  # initial units per position: hot, so holds are refused often


def _run_workers(url: str, worker: bool = False) -> list[dict[str, Any]]:
    # Workers fork from a server that imported omnistock and warmed its
    # kernels once, not from pytest: they start clean and warm, so their
    # first bulk hold does not import numba eight times over.
    ctx = warm_context()
    barrier = ctx.Barrier(WORKERS)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=contention_worker, args=(url, k, 1000 + k, OPS, barrier, out, worker))
        for k in range(WORKERS)
    ]
    for p in procs:
        p.start()
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + 150
    try:
        while len(reports) < WORKERS:
            try:
                reports.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"only {len(reports)} of {WORKERS} workers reported in time")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    crashed = [r["crash"] for r in reports if "crash" in r]
    assert not crashed, "a worker crashed:\n" + "\n".join(crashed)
    return sorted(reports, key=lambda r: r["k"])


def _atp(st: LedgerState) -> dict[tuple[str, str], int]:
    """Available (free - reserved) at every hot position."""
    g = st.grid
    out = {}
    for sku, loc in POSITIONS:
        s, l = g.sku_ix[sku], g.loc_ix[loc]
        out[(sku, loc)] = int(g.holdable[s, l]) - int(g.reserved[s, l])
    return out


def _replay_checking_holds(url: str) -> dict[str, Any]:
    """Replay the journal one row at a time. Before each ``held`` row (a hold,
    or a sale re-sourcing a reservation it left uncovered) assert that the
    units it reserves were available (free - reserved) at that point of the
    journal; before each ``held-batch`` row, that the units all its orders
    reserve at each position were; before each ``expired-batch`` row, that
    it expires exactly the block's members no row has named since the block
    was made, no earlier than their expiry. Collect what the journal says
    each command did."""
    st = LedgerState()
    held: dict[str, list[list[Any]]] = {}  # rid -> the rows of the hold command
    hold_of: dict[str, tuple[int, str | None]] = {}  # rid -> its hold's (expiry, key)
    expired_holds: set[str] = set()  # holds (not bulk members) that expired by the clock
    per_kind: dict[str, Counter[Any]] = {
        k: Counter() for k in ("committed", "released", "received", "sold", "expired")
    }
    by_key: dict[str, dict[str, Any]] = {k: {} for k in per_kind}
    # token -> the held-batch row: seq, key, exp, its orders' lines, and the
    # availability it was decided on
    batches: dict[str, dict[str, Any]] = {}
    expired_batches: dict[str, set[str]] = {}  # token -> the members its row expired
    named: dict[str, set[str]] = {}  # token -> members some row has named (detached)
    rows = 0
    with Inventory.open(url) as inv:
        for row in inv.store.read(0):
            seq, ts, kind, sku, loc, qty, ref, _ch, key, data = row
            member = heldbatches.split_rid(ref) if ref is not None else None
            if member is not None:
                assert member[1] in batches, f"seq {seq} names {ref} of no earlier block"
                assert member[0] in batches[member[1]]["orders"], f"seq {seq}: no member {ref}"
            if kind == "held":
                g = st.grid
                s, l = g.sku_ix[sku], g.loc_ix[loc]
                atp = int(g.holdable[s, l]) - int(g.reserved[s, l])
                assert qty <= atp, (
                    f"oversold: seq {seq} holds {qty} of {sku}@{loc} with only {atp} available"
                )
                if '"exp"' in data:  # the hold itself, not a re-sourcing
                    assert ref is not None and member is None, f"seq {seq} holds {ref} again"
                    assert ref not in expired_holds, f"seq {seq} holds {ref} after it expired"
                    held.setdefault(ref, []).append([sku, loc, qty])
                    exp_key = (_json(data)["exp"], key)
                    assert hold_of.setdefault(ref, exp_key) == exp_key, row  # one command
            elif kind == heldbatches.HELD_BATCH:
                assert sku == heldbatches.BATCH_SKU and loc is None and ref is not None, row
                assert ref not in batches, f"seq {seq}: block {ref} journaled twice"
                orders = decode_held_batch(data)
                want: Counter[tuple[str, str]] = Counter()
                for _o, lines in orders:
                    for s_, l_, q in lines:
                        want[(s_, l_)] += q
                assert qty == sum(want.values()), row
                avail = _atp(st)
                for p, q in want.items():
                    assert q <= avail[p], (
                        f"oversold: seq {seq} bulk-holds {q} of {p} with only {avail[p]} available"
                    )
                batches[ref] = {
                    "seq": seq,
                    "key": key,
                    "exp": _json(data)["exp"],
                    "orders": dict(orders),
                    "atp": avail,
                }
                named[ref] = set()
            elif kind == heldbatches.EXPIRED_BATCH:
                assert sku == heldbatches.BATCH_SKU and loc is None and ref is not None, row
                assert ref in batches, f"seq {seq} expires block {ref}, never made"
                assert ref not in expired_batches, f"seq {seq}: block {ref} expired twice"
                b = batches[ref]
                live = [o for o in b["orders"] if o not in named[ref]]
                assert live, f"seq {seq} expires block {ref} with no member left"
                assert list(heldbatches.orders_of(_json(data))) == live, (seq, ref)
                assert qty == sum(q for o in live for _, _, q in b["orders"][o]), row
                assert ts >= b["exp"], f"seq {seq} expires block {ref} before its expiry"
                expired_batches[ref] = set(live)
            elif kind == "expired":
                # A hold, or a bulk member that a command detached (the others
                # expire with their block), expires on its own, when it is due.
                if member is None:
                    assert ref in hold_of, f"seq {seq} expires {ref}, never held"
                    assert ts >= hold_of[ref][0], f"seq {seq} expires {ref} before its expiry"
                    expired_holds.add(ref)
                else:
                    assert member[0] in named[member[1]], row
                    assert ts >= batches[member[1]]["exp"], row
                per_kind[kind][ref] += 1
            elif kind in per_kind and key is not None:
                # A keyed command's rows: count its distinct commands by key.
                if key not in by_key[kind]:
                    per_kind[kind][key] += 1
                    by_key[kind][key] = (
                        ref if kind in ("committed", "released") else [sku, loc, qty]
                    )
                elif kind in ("received", "sold"):
                    per_kind[kind][key] += 1  # a second row: applied twice
            if member is not None:
                assert member[0] not in expired_batches.get(member[1], ()), (
                    f"seq {seq} names {ref}, which had expired"
                )
                named[member[1]].add(member[0])
            st.apply(row)
            rows += 1
        head = inv.store.head()
    assert st.head == head
    return {
        "held": held,
        "hold_of": hold_of,
        "expired_holds": expired_holds,
        "kinds": per_kind,
        "by_key": by_key,
        "state": st,
        "rows": rows,
        "batches": batches,
        "expired_batches": expired_batches,
        "named": named,
    }


def _json(data: str | None) -> dict[str, Any]:
    assert data is not None
    d: dict[str, Any] = json.loads(data)
    return d


@pytest.mark.parametrize(
    ("kind", "worker"),
    [("sqlite", False), ("postgresql", False), ("postgresql", True)],
    ids=["sqlite", "postgresql", "postgresql-workers-without-replica"],
)
def test_eight_processes_never_oversell_and_agree(kind: str, worker: bool, tmp_path: Path) -> None:
    """``worker``: the 8 processes keep no replica (``replica=False``): they
    plan on the counters of what each command names."""
    with store_url(kind, tmp_path, "contention") as url:
        setup_network(url, STOCK)
        started = time.monotonic()
        reports = _run_workers(url, worker)
        if worker:
            assert all(r["stayed_scoped"] for r in reports), "a worker loaded the replica"
        took = time.monotonic() - started

        fresh = Inventory.open(url)
        try:
            fresh_digest = fresh.digest()
            fresh_head = fresh.refresh()
            report = fresh.check()
        finally:
            fresh.close()
        assert report.ok, report.problems

        # Every process's ledger equals a fresh replay of the journal.
        for r in reports:
            assert r["check_ok"], (r["k"], r["problems"])
            assert r["head"] == fresh_head, (r["k"], r["head"], fresh_head)
            assert r["digest"] == fresh_digest, f"worker {r['k']}'s ledger differs from a replay"

        # No hold ever exceeded what was available (asserted row by row), and
        # the journal holds exactly the acknowledged commands, each once.
        j = _replay_checking_holds(url)
        assert j["state"].digest() == fresh_digest

        acked_holds: dict[str, list[list[Any]]] = {}
        for r in reports:
            for rid, lines in r["holds"].items():
                assert rid not in acked_holds, f"reservation id {rid} acknowledged twice"
                acked_holds[rid] = lines
        journal_holds = {rid: sorted(lines) for rid, lines in j["held"].items()}
        assert journal_holds.keys() == acked_holds.keys()
        for rid, lines in acked_holds.items():
            assert journal_holds[rid] == lines, rid  # all lines, once each

        allocs = _check_allocations_and_expiry(url, reports, j)
        bulk = _check_bulk_holds(url, reports, j)
        for kind_, acked_of in (
            ("committed", "commits"),
            ("released", "releases"),
            ("received", "receives"),
            ("sold", "sells"),
        ):
            acked = {key: v for r in reports for key, v in r[acked_of].items()}
            assert set(j["kinds"][kind_]) == set(acked), kind_
            assert all(n == 1 for n in j["kinds"][kind_].values()), kind_
            assert j["by_key"][kind_] == acked, kind_

        # Stock conservation per position: initial + received - sold is what
        # the ledger calls free (nothing else moved free in this workload).
        st = j["state"]
        for sku, loc in POSITIONS:
            s, l = st.grid.sku_ix[sku], st.grid.loc_ix[loc]
            rec = sum(
                q
                for r in reports
                for (k2, l2, q) in r["receives"].values()
                if (k2, l2) == (sku, loc)
            )
            sold = sum(
                q for r in reports for (k2, l2, q) in r["sells"].values() if (k2, l2) == (sku, loc)
            )
            assert int(st.grid.holdable[s, l]) == STOCK + rec - sold, (sku, loc)

        holds = len(acked_holds) - allocs["allocated"] - allocs["partial"]
        refused = sum(r["refused"] for r in reports)
        conflicts = sum(r["conflicts"] for r in reports)
        late = sum(r["late"] for r in reports)
        print(
            f"\n{kind}: {WORKERS} processes x {OPS} commands in {took:.1f} s; "
            f"{holds} holds, {allocs['allocated']} allocations (+{allocs['partial']} partial, "
            f"{allocs['unfillable']} unfillable) and {bulk['batches']} bulk holds "
            f"({bulk['members']} orders) acknowledged; {allocs['expired']} of "
            f"{allocs['short']} short holds and {bulk['expired']} bulk holds expired, "
            f"{refused} orders refused for stock, {late} commands too late for an expired "
            f"hold, {conflicts} gave up after bounded retries; journal {j['rows']} rows"
        )
        # The workload did what it is meant to cover (counts, not timings).
        kinds = j["kinds"]
        covered = [
            ("holds", holds),
            ("allocations", allocs["allocated"]),
            ("unfillable allocations", allocs["unfillable"]),
            ("holds expired", allocs["expired"]),
            ("refusals", refused),
            *((k_, len(kinds[k_])) for k_ in ("committed", "released", "received")),
        ]
        if not worker:  # a worker without a replica makes neither
            covered += [
                ("bulk holds", bulk["batches"]),
                ("bulk holds expired", bulk["expired"]),
                ("sold", len(kinds["sold"])),
            ]
        for what, n in covered:
            assert n > 0, f"the workload had no {what}"
        if kind == "postgresql":
            # A guarded store re-checks a refusal once after catching up and
            # retries a conflict on one position by re-planning: no command
            # whose stock was there gave up.
            assert conflicts == 0, f"{conflicts} commands gave up after bounded retries"


def _check_allocations_and_expiry(
    url: str, reports: list[dict[str, Any]], j: dict[str, Any]
) -> dict[str, int]:
    """An acknowledged allocation is a hold whose rows carry its key (a
    plain hold's carry none), and its key records its result; an unfillable
    one wrote nothing, not its key. Only holds acknowledged with a short TTL
    expire on their own (``_replay_checking_holds`` checked when), and every
    one of them has ended (expired, committed or released) by now."""
    hold_of = j["hold_of"]
    st: LedgerState = j["state"]
    allocs = {key: v for r in reports for key, v in r["allocs"].items()}
    unfillable = [key for r in reports for key in r["unfillable_keys"]]
    short = {rid for r in reports for rid in r["short_holds"]}
    by_rid = {rid: key for key, (rid, _status) in allocs.items()}
    assert len(by_rid) == len(allocs)
    for r in reports:
        for rid in r["holds"]:
            assert hold_of[rid][1] == by_rid.get(rid), (rid, hold_of[rid][1])
    keys = {k for _exp, k in hold_of.values() if k is not None}
    with Inventory.open(url) as inv:
        for key, (rid, status) in allocs.items():
            rec = inv.store.lookup_key(key)
            assert rec is not None, key
            res = codec.decode(rec.result)
            assert isinstance(res, Allocation), (key, res)
            assert res.reservation is not None and res.reservation.id == rid, key
            assert res.status == status, key
        for key in unfillable:
            assert inv.store.lookup_key(key) is None, f"unfillable allocation {key} recorded"
            assert key not in keys, f"unfillable allocation {key} has rows"
    expired = j["expired_holds"]
    assert expired <= short, f"long holds expired: {sorted(expired - short)}"
    for rid in short:
        h = st.holds.peek(rid)
        assert h is not None and h.state != HELD_STATE, (rid, None if h is None else h.state)
    statuses = Counter(status for _rid, status in allocs.values())
    return {
        "allocated": statuses["allocated"],
        "partial": statuses["partial"],
        "unfillable": len(unfillable),
        "short": len(short),
        "expired": len(expired),
    }


def _check_bulk_holds(url: str, reports: list[dict[str, Any]], j: dict[str, Any]) -> dict[str, int]:
    """Every acknowledged bulk hold is one held-batch row, and no other row
    is: the orders it held with their lines, its key and expiry. Its
    statuses are what sequential holds decide on the availability the
    journal shows just before its row. A keyed one's key records its
    result, a keyed one that held nothing is recorded with no row. A short
    TTL block ends expired or emptied by commands; a long one never
    expires; only detached members of short ones expire on their own."""
    acked: dict[str, dict[str, Any]] = {}
    for r in reports:
        for token, b in r["batches"].items():
            assert token not in acked, f"bulk hold token {token} acknowledged twice"
            acked[token] = b
    batches = j["batches"]
    assert batches.keys() == acked.keys(), (
        f"journaled, not acknowledged: {sorted(batches.keys() - acked.keys())}; "
        f"acknowledged, not journaled: {sorted(acked.keys() - batches.keys())}"
    )
    st: LedgerState = j["state"]
    members = 0
    with Inventory.open(url) as inv:
        for token, a in acked.items():
            jb = batches[token]
            held = [
                o for (o, _), code in zip(a["orders"], a["status"], strict=True) if code == HELD
            ]
            members += len(held)
            assert list(jb["orders"]) == held, token  # in batch order
            lines = dict(a["orders"])
            for o in held:
                assert jb["orders"][o] == lines[o], (token, o)
            assert jb["key"] == a["key"] and jb["exp"] == a["exp"], token
            # Decided as sequential all-or-nothing holds on the journal just
            # before the row: refusals too, since a stale plan is refused. A
            # guarded store (PostgreSQL) checks what was held, in the database;
            # a refusal there is decided once the ledger caught up with every
            # append committed before it was re-checked, and appends committed
            # meanwhile may come before the row: only the held must fit.
            avail = dict(jb["atp"])
            for (o, ls), code in zip(a["orders"], a["status"], strict=True):
                fits = all(q <= avail[(s, l)] for s, l, q in ls)
                if inv.store.guarded and code != HELD:
                    continue
                assert code == (HELD if fits else 0), (token, o, ls, jb["atp"])
                if fits:
                    for s, l, q in ls:
                        avail[(s, l)] -= q
            if a["key"] is not None:
                rec = inv.store.lookup_key(a["key"])
                assert rec is not None, a["key"]
                res = codec.decode(rec.result)
                assert isinstance(res, HoldBatchResult) and res.token == token, a["key"]
                assert res.status.tolist() == a["status"], a["key"]
            expired = j["expired_batches"].get(token)
            if not a["short"]:
                assert expired is None, f"block {token} (long TTL) expired"
            for o in held:
                h = st.holds.peek(f"{o}#{token}")
                assert h is not None, (token, o)
                if a["short"]:  # past its expiry by now: expired, committed or released
                    assert h.state != HELD_STATE, (token, o, h.state)
                    if o not in j["named"][token]:  # still in the block: expired with it
                        assert expired is not None and o in expired, (token, o)
        keyed = {b["key"] for b in batches.values() if b["key"] is not None}
        for r in reports:
            for key in r["refused_keys"]:  # a batch that held nothing is a refusal
                assert inv.store.lookup_key(key) is None, f"refused bulk key {key} recorded"
                assert key not in keyed, f"refused bulk key {key} has a row"
    for rid in j["kinds"]["expired"]:  # only detached short-TTL members expire alone
        member = heldbatches.split_rid(rid)
        if member is not None:  # else a hold (_check_allocations_and_expiry)
            assert acked[member[1]]["short"], rid
    return {"batches": len(acked), "members": members, "expired": len(j["expired_batches"])}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_refusal_is_decided_on_the_current_journal(kind: str, tmp_path: Path) -> None:
    """A process whose ledger is behind must not refuse a hold that another
    process's receipt made possible (nor re-source on stale figures): a refusal
    is only returned when the ledger it was checked against was current."""
    from omnistock import Line, Location, Order, errors

    with store_url(kind, tmp_path, "stale") as url:
        a = Inventory.open(url)
        b = Inventory.open(url)
        try:
            a.add_location(Location("L1"))
            a.receive("x", "L1", 1)
            a.hold(Order("o1", lines=[Line("x", 1, "L1")]))  # a: nothing left
            b.receive("x", "L1", 5)  # b: 5 more; a has not caught up
            r = a.hold(Order("o2", lines=[Line("x", 2, "L1")]))  # lone-command path
            assert [ln.qty for ln in r.lines] == [2]
            b.receive("y", "L1", 3)
            out = a.hold_many(
                [Order("o3", lines=[Line("y", 3, "L1")]), Order("o4", lines=[Line("x", 9, "L1")])]
            )  # group path
            assert not isinstance(out[0], Exception), out[0]
            assert isinstance(out[1], errors.InsufficientStock)
            assert out[1].available == 3
            assert a.check().ok
        finally:
            a.close()
            b.close()
