"""Reading the PostgreSQL journal safely: the horizon, holes and the chain.

Seqs come from a SEQUENCE, so they are taken in one order and committed in
another: row 7 may be visible while row 6 is still in flight. A reader
that folded 7 and moved its head past 6 would never see 6. So readers
fold only up to the **safe horizon**: the last seq before the first one
that is not visible yet and may still commit.

Why a missing seq ``g`` with visible rows after it is decided by locks,
not by waiting. The append function takes its seqs inside a section of
microseconds under one advisory lock, and there, before leaving it, takes a
transaction lock on its first seq, held until it commits or rolls back. A
reader that sees ``g`` missing for a while asks ``settled(g)``: under the
section's lock (so no append is between taking a seq and locking it), if
``g``'s lock is free and its row still absent, the append that took ``g``
ended without committing: ``g`` is a **hole**, recorded in the ``holes``
table so no reader waits on it again and ``check()`` reports it (only a
server crash or an error after the seqs were taken leaves one).

The chain (``storage.chain``) is linked here, by readers, over the leaves
the writers stored, in seq order behind the horizon; ``marks`` keep the
chain hash at some seqs so no reader links from the start twice.
"""

from __future__ import annotations

import time
from typing import Final

from ..base import Row

MARK_EVERY: Final = 4096
"""A chain mark is kept at each multiple of this seq (and at snapshot seqs)."""


SETTLE_AFTER: Final = 0.02
"""Seconds a seq must stay missing before a reader asks whether it settled:
appends in flight commit within moments, and asking takes the seq lock."""


class Horizon:
    """One reader's view of gaps: when each missing seq was first seen
    missing, which it has looked up in the holes table, and the holes it
    knows."""

    __slots__ = ("checked", "holes", "seen")

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.checked: set[int] = set()
        self.holes: set[int] = set()

    def walk(
        self, since: int, rows: list[Row], end: int | None
    ) -> tuple[list[Row], int, int | None]:
        """The rows of ``rows`` (``seq > since``, in order) that are safe to
        fold, the new horizon, and the first missing seq it stopped at (None
        if none). ``end``: the last seq taken, when ``rows`` holds every row
        up to it, so seqs missing after the last row are gaps too. Known
        holes are stepped over. O(rows + holes crossed)."""
        out: list[Row] = []
        expected = since + 1
        for row in rows:
            seq = row[0]
            while expected < seq and expected in self.holes:
                expected += 1
            if expected < seq:
                self.seen.setdefault(expected, time.monotonic())
                return out, expected - 1, expected
            out.append(row)
            expected = seq + 1
        if end is not None:
            while expected <= end and expected in self.holes:
                expected += 1
            if expected <= end:
                self.seen.setdefault(expected, time.monotonic())
                return out, expected - 1, expected
        if self.seen:  # forget gaps that filled in
            self.seen = {g: t for g, t in self.seen.items() if g >= expected}
            self.checked = {g for g in self.checked if g >= expected}
        return out, expected - 1, None

    def due(self, gap: int) -> bool:
        """True once ``gap`` has been missing for ``SETTLE_AFTER``."""
        return time.monotonic() - self.seen.get(gap, time.monotonic()) >= SETTLE_AFTER
