"""Property of order changes through the face (hypothesis): whatever
sequence of allocate, amend, release-lines, ship-lines and commit runs,

- at every position, reserved units equal the sum of the open reservations'
  lines there;
- a command never reserves at a position more than was free there (its
  ATP) before it, so ATP never goes below zero (no physical movement runs);
- a refused command changes nothing;
- ``check()`` (replay equals live, invariants) passes at the end.

Amendments mix pinned and unpinned lines, so the policy's sourcing, the
top-up where a SKU is already held and daily capacities all take part.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_face_properties import (
    LOCS,
    PROPS,
    SKUS,
    assert_within_atp,
    build,
    orders,
    setups,
    snapshot,
)

from omnistock import Inventory, Line
from omnistock.errors import InsufficientStock, InvalidInput

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OPEN = ("held", "committed")

steps = st.lists(
    st.sampled_from(
        ["allocate", "allocate", "amend", "amend", "amend", "release", "ship", "commit"]
    ),
    min_size=1,
    max_size=16,
)


def reserved_by_lines(inv: Inventory) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in inv.reservations():
        if r.state in OPEN:
            for x in r.lines:
                out[(x.sku, x.location)] = out.get((x.sku, x.location), 0) + x.qty
    return out


def amend_lines(data: Any, held: list[Any]) -> list[Line]:
    """New lines for a reservation: some of its own (pinned or not, new
    quantities), maybe new SKUs (unpinned, or pinned anywhere)."""
    out: dict[tuple[str, str | None], int] = {}
    skus_done: dict[str, bool] = {}
    for x in held:
        if data.draw(st.integers(0, 3)) == 0:
            continue  # dropped
        pin = data.draw(st.booleans())
        if skus_done.get(x.sku, pin) != pin:
            continue  # a SKU is named pinned or unpinned, not both
        skus_done[x.sku] = pin
        k = (x.sku, x.location if pin else None)
        out[k] = data.draw(st.integers(1, x.qty + 2))
    for _ in range(data.draw(st.integers(0 if out else 1, 2))):
        sku = data.draw(st.sampled_from(SKUS))
        loc = data.draw(st.sampled_from([None, *LOCS]))
        if skus_done.get(sku, loc is not None) != (loc is not None) or (sku, loc) in out:
            continue
        skus_done[sku] = loc is not None
        out[(sku, loc)] = data.draw(st.integers(1, 6))
    return [Line(s, q, loc) for (s, loc), q in out.items()]


def pick_lines(data: Any, held: list[Any]) -> list[Line]:
    """Some units of a reservation's lines (sometimes more than it holds)."""
    picks = data.draw(st.lists(st.sampled_from(held), min_size=1, max_size=2))
    return [
        Line(
            x.sku,
            data.draw(st.integers(1, x.qty + 1)),
            data.draw(st.sampled_from([x.location, None])),
        )
        for x in picks
    ]


@settings(PROPS, max_examples=40)
@given(setup=setups, plan=steps, data=st.data())
def test_order_changes_keep_reserved_equal_to_open_lines(
    setup: dict[str, Any], plan: list[str], data: Any
) -> None:
    inv, _clock = build(setup)
    n = 0
    for kind in plan:
        before = snapshot(inv)
        digest, head = inv.digest(), inv.head
        open_ = [r for r in inv.reservations() if r.state in OPEN and r.lines]
        try:
            if kind == "allocate" or not open_:
                inv.allocate(data.draw(orders(n)), ttl=7200)
                n += 1
                kind = "allocate"
            else:
                r = data.draw(st.sampled_from(open_))
                if kind == "amend":
                    inv.amend(r.id, amend_lines(data, list(r.lines)))
                elif kind == "release":
                    inv.release(r.id, lines=pick_lines(data, list(r.lines)))
                elif kind == "ship" and r.state == "committed":
                    inv.ship(r.id, pick_lines(data, list(r.lines)))
                else:
                    inv.commit(r.id)
            event(f"{kind} applied")
        except (InsufficientStock, InvalidInput):
            event(f"{kind} refused")
            assert (inv.digest(), inv.head) == (digest, head), f"refused {kind} changed state"
        after = snapshot(inv)
        assert_within_atp(before, after, kind)
        lines = reserved_by_lines(inv)
        for pos, (_, free, reserved) in after.items():
            assert reserved == lines.get(pos, 0), (kind, pos, reserved, lines.get(pos, 0))
            free0, reserved0 = before[pos][1], before[pos][2]
            assert free - reserved >= min(0, free0 - reserved0), (kind, pos, free, reserved)
    report = inv.check()
    assert report.ok, str(report)
