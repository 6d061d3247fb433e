"""Hold blocks: many reservations made by one journal row, kept as arrays.

``hold_many(HoldBatch)`` reserves thousands of orders in one command. Each
becomes a reservation of its own (``<order>#<token>``), but building a
``Hold`` record, an expiry entry and position-index entries per order costs
microseconds each, more than the reservation itself. A block keeps them as
columns instead: the accepted orders, their lines (CSR ``start`` over
``s``/``l``/``q`` grid indices), one shared expiry and a ``live`` mask.

A member leaves the block the first time a command names it (commit,
release, extend, ship, a shortage, a transfer): ``Holds.need`` detaches it
into an ordinary ``Hold`` with the same id, lines, seq and expiry, so every
other command works unchanged. Reads never detach; they see a synthesised
copy. What stays in the block at its expiry is expired by one
``expired-batch`` row. Detaching changes the representation, not what a
reservation is; and since only applying a journal row detaches one (a
rolled-back savepoint restores its blocks, snapshots keep them), which
members are still in a block is fixed by the journal, so the digest hashes
blocks as arrays and a replay still equals the live ledger.

Journal rows (one per command; ``sku`` is ``BATCH_SKU``, the empty string,
so a partitioned store treats them as touching every partition, and
``location`` is None)::

    held-batch     ref=<token>  qty=units  data={"exp", "orders", "skus", "locs",
                                                 "loc", "q"[, "start"]}
    expired-batch  ref=<token>  qty=units  data={"orders", "skus"}

Names, not grid indices, so a row means the same in every process whatever
order its grid interned them in. ``orders`` (one per order) and ``skus``
(one per line) are packed strings (``pack_strs``: the concatenation and the
lengths); ``locs`` is a table of the batch's locations and ``loc`` an index
into it per line; ``q`` and ``start`` are integer arrays in base64 at
their narrowest width (``pack_ints``). An expired-batch row lists the
orders still in the block and each SKU once. About 20 bytes an order;
encoding 10,000 takes well under a millisecond, where JSON lists of numbers
take about 5 ms.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .grid import Grid, Pos
from .rows import BATCH_KINDS as BATCH_KINDS  # re-exported for the block's readers
from .rows import Kind

# The block kinds' journal strings (their home is ``rows.Kind``).
HELD_BATCH: str = Kind.HELD_BATCH.value
EXPIRED_BATCH: str = Kind.EXPIRED_BATCH.value
# The SKU column of a block row. No SKU id can be empty, so
# ``history(sku=...)`` finds block rows through the stores' SKU index, and a
# partitioned store treats the row as touching every partition (it spans SKUs).
BATCH_SKU = ""
_WIDTHS = (("1", "u1", 2**8), ("2", "<u2", 2**16), ("4", "<u4", 2**32), ("8", "<i8", 2**63))


def _pack(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _unpack(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(np.int64)


def pack_ints(a: np.ndarray) -> str:
    """Non-negative ints in the narrowest width that holds them, base64,
    behind a one-character width code. 10,000 small quantities: 13 KB."""
    top = int(a.max()) if len(a) else 0
    code, dtype, _ = next(w for w in _WIDTHS if top < w[2])
    return code + _pack(a, dtype)


def unpack_ints(text: str) -> np.ndarray:
    dtype = {w[0]: w[1] for w in _WIDTHS}[text[:1]]
    return _unpack(text[1:], dtype)


class PackedNames(Sequence[str]):
    """Strings kept as their concatenation and lengths, as a journal row
    stores them: ``p[j]`` slices one out (O(1) after an O(n) prefix sum on
    first use), and the list is only split if iterated."""

    __slots__ = ("_ends", "_items", "joined", "lens")

    def __init__(self, joined: str, lens: np.ndarray) -> None:
        self.joined = joined
        self.lens = lens
        self._ends: list[int] | None = None
        self._items: list[str] | None = None

    def __len__(self) -> int:
        return len(self.lens)

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return list(self)[j]
        ends = self._ends
        if ends is None:
            ends = self._ends = [0, *np.cumsum(self.lens).tolist()]
        return self.joined[ends[j] : ends[j + 1]] if j >= 0 else self[len(self) + j]

    def __iter__(self) -> Iterator[str]:
        items = self._items
        if items is None:
            items = self._items = unpack_strs([self.joined, self.lens])
        return iter(items)


def pack_strs(names: Sequence[str], lens: np.ndarray | None = None) -> list[str]:
    """Strings as ``[concatenation, lengths]``: no separator to escape, and
    an id is at most 200 characters, so a length costs 1.33 bytes."""
    if isinstance(names, PackedNames):
        return [names.joined, pack_ints(names.lens)]
    if lens is None:
        lens = np.fromiter(map(len, names), np.int64, len(names))
    return ["".join(names), pack_ints(lens)]


def unpack_strs(v: list[Any]) -> list[str]:
    """The strings of ``pack_strs`` (the lengths packed, or an array)."""
    text, lens = v
    ends = np.cumsum(unpack_ints(lens) if isinstance(lens, str) else lens).tolist()
    return [text[a:b] for a, b in zip([0, *ends][: len(ends)], ends, strict=True)]


def packed(v: list[str]) -> PackedNames:
    """The strings of ``pack_strs``, left packed."""
    return PackedNames(v[0], unpack_ints(v[1]))


def columns(d: dict[str, Any]) -> tuple[list[str], np.ndarray, list[str], list[str], np.ndarray]:
    """``(orders, start, skus, locs, q)`` of a ``held-batch`` row's parsed
    data: ``skus``/``locs``/``q`` one per line."""
    orders = unpack_strs(d["orders"])
    start = unpack_ints(d["start"]) if "start" in d else np.arange(len(orders) + 1, dtype=np.int64)
    names = unpack_strs(d["locs"])
    locs = [names[i] for i in unpack_ints(d["loc"]).tolist()]
    return orders, start, unpack_strs(d["skus"]), locs, unpack_ints(d["q"])


def split_rid(rid: str) -> tuple[str, str] | None:
    """``(order_id, token)`` of a block member's id, None for any other id.
    Tokens start with ``b`` and a hex digit run; ordinary ids end ``#<n>``."""
    order, sep, token = rid.rpartition("#")
    if not sep or not token.startswith("b"):
        return None
    return order, token


class HeldBatch:
    """The reservations one ``held-batch`` row made (see the module doc)."""

    __slots__ = (
        "_index",
        "channel",
        "exp",
        "expired",
        "l",
        "live",
        "n_live",
        "orders",
        "q",
        "s",
        "seq",
        "start",
        "token",
    )

    def __init__(
        self,
        token: str,
        seq: int,
        exp: int,
        channel: str | None,
        orders: Sequence[str],
        start: np.ndarray,
        s: np.ndarray,
        l: np.ndarray,
        q: np.ndarray,
    ) -> None:
        self.token = token
        self.seq = seq
        self.exp = exp
        self.channel = channel
        self.orders = orders
        self.start = start
        self.s = s
        self.l = l
        self.q = q
        # Members still kept here (not detached into a ``Hold``), and how many.
        self.live = np.ones(len(orders), dtype=np.bool_)
        self.n_live = len(orders)
        # Past its expiry: the members still here are expired, with no lines.
        self.expired = False
        self._index: dict[str, int] | None = None

    def index(self, order_id: str) -> int | None:
        """Position of ``order_id`` in the block (built on first use, O(n))."""
        if self._index is None:
            self._index = {o: j for j, o in enumerate(self.orders)}
        return self._index.get(order_id)

    def rid(self, j: int) -> str:
        return f"{self.orders[j]}#{self.token}"

    def lines(self, j: int) -> dict[Pos, int]:
        out: dict[Pos, int] = {}
        for k in range(int(self.start[j]), int(self.start[j + 1])):
            p = (int(self.s[k]), int(self.l[k]))
            out[p] = out.get(p, 0) + int(self.q[k])
        return out

    def live_lines(self) -> np.ndarray:
        """Mask over lines still reserved by the block: its members' lines
        until the block expires, none after."""
        if self.expired:
            return np.zeros(len(self.s), dtype=np.bool_)
        return np.repeat(self.live, np.diff(self.start))

    def live_members(self) -> Iterator[int]:
        return (int(j) for j in np.flatnonzero(self.live))

    def copy(self) -> HeldBatch:
        b = HeldBatch(
            self.token,
            self.seq,
            self.exp,
            self.channel,
            self.orders,
            self.start,
            self.s,
            self.l,
            self.q,
        )
        b.live = self.live.copy()
        b.n_live = self.n_live
        b.expired = self.expired
        b._index = self._index
        return b


def encode(
    orders: PackedNames,
    start: np.ndarray | None,
    skus: PackedNames,
    table: np.ndarray,
    li: np.ndarray,
    q: np.ndarray,
    exp: int,
    g: Grid,
) -> str:
    """The ``held-batch`` row's data text (see the module doc): order ids
    and SKU names as packed strings, locations (few) by a name table
    (``table``: grid indices) and an index into it per line (``li``),
    quantities in their narrowest width. O(lines + locations), all of it
    in C. About 20 bytes an order."""
    o, sk = pack_strs(orders), pack_strs(skus)
    lt = pack_strs([g.locs[i] for i in table.tolist()])
    # The JSON json.dumps would write, without it scanning the base64 parts
    # (tens of kilobytes) for characters to escape: only names can hold any.
    parts = [
        f'{{"exp":{int(exp)},"orders":[',
        _json_str(o[0]),
        f',"{o[1]}"],"skus":[',
        _json_str(sk[0]),
        f',"{sk[1]}"],"locs":[',
        _json_str(lt[0]),
        f',"{lt[1]}"],"loc":"{pack_ints(li)}","q":"{pack_ints(q)}"',
    ]
    if start is not None:
        parts.append(f',"start":"{pack_ints(start)}"')
    parts.append("}")
    return "".join(parts)


def _json_str(text: str) -> str:
    """``text`` as a JSON string, as ``json.dumps(..., ensure_ascii=False)``
    writes it. Journaled names are ids, which are printable, so only a
    quote or a backslash needs escaping. O(len), a C scan."""
    if '"' in text or "\\" in text:
        return json.dumps(text, ensure_ascii=False)
    return f'"{text}"'


def resolve(d: dict[str, Any], g: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(start, s, l, q)`` as grid indices from a row's data, interning
    names the grid has not seen (replay in a fresh process). O(lines)."""
    if "S" in d:  # planned in this process: already grid indices
        return d["start"], d["S"], d["L"], d["Q"]
    _orders, start, skus, locs, q = columns(d)
    sku, loc = g.sku, g.loc
    s = np.fromiter(map(sku, skus), np.int64, len(skus))
    l = np.fromiter(map(loc, locs), np.int64, len(locs))
    return start, s, l, q


def orders_of(d: dict[str, Any]) -> Sequence[str]:
    """The order ids of a block row's data (held- or expired-batch), left
    packed; a row planned in this process carries them packed already."""
    o = d["orders"]
    return o if "S" in d else packed(o)


def to_record(b: HeldBatch) -> list[Any]:
    """A block as JSON-able data for a snapshot (grid indices: a snapshot
    carries its own grid order)."""
    return [
        b.token,
        b.seq,
        b.exp,
        b.channel,
        pack_strs(b.orders),
        b.expired,
        _pack(b.live, "u1"),
        _pack(b.start, "<i8"),
        _pack(b.s, "<i8"),
        _pack(b.l, "<i8"),
        _pack(b.q, "<i8"),
    ]


def from_record(rec: list[Any]) -> HeldBatch:
    token, seq, exp, channel, orders, expired, live, start, s, l, q = rec
    b = HeldBatch(
        token,
        seq,
        exp,
        channel,
        packed(orders),
        _unpack(start, "<i8"),
        _unpack(s, "<i8"),
        _unpack(l, "<i8"),
        _unpack(q, "<i8"),
    )
    b.live = np.frombuffer(base64.b64decode(live), dtype="u1").astype(np.bool_)
    b.n_live = int(b.live.sum())
    b.expired = bool(expired)
    return b


def row_skus(kind: str, data: str | None) -> list[str]:
    """The SKU names a block row touches (for readers of the raw journal,
    such as a marketplace delta feed)."""
    if kind not in BATCH_KINDS or data is None:
        return []
    return list(set(unpack_strs(json.loads(data)["skus"])))
