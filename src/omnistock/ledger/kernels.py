"""Pure numba kernels over the ledger's integer arrays.

The ledger keeps two dense ``int64[sku, location]`` grids: ``free`` (on hand
less unsellable less safety) and ``reserved``; ``atp = free - reserved``.
Kernels read no globals but the constants below (frozen into them when they
compile), write only into the arrays they are given, and are all-or-nothing
where they say so. Complexity is O(lines) per call.

Bounds: the kernels assume the ledger's (``_validate.MAX_QTY``): ``|free|
<= 2**62`` and ``0 <= reserved <= 2**62`` at every position, so ``free -
reserved`` never wraps, and every quantity in ``[1, 2**62]`` (``HoldBatch``
validates it). A reservation is made only within ATP and only while
``reserved`` stays at most ``MAX_QTY``, so the bounds still hold after.
"""

from __future__ import annotations

from typing import Any

from .._validate import MAX_QTY
from .compiler import kernel

GRID = "int64[:, ::1]"
VEC = "int64[::1]"

# ``decide_batch``'s per-order statuses (``HoldBatchResult.status``): refused
# for want of stock, held, or the first unusable line's reason.
REFUSED, HELD, UNKNOWN_SKU, UNKNOWN_LOCATION, NOT_SERVED = 0, 1, 2, 3, 4


@kernel(f"void({VEC}, {VEC}, {VEC}, {VEC}, {GRID}, {GRID})")
def apply_deltas(s: Any, loc: Any, d_free: Any, d_res: Any, free: Any, reserved: Any) -> None:
    """Add ``d_free[i]``/``d_res[i]`` at position ``(s[i], loc[i])``, in order.
    Used by replay: journal rows reduced to deltas on the two grids. Sums
    wrap like int64: the commands that wrote the rows kept every term
    within its bound, and ``check()`` reports a grid that is not."""
    for i in range(s.shape[0]):
        free[s[i], loc[i]] += d_free[i]
        reserved[s[i], loc[i]] += d_res[i]


@kernel(f"int64({VEC}, {VEC}, {VEC}, {GRID}, {GRID}, uint8[::1])")
def reserve_lines(s: Any, loc: Any, qty: Any, free: Any, reserved: Any, ok: Any) -> Any:
    """Reserve each line independently where ``atp >= qty``, in order.

    ``ok[i]`` is set to 1 for a reserved line, 0 for a refused one. Returns
    the number reserved. A line never takes a position below zero ATP, nor
    its ``reserved`` past ``MAX_QTY`` (inputs within the module's bounds)."""
    n = 0
    for i in range(s.shape[0]):
        a = s[i]
        b = loc[i]
        q = qty[i]
        if free[a, b] - reserved[a, b] >= q and reserved[a, b] <= MAX_QTY - q:
            reserved[a, b] += q
            ok[i] = 1
            n += 1
        else:
            ok[i] = 0
    return n


@kernel(f"int64({VEC}, {VEC}, {VEC}, {VEC}, uint8[::1], {GRID}, {GRID}, int8[::1], uint8[::1])")
def decide_batch(
    start: Any,
    s: Any,
    loc: Any,
    qty: Any,
    served: Any,
    free: Any,
    reserved: Any,
    status: Any,
    line_held: Any,
) -> Any:
    """Decide and reserve a batch of orders all-or-nothing, in order: the
    bulk hold's whole plan in one pass.

    Order ``j`` owns lines ``start[j]:start[j + 1]``. An order whose first
    unusable line has ``s < 0`` gets status ``UNKNOWN_SKU``, ``loc < 0``
    ``UNKNOWN_LOCATION``, ``served[loc] == 0`` ``NOT_SERVED``; it reserves
    nothing. Otherwise its lines are reserved one by one where ``atp >=
    qty`` and rolled back together if one is short (``REFUSED``), else it
    is ``HELD`` (and ``line_held`` is 1 on its lines). A line that would
    take ``reserved`` past ``MAX_QTY`` is short too (it cannot be within
    ATP while the grids are within the module's bounds). Returns the number
    held. O(lines)."""
    n = 0
    for j in range(start.shape[0] - 1):
        lo = start[j]
        hi = start[j + 1]
        code = HELD  # until a line is unusable
        for k in range(lo, hi):
            if s[k] < 0:
                code = UNKNOWN_SKU
            elif loc[k] < 0:
                code = UNKNOWN_LOCATION
            elif served[loc[k]] == 0:
                code = NOT_SERVED
            if code != HELD:
                break
        if code != HELD:
            status[j] = code
            for k in range(lo, hi):
                line_held[k] = 0
            continue
        k = lo
        while k < hi:
            a = s[k]
            b = loc[k]
            if free[a, b] - reserved[a, b] >= qty[k] and reserved[a, b] <= MAX_QTY - qty[k]:
                reserved[a, b] += qty[k]
                k += 1
            else:
                break
        if k == hi:
            status[j] = HELD
            for r in range(lo, hi):
                line_held[r] = 1
            n += 1
        else:
            for r in range(lo, k):
                reserved[s[r], loc[r]] -= qty[r]
            status[j] = REFUSED
            for r in range(lo, hi):
                line_held[r] = 0
    return n


@kernel(
    f"void(Array(uint32, 1, 'C', readonly=True), {VEC}, int8[::1], {VEC}, {VEC}, {VEC}, "
    f"{VEC}, uint32[::1], uint32[::1], {VEC}, {VEC}, {VEC}, {VEC}, {VEC}, {VEC}, {VEC}, "
    f"{VEC}, {VEC}, {VEC})"
)
def compact_held(
    buf: Any,
    offs: Any,
    status: Any,
    start: Any,
    s: Any,
    loc: Any,
    qty: Any,
    ocodes: Any,
    scodes: Any,
    olens: Any,
    slens: Any,
    hs: Any,
    hl: Any,
    hq: Any,
    hstart: Any,
    mark: Any,
    table: Any,
    li: Any,
    sizes: Any,
) -> None:
    """The held orders of a decided batch (``status == HELD``), compacted in
    one pass. ``(buf, offs)`` hold the batch's names NUL-separated
    (``ledger.names``): its ``n`` order ids, then one SKU per line. Writes
    the held order ids' and their lines' SKU code points, concatenated,
    into ``ocodes``/``scodes`` with their lengths in ``olens``/``slens``;
    the held lines' ``s``/``loc``/``qty`` into ``hs``/``hl``/``hq``; their
    CSR offsets into ``hstart``; the distinct locations of held lines, in
    order of first appearance, into ``table`` and each held line's place in
    it into ``li`` (``mark``, one slot per grid location, must be all -1);
    and ``sizes = [order code points, SKU code points, held orders, held
    lines, table length]``. O(lines + characters)."""
    n = status.shape[0]
    no = 0
    ns = 0
    jo = 0
    ko = 0
    kt = 0
    hstart[0] = 0
    for j in range(n):
        if status[j] != HELD:
            continue
        a = offs[j]
        e = offs[j + 1] - 1
        for c in range(a, e):
            ocodes[no] = buf[c]
            no += 1
        olens[jo] = e - a
        for k in range(start[j], start[j + 1]):
            a = offs[n + k]
            e = offs[n + k + 1] - 1
            for c in range(a, e):
                scodes[ns] = buf[c]
                ns += 1
            slens[ko] = e - a
            hs[ko] = s[k]
            b = loc[k]
            hl[ko] = b
            hq[ko] = qty[k]
            m = mark[b]
            if m < 0:
                m = kt
                mark[b] = kt
                table[kt] = b
                kt += 1
            li[ko] = m
            ko += 1
        jo += 1
        hstart[jo] = ko
    sizes[0] = no
    sizes[1] = ns
    sizes[2] = jo
    sizes[3] = ko
    sizes[4] = kt
