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
    missing, and the holes it knows."""

    __slots__ = ("holes", "seen")

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.holes: set[int] = set()

    def walk(self, since: int, rows: list[Row]) -> tuple[list[Row], int, int | None]:
        """The rows of ``rows`` (``seq > since``, in order) that are safe to
        fold, the new horizon, and the missing seq it stopped at if it has
        been missing for ``SETTLE_AFTER`` (worth asking ``settled``).
        O(rows + holes crossed)."""
        out: list[Row] = []
        expected = since + 1
        for row in rows:
            seq = row[0]
            while expected < seq and expected in self.holes:
                expected += 1
            if expected < seq:
                now = time.monotonic()
                first = self.seen.setdefault(expected, now)
                ask = expected if now - first >= SETTLE_AFTER else None
                return out, expected - 1, ask
            out.append(row)
            expected = seq + 1
        if self.seen:  # forget gaps that filled in
            self.seen = {g: t for g, t in self.seen.items() if g >= expected}
        return out, expected - 1, None
