"""Properties of lots (issue 16.3): first-expiry-first-out always takes the
earliest unexpired lot, and an expired lot is never held, shipped, sold or
transferred, whatever the lots, the clock and the way units leave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock import Channel, Inventory, Line, Location, Order, errors

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

lots_st = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(1, 48)), st.integers(1, 5)), min_size=1, max_size=5
)


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@settings(max_examples=60, deadline=None)
@given(
    lots=lots_st,
    hours=st.integers(0, 50),
    share=st.floats(0.05, 1.0),
    how=st.sampled_from(["ship", "sell", "transfer"]),
)
def test_fefo_takes_the_earliest_unexpired_lots_and_never_an_expired_one(
    lots: list[tuple[int | None, int]], hours: int, share: float, how: str
) -> None:
    clock = _Clock()
    inv = Inventory(clock=clock)
    inv.add_location(Location("A", ships=True))
    inv.add_location(Location("B", ships=True))
    inv.add_channel(Channel("web", locations=["A", "B"]))
    exp = {}
    for i, (h, q) in enumerate(lots):
        e = None if h is None else START + timedelta(hours=h)
        exp[f"L{i}"] = e
        inv.receive("milk", "A", q, lot=f"L{i}", expires=e)
    clock.now = START + timedelta(hours=hours)
    live = [
        (n, q)
        for (n, e), (_, q) in zip(exp.items(), lots, strict=True)
        if e is None or e > clock.now
    ]
    free = sum(q for _, q in live)
    assert inv.available("milk", "A") == free  # expired lots left ATP by the clock
    if free == 0:
        try:
            inv.hold(Order("o", lines=[Line("milk", 1, "A")]))
        except errors.InsufficientStock:
            return
        raise AssertionError("an expired lot was held")
    qty = max(1, int(free * share))
    if how == "ship":
        r = inv.hold(Order("o", channel="web", lines=[Line("milk", qty, "A")]))
        inv.commit(r.id)
        took = inv.ship(r.id).lots
    elif how == "sell":
        took = inv.sell("A", [("milk", qty)]).lots
    else:
        took = inv.transfer("milk", "A", "B", qty).lots
    # The earliest expiry first (none last), ties by receipt: a prefix, each
    # lot but the last taken whole.
    order = sorted(live, key=lambda x: (exp[x[0]] is None, exp[x[0]] or START, int(x[0][1:])))
    want, left = [], qty
    for name, q in order:
        if left == 0:
            break
        want.append((name, min(q, left)))
        left -= min(q, left)
    assert [(x.lot, x.qty) for x in took] == want
    assert all(exp[x.lot] is None or exp[x.lot] > clock.now for x in took)
    assert inv.check().ok
