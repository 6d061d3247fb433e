"""The storage port: an append-only journal with optimistic concurrency.

A store keeps journal rows, the idempotency keys of the commands that made
them, and snapshots of the materialised ledger. It knows nothing of stock:
the ledger decides what to append, the store makes the append atomic.

Rows travel as plain tuples because the hot path appends one per command:

    NewRow = (ts_us, kind, sku, location, qty, ref, channel, key, data)
    Row    = (seq, ts_us, kind, sku, location, qty, ref, channel, key, data)

``ts_us`` is UTC microseconds since the epoch; ``data`` is JSON text or None.

Each stored row also carries a hash chained to the row before it (see
``storage.chain``); ``read_chain`` reads rows with their hashes, ``hash_at``
one row's hash. The journal is then tamper-evident: ``audit.check`` sees a
deleted, inserted or edited row and a gap in the sequence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

NewRow = tuple[
    int, str, str | None, str | None, int, str | None, str | None, str | None, str | None
]
Row = tuple[
    int, int, str, str | None, str | None, int, str | None, str | None, str | None, str | None
]


@attrs.frozen
class Commit:
    """One command's rows, appended all-or-nothing.

    ``key``/``fingerprint``/``result`` record an idempotency key: the
    fingerprint identifies the command, the result (JSON text) is what a repeat
    of the key returns. ``rows`` may be empty for a keyed command that moved
    nothing (the key is still recorded).
    """

    rows: tuple[NewRow, ...]
    key: str | None = None
    fingerprint: str | None = None
    result: str | None = None


PosFigures = tuple[int, int, int, int]
"""holdable, reserved, safety and unsellable units at a position."""
ResFigures = tuple[str, str, "int | None"]
"""A reservation's state, a digest of its lines and its expiry (UTC microseconds)."""


@attrs.frozen
class Conditions:
    """What a guarded append (``Store.append_guarded``) changes in the
    store's counters and what must hold for it to land, in store terms.

    - ``positions``: ``(sku, location, deltas, free, seen)``: add the four
      deltas (``PosFigures`` order); ``free`` (None: not checked): after
      the deltas, ``holdable - reserved + free >= 0``; ``free`` is 0, or
      negative when later rows of the append added stock after a hold (the
      hold must have fitted where it stood); ``seen``: the figures the plan
      saw, which must still be there (None: not checked).
    - ``reservations``: ``(id, before, after)``: the reservation must be
      as ``before`` (None: absent), and becomes ``after`` (None: gone).
    - ``usage``: ``(key, delta, limit)``: add ``delta``; the total must
      not pass ``limit`` (None: no limit).
    - ``claims``: ids that must not have been claimed before.
    - ``network``: ``(before, after)`` network digests, or None.
    - ``planned``: the seq the caller planned the first row at (0: none).
      A stored keyed result that names a seq in the planned range (an
      ``applied`` result) is stored naming the seq that row took.

    Sorted by the caller (``sorted()`` order of each tuple), so two
    appends take their row locks in one order and never deadlock."""

    positions: tuple[tuple[str, str, PosFigures, int | None, PosFigures | None], ...] = ()
    reservations: tuple[tuple[str, ResFigures | None, ResFigures | None], ...] = ()
    usage: tuple[tuple[str, int, int | None], ...] = ()
    claims: tuple[str, ...] = ()
    network: tuple[str, str] | None = None
    planned: int = 0


@attrs.frozen
class StoreCounters:
    """A guarded store's counter tables, read in one snapshot that had no
    append in flight, with the seq horizon they are true at."""

    seq: int
    positions: dict[tuple[str, str], PosFigures]
    reservations: dict[str, ResFigures]
    usage: dict[str, int]
    network: str


@attrs.frozen
class Counted:
    """What a worker without a replica reads before planning (``Store.counted``):
    positions ``(sku, location, (holdable, reserved, safety, unsellable))``,
    usage counters by key, the network's digest and the ids of holds due."""

    positions: list[tuple[str, str, tuple[int, int, int, int]]]
    usage: dict[str, int]
    network: str
    due: tuple[str, ...]
    known: frozenset[str] = frozenset()
    """Which of the SKUs asked about any journal row names (the others
    were never seen: a replica would not know them either)."""


@attrs.frozen
class KeyRecord:
    key: str
    fingerprint: str
    result: str | None
    seq: int
    """Journal head right after the command that used the key."""


class Store(ABC):
    """Port every journal store implements (memory, SQLite, PostgreSQL, ...).

    Guarantees every implementation gives, checked by
    ``omnistock.testing.StoreContract``:

    - ``append`` is atomic: all commits of one call land, or none.
    - ``append`` succeeds only if no conflicting row was appended since
      ``expected_head`` (optimistic concurrency); otherwise it raises
      ``ConcurrencyConflict`` and writes nothing. Stores without partitions
      treat every row as conflicting. A key already recorded also raises
      ``ConcurrencyConflict`` (another writer used it). A **guarded** store
      (``guarded``: PostgreSQL) checks no head: ``append_guarded`` lands
      only if the command's conditions hold, checked against its counters.
    - Sequence numbers start at 1 and increase. A head-checking store gives
      them gap-free, in commit order. A guarded store's commit out of order
      (an append may take a seq, then commit after a later one): ``tail``
      and ``read`` return rows only up to the safe horizon, so a reader that
      has seen ``seq <= h`` never misses a row later; a seq whose append
      never committed is a hole (``holes``).
    - Reads return rows in sequence order.
    - Times never go backwards along the journal: the store clamps each
      row's ``ts_us`` to at least its predecessor's, where it assigns the
      seq (writers' clocks may be skewed), so ``seq_at`` is a boundary.
    - Each row carries the chain hash of ``storage.chain`` (``read_chain``,
      ``hash_at``), computed where the seq and the time are assigned.
    - Driver errors surface as ``omnistock.errors.StorageError``.
    - ``cursor``/``set_cursor`` keep a consumer's acknowledged seq (never
      moving backwards) and a small state beside it, apart from the
      journal (an ack appends no row).
    """

    url: str = ""
    guarded: bool = False
    """True when the store checks a command's guards itself, against its
    counters (``append_guarded``), instead of a head: the runner then
    sends conditions, and seqs may commit out of order (``tail``)."""
    partitioned: bool = False
    """True when appends conflict per partition only (see ``append``): the
    ledger then adds ``claimed`` rows to make new ids conflict."""

    @abstractmethod
    def head(self) -> int:
        """Sequence number of the last row, 0 when empty."""

    @abstractmethod
    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        """Append every commit's rows in one atomic step and return the new
        head. The rows get the consecutive numbers ending at that head, in the
        order given. In an unpartitioned store they start at
        ``expected_head + 1``; in a partitioned one other writers' rows on other
        partitions may come between, and the caller catches up by reading."""

    def append_guarded(self, commits: Sequence[Commit], conditions: Conditions) -> list[int]:
        """Append every commit's rows in one atomic step if every condition
        holds, applying the counter deltas in the same transaction; return
        the rows' seqs, in the order given (increasing, not necessarily
        consecutive). A condition that fails raises ``ConcurrencyConflict``
        naming it, and nothing is written. Only stores with ``guarded``."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} checks heads, not guards: use append()")

    def tail(self, since: int) -> tuple[list[Row], int]:
        """Rows after ``since`` that are safe to fold, and the horizon they
        reach: no row at or below it can appear later. A store whose seqs
        commit in order returns everything to its head."""
        rows = list(self.read(since))
        return rows, rows[-1][0] if rows else since

    def holes(self, since: int = 0, until: int | None = None) -> set[int]:
        """Seqs in ``(since, until]`` taken by appends that never committed
        (only stores whose seqs commit out of order have any)."""
        return set()

    def counted(
        self, skus: Sequence[str], usage: Sequence[str], due_us: int | None, due_limit: int
    ) -> Counted:
        """Counters of ``skus`` and ``usage``, the network digest and the
        ids of up to ``due_limit`` holds due at ``due_us``, in one snapshot
        (guarded stores: what a worker without a replica plans on)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no counters: open it with a replica")

    def rows_of(self, refs: Sequence[str]) -> list[Row]:
        """Every row whose ref is in ``refs``, in seq order (guarded stores)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no counters: open it with a replica")

    def supply_refs(self, skus: Sequence[str]) -> list[str]:
        """Ids of the open supply items of ``skus`` (guarded stores)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no counters: open it with a replica")

    def backordered_supply(self, skus: Sequence[str]) -> bool:
        """Whether open supply of ``skus`` has units promised to backorders
        (guarded stores)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no counters: open it with a replica")

    def network_rows(self) -> list[Row]:
        """The rows that define the network, in seq order (guarded stores)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no counters: open it with a replica")

    def counters(self) -> StoreCounters | None:
        """The guard counters (guarded stores), or None when the store has
        none or no quiet moment to read them in."""
        return None

    @abstractmethod
    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        """Rows with ``since < seq <= until`` (``until=None``: to the head)."""

    @abstractmethod
    def lookup_key(self, key: str) -> KeyRecord | None:
        """The record of an idempotency key, or None if it was never used."""

    @abstractmethod
    def save_snapshot(self, seq: int, blob: bytes) -> None:
        """Keep ``blob``, the ledger materialised at ``seq``."""

    @abstractmethod
    def load_snapshot(self, max_seq: int | None = None) -> tuple[int, bytes] | None:
        """The newest snapshot with ``seq <= max_seq`` (any if None)."""

    def read_chain(
        self, since: int = 0, until: int | None = None
    ) -> Iterator[tuple[Row, bytes | None]]:
        """Rows with ``since < seq <= until`` with their stored chain hashes.
        A store that keeps no chain (the default, for old third-party stores)
        gives None for every hash; ``audit.check`` then reports the journal
        as unchained, and ``StoreContract`` fails it."""
        for row in self.read(since, until):
            yield row, None

    def hash_at(self, seq: int) -> bytes | None:
        """The stored chain hash of row ``seq``; ``chain.GENESIS`` for 0; None
        when there is no such row (or the store keeps no chain)."""
        return None

    def filtered(
        self,
        since: int = 0,
        until: int | None = None,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
    ) -> Iterator[Row]:
        """Rows matching every given filter. Stores with indexes override it."""
        for row in self.read(since, until):
            if sku is not None and row[3] != sku:
                continue
            if location is not None and row[4] != location:
                continue
            if ref is not None and row[6] != ref:
                continue
            yield row

    def ref_between(
        self, lo: str, hi: str, since: int = 0, until: int | None = None
    ) -> Iterator[Row]:
        """Rows whose ``ref`` lies in ``[lo, hi)`` by code point (the rows of
        every reservation of one order are one such range), in sequence
        order. Stores with an index on ``ref`` override it."""
        for row in self.read(since, until):
            r = row[6]
            if r is not None and lo <= r < hi:
                yield row

    def seq_at(self, ts_us: int) -> int:
        """The last sequence number whose time is at or before ``ts_us``.
        Times are non-decreasing within a store, so this is a boundary."""
        last = 0
        for row in self.read(0):
            if row[1] > ts_us:
                break
            last = row[0]
        return last

    def wait(self, head: int, timeout: float) -> bool:
        """Wait until the store's head passes ``head`` or ``timeout`` seconds
        pass; True if it moved. The default polls the head."""
        import time

        end = time.monotonic() + timeout
        while True:
            if self.head() > head:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(min(0.01, max(0.0, end - time.monotonic())))

    # -- consumer cursors (``Inventory.feed``/``ack``, ``availability``) --------------
    def cursor(self, consumer: str, stream: str = "") -> tuple[int, str | None]:
        """The cursor kept for ``consumer`` on ``stream`` (``""``: the
        journal feed): the last seq it acknowledged and the state stored
        with it (JSON text or None); ``(0, None)`` when never set.
        Durable in every durable store."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no consumer cursors")

    def cursors(self) -> list[tuple[str, str, int]]:
        """Every cursor kept: ``(consumer, stream, seq)``, sorted. For
        watching consumers' lag (``omnistock worker``). O(cursors)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no consumer cursors")

    def set_cursor(
        self, consumer: str, seq: int, state: str | None = None, stream: str = ""
    ) -> int:
        """Store ``(seq, state)`` as the cursor of ``consumer`` on
        ``stream`` if ``seq`` is at least the stored seq (a cursor never
        moves backwards; at an equal seq the state is replaced), atomically;
        return the stored seq after the call (greater than ``seq`` when a
        later ack was already kept, which leaves it as it was)."""
        from ..errors import StorageError

        raise StorageError(f"{type(self).__name__} keeps no consumer cursors")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
