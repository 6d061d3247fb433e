"""Where a durable hold's CPU goes on PostgreSQL: client, server and WAL per hold.

For each W of ``--procs`` (default 1 and 8), W processes make one-line
holds for ``--seconds`` on 64 SKUs at 2 locations (as ``benchmarks.scaling``),
one approach at a time:

- ``omnistock``: ``Inventory.hold`` through the face, workers without a
  replica (``replica=False``);
- ``append``: the store's ``append()`` function called directly (by name,
  as the store calls it: ``calling.Prepared``) with a hold's payload built
  before timing (what the database does for a hold,
  with none of omnistock's Python: the SQL's own ceiling);
- ``bare`` and ``lock``: the hand-written SQL of ``benchmarks.scaling``.

Reported per hold: holds/s, the workers' own CPU (``time.process_time``,
kernel time included), the server's CPU (every ``postgres`` process's
user + system time from ``/proc`` over the timed window: only when the
server runs on this machine, else n/a) and the WAL records and bytes per
commit (``pg_stat_wal``). On a machine whose cores are all busy, client +
server CPU per hold is what throughput is divided into.

    python -m benchmarks.hold_cpu [--procs 1,8] [--seconds 4] [--only omnistock,append,bare,lock]

PostgreSQL comes from ``OMNISTOCK_PG_DSN``; schemas are made for the run
and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from omnistock import Inventory, Line, Order

from . import scaling as S

APPROACHES = ("omnistock", "append", "bare", "lock")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _server_cpu() -> dict[int, int] | None:
    """CPU ticks used so far by each process named ``postgres*`` (None: no
    ``/proc``)."""
    if not os.path.isdir("/proc/self"):
        return None
    ticks: dict[int, int] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                if not f.read().startswith("postgres"):
                    continue
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        ticks[int(p)] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def _used(t0: dict[int, int] | None, t1: dict[int, int] | None) -> float | None:
    """CPU seconds the processes alive at both readings used between them."""
    if t0 is None or t1 is None:
        return None
    return sum(t1[p] - t0[p] for p in t1.keys() & t0.keys()) / TICK


def _local() -> bool:
    return any(h in S.DSN for h in ("127.0.0.1", "localhost", "@/", "host=/")) or "@" not in S.DSN


def _wal() -> tuple[float, float, float]:
    """WAL records and bytes so far, and commits of every database."""
    with S._connect() as c:
        rec, byt = c.execute("SELECT wal_records, wal_bytes FROM pg_stat_wal").fetchone()  # type: ignore[misc]
        (commits,) = c.execute("SELECT sum(xact_commit) FROM pg_stat_database").fetchone()  # type: ignore[misc]
    return float(rec), float(byt), float(commits)


Timed = tuple[int, float, float, float | None]


def _timed(k: int, cfg: dict[str, Any], barrier: Any, hold: Any) -> Timed:
    """Holds made, CPU and wall seconds, and (worker 0 only, the server on
    this machine) the server's CPU seconds in the window: read when every
    worker has started and when every one has stopped, before any closes
    its connection, so each backend is alive at both readings."""
    barrier.wait(S.BARRIER_TIMEOUT)
    srv = k == 0 and _local()
    s0 = _server_cpu() if srv else None
    n = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    end = t0 + cfg["seconds"]
    while time.perf_counter() < end:
        hold(n)
        n += 1
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    barrier.wait(S.BARRIER_TIMEOUT)  # every worker has stopped holding
    used = _used(s0, _server_cpu()) if srv else None
    barrier.wait(S.BARRIER_TIMEOUT)  # and none closes its connection before that reading
    return n, cpu, wall, used


def _omni(k: int, cfg: dict[str, Any], barrier: Any) -> Timed:
    rng = random.Random(k)
    inv = Inventory.open(cfg["url"], replica=False)

    def hold(i: int) -> None:
        sku = f"sku-{rng.randrange(cfg['skus'])}"
        inv.hold(Order(f"p{k}-{i}", lines=[Line(sku, 1, rng.choice(S.LOCS))]))

    hold(-1)  # warm up: connection, statement preparation
    S.warm_counters(inv, cfg["skus"])
    try:
        return _timed(k, cfg, barrier, hold)
    finally:
        inv.close()


def _payload(k: int, i: int, sku: str, loc: str, ts: int) -> str:
    """A one-line hold's argument to ``append()``, built by the store's own
    ``append_payload``: a new reservation, one position that must stay
    within free stock, one journal row."""
    from omnistock.storage.base import Commit, Conditions
    from omnistock.storage.postgres.payload import append_payload

    rid, exp = f"p{k}-{i}#1", ts + 10**9
    data = json.dumps({"exp": exp, "order": f"p{k}-{i}"}, separators=(",", ":"))
    row = (ts + i, "held", sku, loc, 1, rid, None, None, data)
    cond = Conditions(
        positions=((sku, loc, (0, 1, 0, 0), 0, None),),
        reservations=((rid, None, ("held", "0" * 16, exp)),),
    )
    return append_payload([Commit((row,))], cond)


def _append(k: int, cfg: dict[str, Any], barrier: Any) -> Timed:
    from psycopg import sql

    from omnistock.storage.postgres.calling import Prepared

    rng = random.Random(k)
    ts = int(time.time() * 1e6)
    # Built before timing; more than a worker can send in the time given.
    n = int(cfg["seconds"] * 5000) + 2000
    draws = [(f"sku-{rng.randrange(cfg['skus'])}", rng.choice(S.LOCS)) for _ in range(n + 1)]
    payloads = [_payload(k, i, s, l, ts) for i, (s, l) in enumerate(draws[:n])]
    with S._connect() as conn:
        q = sql.SQL("SELECT {}.append($1::jsonb)").format(sql.Identifier(cfg["schema"]))
        call = Prepared("omnistock_append", q.as_bytes(conn))  # as the store calls it
        call(conn, _payload(k, -1, *draws[-1], ts))

        def hold(i: int) -> None:
            call(conn, payloads[i])

        return _timed(k, cfg, barrier, hold)


def _sql(k: int, cfg: dict[str, Any], barrier: Any) -> Timed:
    rng = random.Random(k)
    sch = cfg["schema"]
    with S._connect() as conn:
        bare = S._q(sch, S.SQL_BARE).as_bytes(conn)
        lock = S._q(sch, S.SQL_LOCK).as_bytes(conn)
        update = S._q(sch, S.SQL_UPDATE).as_bytes(conn)
        insert = S._q(sch, S.SQL_INSERT).as_bytes(conn)
        cur = conn.cursor()

        def hold(i: int) -> None:
            sku, loc = f"sku-{rng.randrange(cfg['skus'])}", rng.choice(S.LOCS)
            if cfg["kind"] == "bare":
                cur.execute(bare, (sku, loc), prepare=True)
                return
            with conn.transaction():
                cur.execute(lock, (sku, loc), prepare=True)
                cur.fetchone()
                cur.execute(update, (sku, loc), prepare=True)
                cur.execute(insert, (f"p{k}-{i}", sku, loc, 1), prepare=True)

        hold(-1)
        return _timed(k, cfg, barrier, hold)


def cell(approach: str, procs: int, seconds: float, skus: int = 64) -> dict[str, Any]:
    """One approach with ``procs`` workers: holds/s and CPU and WAL per hold."""
    cfg: dict[str, Any] = {"seconds": seconds, "skus": skus, "kind": approach}
    tag = uuid.uuid4().hex[:8]
    drop: Callable[[], None]
    if approach in ("omnistock", "append"):
        url = S._url("postgresql", None, f"cpu_{tag}", "normal")  # type: ignore[arg-type]
        S._setup(url, skus)
        cfg["url"], cfg["schema"] = url, url.rpartition("schema=")[2]
        fn = _omni if approach == "omnistock" else _append
        drop = lambda: S._drop(url)  # noqa: E731
    else:
        cfg["schema"] = schema = S._pg_schema(f"cpu_{tag}")
        with S._connect() as c:
            from psycopg import sql

            c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        S._sql_reset(schema, skus)
        fn = _sql
        drop = lambda: S._drop_schema(schema)  # noqa: E731
    try:
        w0 = _wal()
        res = S._run_workers(fn, procs, cfg, seconds)  # type: ignore[arg-type]
        w1 = _wal()
    finally:
        drop()
    n = sum(r[0] for r in res)
    commits = max(1.0, w1[2] - w0[2])
    used = [r[3] for r in res if r[3] is not None]
    server = used[0] / n * 1e6 if used else None
    return {
        "approach": approach,
        "procs": procs,
        "holds_s": n / max(r[2] for r in res),
        "client_us": sum(r[1] for r in res) / n * 1e6,
        "server_us": server,
        "wal_records": (w1[0] - w0[0]) / commits,
        "wal_bytes": (w1[1] - w0[1]) / commits,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--procs", default="1,8")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--only", default=",".join(APPROACHES))
    args = ap.parse_args(argv)
    only = S._csv(args.only, APPROACHES)
    print(
        "| workers | approach | holds/s | client CPU us/hold | server CPU us/hold "
        "| WAL records/commit | WAL bytes/commit |"
    )
    print("|---|---|---|---|---|---|---|")
    for w in (int(x) for x in args.procs.split(",")):
        for a in only:
            r = cell(a, w, args.seconds)
            srv = "n/a" if r["server_us"] is None else f"{r['server_us']:.0f}"
            print(
                f"| {w} | {a} | {r['holds_s']:,.0f} | {r['client_us']:.0f} | {srv} "
                f"| {r['wal_records']:.1f} | {r['wal_bytes']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
