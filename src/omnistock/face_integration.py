"""The face's integration methods: the durable journal feed per consumer
and the availability changes derived from it (docs/integration.md).

``Inventory`` (``inventory.py``) takes these methods from
``IntegrationFace``. They read the journal through the store and keep
each consumer's cursor in the store (``Store.cursor``), so a cursor
survives a restart and is shared by every process on the store. An ack
writes no journal row.
"""

from __future__ import annotations

from ._validate import check_id
from .errors import UnknownChannel
from .feeds import availability as _availability
from .feeds import journal as _journal
from .feeds.availability import AvailabilityChange
from .ledger.state import LedgerState
from .runner import Runner
from .values import Entry


class IntegrationFace:
    """The integration half of ``Inventory``: ``feed``/``ack`` (the journal,
    at-least-once per consumer) and ``availability``/``ack_availability``
    (a channel's figures when they change)."""

    _runner: Runner
    _feed_safe: int = 0
    """A seq every row up to which this face saw behind the safe horizon
    (guarded stores: an ack up to it needs no proof)."""

    # -- the journal feed -------------------------------------------------------------
    def feed(self, consumer: str, limit: int = 1000, wait: float = 0) -> list[Entry]:
        """The journal entries after ``consumer``'s last ack, oldest first,
        as ``history()`` shows them, from at most ``limit`` journal rows (a
        bulk hold's row is one entry per reservation line, all with the
        row's seq, and never split between two calls).

        At-least-once: nothing moves until ``ack``; the same entries come
        again until then, also after a restart or from another process on
        the store. A consumer never seen before starts at the beginning of
        the journal (``ack(consumer, inv.head)`` first to start from now).
        On PostgreSQL only rows behind the safe horizon are given, so a row
        that commits after a later one is still delivered, in seq order.
        With ``wait`` > 0 and nothing new, blocks up to ``wait`` seconds
        until something is (the store is polled: see docs/integration.md).

        Reads only: expiries due are journaled by commands, queries and
        ``sweep()``, not by the feed. O(limit) rows read. Raises
        ``InvalidInput`` naming ``consumer``, ``limit`` (an int in
        [1, 100000]) or ``wait`` (seconds in [0, 3600]); nothing changes."""
        name = _journal.check_consumer(consumer)
        n = _journal.check_limit(limit)
        w = _journal.check_wait(wait)
        store = self._runner.store
        since = store.cursor(name)[0]
        rows = _journal.after(store, since, n, w)
        if rows and store.guarded:
            self._feed_safe = max(self._feed_safe, rows[-1][0])
        return _journal.entries_of(store, rows)

    def ack(self, consumer: str, seq: int) -> int:
        """Record that ``consumer`` has processed every entry up to ``seq``
        (pass the last delivered entry's seq); returns the cursor after.

        The cursor never moves backwards: an ``seq`` at or below the
        cursor (an old or repeated ack, a retry) changes nothing and
        returns the cursor as it is, so acks are idempotent. Raises
        ``InvalidInput`` naming ``consumer`` or ``seq`` (not an int >= 0,
        past the journal's head, or, on PostgreSQL, beyond rows still being
        committed); nothing changes then."""
        name = _journal.check_consumer(consumer)
        s = _journal.check_seq(seq)
        return _journal.acknowledge(self._runner.store, name, s, self._safe)

    def cursor(self, consumer: str, channel: str | None = None) -> int:
        """The last seq ``consumer`` acknowledged on the journal feed (or,
        with ``channel``, on that channel's availability changes); 0 when
        it never did."""
        name = _journal.check_consumer(consumer)
        stream = "" if channel is None else _availability.STREAM + check_id("channel", channel)
        return self._runner.store.cursor(name, stream)[0]

    def _safe(self, seq: int) -> bool:
        """Every row up to ``seq`` is behind the safe horizon: delivered by
        this face before, or folded by its ledger (whose head never passes
        the horizon), or else proven row by row (O(rows past those), no
        waiting for appends in flight)."""
        known = max(self._feed_safe, self._runner.state.head)
        if seq > known and not _journal.behind_horizon(self._runner.store, known, seq):
            return False
        self._feed_safe = max(self._feed_safe, seq)
        return True

    # -- availability changes ---------------------------------------------------------
    def availability(self, consumer: str, channel: str) -> list[AvailabilityChange]:
        """Per SKU touched since ``consumer`` last acknowledged ``channel``'s
        changes, the channel's figure now (``available(sku,
        channel=channel)``) when it differs from the figure last
        acknowledged, sorted by SKU; all carry the same ``seq``: pass it to
        ``ack_availability`` once they are published.

        A consumer's first call gives every SKU's figure. Until the ack,
        each call gives the unacknowledged changes again (with the figures
        of the moment); after a restart nothing acknowledged is resent and
        no change is missed (both kept in the store). When nothing differs,
        the acknowledged seq moves on by itself. One reader per (consumer,
        channel) at a time. Expiries due by the clock are journaled first,
        as by any query. O(rows since the ack + touched SKUs x channel
        locations). Raises ``InvalidInput`` (``consumer``, ``channel``) or
        ``UnknownChannel``; nothing changes then."""
        name = _journal.check_consumer(consumer)
        ch = check_id("channel", channel)
        runner = self._runner
        st = runner.sync()  # fold other writers' rows in, expire holds due
        if ch not in st.channels:
            raise UnknownChannel(ch)

        def figures_at(skus: set[str] | None) -> dict[str, int]:
            def read(st: LedgerState) -> dict[str, int]:
                return _availability.figures(st, ch, skus)

            return runner.caught_up(read)

        return _availability.changes(
            runner.store, name, ch, lambda: runner.caught_up(_head), figures_at
        )

    def ack_availability(self, consumer: str, channel: str, seq: int) -> int:
        """Acknowledge the availability changes delivered at ``seq`` (their
        ``seq``); returns the acknowledged seq after. A seq at or below it
        (a retry, an older delivery) changes nothing; so does the seq of a
        delivery that a later ``availability`` call replaced (its changes
        come again, at-least-once). Raises ``InvalidInput`` naming
        ``consumer``, ``channel`` or ``seq`` (not an int >= 0, or no
        delivery was made at it); nothing changes then."""
        name = _journal.check_consumer(consumer)
        ch = check_id("channel", channel)
        s = _journal.check_seq(seq)
        return _availability.acknowledge(self._runner.store, name, ch, s)


def _head(st: LedgerState) -> int:
    return st.head


__all__ = ["AvailabilityChange", "IntegrationFace"]
