"""Numba kernels for allocating waves of orders.

Pure functions over integer and float arrays, declared through the one
module that owns numba options (``omnistock.ledger.compiler``): explicit
signatures, compiled lazily, ``cache=True``. They read no globals but the
codes below (frozen into them when they compile), write only into
caller-supplied outputs, and update ``atp`` and ``cap_left`` in place.
Importing this module registers them for ``omnistock.warmup()``.

Codes shared with callers: a wave order's ``status`` (``UNFILLABLE``,
``ALLOCATED``, ``PARTIAL``; ``STATUS_CODE`` by ``Allocation.status``), its
``flags`` bits (``ALLOW_SPLIT``, ``ALLOW_PARTIAL``) and the preference
codes (``PREF_CODE``, by ``Policy.preferences`` name).

Contract with :func:`omnistock.fulfilment.sourcing.source`: for the same
candidates (in the same order), the same distances and the same policy,
:func:`allocate_wave_single` makes exactly the decisions of calling
``source`` once per order in sequence, with ATP lowered by each plan's takes
and each used location's capacity lowered by one before the next order. The
static filters (capability, channel, excluded) are the caller's job: leave
such locations out of the candidate lists. Radius, capacity and no-stock
are applied in the kernel because they change during a wave.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ledger.compiler import kernel
from .policy import PREFERENCES, Policy

__all__ = [
    "ALLOCATED",
    "ALLOW_PARTIAL",
    "ALLOW_SPLIT",
    "PARTIAL",
    "PREF_CODE",
    "STATUS_CODE",
    "UNFILLABLE",
    "UNLIMITED",
    "allocate_wave_single",
    "nearest",
    "wave_policy",
]

UNLIMITED = 2**62
"""``cap_left`` value for a location without a daily capacity."""

# A wave order's ``status``, as ``allocate_wave_single`` writes it.
UNFILLABLE, ALLOCATED, PARTIAL = 0, 1, 2
STATUS_CODE = {"unfillable": UNFILLABLE, "allocated": ALLOCATED, "partial": PARTIAL}
"""``Allocation.status`` -> wave status code (``BatchResult.status``)."""

# A wave order's ``flags`` bits.
ALLOW_SPLIT, ALLOW_PARTIAL = 1, 2

# Preference codes, as ``prefs`` holds them (``wave_policy``).
FEWEST_SPLITS, CLOSEST, PRIORITY, HIGHEST_STOCK, LOWEST_COST = 0, 1, 2, 3, 4
PREF_CODE = {
    "fewest_splits": FEWEST_SPLITS,
    "closest": CLOSEST,
    "priority": PRIORITY,
    "highest_stock": HIGHEST_STOCK,
    "lowest_cost": LOWEST_COST,
}
"""``Policy.preferences`` name -> the kernel's preference code."""
if set(PREF_CODE) != set(PREFERENCES):  # pragma: no cover - a preference without a code
    raise ImportError(f"wave kernel preference codes differ from {PREFERENCES}")

VEC = "int64[::1]"
FVEC = "float64[::1]"
GRID = "int64[:, ::1]"


def wave_policy(policy: Policy) -> tuple[np.ndarray, float, float, float]:
    """The kernel's view of a policy: ``(prefs, radius, per_parcel, per_km)``;
    ``prefs`` holds :data:`PREF_CODE` codes and ``radius`` is -1.0 for none."""
    prefs = np.array([PREF_CODE[p] for p in policy.preferences], dtype=np.int64)
    radius = -1.0 if policy.radius_km is None else policy.radius_km
    return prefs, radius, policy.per_parcel, policy.per_km


@kernel(
    f"int64({VEC}, {VEC}, {FVEC}, {VEC}, {VEC}, uint8[::1], {VEC}, {VEC}, {GRID}, "
    f"{VEC}, float64, float64, float64, {VEC}, int8[::1])"
)
def allocate_wave_single(
    start: Any,
    cand: Any,
    dist: Any,
    sku: Any,
    qty: Any,
    flags: Any,
    prio: Any,
    cap_left: Any,
    atp: Any,
    prefs: Any,
    radius: Any,
    per_parcel: Any,
    per_km: Any,
    take: Any,
    status: Any,
) -> Any:
    """Allocate single-line orders greedily, in sequence.

    Order ``j`` wants ``qty[j]`` of SKU row ``sku[j]``; its candidates are
    the location columns ``cand[start[j]:start[j + 1]]`` (no repeats), at
    distances ``dist[...]`` (same positions; ``inf`` unknown). ``flags[j]``:
    ``ALLOW_SPLIT | ALLOW_PARTIAL`` bits. ``prio`` and ``cap_left`` are per
    location column. ``atp[sku, loc]`` is lowered by what is taken and
    ``cap_left`` by one per used location. Outputs: ``take[e]`` units taken
    at candidate entry ``e``; ``status[j]`` ``ALLOCATED``, ``PARTIAL`` or
    ``UNFILLABLE``. Returns the number of orders fully allocated.

    Guarantees: never takes more than a position's positive ATP; identical
    decisions to ``source`` one order at a time (module doc).

    Bounds: assumes ``1 <= qty[j] <= 2**62`` (``OrderBatch`` validates it)
    and ``atp <= 2**62`` (the ledger's bound; ``_validate.MAX_QTY``). No sum
    wraps: the total ATP of an order's candidates is only compared with
    ``qty[j]``, so it stops growing once it reaches it; every other sum
    stays below ``2 * 2**62``. A take is within positive ATP, so the
    caller's ``reserved + take`` stays at most ``free <= 2**62``.
    Complexity: O(c^2) per order for c candidates (insertion ranking), plus
    O(k * c^2 log c) when a split of k locations is needed.
    """
    n_orders = start.shape[0] - 1
    width = 1
    for j in range(n_orders):
        w = start[j + 1] - start[j]
        if w > width:
            width = w
    kept = np.empty(width, dtype=np.int64)
    a = np.empty(width, dtype=np.int64)
    sel = np.zeros(width, dtype=np.uint8)
    fs = prefs.shape[0] > 0 and prefs[0] == FEWEST_SPLITS
    done = 0
    for j in range(n_orders):
        lo = start[j]
        hi = start[j + 1]
        s = sku[j]
        q = qty[j]
        for e in range(lo, hi):
            take[e] = 0
        # filter and rank (insertion keeps earlier candidates first on ties)
        m = 0
        for e in range(lo, hi):
            loc = cand[e]
            if radius >= 0.0 and not dist[e] <= radius:
                continue
            if cap_left[loc] <= 0 or atp[s, loc] <= 0:
                continue
            pos = m
            while pos > 0:
                f = kept[pos - 1]
                lf = cand[f]
                c = 0
                for t in range(prefs.shape[0]):
                    p = prefs[t]
                    if p == CLOSEST:
                        if dist[e] < dist[f]:
                            c = -1
                        elif dist[e] > dist[f]:
                            c = 1
                    elif p == PRIORITY:
                        if prio[loc] < prio[lf]:
                            c = -1
                        elif prio[loc] > prio[lf]:
                            c = 1
                    elif p == HIGHEST_STOCK:
                        if atp[s, loc] > atp[s, lf]:
                            c = -1
                        elif atp[s, loc] < atp[s, lf]:
                            c = 1
                    elif p == LOWEST_COST:
                        if per_km == 0.0:
                            ce = per_parcel
                            cf = per_parcel
                        else:
                            ce = per_parcel + per_km * dist[e]
                            cf = per_parcel + per_km * dist[f]
                        if ce < cf:
                            c = -1
                        elif ce > cf:
                            c = 1
                    if c != 0:
                        break
                if c < 0:
                    kept[pos] = f
                    pos -= 1
                else:
                    break
            kept[pos] = e
            m += 1
        total = 0  # saturates at q: sum over many candidates may pass int64
        for i in range(m):
            a[i] = atp[s, cand[kept[i]]]
            sel[i] = 0
            if total < q:
                total += a[i]
        # choose the set
        split = (flags[j] & ALLOW_SPLIT) != 0
        partial = (flags[j] & ALLOW_PARTIAL) != 0
        if m == 0:
            pass
        elif not split:
            found = -1
            for i in range(m):
                if a[i] >= q:
                    found = i
                    break
            if found < 0 and partial:
                found = 0
                for i in range(1, m):
                    if a[i] > a[found]:
                        found = i
            if found >= 0:
                sel[found] = 1
        elif total < q:
            if partial:
                for i in range(m):
                    sel[i] = 1
        elif fs:
            b = np.sort(a[:m])
            k = 0
            acc = 0
            while acc < q:
                acc += b[m - 1 - k]
                k += 1
            acc = 0
            last = -1
            for p_ in range(k):
                need = k - p_ - 1
                for i in range(last + 1, m):
                    rest = 0
                    if need > 0:
                        r = np.sort(a[i + 1 : m])
                        for u in range(min(need, r.shape[0])):
                            rest += r[r.shape[0] - 1 - u]
                    if acc + a[i] + rest >= q:
                        sel[i] = 1
                        acc += a[i]
                        last = i
                        break
        else:
            acc = 0
            for i in range(m):
                sel[i] = 1
                acc += a[i]
                if acc >= q:
                    break
        # fill: whole from the best-ranked selected location that holds it
        rem = q
        whole = -1
        for i in range(m):
            if sel[i] == 1 and a[i] >= rem:
                whole = i
                break
        for i in range(m):
            if rem == 0:
                break
            if sel[i] == 0 or (whole >= 0 and i != whole):
                continue
            x = min(rem, a[i])
            if x > 0:
                e = kept[i]
                take[e] = x
                atp[s, cand[e]] -= x
                cap_left[cand[e]] -= 1
                rem -= x
        if rem == 0:
            status[j] = ALLOCATED
            done += 1
        elif rem < q:
            status[j] = PARTIAL
        else:
            status[j] = UNFILLABLE
    return done


@kernel(f"void({FVEC}, {FVEC}, {FVEC}, {FVEC}, int64, {VEC}, {FVEC})")
def nearest(
    olat: Any, olon: Any, clat: Any, clon: Any, k: Any, out_idx: Any, out_dist: Any
) -> None:
    """For each origin ``i`` (degrees; NaN: unknown), write the ``k`` nearest
    candidates to ``out_idx[i*k:(i+1)*k]`` and their haversine km to
    ``out_dist``.

    With ``k == len(clat)`` every candidate is written in its own order.
    Otherwise the ``k`` nearest in ascending distance, ties to the lower
    index; candidates without a point (or an origin without one) are
    farthest. Selection compares ``hav = sin^2(dphi/2) + cos cos sin^2(dl/2)``
    built from precomputed sines and cosines (a few multiply-adds a pair);
    only the kept pairs get the exact arc. Both ``allocate`` and waves use
    this kernel, so they see the same candidates at the same distances.
    O(origins x candidates), plus O(k) per insertion into the kept list."""
    n = olat.shape[0]
    c = clat.shape[0]
    rad = np.pi / 180.0
    cs = np.empty(c)
    sn = np.empty(c)
    cl = np.empty(c)
    sl = np.empty(c)
    ok = np.empty(c, dtype=np.uint8)
    for j in range(c):
        ok[j] = not (np.isnan(clat[j]) or np.isnan(clon[j]))
        cs[j] = np.cos(clat[j] * rad)
        sn[j] = np.sin(clat[j] * rad)
        cl[j] = np.cos(clon[j] * rad)
        sl[j] = np.sin(clon[j] * rad)
    keyb = np.empty(max(k, 1))
    idxb = np.empty(max(k, 1), dtype=np.int64)
    for i in range(n):
        known = not (np.isnan(olat[i]) or np.isnan(olon[i]))
        p1 = olat[i] * rad
        l1 = olon[i] * rad
        c1 = np.cos(p1)
        s1 = np.sin(p1)
        cl1 = np.cos(l1)
        sl1 = np.sin(l1)
        m = 0
        for j in range(c):
            if known and ok[j]:
                cos_dphi = c1 * cs[j] + s1 * sn[j]
                cos_dl = cl1 * cl[j] + sl1 * sl[j]
                key = (1.0 - cos_dphi) * 0.5 + c1 * cs[j] * (1.0 - cos_dl) * 0.5
            else:
                key = np.inf
            if k == c:
                keyb[j] = key
                idxb[j] = j
                continue
            if m == k and not key < keyb[m - 1]:
                continue
            pos = m if m < k else k - 1
            while pos > 0 and key < keyb[pos - 1]:
                if pos < k:
                    keyb[pos] = keyb[pos - 1]
                    idxb[pos] = idxb[pos - 1]
                pos -= 1
            keyb[pos] = key
            idxb[pos] = j
            if m < k:
                m += 1
        for t in range(k):
            j = idxb[t]
            out_idx[i * k + t] = j
            if known and ok[j]:
                dphi = (clat[j] - olat[i]) * rad
                dl = (clon[j] - olon[i]) * rad
                h = np.sin(dphi / 2.0) ** 2 + c1 * cs[j] * np.sin(dl / 2.0) ** 2
                out_dist[i * k + t] = 2.0 * 6371.0088 * np.arcsin(min(1.0, np.sqrt(h)))
            else:
                out_dist[i * k + t] = np.inf
