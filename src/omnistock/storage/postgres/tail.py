"""Reading the PostgreSQL journal safely: the horizon, holes and the chain.

Seqs come from a SEQUENCE, so they are taken in one order and committed in
another: row 7 may be visible while row 6 is still in flight. A reader
that folded 7 and moved its head past 6 would never see 6. So readers
fold only up to the **safe horizon**: the last seq before the first one
that is not visible yet and may still commit.

Why a missing seq ``g`` with visible rows after it is decided by
transaction ids. The append function gives its transaction an id before it
takes a seq (``pg_current_xact_id()``), so the transaction that took ``g``
had an id when a later row became visible. Observed with snapshot ``S``,
that transaction is finished or still running with an id below
``xmax(S)``. Once a later snapshot's ``xmin`` reaches ``xmax(S)``, every
transaction running at ``S`` has ended; if ``g`` is still missing, it was
never committed (a rolled-back or crashed writer) and is a **hole**,
recorded in the ``holes`` table so no reader waits on it again and
``check()`` can tell a hole from a deleted row. This is the ``xmin``
horizon event stores on PostgreSQL use to tail a journal.

The chain (``storage.chain``) is linked here, by readers, over the leaves
the writers stored, in seq order behind the horizon; ``marks`` keep the
chain hash at some seqs so no reader links from the start twice.
"""

from __future__ import annotations

from typing import Final

from ..base import Row

MARK_EVERY: Final = 4096
"""A chain mark is kept at each multiple of this seq (and at snapshot seqs)."""


class Horizon:
    """One reader's view of gaps: each missing seq, with the ``xmax`` of
    the snapshot it was first seen missing in; and the known holes."""

    __slots__ = ("holes", "seen")

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}
        self.holes: set[int] = set()

    def walk(
        self, since: int, rows: list[Row], xmin: int, xmax: int, stored_holes: set[int]
    ) -> tuple[list[Row], int, list[int]]:
        """The rows of ``rows`` (visible in a snapshot with ``xmin``/``xmax``,
        ``seq > since``, in order) that are safe to fold, the new horizon,
        and the holes newly proven. Stops at the first missing seq that may
        still commit. O(rows + gaps)."""
        out: list[Row] = []
        proven: list[int] = []
        expected = since + 1
        for row in rows:
            seq = row[0]
            while expected < seq:
                if expected in self.holes or expected in stored_holes:
                    self.holes.add(expected)
                elif xmin >= self.seen.setdefault(expected, xmax):
                    self.holes.add(expected)
                    proven.append(expected)
                else:
                    return out, expected - 1, proven
                expected += 1
            out.append(row)
            expected = seq + 1
        if self.seen:  # forget gaps that filled in or were proven
            self.seen = {g: x for g, x in self.seen.items() if g >= expected}
        return out, expected - 1, proven
