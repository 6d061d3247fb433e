"""Snapshots and digests of a ``LedgerState``.

``to_bytes`` writes a snapshot (no pickle): ``SNAPSHOT_MAGIC``, then the
header's length and the grid's shape as three little-endian u64, then a
JSON header (head, names, every record, the blocks), then the used part of
the ``holdable`` and ``reserved`` grids as raw int64, then the ranged marks
of that part as bits (``np.packbits``, row-major; the header says
``"ranged_bits"``). Older snapshots list the ranged positions in the header
as ``[sku, location]`` pairs (a JSON list of 20M pairs took 20 s to write
and as long to read back); they still load. ``load`` reads one
back into a fresh state; a blob that is not a sound snapshot raises
``StorageError``. ``digest`` hashes every figure and record: equal digests
mean equal states. All three are O(state size). Headers without blocks or
without reservation sub-numbers (older snapshots) still load.

``seal`` wraps a snapshot for the store: ``SEAL_MAGIC``, the seq it was
taken at, the chain hash of the journal row at that seq (``storage.chain``)
and a SHA-256 checksum of all of it and the stored bytes, which are the
snapshot compressed (zlib): a ledger's grids are dense, SKUs x locations,
and mostly zeros (100k SKUs x 200 locations with 100k positions stocked:
305 MB raw, about 2 MB stored). Snapshots sealed uncompressed by an older
omnistock (``SEAL_MAGIC_RAW``) still unseal. ``unseal``
gives the snapshot back only if the checksum, the seq and the row hash all
match, so a corrupt or edited snapshot, one stored under another seq, or
one taken from another journal is refused (``StorageError`` saying why)
and the caller replays the journal instead (``audit.restore``). The
checksum catches corruption and careless edits, not a forger who
recomputes it: ``check()`` replays the whole journal and compares, so a
forged snapshot is still caught there.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StorageError
from ..skus import Sku
from ..values import Channel, Location
from . import heldbatches
from .fold import use, use_many
from .grid import N_STATES
from .holds import Hold
from .supply import Incoming

if TYPE_CHECKING:
    from .fields import LedgerFields as LedgerState

SNAPSHOT_MAGIC = b"OMNISNAP1\n"
_OLD_STATES = 4  # unsellable states before "expired"
SEAL_MAGIC = b"OMNISEAL2\n"  # the payload compressed
SEAL_MAGIC_RAW = b"OMNISEAL1\n"  # the payload as is (older snapshots)
_LEVEL = 1  # zlib's fastest: zeros compress as well, the rest nearly so
_SEAL = struct.Struct("<qB16s")  # seq, has a row hash, the row hash
_SUM = 32  # a SHA-256 checksum follows the seal header


def seal(payload: bytes, seq: int, row_hash: bytes | None) -> bytes:
    """``payload`` (``to_bytes``) compressed and sealed with the seq it was
    taken at, the journal's chain hash at that seq (None for a store that
    keeps no chain) and a checksum of both and the compressed bytes. O(size):
    one zlib pass, one SHA-256 pass over what it stores."""
    return _sealed(zlib.compress(payload, _LEVEL), seq, row_hash)


def _sealed(body: bytes, seq: int, row_hash: bytes | None) -> bytes:
    """The compressed ``body`` behind its seal: magic, seq, row hash and
    the checksum of all of them and ``body``."""
    head = SEAL_MAGIC + _SEAL.pack(seq, row_hash is not None, row_hash or bytes(16))
    h = hashlib.sha256(head)
    h.update(body)
    return b"".join((head, h.digest(), body))


def unseal(blob: bytes, seq: int, row_hash: bytes | None) -> bytes:
    """The payload of a sealed snapshot stored at ``seq``, if it is sound
    and matches the journal, whose chain hash at ``seq`` is ``row_hash``.
    Raises ``StorageError`` saying why it is refused."""
    off = check_seal(blob, seq, row_hash)
    if blob.startswith(SEAL_MAGIC_RAW):
        return blob[off:]
    return _inflate(memoryview(blob)[off:], seq)


def check_seal(blob: bytes, seq: int, row_hash: bytes | None) -> int:
    """``unseal``'s checks without decompressing: ``StorageError`` saying
    why the snapshot is refused, else where its body starts (``load``
    reads a sealed blob as it decompresses). O(size): one SHA-256 pass."""
    if not blob.startswith((SEAL_MAGIC, SEAL_MAGIC_RAW)):
        why = (
            "an unsealed snapshot from an older omnistock"
            if blob.startswith(SNAPSHOT_MAGIC)
            else "not a sealed omnistock snapshot"
        )
        raise StorageError(f"snapshot at seq {seq} is {why}")
    off = len(SEAL_MAGIC) + _SEAL.size
    if len(blob) < off + _SUM:
        raise StorageError(f"snapshot at seq {seq} is truncated ({len(blob)} bytes)")
    view = memoryview(blob)
    h = hashlib.sha256(view[:off])
    h.update(view[off + _SUM :])
    if h.digest() != blob[off : off + _SUM]:
        raise StorageError(
            f"snapshot at seq {seq}: its checksum does not match its bytes (corrupt, "
            "truncated or edited)"
        )
    at, has_hash, sealed_hash = _SEAL.unpack_from(blob, len(SEAL_MAGIC))
    if at != seq:
        raise StorageError(f"snapshot stored at seq {seq} was taken at seq {at}")
    if (sealed_hash if has_hash else None) != row_hash:
        raise StorageError(
            f"snapshot at seq {seq} does not match the journal: the journal's row {seq} "
            "has another chain hash (or none), so the snapshot was taken from another "
            "journal, or the journal was changed since"
        )
    return off + _SUM


def _inflate(body: Any, seq: int | None) -> bytes:
    """A sealed snapshot's compressed payload, decompressed."""
    try:
        return zlib.decompress(body)
    except zlib.error as exc:
        at = "" if seq is None else f" at seq {seq}"
        raise StorageError(f"snapshot{at} does not decompress: {exc}") from None


_IN = 1 << 20  # compressed bytes fed to the decompressor at a time


class _Payload:
    """A snapshot's payload read in order, ``read(n)`` bytes at a time:
    from the bytes themselves, or (a compressed body) decompressed as it
    is read, so loading never holds the whole payload beside the ledger
    it fills. ``StorageError`` if it ends early or does not decompress."""

    def __init__(self, body: Any, compressed: bool) -> None:
        self._src = memoryview(body)
        self._pos = 0
        self._z = zlib.decompressobj() if compressed else None
        self._buf = bytearray()  # decompressed, not read yet

    def read(self, n: int) -> Any:
        """The next ``n`` bytes (a buffer numpy and json can read)."""
        if self._z is None:
            end = self._pos + n
            if end > len(self._src):
                raise StorageError("snapshot is corrupt: it ends early")
            view = self._src[self._pos : end]
            self._pos = end
            return view
        try:
            while len(self._buf) < n:
                tail: Any = self._z.unconsumed_tail
                if not tail:
                    tail = self._src[self._pos : self._pos + _IN]
                    self._pos += len(tail)
                if not tail or self._z.eof:
                    raise StorageError("snapshot is corrupt: it ends early")
                self._buf += self._z.decompress(tail, max(n - len(self._buf), _IN))
        except zlib.error as exc:
            raise StorageError(f"snapshot does not decompress: {exc}") from None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def digest(st: LedgerState) -> str:
    """A hash of every figure and record; equal digests mean equal state.

    Blocks are hashed as their arrays, O(their size) in C: which
    reservations are still kept in a block is itself fixed by the journal
    (only applying a row detaches one; a rolled-back savepoint restores
    its blocks; snapshots keep them), so a replay, a snapshot and the
    live ledger keep them alike."""
    g = st.grid
    free, res = g.used()
    ns, nl = g.shape
    h = hashlib.sha256()
    h.update(json.dumps([g.skus, g.locs, st.head]).encode())
    h.update(np.ascontiguousarray(free).tobytes())
    h.update(np.ascontiguousarray(res).tobytes())
    # The ranged marks as bits of the used part: no Python object a position.
    h.update(np.packbits(st.ranged.marks[:ns, :nl], axis=None).tobytes())
    h.update(json.dumps(_records(st), sort_keys=True).encode())
    for token in sorted(st.holds.batches):
        b = st.holds.batches[token]
        h.update(json.dumps([token, b.seq, b.exp, b.channel, b.expired]).encode())
        h.update("\x1f".join(b.orders).encode())
        for a in (b.start, b.s, b.l, b.q):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(b.live, dtype=np.bool_).tobytes())
    return h.hexdigest()


def _records(st: LedgerState) -> dict[str, Any]:
    """Every record but the blocks and the ranged marks, as plain data
    (digest, snapshots: both keep the marks as bits)."""
    g = st.grid
    holds = st.holds.by_id.values()
    out = {
        "safety": sorted([list(p), v] for p, v in g.safety.items()),
        "unsell": sorted([list(p), _trim(u)] for p, u in g.unsell.items()),
        "holds": sorted(_hold_rec(h) for h in holds),
        "per_order": sorted(st.holds.per_order.items()),
        "supply": sorted(
            [i.id, i.sku, i.loc, i.qty, i.eta_us, i.kind, i.src, i.res]
            + ([[[r, q] for r, q in i.booked.items()]] if i.booked else [])  # FIFO order
            for i in st.supply.by_id.values()
        ),
        "policy": st.policy,
        "locations": [st.locations[k].to_dict() for k in sorted(st.locations)],
        "channels": [st.channels[k].to_dict() for k in sorted(st.channels)],
        "picks": sorted([k[0], k[1], v] for k, v in st.picks.items()),
    }
    if st.kits:  # only when used: a ledger without kits keeps its old records
        out["kits"] = sorted([k, list(map(list, c.items()))] for k, c in st.kits.items())
    th = st.thresholds
    if th:  # only when used: a ledger without thresholds keeps its old records
        out["thresholds"] = sorted([list(m) for m in th.marks()], key=_by_name)
        out["alerted"] = sorted([list(c) for c in th.counts()], key=_by_name)
    if st.catalogue:  # only when used, as thresholds
        out["catalogue"] = [st.catalogue[k].to_dict() for k in sorted(st.catalogue)]
    if st.lots.by_pos:  # only when used: a ledger without lots keeps its old records
        out["lots"] = st.lots.records()
    return out


def _trim(u: list[int]) -> list[int]:
    """An unsellable record without the states added since the first four
    (``expired``) while they are zero: old snapshots and digests stay as
    they were."""
    return u if any(u[_OLD_STATES:]) else u[:_OLD_STATES]


def _by_name(rec: list[Any]) -> tuple[str, str]:
    return rec[0], "" if rec[1] is None else rec[1]


def _hold_rec(h: Hold) -> list[Any]:
    # Where it picked (daily capacity), how many transfers it had, its
    # backordered units and its kits are appended only when there are some
    # (trailing empties dropped): a record without them is written as before.
    extra: list[Any] = [
        sorted([loc, day] for loc, day in h.picked.items()),
        h.transfers,
        sorted([k, v] for k, v in h.waiting.items()),
        sorted([k, l, n] for (k, l), n in h.kits.items()),
    ]
    while extra and not extra[-1]:
        extra.pop()
    picked = extra
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
        *picked,
    ]


def to_bytes(st: LedgerState) -> bytes:
    """Serialise ``st`` (no pickle: JSON header plus raw arrays)."""
    return b"".join(_pieces(st))


def seal_state(st: LedgerState, seq: int, row_hash: bytes | None) -> bytes:
    """``seal(to_bytes(st), seq, row_hash)``, byte for byte, without ever
    holding the whole payload: it is compressed piece by piece (a few MB of
    grid rows each), so saving a snapshot of a 300 MB ledger costs about
    what is stored on top of the ledger, not twice its size."""
    z = zlib.compressobj(_LEVEL)
    parts = [z.compress(piece) for piece in _pieces(st)]
    parts.append(z.flush())
    return _sealed(b"".join(parts), seq, row_hash)


_ROWS = 4096  # grid rows a piece: 6.5 MB at 200 locations


def _pieces(st: LedgerState) -> Iterator[bytes]:
    """The snapshot's bytes in order: magic and sizes, the header, the
    grids a few thousand rows at a time, the ranged bits."""
    g = st.grid
    free, res = g.used()
    header = {
        "head": st.head,
        "last_ts": st.last_ts,
        "skus": g.skus,
        "locs": g.locs,
        **_records(st),
        "ranged_bits": True,
        "blocks": [heldbatches.to_record(b) for b in st.holds.batches.values()],
    }
    hb = json.dumps(header).encode()
    ns, nl = free.shape
    yield SNAPSHOT_MAGIC + struct.pack("<QQQ", len(hb), ns, nl)
    yield hb
    for grid in (free, res):
        for i in range(0, ns, _ROWS):
            yield np.ascontiguousarray(grid[i : i + _ROWS]).tobytes()
    yield np.packbits(st.ranged.marks[:ns, :nl], axis=None).tobytes()


def load(st: LedgerState, blob: bytes) -> LedgerState:
    """Fill ``st``, a fresh state, from the snapshot ``blob``; returns it.
    A sealed blob is read past its seal without checking it: ``unseal`` (as
    ``audit.from_snapshot`` does) checks it. A compressed one is
    decompressed as it is read: the grids a few thousand rows at a time."""
    body = memoryview(blob)
    sealed = blob.startswith((SEAL_MAGIC, SEAL_MAGIC_RAW))
    if sealed:
        body = body[len(SEAL_MAGIC) + _SEAL.size + _SUM :]
    stream = _Payload(body, compressed=blob.startswith(SEAL_MAGIC))
    if bytes(stream.read(len(SNAPSHOT_MAGIC))) != SNAPSHOT_MAGIC:
        raise StorageError("snapshot is not an omnistock snapshot (bad magic)")
    try:
        hlen, ns, nl = struct.unpack("<QQQ", stream.read(24))
        header = json.loads(bytes(stream.read(hlen)))
        if (ns, nl) != (len(header["skus"]), len(header["locs"])):
            # Checked before the grids are sized by it: a forged size must
            # not allocate terabytes.
            raise ValueError(f"a {ns} x {nl} grid for {len(header['skus'])} SKUs")
        g = st.grid
        g.reserve_capacity(max(ns, 1), max(nl, 1))
        for s in header["skus"]:
            g.sku(s)
        for name in header["locs"]:
            g.loc(name)
        for grid in (g.holdable, g.reserved):
            for i in range(0, ns, _ROWS):
                k = min(_ROWS, ns - i)
                rows = np.frombuffer(stream.read(k * nl * 8), dtype=np.int64)
                grid[i : i + k, :nl] = rows.reshape(k, nl)
        g.safety = {(p[0], p[1]): v for p, v in header["safety"]}
        # Older snapshots kept fewer unsellable states (no "expired"): pad.
        g.unsell = {(p[0], p[1]): u + [0] * (N_STATES - len(u)) for p, u in header["unsell"]}
        # Creation order (seq), as replay creates them.
        for rec in sorted(header["holds"], key=lambda r: (r[5], r[10] if len(r) > 10 else 0)):
            _load_hold(st, rec)
        st.holds.per_order = dict(header["per_order"])
        for h in st.holds.by_id.values():
            for (s, _), q in h.lines.items():
                use(st, h.channel, s, q)
        for rec in header.get("blocks", ()):
            b = heldbatches.from_record(rec)
            st.holds.batches[b.token] = b
            if not b.expired:
                st.holds.batch_expiry.add((b.exp, b.token))
            m = b.live_lines()
            use_many(st, b.channel, b.s[m], b.q[m])
        for rec in header["supply"]:
            booked = {r: q for r, q in rec[8]} if len(rec) > 8 else None
            sid, s, l, q, eta, kind, src, r = rec[:8]
            st.supply.add(Incoming(sid, s, l, q, eta, kind, src, r, booked))
        if header.get("ranged_bits"):
            bits = np.frombuffer(stream.read((ns * nl + 7) // 8), dtype=np.uint8)
            marks = np.unpackbits(bits, count=ns * nl).reshape(ns, nl)
            st.ranged.marks[:ns, :nl] = marks.astype(np.bool_)
        else:  # an older snapshot: the pairs in the header
            ranged = np.asarray(header["ranged"], dtype=np.int64).reshape(-1, 2)
            if len(ranged) and not (
                (ranged >= 0).all() and (ranged[:, 0] < ns).all() and (ranged[:, 1] < nl).all()
            ):
                raise ValueError("a ranged position lies outside the grid")
            st.ranged.add_many(ranged[:, 0], ranged[:, 1])
        st.policy = header["policy"]
        st.locations = {d["id"]: Location.from_dict(d) for d in header["locations"]}
        st.channels = {d["id"]: Channel.from_dict(d) for d in header["channels"]}
        st.picks = {(loc, day): v for loc, day, v in header["picks"]}
        for kit, comps in header.get("kits", ()):
            st.kits.define(kit, {c: q for c, q in comps})
        for sku, loc, low in header.get("thresholds", ()):
            st.thresholds.put(sku, loc, low)
        for sku, loc, n in header.get("alerted", ()):
            st.thresholds.set_count(sku, loc, n)
        st.catalogue = {d["id"]: Sku.from_dict(d) for d in header.get("catalogue", ())}
        if "lots" in header:
            st.lots.load(header["lots"])
        st.head = header["head"]
        st.last_ts = header["last_ts"]
        return st
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise StorageError(f"snapshot is corrupt: {exc}") from exc


def _load_hold(st: LedgerState, rec: list[Any]) -> None:
    rid, state, order_id, channel, exp, seq, lines, shipped, dest, pickup = rec[:10]
    h = Hold(rid, order_id, channel, seq)
    h.sub = rec[10] if len(rec) > 10 else 0
    h.state = state
    st.holds.by_id[rid] = h
    for s, l, q in lines:
        st.holds.add_line(h, (s, l), q)
    h.shipped = {(s, l): q for s, l, q in shipped}
    h.dest = None if dest is None else (dest[0], dest[1])
    h.pickup = pickup
    h.picked = {loc: day for loc, day in rec[11]} if len(rec) > 11 else {}
    h.transfers = int(rec[12]) if len(rec) > 12 else 0
    h.waiting = {sid: q for sid, q in rec[13]} if len(rec) > 13 else {}
    h.kits = {(k, l): n for k, l, n in rec[14]} if len(rec) > 14 else {}
    st.holds.set_expiry(h, exp)
