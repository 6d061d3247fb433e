"""The materialised ledger: ``LedgerState`` holds everything the journal implies.

The container and its entry points only. ``apply`` folds one journal row
in through its kind's handler in ``fold.py`` (the only code that turns a
row into state); ``digest``/``to_bytes``/``from_bytes`` are
``snapshot.py``'s, ``violations`` is ``invariants.py``'s. Live commands and
replay both fold through ``apply``, which is why a replay of the journal
equals the live ledger; ``check()`` proves it by replaying into a fresh
state, comparing digests and checking every invariant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..errors import StorageError
from ..storage.base import Row
from . import invariants, snapshot
from .fields import LedgerFields
from .fold import FOLD
from .lotfold import PHYSICAL
from .lotfold import fold as fold_lots
from .rows import SELLABLE

__all__ = ["SELLABLE", "LedgerState"]


class LedgerState(LedgerFields):
    """Everything the journal implies, at ``head`` (fields: ``LedgerFields``)."""

    __slots__ = ()

    # -- applying rows ---------------------------------------------------
    def apply_all(self, rows: Iterable[Row]) -> None:
        apply = self.apply
        for row in rows:
            apply(row)

    def apply(self, row: Row, data: dict[str, Any] | None = None) -> None:
        """Fold one journal row into the state. ``data`` may be given
        pre-parsed by a live command; replay parses it from the row. An
        unknown kind raises ``StorageError`` naming the row's seq."""
        self.apply_new(row[0], row[1:], data)

    def apply_new(self, seq: int, row: Any, data: dict[str, Any] | None) -> None:
        """``apply`` of a row a command just appended at ``seq``: ``row`` is
        its ``NewRow`` (no seq), ``data`` its parsed data or None (no
        tuple built per row: every hold folds its lines through here)."""
        ts, kind, sku, loc, qty, ref, channel = row[:7]
        if data is None and row[8] is not None:
            data = json.loads(row[8])
        handler = FOLD.get(kind)
        if handler is None:
            raise StorageError(f"journal row seq={seq} has unknown kind={kind!r}")
        handler(self, sku, loc, qty, ref, channel, data or {}, seq)
        if kind in PHYSICAL and (self.lots.by_pos or (data and "lot" in data)):
            fold_lots(self, kind, sku, loc, qty, ref, data or {}, seq)
        self.head = seq
        if ts > self.last_ts:
            self.last_ts = ts

    # -- derived figures ---------------------------------------------------
    def digest(self) -> str:
        """A hash of every figure and record; equal digests mean equal state
        (``snapshot.digest``)."""
        return snapshot.digest(self)

    def violations(self) -> list[str]:
        """Every broken invariant, as sentences. Empty means sound
        (``invariants.violations``). O(positions + reservation lines)."""
        return invariants.violations(self)

    # -- snapshots ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise the state (``snapshot.to_bytes``)."""
        return snapshot.to_bytes(self)

    @classmethod
    def from_bytes(cls, blob: bytes) -> LedgerState:
        """A state read back from ``to_bytes``; ``StorageError`` if corrupt."""
        st = cls()
        snapshot.load(st, blob)
        return st
