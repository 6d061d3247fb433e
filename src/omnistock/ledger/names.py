"""Many names at once: lengths, duplicates and lookups in kernels.

The bulk path handles columns of thousands of ids. Per element in Python,
``len`` costs about 30 ns, a ``set`` insert about 20 ns, and a dict lookup
plus turning the ints it returns into an array about 60 ns, more when the
strings are cold. Here columns are encoded once as UTF-32 with a NUL
between names (ids are printable, so a NUL cannot occur inside one; a
column where it does is reported, and the caller checks element by
element), and kernels walk that buffer: one pass for where each name starts
and whether all of it is printable ASCII, one hash-table pass for
duplicates or for the positions of names in a ``NameIndex``. (A batch's
held subset is gathered from the same buffer by ``kernels.compact_held``.)

Hash (``_hash``, an njit helper both probing kernels call): two code
points per 64-bit multiply, then murmur3's finaliser; a table slot holds
the hash's high 32 bits and where the name's entry starts plus one (0 is
empty), linear probing, at most half full. Names are compared in full on a
tag match (``_is_entry``, shared too), so a hash collision never conflates
two names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .compiler import helper, kernel

# ``NameBuffer.charset`` codes, as ``_offsets`` returns them: a malformed
# buffer (or a name no id can be), some name not printable ASCII, all ASCII.
BAD, OTHER, ASCII = -1, 0, 1

BUF = "Array(uint32, 1, 'C', readonly=True)"  # straight from ``str.encode``
OFFS = "int64[::1]"
TABLE = "uint64[::1]"


@helper
def _hash(buf: Any, a: Any, e: Any) -> Any:
    """The 64-bit hash of the name ``buf[a:e]``: two code points a multiply
    (half the latency of one), then murmur3's finaliser, since the low bits
    mix poorly. O(e - a)."""
    h = np.uint64(e - a)
    for k in range(a, e - 1, 2):
        h = (h ^ (np.uint64(buf[k]) | (np.uint64(buf[k + 1]) << np.uint64(32)))) * np.uint64(
            0x9E3779B97F4A7C15
        )
    if (e - a) & 1:
        h = (h ^ np.uint64(buf[e - 1])) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


@helper
def _is_entry(ent: Any, q: Any, buf: Any, a: Any, e: Any) -> Any:
    """Whether the entry whose code points start at ``ent[q]`` is the name
    ``buf[a:e]`` (the same code points, then the entry's 0). O(e - a)."""
    for k in range(e - a):
        if ent[q + k] != buf[a + k]:
            return False
    return ent[q + e - a] == 0


@kernel(f"int64({BUF}, {OFFS})")
def _offsets(buf: Any, offs: Any) -> Any:
    """Fill ``offs`` (one more than there are names, at least 2) with where
    each NUL-separated name of ``buf`` starts, and ``offs[-1] = len(buf) +
    1``, so name ``i`` is ``buf[offs[i]:offs[i + 1] - 1]``. Returns -1
    unless ``buf`` holds exactly ``len(offs) - 1`` names, else 1 when every
    code point is printable ASCII (0x20-0x7e), else 0: ``BAD``, ``ASCII``,
    ``OTHER``. O(len(buf))."""
    n = offs.shape[0] - 1
    j = 0
    charset = ASCII
    offs[0] = 0
    for i in range(buf.shape[0]):
        c = buf[i]
        if c == 0:
            j += 1
            if j >= n:
                return BAD
            offs[j] = i + 1
        elif c < 0x20 or c > 0x7E:
            charset = OTHER
    if j != n - 1:
        return BAD
    offs[n] = buf.shape[0] + 1
    return charset


@kernel(f"int64({TABLE}, uint32[::1], int64, {BUF}, {OFFS}, int64)")
def _append(table: Any, ent: Any, used: int, buf: Any, offs: Any, lo: int) -> Any:
    """Append the names of ``(buf, offs)`` to the entries ``ent[:used]`` as
    ``[lo + i, code points..., 0]`` and insert each into ``table`` (a slot
    holds the hash's high 32 bits and the entry's start plus one; 0 is
    empty). Returns the new ``used``, or ``-(i + 1)`` for the first name
    ``i`` equal to one already there (the rest are not appended).
    O(characters) expected."""
    mask = np.uint64(table.shape[0] - 1)
    p = used
    for i in range(offs.shape[0] - 1):
        a, e = offs[i], offs[i + 1] - 1
        h = _hash(buf, a, e)
        tag = h >> np.uint64(32)
        slot = h & mask
        while True:
            v = table[slot]
            if v == 0:
                table[slot] = (tag << np.uint64(32)) | np.uint64(p + 1)
                break
            if (v >> np.uint64(32)) == tag:
                q = np.int64(v & np.uint64(0xFFFFFFFF))  # the entry's first code point
                if _is_entry(ent, q, buf, a, e):
                    return -(i + 1)
            slot = (slot + np.uint64(1)) & mask
        ent[p] = lo + i
        for k in range(a, e):
            ent[p + 1 + k - a] = buf[k]
        ent[p + 1 + e - a] = 0
        p += e - a + 2
    return p


@kernel(f"int64({TABLE}, {BUF}, {BUF}, {OFFS}, {OFFS})")
def _find(table: Any, ent: Any, qbuf: Any, qoffs: Any, out: Any) -> Any:
    """``out[i]``: the position of query name ``i`` of ``(qbuf, qoffs)`` in
    the names ``_append`` indexed (``ent``, ``table``), or -1. Returns how
    many are -1. A hit reads one slot and one entry. O(characters)
    expected."""
    mask = np.uint64(table.shape[0] - 1)
    missing = 0
    for i in range(qoffs.shape[0] - 1):
        a, e = qoffs[i], qoffs[i + 1] - 1
        h = _hash(qbuf, a, e)
        tag = h >> np.uint64(32)
        slot = h & mask
        found = np.int64(-1)
        while True:
            v = table[slot]
            if v == 0:
                break
            if (v >> np.uint64(32)) == tag:
                q = np.int64(v & np.uint64(0xFFFFFFFF))
                if _is_entry(ent, q, qbuf, a, e):
                    found = np.int64(ent[q - 1])
                    break
            slot = (slot + np.uint64(1)) & mask
        out[i] = found
        if found < 0:
            missing += 1
    return missing


class NameBuffer:
    """Names as one UTF-32 buffer of NUL-separated names and where each
    starts (``offs``, one more than there are names; name ``i`` is
    ``buf[offs[i]:offs[i + 1] - 1]``). ``charset``: ``ASCII`` (every character
    printable ASCII), ``OTHER`` or ``BAD`` (an element is not a string, or
    holds a NUL or a lone surrogate: ``buf`` and ``offs`` are then
    unusable). Several columns can share one buffer: ``part`` views a range
    of it. O(characters), mostly ``str.join``."""

    __slots__ = ("buf", "charset", "offs")

    def __init__(self, *columns: Sequence[str]) -> None:
        n = sum(map(len, columns))
        self.offs = np.zeros(n + 1, dtype=np.int64)
        self.buf = np.zeros(0, dtype=np.uint32)
        if not n:
            self.charset = ASCII
            return
        try:  # a join per column: joining one chained iterator is twice as slow
            text = "\x00".join(["\x00".join(c) for c in columns if len(c)])
            raw = text.encode("utf-32-le")
        except (TypeError, UnicodeEncodeError):
            self.charset = BAD
            return
        self.buf = np.frombuffer(raw, dtype=np.uint32)
        self.charset = int(_offsets(self.buf, self.offs))

    def part(self, lo: int, hi: int) -> NameBuffer:
        """Names ``lo..hi-1`` as their own ``NameBuffer`` (a view, O(1)). Its
        ``charset`` is the whole buffer's: ``ASCII`` still holds for the part,
        ``OTHER`` only says some name in the buffer is not ASCII."""
        e = NameBuffer.__new__(NameBuffer)
        e.buf, e.offs, e.charset = self.buf, self.offs[lo : hi + 1], self.charset
        return e

    def lengths(self) -> np.ndarray:
        """Each name's length in characters (``len``). O(names)."""
        return np.diff(self.offs) - 1

    def first_duplicate(self) -> int:
        """Position of the first name equal to an earlier one, else -1.
        O(characters) expected."""
        n = len(self.offs) - 1
        table = np.zeros(_table_size(n), dtype=np.uint64)
        ent = np.empty(len(self.buf) + n + 1, dtype=np.uint32)
        r = int(_append(table, ent, 0, self.buf, self.offs, 0))
        return -r - 1 if r < 0 else -1


def _table_size(n: int) -> int:
    """A power of two at least twice ``n`` (at most half full)."""
    return 1 << max(3, (2 * n).bit_length())


class NameIndex:
    """Positions of the names of a growing list (a grid's SKUs or
    locations), looked up a column at a time by ``find``. Each name is kept
    as an entry ``[position, code points..., 0]`` and a table slot points at
    its first code point, so a hit touches one slot and one entry. The list
    only grows; ``sync`` indexes what was appended since, amortised
    O(new characters) (the entries and the table double)."""

    __slots__ = ("ent", "n", "table", "used")

    def __init__(self) -> None:
        self.ent = np.zeros(64, dtype=np.uint32)
        self.table = np.zeros(_table_size(8), dtype=np.uint64)
        self.n = 0
        self.used = 0

    def sync(self, names: Sequence[str]) -> None:
        """Index ``names[self.n:]`` (distinct ids: a grid's interning)."""
        lo, hi = self.n, len(names)
        if hi <= lo:
            return
        if 2 * hi > len(self.table):  # re-index everything into a bigger table
            self.table = np.zeros(_table_size(hi), dtype=np.uint64)
            lo, self.used = 0, 0
        new = NameBuffer(names[lo:hi])
        if new.charset == BAD:  # pragma: no cover - grid names are checked ids
            raise ValueError("a grid name cannot be indexed")
        need = self.used + len(new.buf) + (hi - lo) + 1
        if need > len(self.ent):
            self.ent = _grown(self.ent, need)
        used = int(_append(self.table, self.ent, self.used, new.buf, new.offs, lo))
        if used < 0:  # pragma: no cover - interning never repeats a name
            raise ValueError(f"{names[lo - used - 1]!r} is interned twice")
        self.used, self.n = used, hi

    def find(self, q: NameBuffer) -> tuple[np.ndarray, int]:
        """``(positions, missing)``: each query name's position, -1 where
        not indexed, and how many are -1. O(query characters) expected."""
        out = np.empty(len(q.offs) - 1, dtype=np.int64)
        missing = int(_find(self.table, self.ent[: self.used], q.buf, q.offs, out))
        return out, missing


def _grown(a: np.ndarray, need: int) -> np.ndarray:
    b = np.zeros(max(need, 2 * len(a)), dtype=a.dtype)
    b[: len(a)] = a
    return b


def index_ready() -> bool:
    """Whether this process has loaded the kernels ``NameIndex.sync`` runs
    (so syncing costs microseconds, never a numba import or compile)."""
    return _offsets.ready() and _append.ready()
