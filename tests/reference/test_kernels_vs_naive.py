"""Every numba kernel against its naive reference (``naive.py``).

One hypothesis test per kernel registered through ``ledger.compiler``: random
small inputs, the kernel called the way the product calls it (the same
dtypes, C-contiguous arrays, read-only name buffers from ``NameBuffer``),
and its outputs compared with the plain-Python reference. Sizes are small
and ``max_examples`` modest, so the file runs in seconds once the kernels
are compiled (numba caches them). ``test_every_kernel_has_a_reference``
fails when a kernel is added without one.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

import naive
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import omnistock
from omnistock.fulfilment import kernels as wave
from omnistock.fulfilment import optimize
from omnistock.fulfilment.kernels import PREF_CODE
from omnistock.fulfilment.policy import PREFERENCES
from omnistock.ledger import compiler, kernels, names
from omnistock.ledger.names import BAD, NameBuffer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

I64 = np.int64
FEW = settings(max_examples=80, deadline=None)

TESTED = {
    "apply_deltas": "test_apply_deltas_matches_naive",
    "reserve_lines": "test_reserve_lines_matches_python",
    "decide_batch": "test_hold_block_decides_orders_as_hold_would",
    "compact_held": "test_compact_held_matches_naive",
    "_offsets": "test_name_offsets_match_naive",
    "_append": "test_append_names_matches_naive",
    "_find": "test_find_names_matches_a_dict",
    "allocate_wave_single": "test_allocate_wave_single_matches_naive",
    "nearest": "test_nearest_matches_naive",
    "_ssp": "test_ssp_reaches_the_naive_least_cost",
}


def test_every_kernel_has_a_reference() -> None:
    """Each kernel the product declares (``@kernel``, in any module; each
    registers itself for ``warmup()``) is named in ``TESTED``, with a test of
    that name in this module."""
    root = Path(omnistock.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if "@kernel(" in path.read_text(encoding="utf-8"):
            rel = path.relative_to(root.parent).with_suffix("")
            importlib.import_module(".".join(rel.parts))
    registered = {k.py_func.__name__ for k in compiler._registry}
    assert registered == set(TESTED)
    assert all(name in globals() for name in TESTED.values())


def _i64(xs: Any) -> np.ndarray:
    return np.array(xs, dtype=I64)


def _grid(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    f = np.array(rows, dtype=I64)
    return f, np.zeros_like(f)


# -- ledger.kernels ---------------------------------------------------------------
@FEW
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(-5, 5), st.integers(-3, 3)),
        max_size=20,
    ),
    st.lists(st.integers(-4, 6), min_size=6, max_size=6),
    st.lists(st.integers(0, 4), min_size=6, max_size=6),
)
def test_apply_deltas_matches_naive(
    deltas: list[tuple[int, int, int, int]], free0: list[int], res0: list[int]
) -> None:
    """Repeated positions add up; the grids are changed in place."""
    free = np.array([free0[:3], free0[3:]], dtype=I64)
    reserved = np.array([res0[:3], res0[3:]], dtype=I64)
    cols = [_i64([d[i] for d in deltas]) for i in range(4)]
    want = naive.apply_deltas(*cols, free.tolist(), reserved.tolist())
    kernels.apply_deltas(*cols, free, reserved)
    assert (free.tolist(), reserved.tolist()) == want


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 5)), max_size=40),
    st.lists(st.integers(0, 6), min_size=9, max_size=9),
)
def test_reserve_lines_matches_python(lines: list[tuple[int, int, int]], stock: list[int]) -> None:
    free, reserved = _grid([stock[0:3], stock[3:6], stock[6:9]])
    s = np.array([a for a, _, _ in lines], dtype=np.int64)
    loc = np.array([b for _, b, _ in lines], dtype=np.int64)
    qty = np.array([q for _, _, q in lines], dtype=np.int64)
    ok = np.zeros(len(lines), dtype=np.uint8)
    expect, n_expect, ref = naive.reserve_lines(s, loc, qty, free, reserved)
    n = kernels.reserve_lines(s, loc, qty, free, reserved, ok)
    assert list(ok) == expect
    assert n == sum(expect) == n_expect
    assert reserved.tolist() == ref
    assert (reserved <= free).all()


# A line: (sku, location, qty); -1 is an unknown SKU or location, and
# location 2 exists but is not served.
LINE = st.tuples(st.integers(-1, 1), st.integers(-1, 2), st.integers(1, 4))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(LINE, min_size=1, max_size=4), max_size=15),
    st.lists(st.integers(0, 6), min_size=6, max_size=6),
)
def test_hold_block_decides_orders_as_hold_would(orders: list[list[Any]], stock: list[int]) -> None:
    """Each order in turn: its first unusable line names its status (2
    unknown SKU, 3 unknown location, 4 not served), else all its lines are
    reserved or none (0), against a reference that sees the orders before."""
    free, reserved = _grid([stock[0:3], stock[3:6]])
    flat = [line for o in orders for line in o]
    start = np.array([0, *np.cumsum([len(o) for o in orders])], dtype=np.int64)
    s = np.array([a for a, _, _ in flat], dtype=np.int64)
    loc = np.array([b for _, b, _ in flat], dtype=np.int64)
    qty = np.array([q for _, _, q in flat], dtype=np.int64)
    served = np.array([1, 1, 0], dtype=np.uint8)
    status = np.full(len(orders), 9, dtype=np.int8)
    line_held = np.full(len(flat), 9, dtype=np.uint8)
    want_status, want_lines, want_n, ref = naive.decide_batch(
        start.tolist(), s.tolist(), loc.tolist(), qty.tolist(), served.tolist(), free, reserved
    )
    n = kernels.decide_batch(start, s, loc, qty, served, free, reserved, status, line_held)
    assert status.tolist() == want_status
    assert line_held.tolist() == want_lines
    assert n == want_status.count(1) == want_n
    assert reserved.tolist() == ref


# Short names over a small alphabet, with non-ASCII, astral and empty names.
NAME = st.text(alphabet=st.sampled_from("ab\u00e9\u4e2d\U0001f600 ~"), max_size=4)


@st.composite
def decided_batches(draw: st.DrawFn) -> dict[str, Any]:
    """A decided batch: orders with their lines, a status per order (1 held)
    and, for held lines, known SKU rows and grid locations."""
    n_locs = draw(st.integers(1, 5))
    n = draw(st.integers(0, 6))
    order_ids = draw(st.lists(NAME, min_size=n, max_size=n))
    status = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    start = [0]
    skus: list[str] = []
    s: list[int] = []
    loc: list[int] = []
    qty: list[int] = []
    for j in range(n):
        for _ in range(sizes[j]):
            skus.append(draw(NAME))
            s.append(draw(st.integers(0, 3) if status[j] == 1 else st.integers(-1, 3)))
            loc.append(draw(st.integers(0 if status[j] == 1 else -1, n_locs - 1)))
            qty.append(draw(st.integers(1, 9)))
        start.append(len(s))
    return {
        "n_locs": n_locs,
        "order_ids": order_ids,
        "skus": skus,
        "status": status,
        "start": start,
        "s": s,
        "loc": loc,
        "qty": qty,
    }


@FEW
@given(decided_batches())
def test_compact_held_matches_naive(b: dict[str, Any]) -> None:
    """As ``bulkholds`` calls it: the names from one ``NameBuffer`` of the
    order ids then the SKUs, outputs sized for the whole batch."""
    enc = NameBuffer(b["order_ids"], b["skus"])
    assert enc.charset != BAD
    n, m, n_locs = len(b["status"]), len(b["s"]), b["n_locs"]
    status = np.array(b["status"], dtype=np.int8)
    start, s, loc, qty = (_i64(b[k]) for k in ("start", "s", "loc", "qty"))
    offs = enc.offs
    ocodes = np.empty(int(offs[n] - offs[0]), dtype=np.uint32)
    scodes = np.empty(int(offs[n + m] - offs[n]), dtype=np.uint32)
    olens, hstart = np.empty(n, dtype=I64), np.empty(n + 1, dtype=I64)
    slens, hs, hl, hq, li = (np.empty(m, dtype=I64) for _ in range(5))
    table = np.empty(n_locs, dtype=I64)
    sizes = np.empty(5, dtype=I64)
    kernels.compact_held(
        enc.buf,
        offs,
        status,
        start,
        s,
        loc,
        qty,
        ocodes,
        scodes,
        olens,
        slens,
        hs,
        hl,
        hq,
        hstart,
        np.full(n_locs, -1, dtype=I64),
        table,
        li,
        sizes,
    )
    want = naive.compact_held(
        b["order_ids"], b["skus"], b["status"], b["start"], b["s"], b["loc"], b["qty"]
    )
    no, ns, jo, ko, kt = sizes.tolist()
    joined_orders = "".join(want["orders"])
    joined_skus = "".join(want["skus"])
    assert (no, ns, jo, ko, kt) == (
        len(joined_orders),
        len(joined_skus),
        len(want["orders"]),
        len(want["s"]),
        len(want["table"]),
    )
    assert ocodes[:no].tobytes().decode("utf-32-le") == joined_orders
    assert scodes[:ns].tobytes().decode("utf-32-le") == joined_skus
    assert olens[:jo].tolist() == [len(x) for x in want["orders"]]
    assert slens[:ko].tolist() == [len(x) for x in want["skus"]]
    assert hs[:ko].tolist() == want["s"]
    assert hl[:ko].tolist() == want["loc"]
    assert hq[:ko].tolist() == want["qty"]
    assert hstart[: jo + 1].tolist() == want["start"]
    assert table[:kt].tolist() == want["table"]
    assert li[:ko].tolist() == want["li"]


# -- ledger.names ---------------------------------------------------------------------
CODE = st.sampled_from([0, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0xE9, 0x1F600])


@settings(max_examples=150, deadline=None)
@given(st.lists(CODE, max_size=20), st.integers(1, 6))
def test_name_offsets_match_naive(codes: list[int], n: int) -> None:
    """Any buffer and any expected count, including the wrong one; the
    buffer read-only, as ``NameBuffer`` hands it over (``np.frombuffer``)."""
    buf = np.frombuffer(np.array(codes, dtype=np.uint32).tobytes(), dtype=np.uint32)
    offs = np.zeros(n + 1, dtype=I64)
    got = int(names._offsets(buf, offs))
    charset, want = naive.name_offsets(codes, n)
    assert got == charset
    if charset >= 0:
        assert offs.tolist() == want


def _table_for(n: int) -> np.ndarray:
    return np.zeros(names._table_size(n), dtype=np.uint64)


@FEW
@given(st.lists(NAME, max_size=12, unique=True), st.lists(NAME, max_size=12))
def test_append_names_matches_naive(first: list[str], more: list[str]) -> None:
    """Two appends into one table: distinct names get entries
    ``[position, code points..., 0]``; a repeat, of a name indexed before or
    of one earlier in the same column, returns ``-(i + 1)``."""
    n = len(first) + len(more)
    table = _table_for(n)
    a, b = NameBuffer(first), NameBuffer(more)
    ent = np.zeros(len(a.buf) + len(b.buf) + n + 2, dtype=np.uint32)
    used = int(names._append(table, ent, 0, a.buf, a.offs, 0))
    want_used, want_ent = naive.append_names([], first, 0)
    assert (used, ent[:used].tolist()) == (want_used, want_ent)
    before = ent[:used].tolist()
    got = int(names._append(table, ent, used, b.buf, b.offs, len(first)))
    want_used, want_ent = naive.append_names(list(enumerate(first)), more, len(first))
    assert got == want_used
    assert ent[:used].tolist() == before  # entries already there are never rewritten
    if got >= 0:
        assert ent[:got].tolist() == want_ent


@FEW
@given(st.lists(NAME, max_size=20, unique=True), st.lists(NAME, max_size=20))
def test_find_names_matches_a_dict(indexed: list[str], query: list[str]) -> None:
    """As ``NameIndex.find`` calls it: the entries sliced to what is used."""
    table = _table_for(len(indexed))
    enc = NameBuffer(indexed)
    ent = np.zeros(len(enc.buf) + len(indexed) + 1, dtype=np.uint32)
    used = int(names._append(table, ent, 0, enc.buf, enc.offs, 0))
    q = NameBuffer(query + indexed[::2])
    out = np.empty(len(q.offs) - 1, dtype=I64)
    missing = int(names._find(table, ent[:used], q.buf, q.offs, out))
    want, want_missing = naive.find_names(
        {x: i for i, x in enumerate(indexed)}, query + indexed[::2]
    )
    assert (out.tolist(), missing) == (want, want_missing)


# -- fulfilment.kernels ---------------------------------------------------------------
# Distances and prices chosen so every cost is exact in binary floating point.
DIST = st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0, 7.5, math.inf])


@st.composite
def waves(draw: st.DrawFn) -> dict[str, Any]:
    n_locs = draw(st.integers(1, 5))
    n_skus = draw(st.integers(1, 3))
    n = draw(st.integers(0, 8))
    start, cand, dist = [0], [], []
    for _ in range(n):
        k = draw(st.integers(0, n_locs))
        cand += draw(st.permutations(range(n_locs)))[:k]  # no repeats, as from nearest
        dist += draw(st.lists(DIST, min_size=k, max_size=k))
        start.append(len(cand))
    prefs = draw(
        st.lists(st.sampled_from(PREFERENCES), max_size=4, unique=True)
        | st.sampled_from(
            [
                ["fewest_splits", "closest", "priority"],
                ["fewest_splits", "highest_stock"],
                ["fewest_splits", "lowest_cost", "priority"],
            ]
        )
    )
    return {
        "start": start,
        "cand": cand,
        "dist": dist,
        "sku": draw(st.lists(st.integers(0, n_skus - 1), min_size=n, max_size=n)),
        "qty": draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)),
        "flags": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
        "prio": draw(st.lists(st.integers(0, 2), min_size=n_locs, max_size=n_locs)),
        "cap": draw(
            st.lists(
                st.sampled_from([wave.UNLIMITED, 0, 1, 2, 3]), min_size=n_locs, max_size=n_locs
            )
        ),
        "atp": [
            draw(st.lists(st.integers(-2, 6), min_size=n_locs, max_size=n_locs))
            for _ in range(n_skus)
        ],
        "prefs": prefs,
        "radius": draw(st.sampled_from([-1.0, 0.0, 2.5, 5.0])),
        "per_parcel": draw(st.sampled_from([0.0, 1.0, 2.5])),
        "per_km": draw(st.sampled_from([0.0, 0.5, 2.0])),
    }


def _one_order(atp: list[int], qty: int, flags: int, prefs: list[str]) -> dict[str, Any]:
    """One order whose candidates are every location, in order, at 1 km."""
    n = len(atp)
    return {
        "start": [0, n],
        "cand": list(range(n)),
        "dist": [1.0] * n,
        "sku": [0],
        "qty": [qty],
        "flags": [flags],
        "prio": [0] * n,
        "cap": [wave.UNLIMITED] * n,
        "atp": [atp],
        "prefs": prefs,
        "radius": -1.0,
        "per_parcel": 1.0,
        "per_km": 0.0,
    }


@settings(max_examples=300, deadline=None)
@given(waves())
# fewest splits: the earliest smallest set holding it (2 and 3), not a prefix
@example(_one_order([1, 2, 2], 4, 1, ["fewest_splits", "closest"]))
# without split, partial: the first of the locations holding the most
@example(_one_order([1, 3, 3], 5, 2, ["closest"]))
# split, no single location holds it, ranked by stock
@example(_one_order([2, 1, 3, 2], 6, 1, ["highest_stock", "fewest_splits"]))
def test_allocate_wave_single_matches_naive(w: dict[str, Any]) -> None:
    """Random waves, every preference list (``fewest_splits`` first or not),
    split and partial flags, capacity, radius and unknown distances."""
    n = len(w["sku"])
    atp = np.array(w["atp"], dtype=I64)
    cap = _i64(w["cap"])
    take = np.zeros(len(w["cand"]), dtype=I64)
    status = np.zeros(n, dtype=np.int8)
    done = wave.allocate_wave_single(
        _i64(w["start"]),
        _i64(w["cand"]),
        np.array(w["dist"], dtype=np.float64),
        _i64(w["sku"]),
        _i64(w["qty"]),
        np.array(w["flags"], dtype=np.uint8),
        _i64(w["prio"]),
        cap,
        atp,
        _i64([PREF_CODE[p] for p in w["prefs"]]),
        w["radius"],
        w["per_parcel"],
        w["per_km"],
        take,
        status,
    )
    want = naive.allocate_wave_single(
        w["start"],
        w["cand"],
        w["dist"],
        w["sku"],
        w["qty"],
        w["flags"],
        w["prio"],
        w["cap"],
        w["atp"],
        w["prefs"],
        w["radius"],
        w["per_parcel"],
        w["per_km"],
    )
    assert take.tolist() == want["take"]
    assert status.tolist() == want["status"]
    assert done == want["done"]
    assert atp.tolist() == want["atp"]
    assert cap.tolist() == want["cap"]


LAT = st.sampled_from([51.5, 51.6, 52.0, -33.9, 0.0, 89.0, math.nan]) | st.floats(-89.5, 89.5)
LON = st.sampled_from([-0.1, 0.0, 0.1, 151.2, -179.9, 180.0, math.nan]) | st.floats(-180, 180)


def _close(a: float, b: float) -> bool:
    """Equal km to within rounding: 1e-9 relative, or 1 m absolute (the
    selection term cancels for points a few cm apart, so their order is
    noise)."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3)


@FEW
@given(
    st.lists(st.tuples(LAT, LON), max_size=4),
    st.lists(st.tuples(LAT, LON), min_size=1, max_size=7),
    st.data(),
)
def test_nearest_matches_naive(
    origins: list[tuple[float, float]], cands: list[tuple[float, float]], data: st.DataObject
) -> None:
    """As ``orders._nearest`` calls it (``k >= 1``; ``k == len`` keeps every
    candidate in order). The kernel ranks by a haversine term built from
    precomputed sines, so distances are compared to within rounding; the
    order must equal the reference's unless two distinct points lie at one
    distance (then only rounding orders them), and candidates at the same
    point (or without one) always keep the lower index first."""
    c = len(cands)
    k = data.draw(st.integers(1, c))
    olat, olon = (np.array([p[i] for p in origins], dtype=np.float64) for i in (0, 1))
    clat, clon = (np.array([p[i] for p in cands], dtype=np.float64) for i in (0, 1))
    idx = np.empty(len(origins) * k, dtype=I64)
    dist = np.empty(len(origins) * k, dtype=np.float64)
    wave.nearest(olat, olon, clat, clon, k, idx, dist)
    want = naive.nearest(olat.tolist(), olon.tolist(), clat.tolist(), clon.tolist(), k)
    for i, (want_idx, want_km) in enumerate(want):
        got_idx = idx[i * k : (i + 1) * k].tolist()
        got_km = dist[i * k : (i + 1) * k].tolist()
        full = [
            naive.haversine_km(olat[i], olon[i], clat[j], clon[j]) for j in range(c)
        ]  # every candidate's km
        assert len(set(got_idx)) == k
        assert all(_close(got_km[t], full[got_idx[t]]) for t in range(k))
        if k == c:
            assert got_idx == want_idx == list(range(c))
            continue
        # the k smallest distances, ascending
        assert all(_close(got_km[t], want_km[t]) for t in range(k))

        def tied(a: int, b: int, full: list[float] = full) -> bool:
            """One point, or no point: the kernel's keys are equal bit for bit."""
            return bool(
                (clat[a] == clat[b] and clon[a] == clon[b])
                or (math.isinf(full[a]) and math.isinf(full[b]))
            )

        ambiguous = any(
            _close(full[a], full[b]) and not tied(a, b) for a in range(c) for b in range(a + 1, c)
        )  # distinct points at one distance: their order is the rounding's
        if not ambiguous:
            assert got_idx == want_idx

        for a in range(c):
            for b in range(a + 1, c):
                if tied(a, b) and b in got_idx:
                    assert a in got_idx and got_idx.index(a) < got_idx.index(b)


# -- fulfilment.optimize -----------------------------------------------------------
@st.composite
def flow_networks(draw: st.DrawFn) -> dict[str, Any]:
    """Supply nodes ``0..n_sup-1``, middle nodes, and ``t`` last; random
    edges (no self-loops, none out of ``t``) with integer costs, and each
    supply node's own expensive edge to ``t`` so every unit can arrive (the
    optimiser's "unserved" edge)."""
    n_sup = draw(st.integers(1, 3))
    n_mid = draw(st.integers(0, 4))
    t = n_sup + n_mid
    supply = draw(st.lists(st.integers(0, 4), min_size=n_sup, max_size=n_sup))
    edges = [(u, t, supply[u], 100.0) for u in range(n_sup)]
    pair = st.tuples(st.integers(0, t - 1), st.integers(0, t)).filter(lambda p: p[0] != p[1])
    for u, v in draw(st.lists(pair, max_size=12)):
        edges.append((u, v, draw(st.integers(0, 4)), float(draw(st.integers(0, 9)))))
    order = draw(st.permutations(range(len(edges))))
    return {"n": t + 1, "t": t, "supply": supply, "edges": [edges[i] for i in order]}


@settings(max_examples=150, deadline=None)
@given(flow_networks())
def test_ssp_reaches_the_naive_least_cost(g: dict[str, Any]) -> None:
    """As ``optimize_wave`` calls it: the CSR residual graph from
    ``optimize._graph``, zero potentials, a copy of the supply. Every unit
    arrives, the flow is feasible (capacity, conservation), and it costs
    what the Bellman-Ford reference's least-cost flow costs (costs are
    integers, so exactly); among several optima either may be returned."""
    edges, t, n = g["edges"], g["t"], g["n"]
    tail = _i64([e[0] for e in edges])
    head = _i64([e[1] for e in edges])
    fcap = _i64([e[2] for e in edges])
    fcost = np.array([e[3] for e in edges], dtype=np.float64)
    estart, eto, ecap, ecost, erev, pos = optimize._graph(tail, head, fcap, fcost, n)
    supply = _i64(g["supply"])
    h = np.zeros(n, dtype=np.float64)
    left = supply.copy()
    searches = int(optimize._ssp(estart, eto, ecap, ecost, erev, left, t, h))
    assert left.tolist() == [0] * len(supply)
    assert searches >= sum(1 for b in g["supply"] if b > 0)
    flow = (fcap - ecap[pos]).tolist()
    assert all(0 <= f <= c for f, c in zip(flow, fcap.tolist(), strict=True))
    net = [0] * n
    for (u, v, _c, _w), f in zip(edges, flow, strict=True):
        net[u] -= f
        net[v] += f
    assert net[:t] == [-b for b in g["supply"]] + [0] * (t - len(supply))
    assert net[t] == sum(g["supply"])
    cost = sum(f * w for (_u, _v, _c, w), f in zip(edges, flow, strict=True))
    assert cost == naive.min_cost_flow(n, edges, g["supply"], t)
