"""The materialised ledger: journal rows folded into arrays and records.

``LedgerState.apply`` is the only code that turns a journal row into state.
Live commands and replay both go through it, which is why a replay of the
journal equals the live ledger. ``check()`` proves it: it replays into a
fresh state and compares digests, then checks every invariant.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import StorageError
from ..storage.base import Row
from ..values import Channel, Location
from . import heldbatches
from .grid import N_STATES, STATE_INDEX, Grid, Pos
from .heldbatches import HeldBatch
from .holds import COMMITTED, EXPIRED, FULFILLED, HELD, OPEN, RELEASED, Hold, Holds
from .supply import Incoming, Supply

SELLABLE = "sellable"
SNAPSHOT_MAGIC = b"OMNISNAP1\n"


class LedgerState:
    """Everything the journal implies, at ``head``."""

    __slots__ = (
        "chan_used",
        "channels",
        "grid",
        "head",
        "holds",
        "last_ts",
        "locations",
        "picks",
        "policy",
        "ranged",
        "supply",
    )

    def __init__(self) -> None:
        self.grid = Grid()
        self.holds = Holds()
        self.supply = Supply()
        self.locations: dict[str, Location] = {}
        self.channels: dict[str, Channel] = {}
        # Orders picked per (location, UTC day): ship-from-store capacity.
        self.picks: dict[tuple[str, int], int] = {}
        # Positions that have ever been stocked: the location ranges the SKU.
        self.ranged: set[Pos] = set()
        # The sourcing policy as a plain dict (the ledger knows no services).
        self.policy: dict[str, Any] | None = None
        # Open reserved units per (channel, sku index): ring-fence "used".
        self.chan_used: dict[tuple[str, int], int] = {}
        self.head = 0
        self.last_ts = 0

    # -- applying rows ---------------------------------------------------
    def apply_all(self, rows: Iterable[Row]) -> None:
        apply = self.apply
        for row in rows:
            apply(row)

    def apply(self, row: Row, data: dict[str, Any] | None = None) -> None:
        """Fold one journal row into the state. ``data`` may be given
        pre-parsed by a live command; replay parses it from the row."""
        seq, ts, kind, sku, loc, qty, ref, channel = row[:8]
        if data is None and row[9] is not None:
            data = json.loads(row[9])
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise StorageError(f"journal row seq={seq} has unknown kind={kind!r}")
        handler(self, sku, loc, qty, ref, channel, data or {}, seq)
        self.head = seq
        if ts > self.last_ts:
            self.last_ts = ts

    def _pos(self, sku: str | None, loc: str | None) -> Pos:
        assert sku is not None and loc is not None
        return self.grid.sku(sku), self.grid.loc(loc)

    def _location(
        self, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: dict[str, Any], _seq: int
    ) -> None:
        location = Location.from_dict(d["location"])
        self.locations[location.id] = location
        self.grid.loc(location.id)

    def _channel(
        self, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: dict[str, Any], _seq: int
    ) -> None:
        channel = Channel.from_dict(d["channel"])
        self.channels[channel.id] = channel

    def _received(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        _d: Any,
        _seq: int,
    ) -> None:
        s, l = self._pos(sku, loc)
        self.grid.holdable[s, l] += qty
        self.ranged.add((s, l))
        if ref is not None and ref in self.supply.by_id:
            self.supply.take(ref, qty)

    def _sold(
        self, sku: str | None, loc: str | None, qty: int, _r: Any, _c: Any, _d: Any, _seq: int
    ) -> None:
        s, l = self._pos(sku, loc)
        self.grid.holdable[s, l] -= qty

    def _to_state(self, p: Pos, state: str, qty: int) -> None:
        """Add ``qty`` (may be negative) units in ``state`` at ``p``."""
        if state == SELLABLE:
            self.grid.holdable[p] += qty
        else:
            self.grid.add_unsellable(p, STATE_INDEX[state], qty)

    def _counted(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        _r: Any,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        p = self._pos(sku, loc)
        self._to_state(p, d.get("state", SELLABLE), qty)
        self.ranged.add(p)

    def _returned(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        _r: Any,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        p, state = self._pos(sku, loc), d.get("state", SELLABLE)
        if state != "write_off":  # a written-off return never enters on_hand
            self._to_state(p, state, qty)

    def _written_off(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        _r: Any,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        self._to_state(self._pos(sku, loc), d.get("state", SELLABLE), -qty)

    def _state_changed(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        _r: Any,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        p = self._pos(sku, loc)
        self._to_state(p, d["from"], -qty)
        self._to_state(p, d["to"], qty)

    def _safety(
        self, sku: str | None, loc: str | None, qty: int, _r: Any, _c: Any, _d: Any, _seq: int
    ) -> None:
        p = self._pos(sku, loc)
        self.grid.add_safety(p, qty)
        self.grid.holdable[p] -= qty
        self.ranged.add(p)

    def _held(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        channel: str | None,
        d: dict[str, Any],
        seq: int,
    ) -> None:
        assert ref is not None
        p = self._pos(sku, loc)
        h = self._open(ref, channel, d, seq)
        self.holds.add_line(h, p, qty)
        self._use(h.channel, p[0], qty)
        if "exp" in d:
            self.holds.set_expiry(h, d["exp"])
        self.grid.reserved[p] += qty

    def _open(self, rid: str, channel: str | None, d: dict[str, Any], seq: int) -> Hold:
        h = self.holds.open_hold(rid, d.get("order"), channel, seq)
        if "to" in d:
            h.dest = (d["to"][0], d["to"][1])
        if "pickup" in d:
            h.pickup = d["pickup"]
        return h

    def _use(self, channel: str | None, s: int, qty: int) -> None:
        if channel is None or not qty:
            return
        k = (channel, s)
        v = self.chan_used.get(k, 0) + qty
        if v:
            self.chan_used[k] = v
        else:
            del self.chan_used[k]

    def _hold_of(self, ref: str | None) -> Hold:
        assert ref is not None
        return self.holds.need_for_update(ref)

    def _add_reserved(self, s: np.ndarray, l: np.ndarray, q: np.ndarray) -> None:
        """``reserved[s[i], l[i]] += q[i]`` for every i (q may be negative)."""
        g = self.grid
        if len(s) < 64:  # a kernel call costs more than a few numpy writes
            for a, b, d in zip(s.tolist(), l.tolist(), q.tolist(), strict=True):
                g.reserved[a, b] += d
            return
        from .kernels import apply_deltas

        apply_deltas(s, l, np.zeros(len(s), dtype=np.int64), q, g.holdable, g.reserved)

    def _use_many(self, channel: str | None, s: np.ndarray, q: np.ndarray) -> None:
        if channel is None:
            return
        for a, v in _per_sku(s, q):
            self._use(channel, a, v)

    def _held_batch(
        self,
        _s: Any,
        _l: Any,
        _q: int,
        ref: str | None,
        channel: str | None,
        d: dict[str, Any],
        seq: int,
    ) -> None:
        """A block of reservations (see ``heldbatches.py``). A command planned in
        this process has already reserved the units (``d["done"]``)."""
        assert ref is not None
        start, s, l, q = heldbatches.resolve(d, self.grid)
        if not d.get("done"):
            self._add_reserved(s, l, q)
        self._use_many(channel, s, q)
        self.holds.add_batch(
            HeldBatch(ref, seq, d["exp"], channel, heldbatches.orders_of(d), start, s, l, q)
        )

    def _expired_batch(
        self, _s: Any, _l: Any, _q: int, ref: str | None, _c: Any, _d: Any, _seq: int
    ) -> None:
        assert ref is not None
        b = self.holds.batches[ref]
        m = b.live_lines()
        s, l, q = b.s[m], b.l[m], b.q[m]
        self._add_reserved(s, l, -q)
        self._use_many(b.channel, s, -q)
        self.holds.expire_batch(b)

    def _committed(
        self, _s: Any, _l: Any, _q: int, ref: str | None, _c: Any, _d: Any, _seq: int
    ) -> None:
        h = self._hold_of(ref)
        h.state = COMMITTED
        self.holds.set_expiry(h, None)

    def _extended(
        self, _s: Any, _l: Any, _q: int, ref: str | None, _c: Any, d: dict[str, Any], _seq: int
    ) -> None:
        self.holds.set_expiry(self._hold_of(ref), d["exp"])

    def _unreserve(
        self, sku: str | None, loc: str | None, qty: int, ref: str | None, state: str, keep: bool
    ) -> Hold:
        h = self._hold_of(ref)
        p = self._pos(sku, loc)
        self.holds.take_line(h, p, qty)
        self.grid.reserved[p] -= qty
        self._use(h.channel, p[0], -qty)
        if not keep:
            self.holds.close(h, state)
        return h

    def _released(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        self._unreserve(sku, loc, qty, ref, RELEASED, bool(d.get("resize")))

    def _expired(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        _d: Any,
        _seq: int,
    ) -> None:
        self._unreserve(sku, loc, qty, ref, EXPIRED, False)

    def _fulfilled(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        _d: Any,
        _seq: int,
    ) -> None:
        h = self._unreserve(sku, loc, qty, ref, FULFILLED, True)
        p = self._pos(sku, loc)
        h.shipped[p] = h.shipped.get(p, 0) + qty
        self.grid.holdable[p] -= qty
        if not h.lines:
            self.holds.close(h, FULFILLED)

    def _expected(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        assert ref is not None
        s, l = self._pos(sku, loc)
        self.supply.add(Incoming(ref, s, l, qty, d["eta"], "po"))

    def _transfer_out(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: str | None,
        d: dict[str, Any],
        _seq: int,
    ) -> None:
        assert ref is not None
        s, l = self._pos(sku, loc)
        self.grid.holdable[s, l] -= qty
        dst = self.grid.loc(d["to"])
        rid = d.get("res")
        self.supply.add(Incoming(ref, s, dst, qty, d["eta"], "transfer", l, rid))
        if rid is not None:  # earmarked for an order: opens its reservation if new
            h = self._open(rid, _c, {k: v for k, v in d.items() if k in ("order", "pickup")}, _seq)
            if "exp" in d:
                self.holds.set_expiry(h, d["exp"])

    def _transfer_in(
        self,
        sku: str | None,
        loc: str | None,
        qty: int,
        ref: str | None,
        _c: Any,
        d: dict[str, Any],
        seq: int,
    ) -> None:
        assert ref is not None
        s, l = self._pos(sku, loc)
        self.grid.holdable[s, l] += qty
        self.ranged.add((s, l))
        self.supply.take(ref, qty)
        rid = d.get("res")
        if rid is not None:  # units earmarked for a reservation arrive reserved
            h = self.holds.need_for_update(rid)
            self.holds.add_line(h, (s, l), qty)
            self.grid.reserved[s, l] += qty
            self._use(h.channel, s, qty)

    def _policy(
        self, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: dict[str, Any], _seq: int
    ) -> None:
        self.policy = d["policy"]

    def _claimed(self, *_: Any) -> None:
        """A claim only makes writers minting the same id conflict in a
        partitioned store (its "sku" is the claim's scope); no state."""

    def _picked(
        self, _s: Any, loc: str | None, qty: int, _r: Any, _c: Any, d: dict[str, Any], _seq: int
    ) -> None:
        assert loc is not None
        k = (loc, int(d["day"]))
        self.picks[k] = self.picks.get(k, 0) + qty

    # -- derived figures ---------------------------------------------------
    def digest(self) -> str:
        """A hash of every figure and record; equal digests mean equal state.

        Blocks are hashed as their arrays, O(their size) in C: which
        reservations are still kept in a block is itself fixed by the journal
        (only applying a row detaches one; a rolled-back savepoint restores
        its blocks; snapshots keep them), so a replay, a snapshot and the
        live ledger keep them alike."""
        g = self.grid
        free, res = g.used()
        h = hashlib.sha256()
        h.update(json.dumps([g.skus, g.locs, self.head]).encode())
        h.update(np.ascontiguousarray(free).tobytes())
        h.update(np.ascontiguousarray(res).tobytes())
        h.update(json.dumps(self._records(), sort_keys=True).encode())
        for token in sorted(self.holds.batches):
            b = self.holds.batches[token]
            h.update(json.dumps([token, b.seq, b.exp, b.channel, b.expired]).encode())
            h.update("\x1f".join(b.orders).encode())
            for a in (b.start, b.s, b.l, b.q):
                h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(b.live, dtype=np.bool_).tobytes())
        return h.hexdigest()

    def _records(self) -> dict[str, Any]:
        """Every record but the blocks, as plain data (digest, snapshots)."""
        g = self.grid
        holds = self.holds.by_id.values()
        return {
            "safety": sorted([list(p), v] for p, v in g.safety.items()),
            "unsell": sorted([list(p), u] for p, u in g.unsell.items()),
            "holds": sorted(_hold_rec(h) for h in holds),
            "per_order": sorted(self.holds.per_order.items()),
            "supply": sorted(
                [i.id, i.sku, i.loc, i.qty, i.eta_us, i.kind, i.src, i.res]
                for i in self.supply.by_id.values()
            ),
            "ranged": sorted(list(p) for p in self.ranged),
            "policy": self.policy,
            "locations": [self.locations[k].to_dict() for k in sorted(self.locations)],
            "channels": [self.channels[k].to_dict() for k in sorted(self.channels)],
            "picks": sorted([k[0], k[1], v] for k, v in self.picks.items()),
        }

    def violations(self) -> list[str]:
        """Every broken invariant, as sentences. Empty means sound.

        O(positions + reservation lines)."""
        out: list[str] = []
        g = self.grid
        ns, nl = g.shape
        _, res = g.used()
        if (
            (g.holdable[ns:, :] != 0).any()
            or (g.holdable[:, nl:] != 0).any()
            or (g.reserved[ns:, :] != 0).any()
            or (g.reserved[:, nl:] != 0).any()
        ):
            out.append("grid holds figures outside the used positions")
        expect = np.zeros_like(res)
        earmarked = {i.res for i in self.supply.by_id.values() if i.res is not None}
        out += self._block_violations(expect)
        for h in self.holds.by_id.values():
            if h.state in OPEN:
                if not h.lines and h.id not in earmarked:
                    out.append(f"open reservation {h.id} has no lines and nothing in transit")
            elif h.lines:
                out.append(f"closed reservation {h.id} ({h.state}) still holds units")
            if (h.state == HELD) != (h.expires_us is not None):
                out.append(f"reservation {h.id} ({h.state}) has expiry {h.expires_us}")
            if h.expires_us is not None and (h.expires_us, h.id) not in self.holds.expiry:
                out.append(f"held reservation {h.id} missing from the expiry index")
            for (s, l), q in h.lines.items():
                if q <= 0:
                    out.append(f"reservation {h.id} has line qty {q}")
                expect[s, l] += q
                if h.id not in self.holds.by_pos.get((s, l), {}):
                    out.append(f"reservation {h.id} missing from position index")
        if len(self.holds.expiry) != sum(
            1 for h in self.holds.by_id.values() if h.expires_us is not None
        ):
            out.append("expiry index lists reservations that are not held")
        bad = np.argwhere(expect != res)
        for s, l in bad[:10]:
            out.append(
                f"reserved at ({g.skus[s]}, {g.locs[l]}) is {res[s, l]}, "
                f"reservations sum to {expect[s, l]}"
            )
        used: dict[tuple[str, int], int] = {}
        for h in self.holds.by_id.values():
            if h.channel is not None:
                for (s, _), q in h.lines.items():
                    used[(h.channel, s)] = used.get((h.channel, s), 0) + q
        for b in self.holds.batches.values():
            m = b.live_lines()
            if b.channel is not None:
                for a, v in _per_sku(b.s[m], b.q[m]):
                    used[(b.channel, a)] = used.get((b.channel, a), 0) + v
        if used != self.chan_used:
            out.append("per-channel reserved units disagree with the reservations")
        if (res < 0).any():
            out.append("a position has negative reserved")
        for p, v in g.safety.items():
            if v < 0:
                out.append(f"negative safety at {p}")
        for p, u in g.unsell.items():
            if len(u) != N_STATES or min(u) < 0:
                out.append(f"negative unsellable at {p}: {u}")
        for item in self.supply.by_id.values():
            if item.qty <= 0:
                out.append(f"supply {item.id} has qty {item.qty}")
        return out

    def _block_violations(self, expect: np.ndarray) -> list[str]:
        """Check every block; add its reserved lines to ``expect``."""
        out = []
        hs = self.holds
        detached: dict[str, list[str]] = {}  # token -> orders of its detached members
        for rid in hs.by_id:
            parts = heldbatches.split_rid(rid)
            if parts is not None and parts[1] in hs.batches:
                detached.setdefault(parts[1], []).append(parts[0])
        for token, b in hs.batches.items():
            if b.n_live != int(b.live.sum()) or b.n_live <= 0:
                out.append(f"block {token} counts {b.n_live} members, holds {b.live.sum()}")
            if ((b.exp, token) in hs.batch_expiry) == b.expired:
                out.append(f"block {token} (expired={b.expired}) misfiled in the expiry index")
            if (
                len(b.start) != len(b.orders) + 1
                or int(b.start[-1]) != len(b.s)
                or (np.diff(b.start) <= 0).any()
                or (b.q <= 0).any()
            ):
                out.append(f"block {token} has malformed lines")
            m = b.live_lines()
            np.add.at(expect, (b.s[m], b.l[m]), b.q[m])
            for order in detached.get(token, ()):
                j = b.index(order)
                if j is not None and b.live[j]:
                    out.append(f"reservation {b.rid(j)} is both in block {token} and detached")
        if len(hs.batch_expiry) != sum(1 for b in hs.batches.values() if not b.expired):
            out.append("block expiry index lists blocks that are not held")
        return out

    # -- snapshots ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise the state (no pickle: JSON header plus raw arrays)."""
        g = self.grid
        free, res = g.used()
        header = {
            "head": self.head,
            "last_ts": self.last_ts,
            "skus": g.skus,
            "locs": g.locs,
            **self._records(),
            "blocks": [heldbatches.to_record(b) for b in self.holds.batches.values()],
        }
        hb = json.dumps(header).encode()
        buf = io.BytesIO()
        buf.write(SNAPSHOT_MAGIC)
        buf.write(struct.pack("<QQQ", len(hb), free.shape[0], free.shape[1]))
        buf.write(hb)
        buf.write(np.ascontiguousarray(free).tobytes())
        buf.write(np.ascontiguousarray(res).tobytes())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LedgerState:
        if not blob.startswith(SNAPSHOT_MAGIC):
            raise StorageError("snapshot is not an omnistock snapshot (bad magic)")
        try:
            off = len(SNAPSHOT_MAGIC)
            hlen, ns, nl = struct.unpack_from("<QQQ", blob, off)
            off += 24
            header = json.loads(blob[off : off + hlen])
            off += hlen
            n = ns * nl * 8
            free = np.frombuffer(blob, dtype=np.int64, count=ns * nl, offset=off)
            res = np.frombuffer(blob, dtype=np.int64, count=ns * nl, offset=off + n)
            st = cls()
            g = st.grid
            g.reserve_capacity(max(ns, 1), max(nl, 1))
            for s in header["skus"]:
                g.sku(s)
            for name in header["locs"]:
                g.loc(name)
            g.holdable[:ns, :nl] = free.reshape(ns, nl)
            g.reserved[:ns, :nl] = res.reshape(ns, nl)
            g.safety = {(p[0], p[1]): v for p, v in header["safety"]}
            g.unsell = {(p[0], p[1]): u for p, u in header["unsell"]}
            # Creation order (seq), as replay creates them.
            for rec in sorted(header["holds"], key=lambda r: (r[5], r[10] if len(r) > 10 else 0)):
                st._load_hold(rec)
            st.holds.per_order = dict(header["per_order"])
            for h in st.holds.by_id.values():
                for (s, _), q in h.lines.items():
                    st._use(h.channel, s, q)
            for rec in header.get("blocks", ()):
                b = heldbatches.from_record(rec)
                st.holds.batches[b.token] = b
                if not b.expired:
                    st.holds.batch_expiry.add((b.exp, b.token))
                m = b.live_lines()
                st._use_many(b.channel, b.s[m], b.q[m])
            for sid, s, l, q, eta, kind, src, res in header["supply"]:
                st.supply.add(Incoming(sid, s, l, q, eta, kind, src, res))
            st.ranged = {(p[0], p[1]) for p in header["ranged"]}
            st.policy = header["policy"]
            st.locations = {d["id"]: Location.from_dict(d) for d in header["locations"]}
            st.channels = {d["id"]: Channel.from_dict(d) for d in header["channels"]}
            st.picks = {(loc, day): v for loc, day, v in header["picks"]}
            st.head = header["head"]
            st.last_ts = header["last_ts"]
            return st
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise StorageError(f"snapshot is corrupt: {exc}") from exc

    def _load_hold(self, rec: list[Any]) -> None:
        rid, state, order_id, channel, exp, seq, lines, shipped, dest, pickup = rec[:10]
        h = Hold(rid, order_id, channel, seq)
        h.sub = rec[10] if len(rec) > 10 else 0
        h.state = state
        self.holds.by_id[rid] = h
        for s, l, q in lines:
            self.holds.add_line(h, (s, l), q)
        h.shipped = {(s, l): q for s, l, q in shipped}
        h.dest = None if dest is None else (dest[0], dest[1])
        h.pickup = pickup
        self.holds.set_expiry(h, exp)


def _per_sku(s: np.ndarray, q: np.ndarray) -> list[tuple[int, int]]:
    """``(sku row, total units)`` over lines ``s``/``q``, each SKU once."""
    if not len(s):
        return []
    us, inv = np.unique(s, return_inverse=True)
    sums = np.zeros(len(us), dtype=np.int64)
    np.add.at(sums, inv, q)
    return list(zip(us.tolist(), sums.tolist(), strict=True))


def _hold_rec(h: Hold) -> list[Any]:
    return [
        h.id,
        h.state,
        h.order_id,
        h.channel,
        h.expires_us,
        h.seq,
        [[s, l, q] for (s, l), q in h.lines.items()],
        [[s, l, q] for (s, l), q in h.shipped.items()],  # first-shipped order, as live
        None if h.dest is None else list(h.dest),
        h.pickup,
        h.sub,
    ]


_HANDLERS: dict[str, Any] = {
    "location-added": LedgerState._location,
    "channel-added": LedgerState._channel,
    "received": LedgerState._received,
    "counted": LedgerState._counted,
    "sold": LedgerState._sold,
    "returned": LedgerState._returned,
    "written-off": LedgerState._written_off,
    "state-changed": LedgerState._state_changed,
    "safety-set": LedgerState._safety,
    "held": LedgerState._held,
    "committed": LedgerState._committed,
    "extended": LedgerState._extended,
    "released": LedgerState._released,
    "expired": LedgerState._expired,
    "fulfilled": LedgerState._fulfilled,
    "expected": LedgerState._expected,
    "transfer-out": LedgerState._transfer_out,
    "transfer-in": LedgerState._transfer_in,
    "picked": LedgerState._picked,
    "policy-set": LedgerState._policy,
    "claimed": LedgerState._claimed,
    heldbatches.HELD_BATCH: LedgerState._held_batch,
    heldbatches.EXPIRED_BATCH: LedgerState._expired_batch,
}
KINDS = tuple(_HANDLERS)
