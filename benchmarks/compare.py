"""Run the workloads side by side and print medians and ratios.

    python -m benchmarks.compare [--scale tiny|small|full] [--json out.json]
                                 [--only W1,W3] [--repeats N]

Each workload's approaches (omnistock's kernel or face, and every baseline)
run in the same process, interleaved round by round on freshly loaded stock;
the table shows the median of the rounds. On baseline rows, "ratio" is how
many times faster the omnistock approach named in "vs" is than that
baseline (>1: omnistock is faster). A missed target says "missed". A
baseline whose service is down says "skipped (service down)". Every group
checks that all its approaches agree on the number of successful
reservations; the command exits 1 if any disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import lifecycle, omni
from . import workloads as wl
from .baselines import array_rmw, dict_ledger, postgres_update, redis_lua, sqlite_update
from .harness import Approach, Result, run_group

ALL = ("W1", "W2", "W3", "W4", "W5", "W6", "W8", "W9", "W10")
FULL_JOURNAL = 10_000_000


def _sqlite_path() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="omnistock-bench-sql-"), "stock.db")


def _sqlite(
    w: wl.Workload, batched: bool
) -> Callable[[list[Callable[[], None]]], Callable[[], int]]:
    def prep(cleanup: list[Callable[[], None]]) -> Callable[[], int]:
        path = _sqlite_path()
        import shutil

        cleanup.append(lambda: shutil.rmtree(os.path.dirname(path), ignore_errors=True))
        return sqlite_update.prepare(w, path, batched, cleanup)

    return prep


def _at_least(x: float) -> Callable[[float, float | None], bool]:
    return lambda _ops, sp: sp is not None and sp >= x


def _rate(x: float) -> Callable[[float, float | None], bool]:
    return lambda ops, _sp: ops >= x


def batch_group(name: str, scale: str) -> tuple[wl.Workload, list[Approach]]:
    w = wl.make(name, scale)
    k = "omnistock kernel reserve_lines"
    rmw_target = "kernel <= 2x RMW time (ratio >= 0.5)" if name == "W1" else ""
    dict_target = ">= 50x" if name in ("W1", "W3") else ""
    return w, [
        Approach(k, lambda c: omni.prepare_kernel_lines(w), omnistock=True),
        Approach(
            "array RMW (numba, memory limit)",
            lambda c: array_rmw.prepare_lines(w),
            ref=k,
            target=rmw_target,
            check=_at_least(0.5) if rmw_target else None,
        ),
        Approach(
            "dict ledger (pure Python)",
            lambda c: dict_ledger.prepare_lines(w),
            ref=k,
            target=dict_target,
            check=_at_least(50) if dict_target else None,
        ),
    ]


def orders_group(scale: str) -> tuple[wl.Workload, list[Approach]]:
    w = wl.make("W4", scale)
    k = "omnistock kernel decide_batch (orders)"
    return w, [
        Approach(k, lambda c: omni.prepare_kernel_orders(w), omnistock=True),
        Approach(
            "dict ledger orders (pure Python)", lambda c: dict_ledger.prepare_orders(w), ref=k
        ),
    ]


def face_memory_group(name: str, scale: str) -> tuple[wl.Workload, list[Approach]]:
    n = wl.SCALES[scale]["face_memory"]
    w = wl.make(name, scale, n=n) if name == "W5" else wl.make(name, scale).head(n)
    f = "omnistock face hold() memory://"
    return w, [
        Approach(
            f,
            lambda c: omni.prepare_face(w, "memory", c),
            omnistock=True,
            target=">= 100k holds/s",
            check=_rate(100_000),
        ),
        Approach(
            "dict ledger (pure Python, no journal)", lambda c: dict_ledger.prepare_lines(w), ref=f
        ),
    ]


def durable_group(name: str, scale: str) -> tuple[wl.Workload, list[Approach]]:
    """W6: durable holds (W1 stream or W5 flash sale)."""
    n = wl.SCALES[scale]["service"]
    w = wl.make(name, scale, n=n) if name == "W5" else wl.make(name, scale).head(n)
    sq1 = "omnistock face hold() sqlite (1 txn/command)"
    sqg = f"omnistock face hold_many() sqlite (group of {omni.GROUP})"
    pg1 = "omnistock face hold() postgresql"
    pgg = f"omnistock face hold_many() postgresql (group of {omni.GROUP})"
    sqb = f"omnistock face hold_many(HoldBatch) sqlite (batch of {omni.BULK['sqlite']})"
    pgb = f"omnistock face hold_many(HoldBatch) postgresql (batch of {omni.BULK['postgres']})"
    redis_target = ">= 3x" if name == "W5" else ""
    return w, [
        Approach(
            sq1,
            lambda c: omni.prepare_face(w, "sqlite", c),
            omnistock=True,
            target=">= 15k holds/s",
            check=_rate(15_000),
        ),
        Approach(sqg, lambda c: omni.prepare_face(w, "sqlite", c, group=True), omnistock=True),
        Approach(pg1, lambda c: omni.prepare_face(w, "postgres", c), omnistock=True),
        Approach(pgg, lambda c: omni.prepare_face(w, "postgres", c, group=True), omnistock=True),
        Approach(sqb, lambda c: omni.prepare_face_bulk(w, "sqlite", c), omnistock=True),
        Approach(pgb, lambda c: omni.prepare_face_bulk(w, "postgres", c), omnistock=True),
        Approach("SQLite conditional UPDATE, 1 txn each", _sqlite(w, False), ref=sq1),
        Approach(
            "SQLite conditional UPDATE, batched txn",
            _sqlite(w, True),
            ref=sqb,
            target=">= 4x",
            check=_at_least(4),
        ),
        Approach(
            "PostgreSQL UPDATE, autocommit each",
            lambda c: postgres_update.prepare(w, "autocommit", c),
            ref=pg1,
        ),
        Approach(
            "PostgreSQL SELECT FOR UPDATE + UPDATE",
            lambda c: postgres_update.prepare(w, "for_update", c),
            ref=pg1,
        ),
        Approach(
            "PostgreSQL set-based UPDATE unnest, batched",
            lambda c: postgres_update.prepare(w, "unnest", c),
            ref=pgb,
            target=">= 3x",
            check=_at_least(3),
        ),
        Approach("Redis Lua EVALSHA, per call", lambda c: redis_lua.prepare(w, False, c), ref=sq1),
        Approach(
            "Redis Lua EVALSHA, pipelined",
            lambda c: redis_lua.prepare(w, True, c),
            ref=sqg,
            target=redis_target,
            check=_at_least(3) if redis_target else None,
        ),
    ]


def _w8(repeats: int, log: Callable[[str], None]) -> list[Result]:
    out = []
    for warmup in (False, True):
        for warm in (True, False):
            label = (
                "import + warmup() + first hold" if warmup else "import + first hold (no warmup)"
            ) + (", warm cache" if warm else ", cold numba cache")
            limit = 1.0 if warm else 3.0
            samples = lifecycle.cold_start(warmup, warm, repeats)
            res = Result(
                "W8",
                label,
                1,
                times=[s for s, _ in samples],
                successes=[1] * len(samples),
                target=f"<= {limit:.1f} s",
            )
            med_wall = sorted(w for _, w in samples)[len(samples) // 2]
            res.note = f"process wall incl. interpreter start: {med_wall:.2f} s"
            res.met = res.median is not None and res.median <= limit
            log(f"  W8   {label}: {res.median:.3f} s")
            out.append(res)
    return out


def _w9(scale: str, log: Callable[[str], None]) -> list[Result]:
    z = wl.SCALES[scale]
    n, skus, locs = z["journal"], z["skus"], z["locs"]
    out = []
    for kind in ("generated", "sqlite"):
        if kind == "generated":
            r = lifecycle.replay_open(n, skus, locs)
        else:
            d = tempfile.mkdtemp(prefix="omnistock-bench-w9-")
            try:
                r = lifecycle.replay_open_sqlite(n, skus, locs, d)
            except ImportError as exc:
                out.append(
                    Result(
                        "W9",
                        f"open sqlite journal ({n:,} rows)",
                        n,
                        status="skipped (store missing)",
                        note=str(exc),
                    )
                )
                continue
            finally:
                import shutil

                shutil.rmtree(d, ignore_errors=True)
        rows = r["rows"]
        factor = FULL_JOURNAL / rows
        extra = (
            ""
            if rows >= FULL_JOURNAL
            else f"; judged extrapolated linearly to 10M rows (x{factor:,.0f})"
        )
        store = "in-memory journal" if kind == "generated" else "SQLite journal"
        full = Result(
            "W9",
            f"full replay, {store} ({rows:,} rows)",
            rows,
            times=[r["full_replay_s"]],
            successes=[rows],
            target="<= 20 s at 10M rows",
            note=f"{1e6 * r['full_replay_s'] / rows:.2f} us/row" + extra,
        )
        full.met = r["full_replay_s"] * max(1.0, factor) <= 20.0
        snap = Result(
            "W9",
            f"open from snapshot, {store}",
            rows,
            times=[r["snapshot_open_s"]],
            successes=[rows],
            target="<= 3 s at 10M rows",
            note=extra.lstrip("; "),
        )
        snap.met = r["snapshot_open_s"] * max(1.0, factor) <= 3.0
        log(
            f"  W9   {store}: replay {r['full_replay_s']:.3f} s, "
            f"snapshot open {r['snapshot_open_s']:.3f} s"
        )
        out += [full, snap]
    return out


def _w10(scale: str, log: Callable[[str], None]) -> list[Result]:
    z = wl.SCALES[scale]
    r = lifecycle.bytes_per_position(z["w10_skus"], z["w10_locs"])
    out = []
    labels = {
        "replay": "bulk load by replay (grid grows by doubling)",
        "presized": "bulk load after Grid.reserve_capacity",
        "snapshot": "reopened from snapshot",
    }
    for key, label in labels.items():
        v = r[key]
        res = Result(
            "W10",
            label,
            r["positions"],
            target="<= 16 B/position",
            note=f"{v:.2f} bytes/position over {r['positions']:,} positions",
        )
        res.met = v <= 16.0
        res.successes = [r["positions"]]
        res.times = []
        res.speedup = None
        res.status = "ok"
        res.bytes_per_position = v  # type: ignore[attr-defined]
        if key == "replay":
            res.note += f" (capacity {r['replay_capacity'][0]:,} x {r['replay_capacity'][1]:,})"
        log(f"  W10  {label}: {v:.2f} B/position")
        out.append(res)
    return out


def run(
    scale: str, only: set[str], repeats: int | None, log: Callable[[str], None]
) -> list[Result]:
    omni.warm()
    array_rmw.warm()
    fast = repeats or 5
    slow = repeats or 3
    results: list[Result] = []
    for name in ("W1", "W2", "W3", "W5"):
        if name in only:
            log(f"{name}: batch reservations")
            w, aps = batch_group(name, scale)
            results += run_group(name, w.n, aps, fast, log)
    if "W4" in only:
        log("W4: atomic orders")
        w, aps = orders_group(scale)
        results += run_group("W4", w.n, aps, fast, log)
    for name in ("W1", "W3", "W5"):
        if name in only:
            log(f"{name}: single-line holds through the face (memory)")
            w, aps = face_memory_group(name, scale)
            results += run_group(name, w.n, aps, slow, log)
    if "W6" in only:
        for name in ("W1", "W5"):
            log(f"W6 ({name} stream): durable holds")
            w, aps = durable_group(name, scale)
            results += run_group(f"W6/{name}", w.n, aps, slow, log)
    if "W8" in only:
        log("W8: cold start")
        results += _w8(repeats or 3, log)
    if "W9" in only:
        log("W9: replay and open")
        results += _w9(scale, log)
    if "W10" in only:
        log("W10: bytes per position")
        results += _w10(scale, log)
    return results


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e9:.1f} ns"


def _fmt_rate(r: float | None) -> str:
    if r is None:
        return "-"
    if r >= 1e6:
        return f"{r / 1e6:.1f}M/s"
    if r >= 1e3:
        return f"{r / 1e3:.1f}k/s"
    return f"{r:.0f}/s"


def _met(res: Result) -> str:
    if res.status != "ok":
        return res.status
    if not res.target:
        return ""
    if res.met is None:
        return "n/a"
    return "met" if res.met else "missed"


def table(results: list[Result]) -> str:
    head = ("workload", "approach", "median", "ops/s", "ratio", "vs", "target", "met?")
    rows = []
    for r in results:
        per_op = ""
        if r.workload in ("W8", "W9") or r.workload == "W10":
            rate = "-"
        else:
            rate = _fmt_rate(r.ops_per_s)
            if r.median is not None:
                per_op = f" ({_fmt_time(r.median / r.ops)}/op)" if r.ops else ""
        med = _fmt_time(r.median)
        if r.workload == "W10":
            med = f"{r.bytes_per_position:.2f} B/pos"  # type: ignore[attr-defined]
        ratio = "-" if r.speedup is None else f"{r.speedup:,.2f}x"
        vs = (r.ref or "").replace("omnistock ", "")
        rows.append((r.workload, r.approach, med + per_op, rate, ratio, vs, r.target, _met(r)))
    widths = [
        max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(head))
    out = [line, "  ".join("-" * wd for wd in widths)]
    for x in rows:
        out.append("  ".join(v.ljust(widths[i]) for i, v in enumerate(x)).rstrip())
    return "\n".join(out)


def machine() -> dict[str, Any]:
    import numba
    import numpy

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numba": numba.__version__,
        "numpy": numpy.__version__,
    }
    with contextlib.suppress(OSError):
        info["loadavg"] = os.getloadavg()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    info["cpu"] = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scale", choices=sorted(wl.SCALES), default="small")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    p.add_argument(
        "--only", metavar="W1,W3", help=f"comma-separated workloads (default all: {','.join(ALL)})"
    )
    p.add_argument("--repeats", type=int, help="rounds per approach (default 5 fast, 3 slow)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-round log")
    a = p.parse_args(argv)
    only = set(ALL) if not a.only else {x.strip().upper() for x in a.only.split(",") if x}
    bad = only - set(ALL)
    if bad:
        p.error(f"unknown workloads {', '.join(sorted(bad))}; choose from {', '.join(ALL)}")

    def log(m: str) -> None:
        if not a.quiet:
            print(m, file=sys.stderr, flush=True)

    started = datetime.now(UTC).isoformat(timespec="seconds")
    mach = machine()
    results = run(a.scale, only, a.repeats, log)
    mach["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"omnistock benchmarks, scale={a.scale}, {mach.get('cpus')} CPUs "
        f"({mach.get('cpu', mach['processor'])}), python {mach['python']}, "
        f"numba {mach['numba']}; load average at start {mach.get('loadavg')}"
    )
    print(table(results))
    missed = [r for r in results if r.met is False]
    if missed:
        print("\nmissed targets: " + "; ".join(f"{r.workload} {r.approach}" for r in missed))
    bad_rows = [r for r in results if r.status == "DISAGREES"]
    if a.json:
        doc = {
            "started": started,
            "scale": a.scale,
            "sizes": wl.SCALES[a.scale],
            "machine": mach,
            "results": [
                dict(
                    r.as_dict(),
                    **(
                        {"bytes_per_position": r.bytes_per_position}
                        if hasattr(r, "bytes_per_position")
                        else {}
                    ),
                )
                for r in results
            ],
        }
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"\nwrote {a.json}")
    return 1 if bad_rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
