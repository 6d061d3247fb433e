"""Workload generators for the benchmark suite (issue 6, W1-W5, W9, W10).

Every generator is deterministic (seeded) and sized by parameters. The
``SCALES`` table gives the sizes used by the test suite (``tiny``), the
default comparison run (``small``) and the issue's full sizes (``full``:
10M positions, 1M reservations). ``scale_from_env()`` reads
``OMNISTOCK_BENCH_SCALE`` (default ``tiny``).

A workload is columnar: ``stock[sku, loc]`` is the sellable stock each
position starts with, and the reservation stream is ``s[i]``, ``l[i]``,
``qty[i]`` (SKU index, location index, units). Order workloads (W4) also
carry ``start``: order ``j`` owns lines ``start[j]:start[j + 1]``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCALES: dict[str, dict[str, int]] = {
    # skus x locs = positions; reservations in the batch stream; the face and
    # service subsets are the first N reservations of the same stream.
    "tiny": {
        "skus": 1_000,
        "locs": 10,
        "reservations": 5_000,
        "orders": 1_000,
        "face_memory": 400,
        "face_durable": 100,
        "service": 100,
        "journal": 20_000,
        "w10_skus": 1_000,
        "w10_locs": 10,
    },
    "small": {
        "skus": 10_000,
        "locs": 100,
        "reservations": 200_000,
        "orders": 50_000,
        "face_memory": 20_000,
        "face_durable": 2_000,
        "service": 2_000,
        "journal": 300_000,
        "w10_skus": 10_000,
        "w10_locs": 100,
    },
    "full": {
        "skus": 100_000,
        "locs": 100,
        "reservations": 1_000_000,
        "orders": 300_000,
        "face_memory": 200_000,
        "face_durable": 20_000,
        "service": 20_000,
        "journal": 10_000_000,
        "w10_skus": 100_000,
        "w10_locs": 100,
    },
}


def scale_from_env(default: str = "tiny") -> str:
    name = os.environ.get("OMNISTOCK_BENCH_SCALE", default).strip().lower() or default
    if name not in SCALES:
        raise ValueError(f"OMNISTOCK_BENCH_SCALE={name!r}: must be one of {', '.join(SCALES)}")
    return name


def sku_name(i: int) -> str:
    return f"S{i:07d}"


def loc_name(j: int) -> str:
    return f"L{j:04d}"


@dataclass
class Workload:
    """A starting stock grid and a stream of reservations (or orders)."""

    name: str
    description: str
    stock: np.ndarray  # int64 [n_skus, n_locs], sellable units per position
    s: np.ndarray  # int64 SKU index per line
    l: np.ndarray  # int64 location index per line
    qty: np.ndarray  # int64 units per line
    start: np.ndarray | None = None  # int64 order offsets (W4), len = orders + 1
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_skus(self) -> int:
        return int(self.stock.shape[0])

    @property
    def n_locs(self) -> int:
        return int(self.stock.shape[1])

    @property
    def positions(self) -> int:
        return self.n_skus * self.n_locs

    @property
    def n(self) -> int:
        """Reservations (line workloads) or orders (order workloads)."""
        return int(self.s.shape[0]) if self.start is None else int(self.start.shape[0] - 1)

    def head(self, n: int) -> Workload:
        """The first ``n`` reservations (or orders) over the same stock."""
        n = min(n, self.n)
        if self.start is None:
            return Workload(
                self.name,
                self.description,
                self.stock,
                self.s[:n],
                self.l[:n],
                self.qty[:n],
                None,
                dict(self.meta),
            )
        end = int(self.start[n])
        return Workload(
            self.name,
            self.description,
            self.stock,
            self.s[:end],
            self.l[:end],
            self.qty[:end],
            self.start[: n + 1].copy(),
            dict(self.meta),
        )

    def touched(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct positions the stream touches, as (sku, loc) index arrays."""
        flat = np.unique(self.s * self.n_locs + self.l)
        return flat // self.n_locs, flat % self.n_locs

    def orders(self) -> list[list[tuple[int, int, int]]]:
        """Order workloads as lists of (sku, loc, qty) lines."""
        assert self.start is not None
        s, l, q = self.s.tolist(), self.l.tolist(), self.qty.tolist()
        st = self.start.tolist()
        return [list(zip(s[a:b], l[a:b], q[a:b], strict=True)) for a, b in itertools.pairwise(st)]


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def uniform(skus: int, locs: int, reservations: int, seed: int = 1) -> Workload:
    """W1: uniform random positions; stock 0-3 a position, 1-3 units a line,
    so a good share of reservations is refused."""
    rng = np.random.default_rng(seed)
    stock = _i64(rng.integers(0, 4, size=(skus, locs)))
    return Workload(
        "W1",
        f"uniform {skus:,} x {locs:,} positions, {reservations:,} reservations",
        stock,
        _i64(rng.integers(0, skus, reservations)),
        _i64(rng.integers(0, locs, reservations)),
        _i64(rng.integers(1, 4, reservations)),
    )


def zipf(skus: int, locs: int, reservations: int, a: float = 1.1, seed: int = 2) -> Workload:
    """W2: SKU popularity Zipf(a) over ranks (hot SKUs scattered by a
    permutation), uniform location; stock 0-3, 1-3 units a line."""
    rng = np.random.default_rng(seed)
    stock = _i64(rng.integers(0, 4, size=(skus, locs)))
    w = 1.0 / np.arange(1, skus + 1, dtype=np.float64) ** a
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    rank = np.minimum(np.searchsorted(cdf, rng.random(reservations)), skus - 1)
    s = rng.permutation(skus)[rank]
    return Workload(
        "W2",
        f"Zipf({a}) {skus:,} x {locs:,} positions, {reservations:,} reservations",
        stock,
        _i64(s),
        _i64(rng.integers(0, locs, reservations)),
        _i64(rng.integers(1, 4, reservations)),
        meta={"a": a},
    )


def hot_set(reservations: int, skus: int = 1_000, locs: int = 10, seed: int = 3) -> Workload:
    """W3: a hot set of 1k SKUs x 10 locations; stock sized so about half
    of the demand can be served."""
    rng = np.random.default_rng(seed)
    demand = max(2, (2 * reservations) // (skus * locs))  # mean units asked a position
    stock = _i64(rng.integers(0, demand + 1, size=(skus, locs)))
    return Workload(
        "W3",
        f"hot set {skus:,} x {locs} positions, {reservations:,} reservations",
        stock,
        _i64(rng.integers(0, skus, reservations)),
        _i64(rng.integers(0, locs, reservations)),
        _i64(rng.integers(1, 4, reservations)),
    )


def orders(skus: int, locs: int, n_orders: int, seed: int = 4) -> Workload:
    """W4: atomic orders of 1-5 lines (uniform positions, 1-2 units a line,
    stock 1-4), reserved all-or-nothing."""
    rng = np.random.default_rng(seed)
    stock = _i64(rng.integers(1, 5, size=(skus, locs)))
    sizes = rng.integers(1, 6, n_orders)
    start = np.zeros(n_orders + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    n_lines = int(start[-1])
    return Workload(
        "W4",
        f"{n_orders:,} atomic orders of 1-5 lines over {skus:,} x {locs:,} positions",
        stock,
        _i64(rng.integers(0, skus, n_lines)),
        _i64(rng.integers(0, locs, n_lines)),
        _i64(rng.integers(1, 3, n_lines)),
        start,
    )


def flash_sale(holds: int, locs: int = 10, seed: int = 5) -> Workload:
    """W5: a flash sale on 1 SKU at 10 locations; one unit a hold; stock for
    about half of the holds."""
    rng = np.random.default_rng(seed)
    per_loc = max(1, holds // (2 * locs))
    stock = np.full((1, locs), per_loc, dtype=np.int64)
    return Workload(
        "W5",
        f"flash sale 1 SKU x {locs} locations, {holds:,} holds",
        stock,
        np.zeros(holds, dtype=np.int64),
        _i64(rng.integers(0, locs, holds)),
        np.ones(holds, dtype=np.int64),
    )


def make(name: str, scale: str = "tiny", n: int | None = None) -> Workload:
    """Workload ``name`` (W1-W5) at ``scale``; ``n`` overrides the number of
    reservations (orders for W4, holds for W5)."""
    z = SCALES[scale]
    if name == "W1":
        return uniform(z["skus"], z["locs"], n or z["reservations"])
    if name == "W2":
        return zipf(z["skus"], z["locs"], n or z["reservations"])
    if name == "W3":
        return hot_set(n or z["reservations"])
    if name == "W4":
        return orders(z["skus"], z["locs"], n or z["orders"])
    if name == "W5":
        return flash_sale(n or z["reservations"])
    raise ValueError(f"unknown workload {name!r}")


# -- W9: a synthetic journal ----------------------------------------------------


def journal_rows(
    n_rows: int, skus: int, locs: int, seed: int = 9, t0_us: int = 1_700_000_000_000_000
) -> Iterator[tuple[Any, ...]]:
    """A valid journal of ``n_rows`` rows (``Row`` tuples, seq from 1), built
    lazily so 10M rows need no memory: the locations, one receipt per
    position (up to half of the budget), then hold/commit/fulfil and
    hold/release cycles of one unit on random received positions. Holds
    expire far in the future, so a replayed ledger has no due expiries."""
    from omnistock import Location

    rng = np.random.default_rng(seed)
    seq = 0
    ts = t0_us
    for j in range(min(locs, n_rows)):
        seq += 1
        data = json.dumps({"location": Location(loc_name(j)).to_dict()})
        yield (seq, ts, "location-added", None, loc_name(j), 0, None, None, None, data)
    receipts = min(skus * locs, max(0, (n_rows - seq) // 2))
    for p in range(receipts):
        seq += 1
        ts += 1
        yield (
            seq,
            ts,
            "received",
            sku_name(p // locs),
            loc_name(p % locs),
            1_000,
            None,
            None,
            None,
            None,
        )
    if receipts == 0:
        return
    exp = t0_us + 10 * 365 * 86_400_000_000
    batch = 4096
    order = 0
    while seq < n_rows:
        picks = rng.integers(0, receipts, batch).tolist()
        kinds = rng.random(batch).tolist()
        for p, k in zip(picks, kinds, strict=True):
            if seq >= n_rows:
                return
            order += 1
            sku, loc = sku_name(p // locs), loc_name(p % locs)
            rid = f"o{order}"
            text = f'{{"exp":{exp},"order":"{rid}"}}'
            seq += 1
            ts += 1
            yield (seq, ts, "held", sku, loc, 1, rid, None, None, text)
            if seq >= n_rows:
                return
            if k < 0.5:  # committed then shipped
                seq += 1
                ts += 1
                yield (seq, ts, "committed", sku, loc, 1, rid, None, None, None)
                if seq >= n_rows:
                    return
                seq += 1
                ts += 1
                yield (seq, ts, "fulfilled", sku, loc, 1, rid, None, None, None)
            elif k < 0.8:  # released
                seq += 1
                ts += 1
                yield (seq, ts, "released", sku, loc, 1, rid, None, None, None)
            # else: still held
