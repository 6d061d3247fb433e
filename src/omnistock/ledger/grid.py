"""Positions: SKU and location interning over two dense int64 grids.

``free[s, l]`` holds ``on_hand - unsellable - safety`` and ``reserved[s, l]``
the units promised; ``atp = free - reserved``. That is 16 bytes a position;
unsellable units and safety stock are kept sparsely (most positions have
none) and added back when ``on_hand`` is asked for. Which positions were
ever stocked (``Ranged``) is one more byte a position, in the same shape.
Rows are SKUs, so one SKU's positions across the network are contiguous.
Both dimensions grow by doubling from small (64 rows, one column: a
one-location network pays for one column), so adding a SKU or a location is
amortised O(1) per position.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..values import UNSELLABLE_STATES
from .names import NameBuffer, NameIndex, index_ready

N_STATES = len(UNSELLABLE_STATES)
STATE_INDEX = {name: i for i, name in enumerate(UNSELLABLE_STATES)}

Pos = tuple[int, int]
# Names interned between two syncs of a grid's name indexes.
SYNC_EVERY = 64


def _resident(shape: tuple[int, int]) -> np.ndarray:
    """A zeroed int64 grid with every page written now. ``np.zeros`` maps
    pages lazily, so the first reservation on each page of ``reserved``
    would pay a page fault (about 1.5 us each, 512 of them per 2 MB) in the
    middle of a command; a ledger's grids are meant to be resident."""
    a = np.empty(shape, dtype=np.int64)
    a.fill(0)
    return a


class Ranged:
    """The positions that have ever been stocked: "the location ranges the
    SKU". One bool a grid cell, in the grid's shape (``Grid`` resizes it with
    its figures), so a stocked position costs no Python object. Reads like a
    set of ``(sku, location)`` positions: ``add``, ``discard``, ``in``,
    iteration in ``(sku, location)`` order. Marks stay inside the grid's used
    part (a savepoint rollback clears what it forgets, ``clear_outside``)."""

    __slots__ = ("marks",)

    def __init__(self, shape: tuple[int, int]) -> None:
        # Lazily zeroed pages: a mark is written once per position, so a
        # page fault then is cheap, and unstocked capacity costs nothing.
        self.marks = np.zeros(shape, dtype=np.bool_)

    def add(self, p: Pos) -> None:
        """Mark ``p`` stocked. O(1); ``p`` must lie inside the grid."""
        self.marks[p] = True

    def discard(self, p: Pos) -> None:
        """Unmark ``p`` (savepoint rollback). O(1); no-op outside the grid."""
        if p in self:
            self.marks[p] = False

    def add_many(self, s: np.ndarray, l: np.ndarray) -> None:
        """Mark every ``(s[i], l[i])``. O(len(s)), in numpy."""
        self.marks[s, l] = True

    def __contains__(self, p: object) -> bool:
        """Whether ``p`` was ever stocked; False outside the grid. O(1)."""
        if not isinstance(p, tuple) or len(p) != 2:
            return False
        s, l = p
        m = self.marks
        return 0 <= s < m.shape[0] and 0 <= l < m.shape[1] and bool(m[s, l])

    def __len__(self) -> int:
        """Positions marked. O(grid capacity), in numpy."""
        return int(np.count_nonzero(self.marks))

    def __iter__(self) -> Iterator[Pos]:
        """The marked positions in ``(sku, location)`` order. O(capacity)."""
        return ((s, l) for s, l in self.pairs())

    def pairs(self) -> list[list[int]]:
        """The marked positions as ``[sku, location]`` lists, sorted: the
        snapshot's format. O(capacity) in numpy plus O(marked) lists."""
        out: list[list[int]] = np.argwhere(self.marks).tolist()  # row-major: sorted
        return out

    def clear_outside(self, skus: int, locs: int) -> None:
        """Unmark every position at SKU row ``>= skus`` or column ``>= locs``.
        O(the cells cleared)."""
        self.marks[skus:, :] = False
        self.marks[:, locs:] = False

    def resize(self, rows: int, cols: int) -> None:
        """Grow to ``rows`` x ``cols`` (not smaller), keeping every mark."""
        old = self.marks
        new = np.zeros((rows, cols), dtype=np.bool_)
        new[: old.shape[0], : old.shape[1]] = old
        self.marks = new

    @property
    def nbytes(self) -> int:
        return int(self.marks.nbytes)


class Grid:
    """SKU x location positions. Not thread-safe; the ledger serialises."""

    __slots__ = (
        "_names",
        "holdable",
        "loc_ix",
        "locs",
        "ranged",
        "reserved",
        "safety",
        "sku_ix",
        "skus",
        "unsell",
    )

    def __init__(self, sku_cap: int = 64, loc_cap: int = 1) -> None:
        self.skus: list[str] = []
        self.sku_ix: dict[str, int] = {}
        self.locs: list[str] = []
        self.loc_ix: dict[str, int] = {}
        self.holdable = _resident((max(1, sku_cap), max(1, loc_cap)))
        self.reserved = _resident(self.holdable.shape)
        self.ranged = Ranged(self.holdable.shape)
        self.safety: dict[Pos, int] = {}
        self.unsell: dict[Pos, list[int]] = {}
        # Kernel-side indexes of ``skus`` and ``locs`` for column lookups.
        # Like a database index, they follow interning (SYNC_EVERY names at a
        # time) once this process has loaded their kernels; before that, the
        # first ``find`` builds them, so interning never waits on numba.
        self._names: tuple[NameIndex, NameIndex] | None = (
            (NameIndex(), NameIndex()) if index_ready() else None
        )

    # -- interning -------------------------------------------------------
    def sku(self, name: str) -> int:
        """Index of ``name``, adding the SKU if new."""
        i = self.sku_ix.get(name)
        if i is None:
            i = len(self.skus)
            if i >= self.holdable.shape[0]:
                self._resize(2 * self.holdable.shape[0], self.holdable.shape[1])
            self.skus.append(name)
            self.sku_ix[name] = i
            ix = self._names
            if ix is not None and i + 1 - ix[0].n >= SYNC_EVERY:
                ix[0].sync(self.skus)
        return i

    def loc(self, name: str) -> int:
        """Index of location ``name``, adding a column if new."""
        i = self.loc_ix.get(name)
        if i is None:
            i = len(self.locs)
            if i >= self.holdable.shape[1]:
                self._resize(self.holdable.shape[0], 2 * self.holdable.shape[1])
            self.locs.append(name)
            self.loc_ix[name] = i
            ix = self._names
            if ix is not None and i + 1 - ix[1].n >= SYNC_EVERY:
                ix[1].sync(self.locs)
        return i

    def find(self, skus: NameBuffer, locs: NameBuffer) -> tuple[np.ndarray, np.ndarray]:
        """Grid indices of a column of SKU names and one of location names,
        -1 where unknown (nothing is interned). O(characters) expected, in
        kernels, plus indexing the names interned since the last sync (fewer
        than ``SYNC_EVERY`` once the index exists)."""
        if self._names is None:
            self._names = (NameIndex(), NameIndex())
        si, li = self._names
        si.sync(self.skus)
        li.sync(self.locs)
        return si.find(skus)[0], li.find(locs)[0]

    def reserve_capacity(self, skus: int, locs: int) -> None:
        """Pre-size the grids (bulk loads), so no doubling slack is left."""
        if skus > self.holdable.shape[0] or locs > self.holdable.shape[1]:
            self._resize(max(skus, self.holdable.shape[0]), max(locs, self.holdable.shape[1]))

    def _resize(self, rows: int, cols: int) -> None:
        """Grow every per-position array to ``rows`` x ``cols``. O(cells);
        callers double a dimension, so O(1) amortised per position."""
        for name in ("holdable", "reserved"):
            old = getattr(self, name)
            new = _resident((rows, cols))
            new[: old.shape[0], : old.shape[1]] = old
            setattr(self, name, new)
        self.ranged.resize(rows, cols)

    # -- figures ---------------------------------------------------------
    def unsellable(self, p: Pos) -> int:
        u = self.unsell.get(p)
        return 0 if u is None else sum(u)

    def on_hand(self, s: int, l: int) -> int:
        p = (s, l)
        return int(self.holdable[s, l]) + self.safety.get(p, 0) + self.unsellable(p)

    def sellable(self, s: int, l: int) -> int:
        """Units on hand in a sellable state (safety stock included)."""
        return int(self.holdable[s, l]) + self.safety.get((s, l), 0)

    # The ATP formula, ``on_hand - unsellable - reserved - safety``, is
    # ``holdable - reserved`` here; these three are its only spellings.
    def atp(self, s: int, l: int) -> int:
        """ATP at one position (may be negative). O(1)."""
        return int(self.holdable[s, l]) - int(self.reserved[s, l])

    def atp_row(self, s: int, cols: np.ndarray | list[int] | None = None) -> np.ndarray:
        """ATP of SKU row ``s`` at ``cols`` (every used location if None), a
        new int64 array the caller may change. O(len(cols))."""
        if cols is None:
            nl = len(self.locs)
            row: np.ndarray = self.holdable[s, :nl] - self.reserved[s, :nl]
        else:
            row = self.holdable[s, cols] - self.reserved[s, cols]
        return row

    def atp_matrix(self) -> np.ndarray:
        """ATP of every used position, a new contiguous int64 array.
        O(positions)."""
        ns, nl = self.shape
        return np.ascontiguousarray(self.holdable[:ns, :nl] - self.reserved[:ns, :nl])

    def add_unsellable(self, p: Pos, state: int, qty: int) -> None:
        u = self.unsell.get(p)
        if u is None:
            u = self.unsell[p] = [0] * N_STATES
        u[state] += qty
        if not any(u):
            del self.unsell[p]

    def add_safety(self, p: Pos, qty: int) -> None:
        v = self.safety.get(p, 0) + qty
        if v:
            self.safety[p] = v
        else:
            self.safety.pop(p, None)

    @property
    def shape(self) -> tuple[int, int]:
        """Used positions (skus, locations)."""
        return len(self.skus), len(self.locs)

    def used(self) -> tuple[np.ndarray, np.ndarray]:
        """Views of the used part of ``holdable`` and ``reserved``."""
        ns, nl = self.shape
        return self.holdable[:ns, :nl], self.reserved[:ns, :nl]

    def nbytes(self) -> int:
        """Bytes of the two figure grids (``ranged`` is ``ranged.nbytes``)."""
        return int(self.holdable.nbytes + self.reserved.nbytes)
