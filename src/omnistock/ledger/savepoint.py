"""Savepoints: undo the rows folded into a ledger state since a point.

Group commit applies each command's rows to the live state before the batch
reaches the store, so the next command in the batch validates against it.
If the store refuses the batch (another writer got in first), the state is
rolled back to the savepoint. Before a row is applied, ``touch`` copies
everything the row can change; ``rollback`` puts those copies back.
Cost: O(things touched), independent of the ledger's size.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..storage.base import Row
from . import heldbatches
from .grid import Pos
from .holds import Hold
from .rows import (
    BATCH_KINDS,
    RES_DATA_KINDS,
    RESERVATION_REF_KINDS,
    SID_DATA_KINDS,
    SUPPLY_REF_KINDS,
    Kind,
)
from .state import LedgerState
from .supply import Incoming

_THRESHOLD_KINDS = frozenset((Kind.THRESHOLD_SET, Kind.THRESHOLD_CROSSED))
MISSING = object()
"""A saved entry that was absent (put back by deleting it)."""

_IN_BLOCK = object()  # a reservation that was a block member at the savepoint


class Savepoint:
    """What a ``LedgerState`` looked like before some rows were applied."""

    def __init__(self, st: LedgerState) -> None:
        self.st = st
        self.head = st.head
        self.last_ts = st.last_ts
        self.n_skus = len(st.grid.skus)
        self.n_locs = len(st.grid.locs)
        self.pos: dict[Pos, tuple[int, int, Any, Any]] = {}
        self.holds: dict[str, Any] = {}
        self.batches: dict[str, Any] = {}
        self.per_order: dict[str, Any] = {}
        self.supply: dict[str, Any] = {}
        self.locations: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.catalogue: dict[str, Any] = {}
        self.picks: dict[tuple[str, int], Any] = {}
        # Known positions not ranged at the savepoint: a row may mark them,
        # nothing unmarks one, so rollback unmarks exactly these.
        self.unranged: set[Pos] = set()
        self.chan_used: dict[tuple[str, int], Any] = {}
        self.policy = st.policy
        # (sku, location) -> (low mark, alert count) before a threshold row.
        self.thresholds: dict[tuple[str, str | None], tuple[int | None, int]] = {}
        self.kits: dict[str, dict[str, int] | None] = {}
        # Lot books of touched positions, and lots in transit, as they were.
        self.books: dict[Pos, Any] = {}
        self.transit: dict[str, Any] = {}

    def touch(self, row: Row | tuple[Any, ...], data: dict[str, Any] | None = None) -> None:
        """Record what applying ``row`` may change. Call before applying it."""
        st = self.st
        g = st.grid
        _seq, _ts, kind, sku, loc, _qty, ref, channel = row[:8]
        if data is None and row[9] is not None:
            data = json.loads(row[9])
        data = data or {}
        if sku is not None and loc is not None:
            s, l = g.sku_ix.get(sku), g.loc_ix.get(loc)
            if s is not None and l is not None:
                self._pos((s, l))
                if (s, l) not in st.ranged:
                    self.unranged.add((s, l))
                if (st.lots.by_pos or "lot" in data) and (s, l) not in self.books:
                    self.books[(s, l)] = st.lots.copy_book((s, l))
        if kind in BATCH_KINDS:
            self._touch_block(kind, ref, channel, data)
            return
        # The reservation the row changes (``rows.KindInfo``).
        rid = (
            ref
            if kind in RESERVATION_REF_KINDS
            else data.get("res")
            if kind in RES_DATA_KINDS
            else None
        )
        if rid is not None and rid not in self.holds:
            member = st.holds.member(rid) if rid not in st.holds.by_id else None
            if member is not None:  # applying detaches it: keep its block as it was
                b = member[0]
                if b.token not in self.batches:
                    self.batches[b.token] = b.copy()
                self.holds[rid] = _IN_BLOCK
                st.holds.for_update(rid)
            else:
                h = st.holds.by_id.get(rid)
                self.holds[rid] = None if h is None else h.copy()
        if rid is not None and sku is not None:
            h = st.holds.for_update(rid)
            ch = h.channel if h is not None else channel
            s_ix = g.sku_ix.get(sku)
            if ch is not None and s_ix is not None and (ch, s_ix) not in self.chan_used:
                self.chan_used[(ch, s_ix)] = st.chan_used.get((ch, s_ix), MISSING)
        order = data.get("order")
        if order is not None and order not in self.per_order:
            self.per_order[order] = st.holds.per_order.get(order, MISSING)
        sid = (
            ref if kind in SUPPLY_REF_KINDS else data.get("sid") if kind in SID_DATA_KINDS else None
        )
        if sid is not None and sid not in self.supply:
            item = st.supply.by_id.get(sid)
            self.supply[sid] = (
                None
                if item is None
                else (
                    item.sku,
                    item.loc,
                    item.qty,
                    item.eta_us,
                    item.kind,
                    item.src,
                    item.res,
                    dict(item.booked),
                )
            )
        if ref is not None and ref in st.lots.transit and ref not in self.transit:
            self.transit[ref] = [list(x) for x in st.lots.transit[ref]]
        if kind == Kind.TRANSFER_OUT and ref is not None and ref not in self.transit:
            self.transit[ref] = None
        if kind == Kind.LOCATION_ADDED and loc is not None and loc not in self.locations:
            self.locations[loc] = st.locations.get(loc, MISSING)
        if kind == Kind.CHANNEL_ADDED and channel is not None and channel not in self.channels:
            self.channels[channel] = st.channels.get(channel, MISSING)
        if kind == Kind.SKU_ADDED and sku is not None and sku not in self.catalogue:
            self.catalogue[sku] = st.catalogue.get(sku, MISSING)
        if kind in _THRESHOLD_KINDS and sku is not None and (sku, loc) not in self.thresholds:
            th = st.thresholds
            self.thresholds[(sku, loc)] = (th.get(sku, loc), th.count(sku, loc))
        if kind == Kind.KIT_ADDED and sku is not None and sku not in self.kits:
            self.kits[sku] = st.kits.get(sku)
        if kind == Kind.PICKED and loc is not None:
            k = (loc, int(data["day"]))
            if k not in self.picks:
                self.picks[k] = st.picks.get(k, MISSING)

    def _touch_block(
        self, kind: str, token: str | None, channel: str | None, data: dict[str, Any]
    ) -> None:
        """A block row: its positions, its block and its channel's figures.
        O(lines) in Python; the hot path commits blocks without savepoints."""
        st = self.st
        assert token is not None
        b = st.holds.batches.get(token)
        if kind == Kind.HELD_BATCH:
            _start, s, l, _q = heldbatches.resolve(data, st.grid)
        else:
            assert b is not None
            m = b.live_lines()
            s, l, channel = b.s[m], b.l[m], b.channel
        if token not in self.batches:
            self.batches[token] = None if b is None else b.copy()
        for a, c in set(zip(s.tolist(), l.tolist(), strict=True)):
            self._pos((a, c))
        if channel is not None:
            for a in np.unique(s).tolist():
                if (channel, a) not in self.chan_used:
                    self.chan_used[(channel, a)] = st.chan_used.get((channel, a), MISSING)

    def _pos(self, p: Pos) -> None:
        if p in self.pos:
            return
        g = self.st.grid
        u = g.unsell.get(p)
        self.pos[p] = (
            int(g.holdable[p]),
            int(g.reserved[p]),
            g.safety.get(p),
            None if u is None else list(u),
        )

    def rollback(self) -> None:
        """Restore the state recorded; rows applied since are forgotten."""
        st = self.st
        g = st.grid
        hs = st.holds
        for p, (free, reserved, safety, unsell) in self.pos.items():
            g.holdable[p] = free
            g.reserved[p] = reserved
            _put(g.safety, p, safety)
            _put(g.unsell, p, unsell)
        for rid, old in self.holds.items():
            cur = hs.by_id.get(rid)
            if cur is not None:  # unindex the hold as it is now
                hs.set_expiry(cur, None)
                for p in cur.lines:
                    ids = hs.by_pos.get(p)
                    if ids is not None:
                        ids.discard(rid)
                        if not ids:
                            del hs.by_pos[p]
            if old is None or old is _IN_BLOCK:  # the restored block holds it again
                hs.by_id.pop(rid, None)
            else:  # index it as it was
                restored: Hold = old.copy()
                exp = restored.expires_us
                restored.expires_us = None
                hs.by_id[rid] = restored
                hs.set_expiry(restored, exp)
                for p in restored.lines:
                    hs.by_pos.setdefault(p, set()).add(rid)
        for oid, n in self.per_order.items():
            _put(hs.per_order, oid, None if n is MISSING else n)
        for token, old_b in self.batches.items():
            cur_b = hs.batches.get(token)
            if cur_b is not None:
                hs.drop_batch(cur_b)
            if old_b is not None:
                hs.batches[token] = old_b
                if not old_b.expired:
                    hs.batch_expiry.add((old_b.exp, token))
        for sid, rec in self.supply.items():
            cur_item = st.supply.by_id.get(sid)
            if cur_item is not None:
                st.supply._drop(cur_item)
            if rec is not None:
                st.supply.add(Incoming(sid, *rec))
        for lid, loc in self.locations.items():
            _put(st.locations, lid, None if loc is MISSING else loc)
        for cid, ch in self.channels.items():
            _put(st.channels, cid, None if ch is MISSING else ch)
        for sku_id, entry in self.catalogue.items():
            _put(st.catalogue, sku_id, None if entry is MISSING else entry)
        for k, v in self.picks.items():
            _put(st.picks, k, None if v is MISSING else v)
        for k, v in self.chan_used.items():
            _put(st.chan_used, k, None if v is MISSING else v)
        for p in self.unranged:
            st.ranged.discard(p)
        for (sku, loc), (low, n) in self.thresholds.items():
            st.thresholds.put(sku, loc, low)
            st.thresholds.set_count(sku, loc, n)
        for kit, comps in self.kits.items():
            if comps is None:
                st.kits.forget(kit)
            else:
                st.kits.define(kit, comps)
        for p, book in self.books.items():
            st.lots.put_book(p, book)
        for tid, items in self.transit.items():
            _put(st.lots.transit, tid, items)
        st.policy = self.policy
        # SKUs and locations interned since the savepoint: forget them.
        for name in g.skus[self.n_skus :]:
            del g.sku_ix[name]
        for name in g.locs[self.n_locs :]:
            del g.loc_ix[name]
        if len(g.skus) > self.n_skus or len(g.locs) > self.n_locs:
            g.holdable[self.n_skus :, :] = 0
            g.reserved[self.n_skus :, :] = 0
            g.holdable[:, self.n_locs :] = 0
            g.reserved[:, self.n_locs :] = 0
            g.ranged.clear_outside(self.n_skus, self.n_locs)
            for k in [k for k in st.chan_used if k[1] >= self.n_skus]:
                del st.chan_used[k]
            for p in [p for p in st.lots.by_pos if p[0] >= self.n_skus or p[1] >= self.n_locs]:
                st.lots.put_book(p, None)
            for d in (g.safety, g.unsell, hs.by_pos):
                for p in [p for p in d if p[0] >= self.n_skus or p[1] >= self.n_locs]:
                    del d[p]
        del g.skus[self.n_skus :]
        del g.locs[self.n_locs :]
        st.head = self.head
        st.last_ts = self.last_ts


def _put(d: dict[Any, Any], k: Any, v: Any) -> None:
    if v is None:
        d.pop(k, None)
    else:
        d[k] = v
