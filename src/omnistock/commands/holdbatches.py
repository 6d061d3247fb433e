"""Hold-batch plans: ``hold_many(HoldBatch)``.

The whole batch is decided by one kernel call against the live grids (each
order all-or-nothing, in batch order, as sequential ``hold`` calls would
decide them) and journaled as one ``held-batch`` row, so its cost per order
is a few array operations, not a command. The plan reserves in the live
grids while planning and hands the runner an ``undo`` for a refused append
(``Command.alone``). See ``ledger/heldbatches.py`` for how the reservations
are kept.

A batch whose channel has a buffer, cap or fences is planned order by order
instead (``hold_fenced``): the channel's room is per SKU across orders.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import codec
from .._validate import check_id, from_micros
from ..command import Command
from ..errors import (
    InsufficientStock,
    InvalidInput,
    OmnistockError,
    UnknownChannel,
    UnknownLocation,
    UnknownSku,
)
from ..holdbatch import HELD, NOT_SERVED, UNKNOWN_LOCATION, UNKNOWN_SKU, HoldBatch, HoldBatchResult
from ..ledger import heldbatches
from ..ledger.fold import add_reserved
from ..ledger.kernels import compact_held, decide_batch
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import fenced
from ..planning import Context, Emit, Plan, done
from ..runner import Runner
from ..storage import NewRow
from ..values import Line, Order, Reservation
from . import reservations

codec.register("HoldBatchResult", HoldBatchResult.from_jsonable)


class Fenced(Exception):
    """The batch's channel needs the per-order ring-fence check (another
    process fenced it after the caller looked)."""


def hold_batch(st: LedgerState, cx: Context, b: HoldBatch, ttl_us: int) -> Plan[HoldBatchResult]:
    """Decide the batch in the live grids: names looked up and every
    order decided and reserved by one kernel call each (``decide_batch``),
    O(lines). Raises nothing for stock: every order gets a status."""
    g = st.grid
    n = len(b.order_ids)
    single = b.start is None  # one line per order
    start = b.offsets()
    cols = b.name_columns()
    if cols is not None:
        s, l = g.find(*cols)
    else:  # a column holding strings no id can be: name by name
        s, l = _lookup(g.sku_ix, b.skus), _lookup(g.loc_ix, b.locations)
    if len(g.loc_ix) != len(st.locations):  # the grid also holds unregistered names
        known = np.zeros(len(g.locs) + 1, dtype=np.bool_)
        known[[g.loc_ix[x] for x in st.locations]] = True
        l[~known[l]] = -1  # -1 indexes the last slot: False
    ch = st.channels.get(b.channel) if b.channel is not None else None
    if ch is not None and fenced(st, ch):
        raise Fenced
    served = np.ones(len(g.locs), dtype=np.uint8)
    if ch is not None and ch.locations is not None:
        served[:] = 0
        served[[g.loc_ix[x] for x in ch.locations if x in g.loc_ix]] = 1
    status = np.empty(n, dtype=np.int8)
    line_held = np.empty(len(s), dtype=np.uint8)
    n_ok = int(decide_batch(start, s, l, b.qty, served, g.holdable, g.reserved, status, line_held))
    exp = cx.until("ttl", ttl_us)
    if not n_ok:
        result = HoldBatchResult(b.order_ids, status, None, from_micros(exp))
        return Plan([], [], done(result), refused=True)  # nothing held: a refusal
    hstart: np.ndarray | None
    if b.encoded() is not None:  # one kernel pass over the batch's buffer
        orders, skus, hs, hl, hq, hstart, table, li = _held_of(b, status, start, s, l, len(g.locs))
    else:  # names no id can be: the held subset in numpy and Python
        held = status == HELD
        lines = held if single else line_held.view(np.bool_)
        hs, hl, hq = s[lines], l[lines], b.qty[lines]
        orders, skus = _packed(b.order_ids, held), _packed(b.skus, lines)
        hstart = np.zeros(n_ok + 1, dtype=np.int64)
        np.cumsum(np.diff(start)[held], out=hstart[1:])
        table, li = np.unique(hl, return_inverse=True)
    if single:
        hstart = None
    token = "b" + os.urandom(6).hex()
    while token in st.holds.batches:  # pragma: no cover - 48 random bits
        token = "b" + os.urandom(6).hex()
    text = heldbatches.encode(orders, hstart, skus, table, li, hq, exp, g)
    row: NewRow = make(
        Kind.HELD_BATCH,
        cx.ts,
        sku=heldbatches.BATCH_SKU,
        qty=int(hq.sum()),
        ref=token,
        channel=b.channel,
        key=cx.key,
        data=text,
    )
    data = {
        "exp": exp,
        "orders": orders,
        "S": hs,
        "L": hl,
        "Q": hq,
        "done": True,
        "start": np.arange(n_ok + 1, dtype=np.int64) if hstart is None else hstart,
    }

    def undo() -> None:
        add_reserved(st, hs, hl, -hq)

    result = HoldBatchResult(b.order_ids, status, token, from_micros(exp))
    partly = bool(n_ok < len(status))  # some orders refused: an answer to re-check if stale
    return Plan([row], [data], done(result), undo=undo, partly_refused=partly)


def _held_of(
    b: HoldBatch, status: np.ndarray, start: np.ndarray, s: np.ndarray, l: np.ndarray, n_locs: int
) -> tuple[
    heldbatches.PackedNames,
    heldbatches.PackedNames,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
]:
    """The held orders' ids and SKU names (packed), lines, CSR offsets and
    location table (grid indices, and a place in it per line), compacted
    from the batch's encoded names by one kernel call. O(lines + characters)."""
    enc = b.encoded()
    assert enc is not None
    n, m = len(status), len(s)
    offs = enc.offs
    ocodes = np.empty(int(offs[n] - offs[0]), dtype=np.uint32)
    scodes = np.empty(int(offs[n + m] - offs[n]), dtype=np.uint32)
    olens, hstart = np.empty(n, dtype=np.int64), np.empty(n + 1, dtype=np.int64)
    slens, hs, hl, hq, li = (np.empty(m, dtype=np.int64) for _ in range(5))
    table = np.empty(n_locs, dtype=np.int64)
    sizes = np.empty(5, dtype=np.int64)
    compact_held(
        enc.buf,
        offs,
        status,
        start,
        s,
        l,
        b.qty,
        ocodes,
        scodes,
        olens,
        slens,
        hs,
        hl,
        hq,
        hstart,
        np.full(n_locs, -1, dtype=np.int64),
        table,
        li,
        sizes,
    )
    no, ns, jo, ko, kt = sizes.tolist()
    orders = heldbatches.PackedNames(ocodes[:no].tobytes().decode("utf-32-le"), olens[:jo])
    skus = heldbatches.PackedNames(scodes[:ns].tobytes().decode("utf-32-le"), slens[:ko])
    return (orders, skus, hs[:ko], hl[:ko], hq[:ko], hstart[: jo + 1], table[:kt], li[:ko])


def _packed(col: Sequence[str], mask: np.ndarray) -> heldbatches.PackedNames:
    """The names where ``mask``, packed (the name-by-name path). O(len)."""
    kept = list(itertools.compress(col, mask.tolist()))
    return heldbatches.PackedNames("".join(kept), np.fromiter(map(len, kept), np.int64, len(kept)))


def _lookup(index: dict[str, int], names: Sequence[str]) -> np.ndarray:
    """``index[name]`` for each name, -1 where unknown: one C-level
    ``itemgetter`` call when every name is known (the common case)."""
    m = len(names)
    if m:
        try:
            got = operator.itemgetter(*names)(index)
            return np.array(got if m > 1 else (got,), dtype=np.int64)
        except KeyError:
            pass
    return np.fromiter(map(index.get, names, itertools.repeat(-1, m)), np.int64, m)


def fingerprint(b: HoldBatch, ttl_us: int) -> str:
    """A digest of the batch's every column (a repeated key must name the
    same batch). O(lines)."""
    h = hashlib.sha256()
    for col in (b.order_ids, b.skus, b.locations):
        h.update("\x1f".join(col).encode())
        h.update(b"\x1e")
    h.update(b.qty.tobytes())
    h.update(b.offsets().tobytes())
    h.update(f"{b.channel}|{ttl_us}".encode())
    return h.hexdigest()


def orders_of(b: HoldBatch) -> list[Order | OmnistockError]:
    """The batch as ``Order`` values; an order whose names cannot be ids (a
    batch takes any string) gets the error its unknown name deserves."""
    st = b.offsets().tolist()
    out: list[Order | OmnistockError] = []
    for j, oid in enumerate(b.order_ids):
        lines = []
        err: OmnistockError | None = None
        for k in range(st[j], st[j + 1]):
            sku, loc = b.skus[k], b.locations[k]
            try:
                check_id("sku", sku)
            except InvalidInput:
                err = err or UnknownSku(sku, "skus")
                continue
            try:
                check_id("location", loc)
            except InvalidInput:
                err = err or UnknownLocation(loc, "locations")
                continue
            lines.append(Line(sku, int(b.qty[k]), loc))
        out.append(err if err is not None else Order(oid, channel=b.channel, lines=lines))
    return out


def result_of(b: HoldBatch, res: list[Reservation | OmnistockError]) -> HoldBatchResult:
    """The order-by-order outcomes as a batch result."""
    status = np.zeros(len(b), dtype=np.int8)
    ids: list[str | None] = []
    exp = None
    for j, r in enumerate(res):
        if isinstance(r, Reservation):
            status[j] = HELD
            ids.append(r.id)
            exp = r.expires_at
            continue
        ids.append(None)
        if isinstance(r, UnknownSku):
            status[j] = UNKNOWN_SKU
        elif isinstance(r, UnknownLocation):
            status[j] = UNKNOWN_LOCATION
        elif isinstance(r, InvalidInput) and "does not serve" in str(r):
            status[j] = NOT_SERVED
        elif not isinstance(r, InsufficientStock):
            raise r
    return HoldBatchResult(b.order_ids, status, None, exp, tuple(ids))


def hold_fenced(
    st: LedgerState, cx: Context, orders: list[Order | OmnistockError], b: HoldBatch,
    ttl_us: int, emit: Emit,
) -> HoldBatchResult:  # fmt: skip
    """A fenced batch, planned as ``hold`` plans each order in turn, every
    one seeing the ones before; still one command (one transaction, one key
    for the batch, atomic), with ordinary reservation ids. O(lines)."""
    sub = cx.without_key()
    out: list[Reservation | OmnistockError] = []
    for o in orders:
        if isinstance(o, OmnistockError):
            out.append(o)
            continue
        try:
            plan = reservations.hold(st, sub, o, ttl_us)
        except OmnistockError as exc:
            out.append(exc)
            continue
        emit(plan.rows, plan.datas)
        out.append(plan.result(st))
    return result_of(b, out)


def fenced_command(
    b: HoldBatch, ttl_us: int, key: str | None, fp: str | None
) -> Command[HoldBatchResult]:
    """The command that holds a fenced batch order by order (``hold_fenced``)."""
    orders = orders_of(b)

    def then(st: LedgerState, cx: Context, _r: Any, emit: Emit) -> HoldBatchResult:
        return hold_fenced(st, cx, orders, b, ttl_us, emit)

    def plan(_st: LedgerState, _cx: Context) -> Plan[HoldBatchResult]:
        return Plan([], [], done(result_of(b, [])))  # replaced by ``then``

    return Command("hold_many", plan, key, fp, then=then)


def run_batch(
    runner: Runner, batch: HoldBatch, ttl_us: int, keys: Any, key: str | None
) -> HoldBatchResult:
    """Commit ``hold_many(batch)``: the bulk command alone (``Command.alone``),
    or order by order when the channel is fenced (checked first, and again
    by the plan in case another process fenced it meanwhile)."""
    if keys is not None:
        raise InvalidInput("keys", keys, "a HoldBatch takes one key for the whole batch (key=...)")
    if key is not None:
        check_id("key", key)
    fp = None if key is None else "hold_many:" + fingerprint(batch, ttl_us)
    if batch.channel is not None:
        st = runner.sync()
        ch = st.channels.get(batch.channel)
        if ch is None:
            raise UnknownChannel(batch.channel, "channel")
        if fenced(st, ch):
            return runner.run(fenced_command(batch, ttl_us, key, fp))

    def plan(st: LedgerState, cx: Context) -> Plan[HoldBatchResult]:
        return hold_batch(st, cx, batch, ttl_us)

    try:
        return runner.run(Command("hold_many", plan, key, fp, alone=True))
    except Fenced:
        return runner.run(fenced_command(batch, ttl_us, key, fp))
