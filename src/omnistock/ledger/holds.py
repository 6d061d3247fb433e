"""Reservation records and the hold-expiry index.

Each reservation keeps its remaining units per position. Held reservations
sit in a ``SortedList`` by expiry, so finding what is due at time ``t`` is
O(log n + due). ``by_pos`` holds the ids of the open reservations at each
position; ``newest_at`` orders them by creation, so a shortage can name the
newest first.

Reservations made by ``hold_many(HoldBatch)`` live in blocks (``heldbatches.py``)
until a command names one; ``get``/``need`` detach it, ``peek`` and
``records`` read it without detaching.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sortedcontainers import SortedList

from .grid import Pos
from .heldbatches import HeldBatch, split_rid

HELD, COMMITTED, FULFILLED, EXPIRED, RELEASED = (
    "held",
    "committed",
    "fulfilled",
    "expired",
    "released",
)
OPEN = (HELD, COMMITTED)


class Hold:
    """Mutable ledger-side record of one reservation."""

    __slots__ = (
        "channel",
        "dest",
        "expires_us",
        "id",
        "kits",
        "lines",
        "order_id",
        "picked",
        "pickup",
        "seq",
        "shipped",
        "state",
        "sub",
        "transfers",
        "waiting",
    )

    def __init__(self, rid: str, order_id: str | None, channel: str | None, seq: int) -> None:
        self.id = rid
        self.state = HELD
        self.order_id = order_id
        self.channel = channel
        self.expires_us: int | None = None
        self.lines: dict[Pos, int] = {}
        self.shipped: dict[Pos, int] = {}
        self.seq = seq
        # Where the order goes, so a lost line can be re-sourced by the policy.
        self.dest: tuple[float, float] | None = None
        self.pickup: str | None = None
        # Age within its seq: a bulk hold's members share the batch's seq
        # and rank by their place in the batch.
        self.sub = 0
        # Location -> the day a ship order took a pick there (daily
        # capacity), so releasing or re-sourcing it can give the pick back.
        self.picked: dict[str, int] = {}
        # Transfers ever earmarked for it: the next is ``<id>/T<n+1>``.
        self.transfers = 0
        # Backordered units: supply id -> units waiting on it (not on hand).
        self.waiting: dict[str, int] = {}
        # (kit, location column) -> kits its component lines make up (``kits.py``).
        self.kits: dict[tuple[str, int], int] = {}

    def copy(self) -> Hold:
        h = Hold(self.id, self.order_id, self.channel, self.seq)
        h.state = self.state
        h.expires_us = self.expires_us
        h.lines = dict(self.lines)
        h.shipped = dict(self.shipped)
        h.dest = self.dest
        h.pickup = self.pickup
        h.sub = self.sub
        h.picked = dict(self.picked)
        h.transfers = self.transfers
        h.waiting = dict(self.waiting)
        h.kits = dict(self.kits)
        return h


class Holds:
    __slots__ = ("batch_expiry", "batches", "by_id", "by_pos", "expiry", "per_order")

    def __init__(self) -> None:
        self.by_id: dict[str, Hold] = {}
        self.expiry: SortedList = SortedList()
        self.by_pos: dict[Pos, set[str]] = {}
        self.per_order: dict[str, int] = {}
        self.batches: dict[str, HeldBatch] = {}
        self.batch_expiry: SortedList = SortedList()

    # -- blocks ----------------------------------------------------------
    def add_batch(self, b: HeldBatch) -> None:
        self.batches[b.token] = b
        self.batch_expiry.add((b.exp, b.token))

    def drop_batch(self, b: HeldBatch) -> None:
        del self.batches[b.token]
        self.batch_expiry.discard((b.exp, b.token))

    def expire_batch(self, b: HeldBatch) -> None:
        """The members still in ``b`` are expired (they stay readable)."""
        b.expired = True
        self.batch_expiry.discard((b.exp, b.token))

    def member(self, rid: str) -> tuple[HeldBatch, int] | None:
        if not self.batches:
            return None
        parts = split_rid(rid)
        if parts is None:
            return None
        b = self.batches.get(parts[1])
        if b is None:
            return None
        j = b.index(parts[0])
        if j is None or not b.live[j]:
            return None
        return b, j

    def _synth(self, b: HeldBatch, j: int) -> Hold:
        h = Hold(b.rid(j), b.orders[j], b.channel, b.seq)
        h.sub = j
        if b.expired:
            h.state = EXPIRED
        else:
            h.lines = b.lines(j)
            h.expires_us = b.exp
        return h

    def for_update(self, rid: str) -> Hold | None:
        """The reservation ``rid``, detached from its block if it was in one
        (a command is about to change it). O(1); O(block) the first time a
        block is searched."""
        h = self.by_id.get(rid)
        if h is not None:
            return h
        m = self.member(rid)
        if m is None:
            return None
        b, j = m
        h = self._synth(b, j)
        exp, h.expires_us = h.expires_us, None
        self.by_id[rid] = h
        for p in h.lines:
            self.by_pos.setdefault(p, set()).add(rid)
        self.set_expiry(h, exp)
        b.live[j] = False
        b.n_live -= 1
        if not b.n_live:
            self.drop_batch(b)
        return h

    def need_for_update(self, rid: str) -> Hold:
        h = self.for_update(rid)
        if h is None:
            raise KeyError(rid)
        return h

    def peek(self, rid: str) -> Hold | None:
        """The reservation ``rid`` for reading: a block member comes back as
        a synthesised copy and stays in its block."""
        h = self.by_id.get(rid)
        if h is not None:
            return h
        m = self.member(rid)
        return None if m is None else self._synth(*m)

    def need_peek(self, rid: str) -> Hold:
        h = self.peek(rid)
        if h is None:
            raise KeyError(rid)
        return h

    def records(self) -> Iterator[Hold]:
        """Every reservation, block members synthesised (read-only)."""
        yield from self.by_id.values()
        for b in self.batches.values():
            for j in b.live_members():
                yield self._synth(b, j)

    def first_expiry(self) -> int | None:
        """The earliest expiry of a held reservation, or None."""
        a: int | None = self.expiry[0][0] if self.expiry else None
        b: int | None = self.batch_expiry[0][0] if self.batch_expiry else None
        if a is None:
            return b
        return a if b is None else min(a, b)

    def due_batches(self, now_us: int) -> list[str]:
        out = []
        for exp, token in self.batch_expiry:
            if exp > now_us:
                break
            out.append(token)
        return out

    def next_id(self, order_id: str, taken: set[str] | None = None) -> str:
        """A readable, deterministic id: ``<order>#<n>``."""
        n = self.per_order.get(order_id, 0)
        while True:
            n += 1
            rid = f"{order_id}#{n}"
            if rid not in self.by_id and (taken is None or rid not in taken):
                return rid

    def open_hold(self, rid: str, order_id: str | None, channel: str | None, seq: int) -> Hold:
        h = self.for_update(rid)
        if h is None:
            h = Hold(rid, order_id, channel, seq)
            self.by_id[rid] = h
            if order_id is not None:
                self.per_order[order_id] = self.per_order.get(order_id, 0) + 1
        return h

    def set_expiry(self, h: Hold, expires_us: int | None) -> None:
        if h.expires_us == expires_us:
            return
        if h.expires_us is not None:
            self.expiry.discard((h.expires_us, h.id))
        h.expires_us = expires_us
        if expires_us is not None:
            self.expiry.add((expires_us, h.id))

    def add_line(self, h: Hold, p: Pos, qty: int) -> None:
        h.lines[p] = h.lines.get(p, 0) + qty
        ids = self.by_pos.get(p)  # not setdefault: it builds a set every call
        if ids is None:
            self.by_pos[p] = {h.id}
        else:
            ids.add(h.id)

    def take_line(self, h: Hold, p: Pos, qty: int) -> None:
        left = h.lines.get(p, 0) - qty
        if left > 0:
            h.lines[p] = left
        else:
            h.lines.pop(p, None)
            ids = self.by_pos.get(p)
            if ids is not None:
                ids.discard(h.id)
                if not ids:
                    del self.by_pos[p]

    def close(self, h: Hold, state: str) -> None:
        h.state = state
        self.set_expiry(h, None)

    def due(self, now_us: int) -> list[str]:
        """Ids of held reservations whose expiry is at or before ``now_us``."""
        out = []
        for exp, rid in self.expiry:
            if exp > now_us:
                break
            out.append(rid)
        return out

    def newest_at(self, p: Pos) -> list[str]:
        """Open reservations at ``p``, newest first. O(k log k) for k there,
        plus O(lines) per block (a vectorised scan)."""
        # Rank: (seq, sub); ordinary reservations have a seq each, a block's
        # members share one and their order in the batch is their age order.
        by_id = self.by_id
        rank: dict[str, tuple[int, int]] = {
            rid: (by_id[rid].seq, by_id[rid].sub) for rid in self.by_pos.get(p, ())
        }
        for b in self.batches.values():
            hit = (b.s == p[0]) & (b.l == p[1]) & b.live_lines()
            if hit.any():
                owner = np.searchsorted(b.start, np.flatnonzero(hit), side="right") - 1
                for j in np.unique(owner).tolist():
                    rank[b.rid(j)] = (b.seq, j)
        return sorted(rank, key=rank.__getitem__, reverse=True)
