"""Marketplace adapter: availability feeds out, order messages in.

Feeds (:meth:`MarketplaceAdapter.full`, :meth:`MarketplaceAdapter.delta`)
give each SKU's figure for one channel under the ring-fence rule of
:mod:`omnistock.ledger.pools`: the channel's buffer, its cap, its own
guaranteed minimum, and every other channel's minimum set aside. Both render
as CSV or JSON (:class:`Feed`).

:meth:`MarketplaceAdapter.pending` is the durable form: a consumer of
``Inventory.availability`` whose acknowledged figures and cursor live in
the store, confirmed with :meth:`MarketplaceAdapter.confirm` once
published (at-least-once; docs/integration.md).

A delta since a cursor (a journal sequence number) holds only SKUs whose
figure differs from the figure at the cursor. It reads the journal rows after
the cursor to find the touched SKUs and recomputes only those, so its cost is
O(rows since the cursor + touched SKUs x channel locations), not
O(positions). A journal row without a SKU (a channel or location change) can
move every figure; the delta then falls back to a full feed and says so
(``Feed.kind == "full"``).

Inbound, :meth:`MarketplaceAdapter.parse` validates the marketplace's order
messages (``order`` holds pinned lines, ``cancel`` releases) with the same
strict schema rules as the web adapter.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import PayloadError, UnknownChannel
from ..feeds.availability import touched as touched_skus
from ..feeds.availability import with_kits
from ..values import Line, Order
from . import _schema as S
from ._orders import by_order, scope
from .base import ChannelAdapter, Command
from .payloads import UNSET, MarketMessage

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["Feed", "FeedItem", "MarketplaceAdapter"]

OPEN = ("held", "committed")


@attrs.frozen
class FeedItem:
    sku: str
    quantity: int


@attrs.frozen
class Feed:
    """An availability feed for one channel.

    ``kind``: ``full`` (every SKU) or ``delta`` (only SKUs whose figure
    changed after ``since``); ``cursor``: the journal head the figures are
    true at; pass it as ``since`` to the next delta."""

    channel: str
    kind: str
    cursor: int
    since: int | None
    items: tuple[FeedItem, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "channel": self.channel,
                "kind": self.kind,
                "cursor": self.cursor,
                "since": self.since,
                "items": [{"sku": i.sku, "quantity": i.quantity} for i in self.items],
            },
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,  # a SKU with decimals: its Decimal as an exact string, "1.250"
        )

    def to_csv(self) -> str:
        """``sku,quantity`` rows with a header. SKUs that a spreadsheet would
        read as a formula (leading ``= + - @``, tab or CR) are prefixed with
        ``'``."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["sku", "quantity"])
        for i in self.items:
            sku = "'" + i.sku if i.sku[:1] in ("=", "+", "-", "@", "\t", "\r") else i.sku
            w.writerow([sku, i.quantity])
        return buf.getvalue()

    def as_dict(self) -> dict[str, int]:
        return {i.sku: i.quantity for i in self.items}


class MarketplaceAdapter(ChannelAdapter):
    """Feeds and order messages for one marketplace channel.

    ``instance`` scopes message ids (keys are
    ``marketplace:<instance>:<message_id>``); default: the channel. A
    ``cancel`` releases only this channel's reservation for the order id."""

    name = "marketplace"

    def __init__(
        self,
        channel: str = "marketplace",
        *,
        ttl_seconds: int = 3600,
        max_bytes: int = S.MAX_BODY,
        instance: str | None = None,
    ) -> None:
        self.channel = S.ident(channel, "channel")
        self.instance = self.channel if instance is None else S.ident(instance, "instance")
        self.prefix = f"marketplace:{scope(self.instance)}:"
        """Every key this adapter writes starts with it."""
        self.ttl_seconds = S.integer(ttl_seconds, "ttl_seconds", 1, 30 * 86400)
        self.max_bytes = max_bytes
        self._last: dict[str, int] = {}
        self._last_cursor: int | None = None

    # -- figures ----------------------------------------------------------------
    def figures(self, inv: Queries, skus: Iterable[str]) -> dict[str, int]:
        """The channel's ring-fenced figure for each SKU: exactly what the
        ledger's ``available(sku, channel=...)`` gives (buffer, cap and the
        other channels' fences, :mod:`omnistock.ledger.pools`).
        O(channels x locations) per SKU."""
        if self.channel not in inv.channels:
            raise UnknownChannel(self.channel)
        return {sku: inv.available(sku, channel=self.channel) for sku in skus}

    def publish(self, inv: Queries, skus: Iterable[str] | None = None) -> dict[str, int]:
        return self.figures(inv, [*inv.skus, *sorted(inv.kits())] if skus is None else skus)

    def full(self, inv: Queries) -> Feed:
        """Every SKU's figure. O(SKUs x channel locations)."""
        cursor = inv.head
        figs = self.figures(inv, [*inv.skus, *sorted(inv.kits())])
        self._last, self._last_cursor = figs, cursor
        return Feed(
            self.channel, "full", cursor, None, tuple(FeedItem(s, q) for s, q in figs.items())
        )

    def delta(self, inv: Inventory, since: int) -> Feed:
        """SKUs whose figure changed after journal seq ``since``.

        The figures at ``since`` come from this adapter's last feed when its
        cursor is ``since``, else from ``inv.at(since)`` (a replay)."""
        since = S.integer(since, "since", 0, 2**62)
        cursor = inv.head
        if since > cursor:
            raise PayloadError("since", since, f"is past the journal head {cursor}")
        touched = touched_skus(inv.store.read(since, cursor))
        if touched is None:  # a network change may move every figure
            return attrs.evolve(self.full(inv), since=since)
        kits = inv.kits()
        if kits:  # a component's change moves its kits
            touched = with_kits(touched, kits)
        now = self.figures(inv, sorted(touched))
        if self._last_cursor == since:
            before: Mapping[str, int | None] = {s: self._last.get(s) for s in touched}
        else:
            view = inv.at(since)
            known = set(view.skus) | set(view.kits())
            old = self.figures(view, sorted(touched & known))
            before = {s: old.get(s) for s in touched}
        items = tuple(FeedItem(s, q) for s, q in now.items() if before.get(s) != q)
        last = dict(self._last) if self._last_cursor == since else {}
        last.update(now)
        self._last, self._last_cursor = last, cursor
        return Feed(self.channel, "delta", cursor, since, items)

    def pending(self, inv: Inventory, consumer: str) -> Feed:
        """The durable delta feed of ``consumer`` (a name for this
        marketplace's connector): the SKUs whose figure changed since the
        figures it last confirmed (``Inventory.availability``), the first
        time every SKU. Until ``confirm``, the same changes come again
        (with the figures of the moment), also after a restart.
        ``cursor``: the seq to confirm; ``since``: the seq confirmed
        before."""
        since = inv.cursor(consumer, self.channel)
        changes = inv.availability(consumer, self.channel)
        cursor = changes[0].seq if changes else inv.cursor(consumer, self.channel)
        items = tuple(FeedItem(c.sku, c.available) for c in changes)
        return Feed(self.channel, "delta", cursor, since, items)

    def confirm(self, inv: Inventory, consumer: str, feed: Feed) -> int:
        """Record that ``feed`` (from ``pending``) was published; returns
        the confirmed seq. Idempotent (``Inventory.ack_availability``)."""
        if feed.channel != self.channel:
            raise PayloadError("channel", feed.channel, f"is not this adapter's {self.channel!r}")
        return inv.ack_availability(consumer, self.channel, feed.cursor)

    # -- inbound ----------------------------------------------------------------
    def parse(self, payload: bytes, headers: Mapping[str, str] | None = None) -> list[Command]:
        """Validate a marketplace order message::

            {"message_id": "m-1", "type": "order", "order_id": "mk-9",
             "lines": [{"sku": "A", "qty": 1, "location": "dc-1"}]}
            {"message_id": "m-2", "type": "cancel", "order_id": "mk-9"}

        Lines must be pinned (marketplace orders are placed against the feed
        of a location set; unpinned sourcing needs the fulfilment module)."""
        m: MarketMessage = S.decode(payload, MarketMessage, self.max_bytes)
        order_id = S.printable(m.order_id, "order_id")
        key = self.prefix + m.message_id
        if len(key) > 200:
            raise PayloadError("message_id", m.message_id, "too long once prefixed")
        if m.type == "cancel":
            if m.lines is not UNSET:
                raise PayloadError("lines", m.lines, "a cancel has no lines")
            return [Command("release_order", {"order_id": order_id}, key)]
        if m.lines is UNSET:
            raise PayloadError("lines", None, "is required for an order")
        S.printable_lines(m.lines, "lines")
        ls = [(x.sku, x.qty, x.location) for x in m.lines]
        order = Order(order_id, channel=self.channel, lines=[Line(*x) for x in ls])
        return [Command("hold", {"order": order, "ttl": self.ttl_seconds}, key)]

    def execute(self, inv: Inventory, command: Command) -> Any:
        """Apply a message. The ledger's ``hold`` applies the channel's
        ring-fence itself, in the same commit, so a marketplace can never
        take stock fenced for other channels, even under concurrency."""
        if command.op == "release_order":
            return by_order(
                inv, command.kwargs["order_id"], self.channel, inv.release, command.key, "order_id"
            )
        return super().execute(inv, command)
