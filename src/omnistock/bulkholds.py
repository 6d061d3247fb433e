"""The bulk hold command: ``hold_many(HoldBatch)``. A mixin of ``Inventory``.

The whole batch is decided by one kernel call against the live grids
(each order all-or-nothing, in batch order, as sequential ``hold`` calls
would decide them) and journaled as one ``held-batch`` row, so its cost per
order is a few array operations, not a command. See ``ledger/blocks.py``
for how the reservations are kept and ``Inventory._commit_block`` for how
the row is committed.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from datetime import timedelta
from typing import Any

import numpy as np

from . import codec
from ._validate import check_id, check_ttl, from_micros
from .commands import CommandBase
from .errors import OmnistockError, UnknownChannel
from .holdbatch import (
    HELD,
    NOT_SERVED,
    UNKNOWN_LOCATION,
    UNKNOWN_SKU,
    HoldBatch,
    HoldBatchResult,
)
from .ledger import blocks
from .storage import NewRow
from .values import Reservation

codec.register("HoldBatchResult", HoldBatchResult.from_jsonable)

# A planned bulk command: rows, their parsed data, the result, and how to
# take back what planning reserved in the live grids.
BlockPlan = tuple[list[NewRow], list[dict[str, Any] | None], Any, Any]


class BulkHoldCommands(CommandBase):
    """``hold_many(HoldBatch)`` (see the module doc)."""

    def _hold_batch(self, batch: HoldBatch, ttl: Any, key: str | None) -> HoldBatchResult:
        ttl_us = check_ttl("ttl", ttl) // timedelta(microseconds=1)
        if key is not None:
            check_id("key", key)
        if batch.channel is not None:  # is it fenced? (the commit catches up itself)
            st = self._sync()
            ch = st.channels.get(batch.channel)
            if ch is None:
                raise UnknownChannel(batch.channel, "channel")
            if self._fenced(st, ch):
                # The channel's room is per SKU across orders: decide order by order.
                keys = None if key is None else [f"{key}/{j}" for j in range(len(batch))]
                return _result_of(batch, self.hold_many(batch.orders(), ttl, keys))
        fp = None if key is None else "hold_many:" + _fingerprint(batch, ttl_us)
        try:
            result: HoldBatchResult = self._commit_block(
                "hold_many", key, fp,
                lambda now: self._plan_hold_batch(batch, now, ttl_us, key))
        except _Fenced:  # another process fenced the channel meanwhile
            keys = None if key is None else [f"{key}/{j}" for j in range(len(batch))]
            return _result_of(batch, self.hold_many(batch.orders(), ttl, keys))
        return result

    def _plan_hold_batch(self, b: HoldBatch, now: int, ttl_us: int,
                         key: str | None) -> BlockPlan:
        """Decide the batch in the live grids; O(lines) plus one kernel call.
        Raises nothing for stock: every order gets a status."""
        st = self._state
        g = st.grid
        n, m = len(b.order_ids), len(b.skus)
        start = b.offsets()
        s = np.fromiter(map(g.sku_ix.get, b.skus, itertools.repeat(-1, m)), np.int64, m)
        known = {name: g.loc_ix[name] for name in st.locations}
        l = np.fromiter(map(known.get, b.locations, itertools.repeat(-1, m)), np.int64, m)
        code = np.zeros(m, dtype=np.int8)
        code[l < 0] = UNKNOWN_LOCATION
        code[s < 0] = UNKNOWN_SKU  # the SKU is checked first, as ``hold`` does
        ch = st.channels.get(b.channel) if b.channel is not None else None
        if ch is not None and self._fenced(st, ch):
            raise _Fenced
        if ch is not None and ch.locations is not None:
            served = np.zeros(len(g.locs), dtype=np.bool_)
            served[[g.loc_ix[x] for x in ch.locations]] = True
            code[(code == 0) & ~served[np.maximum(l, 0)]] = NOT_SERVED
        status = np.zeros(n, dtype=np.int8)
        bad = np.flatnonzero(code)
        if bad.size:  # an order takes its first bad line's code
            owner = np.searchsorted(start, bad, side="right") - 1
            first_owner, first = np.unique(owner, return_index=True)
            status[first_owner] = code[bad[first]]
        valid = status == 0
        counts = np.diff(start)
        if bad.size:
            keep = np.repeat(valid, counts)
            vs, vl, vq = s[keep], l[keep], b.qty[keep]
            vstart = np.zeros(int(valid.sum()) + 1, dtype=np.int64)
            np.cumsum(counts[valid], out=vstart[1:])
        else:
            vs, vl, vq, vstart = s, l, b.qty, start
        ok = np.zeros(len(vstart) - 1, dtype=np.uint8)
        if len(ok):
            from .ledger.kernels import reserve_lines, reserve_orders

            if len(vs) == len(ok):  # one line per order: the simpler kernel
                reserve_lines(vs, vl, vq, g.free, g.reserved, ok)
            else:
                reserve_orders(vstart, vs, vl, vq, g.free, g.reserved, ok)
        okb = ok.view(np.bool_)
        status[np.flatnonzero(valid)[okb]] = HELD
        exp = now + ttl_us
        held = status == HELD
        if not okb.any():
            return [], [], HoldBatchResult(b.order_ids, status, None, from_micros(exp)), _noop
        lines = np.repeat(okb, np.diff(vstart))
        hs, hl, hq = vs[lines], vl[lines], vq[lines]
        single = len(hs) == int(okb.sum())
        hstart = np.zeros(int(okb.sum()) + 1, dtype=np.int64)
        np.cumsum(np.diff(vstart)[okb], out=hstart[1:])
        if held.all():
            orders, skus, locs = list(b.order_ids), b.skus, b.locations
        else:
            orders = list(itertools.compress(b.order_ids, held.tolist()))
            mask = np.repeat(held, counts).tolist()
            skus = tuple(itertools.compress(b.skus, mask))
            locs = tuple(itertools.compress(b.locations, mask))
        token = "b" + secrets.token_hex(6)
        while token in st.holds.blocks:  # pragma: no cover - 48 random bits
            token = "b" + secrets.token_hex(6)
        text = blocks.encode(orders, None if single else hstart, skus, locs, hq, exp)
        row: NewRow = (self._ts(now), blocks.HELD_BATCH, None, blocks.BLOCK_LOC,
                       int(hq.sum()), token, b.channel, key, text)
        data = {"exp": exp, "orders": orders, "start": hstart, "S": hs, "L": hl, "Q": hq,
                "done": True}

        def undo() -> None:
            st._add_reserved(hs, hl, -hq)

        return [row], [data], HoldBatchResult(b.order_ids, status, token,
                                              from_micros(exp)), undo


class _Fenced(Exception):
    """The batch's channel needs the per-order ring-fence check."""


def _noop() -> None:
    """Nothing was reserved, so nothing to take back."""


def _fingerprint(b: HoldBatch, ttl_us: int) -> str:
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


def _result_of(b: HoldBatch, res: list[Reservation | OmnistockError]) -> HoldBatchResult:
    """The order-by-order outcomes as a batch result."""
    from .errors import InsufficientStock, InvalidInput, UnknownLocation, UnknownSku

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
