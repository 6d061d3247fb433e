"""Availability changes: per SKU, a channel's new figure when it differs
from what a consumer was last given.

Durable state per (consumer, channel), kept in the store beside the
journal feed's cursors (``Store.cursor``), in two streams:

- ``availability:<channel>``: the acknowledged seq and the figures the
  consumer has acknowledged (``{"given": {sku: units}}``);
- ``availability-offer:<channel>``: the last delivery not yet
  acknowledged: its seq, the acknowledged seq it was computed from
  (``base``) and its figures (``items``).

``changes`` reads the journal rows after the acknowledged seq, collects
the SKUs they touch (a row without a SKU, such as a channel or location
change, touches every SKU; so does a consumer's first call) and compares
each one's figure now with the acknowledged one; it records the delivery
as the offer and moves nothing else. ``acknowledge`` folds the offer into
the acknowledged figures and moves the seq. Until then every call gives
the changes again, with the figures of the moment: at-least-once, and a
restart neither resends what was acknowledged nor misses a change (every
row after the acknowledged seq is read again).

One reader per (consumer, channel) at a time: two processes delivering to
one consumer would replace each other's offer (nothing is lost, a change
is only delivered again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ..errors import InvalidInput
from ..ledger.heldbatches import BATCH_KINDS, row_skus
from ..ledger.state import LedgerState
from ..queries import Reader
from ..storage import Row, Store

STREAM = "availability:"
OFFER = "availability-offer:"


@attrs.frozen
class AvailabilityChange:
    """``channel``'s figure for ``sku`` is now ``available`` units (what
    ``available(sku, channel=channel)`` gives), true as of journal seq
    ``seq``; acknowledge ``seq`` (``Inventory.ack_availability``) once it is
    published."""

    sku: str
    channel: str
    available: int
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "channel": self.channel,
            "available": self.available,
            "seq": self.seq,
        }


def touched(rows: Iterable[Row]) -> set[str] | None:
    """The SKUs whose figures ``rows`` may move; None when a row names no
    SKU (a location, channel or policy change may move every figure).
    A bulk hold's row names its SKUs in its data. O(rows)."""
    out: set[str] = set()
    for row in rows:
        if row[2] in BATCH_KINDS:
            out.update(row_skus(row[2], row[9]))
        elif row[3] is None:
            return None
        else:
            out.add(row[3])
    return out


def with_kits(skus: Iterable[str], kits: Mapping[str, Mapping[str, int]]) -> set[str]:
    """``skus`` and every kit with a component among them: a component's
    change moves its kits' figures. O(SKUs + kits x components)."""
    out = set(skus)
    if kits:
        out.update(k for k, comps in kits.items() if not out.isdisjoint(comps))
    return out


def figures(st: LedgerState, channel: str, skus: Iterable[str] | None) -> dict[str, int]:
    """The channel's figure of each known SKU and kit (every one when
    None), as ``available(sku, channel=...)`` gives it; the kits of a
    component named come too. O(SKUs x channel locations)."""
    reader = Reader(lambda *_: st)
    known = st.grid.sku_ix
    kits = st.kits
    if skus is None:
        names = [*st.grid.skus, *sorted(kits)]
    elif kits:
        names = sorted(s for s in with_kits(skus, kits) if s in known or s in kits)
    else:
        names = sorted(s for s in skus if s in known)
    return {s: reader.available(s, channel=channel) for s in names}


def _load(text: str | None) -> dict[str, Any]:
    return {} if text is None else dict(json.loads(text))


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def changes(
    store: Store,
    consumer: str,
    channel: str,
    head: Callable[[], int],
    figures_at: Callable[[set[str] | None], dict[str, int]],
) -> list[AvailabilityChange]:
    """The consumer's unacknowledged changes on ``channel`` (see the module
    docstring). ``head()`` catches the ledger up and gives its head;
    ``figures_at(skus)`` the channel's figures now (every SKU when None).
    O(rows after the acknowledged seq + touched SKUs x channel locations)."""
    base, state = store.cursor(consumer, STREAM + channel)
    given: dict[str, int] = _load(state).get("given", {})
    h = max(head(), base)
    skus = None if base == 0 else touched(store.read(base, h))
    now = figures_at(skus)
    items = {s: n for s, n in now.items() if given.get(s) != n}
    if not items:  # nothing to deliver: nothing can be lost by moving on
        if h > base:
            store.set_cursor(consumer, h, _dump({"given": given}), STREAM + channel)
        return []
    store.set_cursor(consumer, h, _dump({"base": base, "items": items}), OFFER + channel)
    return [AvailabilityChange(s, channel, n, h) for s, n in sorted(items.items())]


def acknowledge(store: Store, consumer: str, channel: str, seq: int) -> int:
    """Acknowledge the delivery at ``seq``; returns the acknowledged seq
    after. An ack at or below the acknowledged seq (a retry, an old
    delivery) changes nothing; so does an ack of a delivery a later
    ``changes`` call replaced (its changes come again). ``InvalidInput``
    naming ``seq`` when no delivery at ``seq`` was made."""
    acked, state = store.cursor(consumer, STREAM + channel)
    if seq <= acked:
        return acked
    oseq, otext = store.cursor(consumer, OFFER + channel)
    offer = _load(otext)
    if otext is None or seq > oseq:
        raise InvalidInput(
            "seq",
            seq,
            f"no availability delivery at this seq for consumer {consumer!r} on "
            f"channel {channel!r} (last delivery: {oseq if otext else None})",
        )
    if seq < oseq or offer.get("base") != acked:
        return acked  # a replaced delivery: the changes come again
    given: dict[str, int] = _load(state).get("given", {})
    given.update(offer["items"])
    return store.set_cursor(consumer, seq, _dump({"given": given}), STREAM + channel)
