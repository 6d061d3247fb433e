"""The marketplace adapter's durable delta feed (issue 17): ``pending`` is
a consumer of ``Inventory.availability``; ``confirm`` acknowledges it.
The figures equal the adapter's own ``delta``/``full`` figures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, errors
from omnistock.channels.marketplace import Feed, MarketplaceAdapter


@pytest.fixture
def inv(store_url: str, clock: Clock) -> Iterator[Inventory]:
    inv = Inventory.open(store_url, clock=clock)
    inv.add_location(Location("dc"))
    inv.add_location(Location("s1"))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("marketplace", locations=("dc",), buffer=1, cap=5))
    inv.receive("A", "dc", 10)
    inv.receive("B", "dc", 3)
    inv.receive("C", "s1", 4)
    yield inv
    inv.close()


def test_pending_is_durable_and_matches_the_adapter_figures(
    inv: Inventory, store_url: str, clock: Clock
) -> None:
    mk = MarketplaceAdapter()
    first = mk.pending(inv, "amazon")
    assert first.as_dict() == mk.full(inv).as_dict() == {"A": 5, "B": 2, "C": 0}
    assert (first.kind, first.since) == ("delta", 0)
    assert mk.pending(inv, "amazon") == first  # not confirmed: again
    assert mk.confirm(inv, "amazon", first) == first.cursor
    assert mk.confirm(inv, "amazon", first) == first.cursor  # a retry

    before = inv.head
    inv.hold(Order("o1", channel="web", lines=[Line("B", 2, "dc")]), ttl=600)
    inv.sell("s1", [("C", 1)])  # not a marketplace location: no change there
    inv.receive("A", "dc", 1)  # capped at 5: no change
    nxt = mk.pending(inv, "amazon")
    assert nxt.as_dict() == mk.delta(inv, before).as_dict() == {"B": 0}
    assert nxt.since == first.cursor
    if store_url != "memory://":  # a restart resumes from the store
        inv2 = Inventory.open(store_url, clock=clock)
        try:
            assert MarketplaceAdapter().pending(inv2, "amazon") == nxt
            mk.confirm(inv2, "amazon", nxt)
        finally:
            inv2.close()
    else:
        mk.confirm(inv, "amazon", nxt)
    empty = mk.pending(inv, "amazon")
    assert (empty.items, empty.cursor) == ((), inv.cursor("amazon", "marketplace"))


def test_confirm_refuses_another_channels_feed(inv: Inventory) -> None:
    mk = MarketplaceAdapter()
    feed = mk.pending(inv, "amazon")
    other = Feed("web", feed.kind, feed.cursor, feed.since, feed.items)
    with pytest.raises(errors.PayloadError, match="channel"):
        mk.confirm(inv, "amazon", other)
    assert inv.cursor("amazon", "marketplace") == 0
