"""Side-by-side measurement: groups of approaches run on one workload,
interleaved round by round, each round on freshly loaded stock.

An approach is ``prepare(cleanup) -> go``: ``prepare`` loads (not timed) and
returns ``go``, which runs the stream (timed) and returns the number of
successful reservations. Within a group every approach must return the same
count in every round, or the group is marked as disagreeing.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .baselines import ServiceDown

Prepare = Callable[[list[Callable[[], None]]], Callable[[], int]]


@dataclass
class Approach:
    name: str
    prepare: Prepare
    omnistock: bool = False
    ref: str | None = None  # baseline rows: the omnistock approach compared with
    target: str = ""  # human text
    check: Callable[[float, float | None], bool] | None = None  # (ops/s, speedup) -> met


@dataclass
class Result:
    workload: str
    approach: str
    ops: int
    times: list[float] = field(default_factory=list)
    successes: list[int] = field(default_factory=list)
    status: str = "ok"  # ok | skipped (service down) | error: ...
    note: str = ""
    ref: str | None = None
    speedup: float | None = None  # ref's ops/s over this row's (omnistock x faster)
    target: str = ""
    met: bool | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def ops_per_s(self) -> float | None:
        m = self.median
        return self.ops / m if m else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "approach": self.approach,
            "ops": self.ops,
            "median_s": self.median,
            "ops_per_s": self.ops_per_s,
            "times_s": self.times,
            "successes": self.successes[0] if self.successes else None,
            "status": self.status,
            "note": self.note,
            "vs": self.ref,
            "speedup_vs_ref": self.speedup,
            "target": self.target,
            "met": self.met,
        }


def run_cleanup(cleanup: list[Callable[[], None]]) -> None:
    while cleanup:
        fn = cleanup.pop()
        with contextlib.suppress(Exception):
            fn()


def run_group(
    workload: str,
    ops: int,
    approaches: list[Approach],
    repeats: int,
    log: Callable[[str], None] = lambda _m: None,
) -> list[Result]:
    results = {
        a.name: Result(workload, a.name, ops, ref=a.ref, target=a.target) for a in approaches
    }
    live = list(approaches)
    for r in range(repeats):
        for a in list(live):
            res = results[a.name]
            cleanup: list[Callable[[], None]] = []
            try:
                go = a.prepare(cleanup)
                t0 = time.perf_counter()
                n = go()
                dt = time.perf_counter() - t0
            except ServiceDown as exc:
                res.status = "skipped (service down)"
                res.note = str(exc).splitlines()[0][:120]
                live.remove(a)
                continue
            except Exception as exc:
                res.status = f"error: {type(exc).__name__}"
                res.note = str(exc).splitlines()[0][:160] if str(exc) else ""
                live.remove(a)
                continue
            finally:
                run_cleanup(cleanup)
            res.times.append(dt)
            res.successes.append(int(n))
            log(f"  {workload:<4} {a.name:<44} round {r + 1}: {dt:.4f} s, {n} ok")
    counts = {res.successes[0] for res in results.values() if res.successes}
    agree = len(counts) <= 1 and all(len(set(res.successes)) <= 1 for res in results.values())
    by_name = {a.name: a for a in approaches}
    for res in results.values():
        if res.successes and not agree:
            res.status = "DISAGREES"
            res.note = "success counts differ: " + ", ".join(
                f"{x.approach}={x.successes[0]}" for x in results.values() if x.successes
            )
        a = by_name[res.approach]
        if res.ref is not None and res.ops_per_s and results[res.ref].ops_per_s:
            res.speedup = results[res.ref].ops_per_s / res.ops_per_s  # type: ignore[operator]
        elif res.ref is not None and res.ops_per_s:
            res.note = (res.note + "; " if res.note else "") + f"{res.ref} did not run"
        if (
            a.check is not None
            and res.ops_per_s is not None
            and res.status == "ok"
            and (res.ref is None or res.speedup is not None)
        ):
            res.met = a.check(res.ops_per_s, res.speedup)
    return list(results.values())
