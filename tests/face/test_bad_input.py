"""Bad input: every public call refuses it with a typed error naming the
field or the value, and leaves the ledger and the journal exactly as they were.

One table. Each case runs against the fixture world of ``conftest.build_world``
(store s1 with A 10 / B 5, warehouse w1 with A 20, channel ``web`` with buffer
2, and one held, committed, expired, released and fulfilled reservation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import World
from omnistock import Channel, Inventory, Line, Location, Order, Point, Sku, errors
from omnistock.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    StorageError,
    UnknownChannel,
    UnknownLocation,
    UnknownReservation,
    UnknownSku,
)
from omnistock.fulfilment import Policy

NAN = math.nan
INF = math.inf
HUGE = 2**62 + 1
LONG = "x" * 201
NAIVE = datetime(2024, 1, 2, 12, 0)


def _corrupt_sqlite(w: World, tmp: Path) -> Any:
    pytest.importorskip("omnistock.storage.sqlite")
    db = tmp / "x.db"
    db.write_bytes(b"this is not a database\x00\xff" * 512)
    return Inventory.open(f"sqlite:///{db}")


def _open_and_run(w: World, tmp: Path, clock: Any) -> Any:
    inv = Inventory.open("memory://", clock=clock)
    return inv.add_location(Location("z"))


def _deli(call: Callable[[Inventory], Any]) -> Any:
    """``call`` on a fresh inventory with a SKU by weight (ham, kg, 3
    decimals, a "half" unit); it must change nothing there either."""
    inv = Inventory.open("memory://")
    inv.add_location(Location("s1"))
    inv.add_sku(Sku("ham", unit="kg", decimals=3, units={"half": Decimal("0.5")}))
    inv.receive("ham", "s1", "2.000")
    head, digest = inv.head, inv.digest()
    try:
        return call(inv)
    finally:
        assert (inv.head, inv.digest()) == (head, digest)


Call = Callable[[World, Path], Any]
# (id, call, error class, text the message must contain)
CASES: list[tuple[str, Call, type[Exception], str]] = [
    # -- quantities ------------------------------------------------------------
    ("receive-qty-zero", lambda w, t: w.inv.receive("A", "s1", 0), InvalidQuantity, "qty=0"),
    ("receive-qty-negative", lambda w, t: w.inv.receive("A", "s1", -3), InvalidQuantity, "qty=-3"),
    (
        "receive-qty-float-whole",
        lambda w, t: w.inv.receive("A", "s1", 3.0),
        InvalidQuantity,
        "qty=3.0",
    ),
    ("receive-qty-float", lambda w, t: w.inv.receive("A", "s1", 2.5), InvalidQuantity, "qty=2.5"),
    ("receive-qty-bool", lambda w, t: w.inv.receive("A", "s1", True), InvalidQuantity, "qty=True"),
    ("receive-qty-nan", lambda w, t: w.inv.receive("A", "s1", NAN), InvalidQuantity, "qty=nan"),
    ("receive-qty-inf", lambda w, t: w.inv.receive("A", "s1", INF), InvalidQuantity, "qty=inf"),
    (
        "receive-qty-huge",
        lambda w, t: w.inv.receive("A", "s1", HUGE),
        InvalidQuantity,
        f"qty={HUGE}",
    ),
    ("receive-qty-str", lambda w, t: w.inv.receive("A", "s1", "3"), InvalidQuantity, "qty='3'"),
    ("receive-qty-none", lambda w, t: w.inv.receive("A", "s1", None), InvalidQuantity, "qty=None"),
    (
        "receive-overflows-on-hand",
        lambda w, t: w.inv.receive("A", "s1", 2**62),
        InvalidQuantity,
        "qty=",
    ),
    ("count-negative", lambda w, t: w.inv.count("A", "s1", -1), InvalidQuantity, "qty=-1"),
    ("count-huge", lambda w, t: w.inv.count("A", "s1", HUGE), InvalidQuantity, "qty="),
    (
        "count-unsellable-overflows",
        lambda w, t: w.inv.count("A", "s1", 2**62, state="damaged"),
        InvalidQuantity,
        f"qty={2**62}",
    ),
    (
        "sell-underflows-on-hand",
        lambda w, t: w.inv.sell("w1", [("A", 2**62)] * 3),
        InvalidQuantity,
        "qty=",
    ),
    (
        "count-bad-state",
        lambda w, t: w.inv.count("A", "s1", 1, state="stolen"),
        InvalidInput,
        "state='stolen'",
    ),
    (
        "set-safety-negative",
        lambda w, t: w.inv.set_safety("A", "s1", -1),
        InvalidQuantity,
        "qty=-1",
    ),
    ("set-safety-nan", lambda w, t: w.inv.set_safety("A", "s1", NAN), InvalidQuantity, "qty=nan"),
    ("sell-line-qty-zero", lambda w, t: w.inv.sell("s1", [("A", 0)]), InvalidQuantity, "qty=0"),
    (
        "sell-line-qty-float",
        lambda w, t: w.inv.sell("s1", [("A", 1.0)]),
        InvalidQuantity,
        "qty=1.0",
    ),
    ("sell-no-lines", lambda w, t: w.inv.sell("s1", []), InvalidInput, "lines="),
    ("sell-lines-str", lambda w, t: w.inv.sell("s1", "A"), InvalidInput, "lines='A'"),
    (
        "sell-line-other-location",
        lambda w, t: w.inv.sell("s1", [Line("A", 1, "w1")]),
        InvalidInput,
        "lines=",
    ),
    (
        "change-state-bad-to",
        lambda w, t: w.inv.change_state("A", "s1", 1, to="lost"),
        InvalidInput,
        "to='lost'",
    ),
    (
        "change-state-same",
        lambda w, t: w.inv.change_state("A", "s1", 1, to="sellable"),
        InvalidInput,
        "to='sellable'",
    ),
    (
        "change-state-too-many",
        lambda w, t: w.inv.change_state("A", "s1", 11, to="damaged"),
        InsufficientStock,
        "requested 11",
    ),
    (
        "change-state-qty-neg",
        lambda w, t: w.inv.change_state("A", "s1", -1, to="damaged"),
        InvalidQuantity,
        "qty=-1",
    ),
    (
        "return-bad-condition",
        lambda w, t: w.inv.return_items("s1", [("A", 1)], condition="meh"),
        InvalidInput,
        "condition='meh'",
    ),
    (
        "return-not-accepted",
        lambda w, t: w.inv.return_items("w1", [("A", 1)]),
        InvalidInput,
        "location='w1'",
    ),
    (
        "return-qty-huge",
        lambda w, t: w.inv.return_items("s1", [("A", 2**62)]),
        InvalidQuantity,
        "qty=",
    ),
    ("expect-naive-eta", lambda w, t: w.inv.expect("A", "s1", 5, eta=NAIVE), InvalidInput, "eta="),
    (
        "expect-eta-str",
        lambda w, t: w.inv.expect("A", "s1", 5, eta="tomorrow"),
        InvalidInput,
        "eta='tomorrow'",
    ),
    (
        "expect-qty-zero",
        lambda w, t: w.inv.expect("A", "s1", 0, eta=w.clock()),
        InvalidQuantity,
        "qty=0",
    ),
    ("promise-qty-zero", lambda w, t: w.inv.promise("A", 0), InvalidQuantity, "qty=0"),
    ("promise-qty-nan", lambda w, t: w.inv.promise("A", NAN), InvalidQuantity, "qty=nan"),
    # -- unknown ids -----------------------------------------------------------
    (
        "receive-unknown-location",
        lambda w, t: w.inv.receive("A", "nowhere", 1),
        UnknownLocation,
        "location='nowhere'",
    ),
    (
        "count-unknown-location",
        lambda w, t: w.inv.count("A", "nowhere", 1),
        UnknownLocation,
        "'nowhere'",
    ),
    ("sell-unknown-sku", lambda w, t: w.inv.sell("s1", [("ZZ", 1)]), UnknownSku, "sku='ZZ'"),
    (
        "sell-unknown-location",
        lambda w, t: w.inv.sell("nowhere", [("A", 1)]),
        UnknownLocation,
        "location='nowhere'",
    ),
    (
        "sell-unknown-channel",
        lambda w, t: w.inv.sell("s1", [("A", 1)], channel="tv"),
        UnknownChannel,
        "channel='tv'",
    ),
    (
        "change-state-unknown-sku",
        lambda w, t: w.inv.change_state("ZZ", "s1", 1, to="damaged"),
        UnknownSku,
        "sku='ZZ'",
    ),
    ("available-unknown-sku", lambda w, t: w.inv.available("ZZ"), UnknownSku, "sku='ZZ'"),
    (
        "available-unknown-location",
        lambda w, t: w.inv.available("A", location="nowhere"),
        UnknownLocation,
        "location='nowhere'",
    ),
    (
        "available-unknown-channel",
        lambda w, t: w.inv.available("A", channel="tv"),
        UnknownChannel,
        "channel='tv'",
    ),
    (
        "explain-unknown-channel",
        lambda w, t: w.inv.explain("A", channel="tv"),
        UnknownChannel,
        "channel='tv'",
    ),
    ("explain-unknown-sku", lambda w, t: w.inv.explain("ZZ"), UnknownSku, "sku='ZZ'"),
    (
        "promise-unknown-channel",
        lambda w, t: w.inv.promise("A", 1, channel="tv"),
        UnknownChannel,
        "channel='tv'",
    ),
    (
        "hold-unknown-sku",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("ZZ", 1, "s1")])),
        UnknownSku,
        "sku='ZZ'",
    ),
    (
        "hold-unknown-location",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 1, "x")])),
        UnknownLocation,
        "location='x'",
    ),
    (
        "hold-unknown-channel",
        lambda w, t: w.inv.hold(Order("h", channel="tv", lines=[Line("A", 1, "s1")])),
        UnknownChannel,
        "channel='tv'",
    ),
    (
        "commit-unknown-reservation",
        lambda w, t: w.inv.commit("nope#1"),
        UnknownReservation,
        "res_id='nope#1'",
    ),
    (
        "collect-unknown-reservation",
        lambda w, t: w.inv.collect("nope#1"),
        UnknownReservation,
        "res_id='nope#1'",
    ),
    (
        "add-channel-unknown-location",
        lambda w, t: w.inv.add_channel(Channel("app", locations=["s1", "mars"])),
        UnknownLocation,
        "'mars'",
    ),
    (
        "add-location-unknown-returns-to",
        lambda w, t: w.inv.add_location(Location("s2", returns_to="mars")),
        UnknownLocation,
        "returns_to='mars'",
    ),
    # -- malformed ids ----------------------------------------------------------
    ("receive-sku-empty", lambda w, t: w.inv.receive("", "s1", 1), InvalidInput, "sku=''"),
    ("receive-sku-long", lambda w, t: w.inv.receive(LONG, "s1", 1), InvalidInput, "sku='xxx"),
    (
        "receive-sku-control",
        lambda w, t: w.inv.receive("A\nB", "s1", 1),
        InvalidInput,
        "sku='A\\nB'",
    ),
    ("receive-sku-none", lambda w, t: w.inv.receive(None, "s1", 1), InvalidInput, "sku=None"),
    ("receive-location-int", lambda w, t: w.inv.receive("A", 7, 1), InvalidInput, "location=7"),
    ("receive-ref-empty", lambda w, t: w.inv.receive("A", "s1", 1, ref=""), InvalidInput, "ref=''"),
    ("receive-key-empty", lambda w, t: w.inv.receive("A", "s1", 1, key=""), InvalidInput, "key=''"),
    (
        "receive-key-control",
        lambda w, t: w.inv.receive("A", "s1", 1, key="k\x00"),
        InvalidInput,
        "key=",
    ),
    ("commit-res-id-long", lambda w, t: w.inv.commit(LONG), InvalidInput, "res_id="),
    ("history-sku-empty", lambda w, t: w.inv.history(sku=""), InvalidInput, "sku=''"),
    ("history-since-negative", lambda w, t: w.inv.history(since=-1), InvalidQuantity, "since=-1"),
    ("history-limit-negative", lambda w, t: w.inv.history(limit=-1), InvalidQuantity, "limit=-1"),
    (
        "receive-ref-unknown-po",
        lambda w, t: w.inv.receive("A", "s1", 1, ref="PO-x"),
        errors.UnknownSupply,
        "ref='PO-x'",
    ),
    (
        "cancel-expected-unknown-po",
        lambda w, t: w.inv.cancel_expected("PO-x"),
        errors.UnknownSupply,
        "po_id='PO-x'",
    ),
    (
        "redate-unknown-po",
        lambda w, t: w.inv.redate("PO-x", datetime(2030, 1, 1, tzinfo=UTC)),
        errors.UnknownSupply,
        "po_id='PO-x'",
    ),
    ("redate-naive-eta", lambda w, t: w.inv.redate("PO-x", NAIVE), InvalidInput, "eta="),
    ("cancel-expected-empty-id", lambda w, t: w.inv.cancel_expected(""), InvalidInput, "po_id=''"),
    (
        "close-transfer-twice",
        lambda w, t: w.inv.close_transfer(w.closed_transfer),
        errors.UnknownSupply,
        "transfer_id=",
    ),
    (
        "close-transfer-unknown",
        lambda w, t: w.inv.close_transfer("T-none"),
        errors.UnknownSupply,
        "transfer_id='T-none'",
    ),
    (
        "close-transfer-empty-id",
        lambda w, t: w.inv.close_transfer(""),
        InvalidInput,
        "transfer_id=''",
    ),
    ("history-order-empty", lambda w, t: w.inv.history(order=""), InvalidInput, "order=''"),
    ("history-order-int", lambda w, t: w.inv.history(order=1), InvalidInput, "order=1"),
    ("history-since-naive", lambda w, t: w.inv.history(since=NAIVE), InvalidInput, "since="),
    ("history-until-naive", lambda w, t: w.inv.history(until=NAIVE), InvalidInput, "until="),
    # -- time and TTL -------------------------------------------------------------
    (
        "hold-ttl-zero",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 1, "s1")]), ttl=0),
        InvalidInput,
        "ttl=0",
    ),
    (
        "hold-ttl-negative",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 1, "s1")]), ttl=timedelta(seconds=-5)),
        InvalidInput,
        "ttl=",
    ),
    (
        "hold-ttl-nan",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 1, "s1")]), ttl=NAN),
        InvalidInput,
        "ttl=nan",
    ),
    (
        "hold-ttl-str",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 1, "s1")]), ttl="15m"),
        InvalidInput,
        "ttl='15m'",
    ),
    ("extend-ttl-zero", lambda w, t: w.inv.extend(w.held, 0), InvalidInput, "ttl=0"),
    ("at-naive-datetime", lambda w, t: w.inv.at(NAIVE), InvalidInput, "when="),
    ("at-past-head", lambda w, t: w.inv.at(10_000), InvalidInput, "when=10000"),
    ("at-negative", lambda w, t: w.inv.at(-1), InvalidQuantity, "when=-1"),
    (
        "open-clock-not-callable",
        lambda w, t: Inventory.open("memory://", clock=42),
        InvalidInput,
        "clock=42",
    ),
    ("open-clock-naive", lambda w, t: _open_and_run(w, t, lambda: NAIVE), InvalidInput, "clock()="),
    # -- lifecycle --------------------------------------------------------------
    ("commit-expired", lambda w, t: w.inv.commit(w.expired), InvalidTransition, "expired"),
    ("commit-released", lambda w, t: w.inv.commit(w.released), InvalidTransition, "released"),
    ("commit-fulfilled", lambda w, t: w.inv.commit(w.fulfilled), InvalidTransition, "fulfilled"),
    ("release-expired", lambda w, t: w.inv.release(w.expired), InvalidTransition, "expired"),
    ("release-fulfilled", lambda w, t: w.inv.release(w.fulfilled), InvalidTransition, "fulfilled"),
    ("extend-expired", lambda w, t: w.inv.extend(w.expired, 60), InvalidTransition, "expired"),
    (
        "extend-committed",
        lambda w, t: w.inv.extend(w.committed, 60),
        InvalidTransition,
        "committed",
    ),
    (
        "resize-released",
        lambda w, t: w.inv.resize(w.released, [("B", 2)]),
        InvalidTransition,
        "released",
    ),
    (
        "resize-up-beyond-atp",
        lambda w, t: w.inv.resize(w.held, [("A", 8)]),
        InsufficientStock,
        "requested 6, available 5",
    ),
    (
        "resize-same-position-twice",
        lambda w, t: w.inv.resize(w.held, [("A", 5, "s1"), ("A", 5, "s1")]),
        InvalidInput,
        "lines=",
    ),
    ("resize-to-zero", lambda w, t: w.inv.resize(w.held, [("A", 0)]), InvalidQuantity, "qty=0"),
    (
        "release-lines-not-in-reservation",
        lambda w, t: w.inv.release(w.committed, lines=[("B", 1)]),
        InvalidInput,
        "is not held by reservation",
    ),
    (
        "release-lines-more-than-held",
        lambda w, t: w.inv.release(w.committed, lines=[("A", 4)]),
        InvalidQuantity,
        "lines=",
    ),
    (
        "release-lines-negative",
        lambda w, t: w.inv.release(w.committed, lines=[("A", -1)]),
        InvalidQuantity,
        "qty=-1",
    ),
    (
        "release-lines-empty",
        lambda w, t: w.inv.release(w.committed, lines=[]),
        InvalidInput,
        "lines=",
    ),
    (
        "release-lines-expired",
        lambda w, t: w.inv.release(w.expired, lines=[("B", 1)]),
        InvalidTransition,
        "expired",
    ),
    ("amend-negative", lambda w, t: w.inv.amend(w.held, [("A", -2)]), InvalidQuantity, "qty=-2"),
    ("amend-zero", lambda w, t: w.inv.amend(w.held, [("A", 0)]), InvalidQuantity, "qty=0"),
    ("amend-huge", lambda w, t: w.inv.amend(w.held, [("A", HUGE)]), InvalidQuantity, "qty="),
    ("amend-float", lambda w, t: w.inv.amend(w.held, [("A", 2.5)]), InvalidQuantity, "qty=2.5"),
    (
        "amend-absurd",
        lambda w, t: w.inv.amend(w.committed, [Line("A", 2**62, "s1")]),
        InsufficientStock,
        f"requested {2**62 - 3}, available 5",
    ),
    ("amend-unknown-sku", lambda w, t: w.inv.amend(w.held, [("Z", 1)]), UnknownSku, "sku='Z'"),
    (
        "amend-unknown-location",
        lambda w, t: w.inv.amend(w.held, [Line("A", 1, "s9")]),
        UnknownLocation,
        "location='s9'",
    ),
    (
        "amend-same-line-twice",
        lambda w, t: w.inv.amend(w.held, [("A", 1), ("A", 2)]),
        InvalidInput,
        "lines=",
    ),
    (
        "amend-released",
        lambda w, t: w.inv.amend(w.released, [("B", 1)]),
        InvalidTransition,
        "released",
    ),
    (
        "amend-unknown-reservation",
        lambda w, t: w.inv.amend("nope#1", [("A", 1)]),
        UnknownReservation,
        "res_id='nope#1'",
    ),
    ("amend-lines-str", lambda w, t: w.inv.amend(w.held, "A"), InvalidInput, "lines='A'"),
    ("ship-held", lambda w, t: w.inv.ship(w.held), InvalidTransition, "held"),
    ("ship-released", lambda w, t: w.inv.ship(w.released), InvalidTransition, "released"),
    (
        "ship-more-than-reserved",
        lambda w, t: w.inv.ship(w.committed, [("A", 4)]),
        InvalidQuantity,
        "lines=",
    ),
    ("collect-fulfilled", lambda w, t: w.inv.collect(w.fulfilled), InvalidTransition, "fulfilled"),
    ("collect-expired", lambda w, t: w.inv.collect(w.expired), InvalidTransition, "expired"),
    (
        "hold-beyond-atp",
        lambda w, t: w.inv.hold(Order("h", lines=[Line("A", 6, "s1")])),
        InsufficientStock,
        "requested 6, available 5",
    ),
    (
        "hold-beyond-channel-buffer",
        lambda w, t: w.inv.hold(Order("h", channel="web", lines=[Line("B", 4, "s1")])),
        InsufficientStock,
        "channel='web'",
    ),
    (
        "hold-pickup-not-offered",
        lambda w, t: w.inv.hold(Order("h", lines=[("A", 1)], method="pickup", pickup_at="w1")),
        InvalidInput,
        "pickup_at='w1'",
    ),
    (
        "hold-unpinned-line",
        lambda w, t: w.inv.hold(Order("h", lines=[("A", 1)])),
        InvalidInput,
        "lines=",
    ),
    ("hold-not-an-order", lambda w, t: w.inv.hold("o9"), InvalidInput, "order='o9'"),
    (
        "add-location-not-a-location",
        lambda w, t: w.inv.add_location({"id": "s9"}),
        InvalidInput,
        "location=",
    ),
    # -- idempotency --------------------------------------------------------------
    (
        "key-reused-other-args",
        lambda w, t: w.inv.receive("A", "s1", 11, key="k-recv"),
        IdempotencyConflict,
        "key='k-recv'",
    ),
    (
        "key-reused-other-command",
        lambda w, t: w.inv.sell("s1", [("A", 1)], key="k-recv"),
        IdempotencyConflict,
        "key='k-recv'",
    ),
    # -- storage -------------------------------------------------------------------
    ("open-bad-url", lambda w, t: Inventory.open("shop.db"), InvalidInput, "url='shop.db'"),
    ("open-unknown-scheme", lambda w, t: Inventory.open("ftp://x"), InvalidInput, "url="),
    ("open-corrupt-sqlite", _corrupt_sqlite, StorageError, "x.db"),
    # -- value constructors ----------------------------------------------------------
    ("location-id-empty", lambda w, t: Location(""), InvalidInput, "id=''"),
    ("location-id-control", lambda w, t: Location("s\t1"), InvalidInput, "id="),
    ("location-kind", lambda w, t: Location("s9", kind="shop"), InvalidInput, "kind='shop'"),
    ("location-sells-str", lambda w, t: Location("s9", sells="yes"), InvalidInput, "sells='yes'"),
    (
        "location-priority-float",
        lambda w, t: Location("s9", priority=1.5),
        InvalidInput,
        "priority=1.5",
    ),
    (
        "location-capacity-negative",
        lambda w, t: Location("s9", daily_capacity=-1),
        InvalidInput,
        "daily_capacity=-1",
    ),
    ("location-tz-unknown", lambda w, t: Location("s9", tz="Mars/Olympus"), InvalidInput, "tz="),
    ("location-tz-path", lambda w, t: Location("s9", tz="../etc/passwd"), InvalidInput, "tz="),
    ("location-tz-int", lambda w, t: Location("s9", tz=1), InvalidInput, "tz=1"),
    ("location-tz-empty", lambda w, t: Location("s9", tz=""), InvalidInput, "tz=''"),
    ("point-lat-out-of-range", lambda w, t: Point(91, 0), InvalidInput, "lat=91"),
    ("point-lat-nan", lambda w, t: Point(NAN, 0), InvalidInput, "lat=nan"),
    ("point-lon-inf", lambda w, t: Point(0, INF), InvalidInput, "lon=inf"),
    ("point-lat-bool", lambda w, t: Point(True, 0), InvalidInput, "lat=True"),
    ("channel-buffer-negative", lambda w, t: Channel("c", buffer=-1), InvalidQuantity, "buffer=-1"),
    ("channel-buffer-float", lambda w, t: Channel("c", buffer=2.0), InvalidQuantity, "buffer=2.0"),
    (
        "channel-locations-str",
        lambda w, t: Channel("c", locations="s1"),
        InvalidInput,
        "locations='s1'",
    ),
    (
        "channel-locations-dupe",
        lambda w, t: Channel("c", locations=["s1", "s1"]),
        InvalidInput,
        "locations=",
    ),
    ("channel-cap-bool", lambda w, t: Channel("c", cap=True), InvalidQuantity, "cap=True"),
    (
        "channel-cap-below-minimum",
        lambda w, t: Channel("c", minimum=5, cap=2),
        InvalidInput,
        "cap=2",
    ),
    # -- low-stock thresholds (issue 16) ----------------------------------------------
    (
        "threshold-low-negative",
        lambda w, t: w.inv.set_threshold("A", low=-1),
        InvalidQuantity,
        "low=-1",
    ),
    (
        "threshold-low-float",
        lambda w, t: w.inv.set_threshold("A", "s1", low=2.5),
        InvalidQuantity,
        "low=2.5",
    ),
    (
        "threshold-low-str",
        lambda w, t: w.inv.set_threshold("A", low="3"),
        InvalidQuantity,
        "low='3'",
    ),
    (
        "threshold-location-unknown",
        lambda w, t: w.inv.set_threshold("A", "nowhere", low=1),
        UnknownLocation,
        "nowhere",
    ),
    ("threshold-sku-empty", lambda w, t: w.inv.set_threshold("", low=1), InvalidInput, "sku=''"),
    (
        "threshold-location-int",
        lambda w, t: w.inv.set_threshold("A", 7, low=1),
        InvalidInput,
        "location=7",
    ),
    # -- kits (add_kit) ----------------------------------------------------------
    (
        "kit-contains-itself",
        lambda w, t: w.inv.add_kit("K", {"A": 1, "K": 1}),
        InvalidInput,
        "components='K'",
    ),
    (
        "kit-zero-component",
        lambda w, t: w.inv.add_kit("K", {"A": 0}),
        InvalidQuantity,
        "components['A']=0",
    ),
    ("kit-no-components", lambda w, t: w.inv.add_kit("K", {}), InvalidInput, "components={}"),
    (
        "kit-qty-float",
        lambda w, t: w.inv.add_kit("K", {"A": 1.5}),
        InvalidQuantity,
        "components['A']=1.5",
    ),
    (
        "kit-qty-str",
        lambda w, t: w.inv.add_kit("K", {"A": "2"}),
        InvalidQuantity,
        "components['A']='2'",
    ),
    (
        "kit-with-stock-of-its-own",
        lambda w, t: w.inv.add_kit("A", {"B": 1}),
        InvalidInput,
        "kit_sku='A'",
    ),
    (
        "kit-components-list",
        lambda w, t: w.inv.add_kit("K", [("A", 1)]),
        InvalidInput,
        "components=",
    ),
    ("kit-sku-empty", lambda w, t: w.inv.add_kit("", {"A": 1}), InvalidInput, "kit_sku=''"),
    ("order-id-long", lambda w, t: Order(LONG, lines=[("A", 1)]), InvalidInput, "id='xxx"),
    ("order-no-lines", lambda w, t: Order("o9", lines=[]), InvalidInput, "lines="),
    (
        "order-method",
        lambda w, t: Order("o9", lines=[("A", 1)], method="drone"),
        InvalidInput,
        "method='drone'",
    ),
    (
        "order-pickup-without-store",
        lambda w, t: Order("o9", lines=[("A", 1)], method="pickup"),
        InvalidInput,
        "pickup_at=None",
    ),
    (
        "order-ship-to-str",
        lambda w, t: Order("o9", lines=[("A", 1)], ship_to="home"),
        InvalidInput,
        "ship_to='home'",
    ),
    (
        "order-allow-partial-str",
        lambda w, t: Order("o9", lines=[("A", 1)], allow_partial="no"),
        InvalidInput,
        "allow_partial='no'",
    ),
    ("line-qty-huge", lambda w, t: Line("A", 2**63), InvalidQuantity, f"qty={2**63}"),
    ("line-qty-nan", lambda w, t: Line("A", NAN), InvalidQuantity, "qty=nan"),
    ("line-sku-none", lambda w, t: Line(None, 1), InvalidInput, "sku=None"),
    # -- SKUs with units and decimals (docs/concepts.md) ------------------------
    (
        "deci-float",
        lambda w, t: _deli(lambda i: i.receive("ham", "s1", 1.5)),
        InvalidQuantity,
        "qty=1.5",
    ),
    ("deci-line-float", lambda w, t: Line("ham", 0.5), InvalidQuantity, "qty=0.5"),
    (
        "deci-too-fine",
        lambda w, t: _deli(lambda i: i.receive("ham", "s1", "1.2345")),
        InvalidQuantity,
        "qty='1.2345'",
    ),
    (
        "deci-line-too-fine",
        lambda w, t: _deli(lambda i: i.sell("s1", [("ham", Decimal("0.0001"))])),
        InvalidQuantity,
        "qty=Decimal('0.0001')",
    ),
    (
        "deci-str-junk",
        lambda w, t: _deli(lambda i: i.set_safety("ham", "s1", "1,5")),
        InvalidQuantity,
        "qty='1,5'",
    ),
    (
        "deci-overflow",
        lambda w, t: _deli(lambda i: i.receive("ham", "s1", 2**61)),
        InvalidQuantity,
        f"qty={2**61}",
    ),
    (
        "deci-threshold-float",
        lambda w, t: _deli(lambda i: i.set_threshold("ham", low=0.5)),
        InvalidQuantity,
        "low=0.5",
    ),
    (
        "deci-promise-too-fine",
        lambda w, t: _deli(lambda i: i.promise("ham", "0.0005")),
        InvalidQuantity,
        "qty='0.0005'",
    ),
    (
        "deci-unknown-unit",
        lambda w, t: _deli(lambda i: i.sell("s1", [Line("ham", 1, unit="crate")])),
        InvalidInput,
        "unit='crate'",
    ),
    (
        "deci-unit-too-fine",
        lambda w, t: _deli(lambda i: i.sell("s1", [Line("ham", "0.0001", unit="half")])),
        InvalidQuantity,
        "qty=Decimal('0.0001')",
    ),
    (
        "deci-decimals-change",
        lambda w, t: _deli(lambda i: i.add_sku(Sku("ham", decimals=2))),
        InvalidInput,
        "decimals=2",
    ),
    (
        "undeclared-decimal",
        lambda w, t: w.inv.receive("A", "s1", Decimal("1.5")),
        InvalidQuantity,
        "qty=Decimal('1.5')",
    ),
    (
        "undeclared-unit",
        lambda w, t: w.inv.sell("s1", [Line("A", 1, unit="case")]),
        InvalidInput,
        "unit='case'",
    ),
    (
        "undeclared-decimals-change",
        lambda w, t: w.inv.add_sku(Sku("A", decimals=1)),
        InvalidInput,
        "decimals=1",
    ),
    ("add-sku-not-sku", lambda w, t: w.inv.add_sku("A"), InvalidInput, "sku='A'"),
    ("sku-decimals-7", lambda w, t: Sku("x", decimals=7), InvalidInput, "decimals=7"),
    ("sku-decimals-neg", lambda w, t: Sku("x", decimals=-1), InvalidInput, "decimals=-1"),
    ("sku-decimals-float", lambda w, t: Sku("x", decimals=2.0), InvalidInput, "decimals=2.0"),
    ("sku-unit-empty", lambda w, t: Sku("x", unit=""), InvalidInput, "unit=''"),
    ("sku-units-not-map", lambda w, t: Sku("x", units=[("case", 12)]), InvalidInput, "units="),
    ("sku-units-empty-name", lambda w, t: Sku("x", units={"": 12}), InvalidInput, "units=''"),
    ("sku-units-zero", lambda w, t: Sku("x", units={"case": 0}), InvalidInput, "units['case']=0"),
    (
        "sku-units-float",
        lambda w, t: Sku("x", decimals=1, units={"half": 0.5}),
        InvalidInput,
        "units['half']=0.5",
    ),
    (
        "sku-units-too-fine",
        lambda w, t: Sku("x", units={"half": Decimal("0.5")}),
        InvalidInput,
        "units['half']=Decimal('0.5')",
    ),
    ("sku-units-base", lambda w, t: Sku("x", units={"each": 2}), InvalidInput, "units['each']="),
    ("sku-id-empty", lambda w, t: Sku(""), InvalidInput, "id=''"),
    ("line-triple-too-long", lambda w, t: Line.of(("A", 1, "s1", 4)), InvalidInput, "lines="),
    # -- paid pickups (no-shows) and transfers --------------------------------------
    (
        "policy-pickup-window-negative",
        lambda w, t: w.inv.set_policy(Policy(pickup_window_hours=-1)),
        InvalidInput,
        "pickup_window_hours=-1",
    ),
    (
        "policy-pickup-window-nan",
        lambda w, t: w.inv.set_policy(Policy.from_dict({"pickup_window_hours": NAN})),
        InvalidInput,
        "pickup_window_hours=nan",
    ),
    (
        "policy-pickup-grace-negative-timedelta",
        lambda w, t: w.inv.set_policy(Policy(pickup_grace_hours=timedelta(hours=-2))),
        InvalidInput,
        "pickup_grace_hours=datetime.timedelta",
    ),
    (
        "policy-pickup-grace-str",
        lambda w, t: w.inv.set_policy(Policy.from_toml('pickup_grace_hours = "24h"')),
        InvalidInput,
        "pickup_grace_hours='24h'",
    ),
    (
        "policy-pickup-window-past-a-year",
        lambda w, t: w.inv.set_policy(Policy(pickup_window_hours=9000)),
        InvalidInput,
        "pickup_window_hours=9000",
    ),
    (
        "policy-keep-paid-pickups-str",
        lambda w, t: w.inv.set_policy(Policy.from_dict({"keep_paid_pickups": "yes"})),
        InvalidInput,
        "keep_paid_pickups='yes'",
    ),
    (
        "receive-transfer-unknown",
        lambda w, t: w.inv.receive_transfer("T-none"),
        errors.UnknownSupply,
        "transfer_id='T-none'",
    ),
    (
        "receive-transfer-closed",
        lambda w, t: w.inv.receive_transfer(w.closed_transfer),
        errors.UnknownSupply,
        "transfer_id=",
    ),
    # -- backorders and preorders (issue 15, item 2) ---------------------------------
    (
        "order-backorder-int",
        lambda w, t: Order("o9", lines=[("A", 1)], backorder=1),
        InvalidInput,
        "backorder=1",
    ),
    (
        "order-backorder-str",
        lambda w, t: Order("o9", lines=[("A", 1)], backorder="yes"),
        InvalidInput,
        "backorder='yes'",
    ),
    (
        "channel-preorder-cap-negative",
        lambda w, t: Channel("c", preorder_cap=-1),
        InvalidQuantity,
        "preorder_cap=-1",
    ),
    (
        "channel-preorder-cap-float",
        lambda w, t: Channel("c", preorder_cap=2.5),
        InvalidQuantity,
        "preorder_cap=2.5",
    ),
    (
        "channel-preorder-cap-bool",
        lambda w, t: Channel("c", preorder_cap=True),
        InvalidQuantity,
        "preorder_cap=True",
    ),
    (
        "backorder-unknown-sku",
        lambda w, t: w.inv.hold(Order("o9", "web", [Line("ZZ", 1, "s1")], backorder=True)),
        UnknownSku,
        "ZZ",
    ),
    (
        "backorder-without-supply",
        lambda w, t: w.inv.hold(Order("o9", "web", [Line("A", 99, "s1")], backorder=True)),
        InsufficientStock,
        "requested 99",
    ),
    # -- lots, expiry and serials (issue 16.3) ----------------------------------
    (
        "on-hand-unknown-lot",
        lambda w, t: w.inv.on_hand("A", "s1", lot="L9"),
        errors.UnknownLot,
        "lot='L9'",
    ),
    ("recall-unknown-lot", lambda w, t: w.inv.recall("A", "L9"), errors.UnknownLot, "lot='L9'"),
    ("recall-unknown-sku", lambda w, t: w.inv.recall("nope", "L1"), UnknownSku, "nope"),
    (
        "receive-naive-expiry",
        lambda w, t: w.inv.receive("A", "s1", 1, lot="L1", expires=NAIVE),
        InvalidInput,
        "expires=",
    ),
    (
        "receive-expiry-not-a-datetime",
        lambda w, t: w.inv.receive("A", "s1", 1, lot="L1", expires="2030-01-01"),
        InvalidInput,
        "expires='2030-01-01'",
    ),
    (
        "receive-expiry-passed",
        lambda w, t: w.inv.receive(
            "A", "s1", 1, lot="L1", expires=datetime(2000, 1, 1, tzinfo=UTC)
        ),
        InvalidInput,
        "has passed",
    ),
    (
        "receive-lot-not-a-string",
        lambda w, t: w.inv.receive("A", "s1", 1, lot=5),
        InvalidInput,
        "lot=5",
    ),
    ("receive-lot-empty", lambda w, t: w.inv.receive("A", "s1", 1, lot=""), InvalidInput, "lot=''"),
    (
        "receive-serials-count",
        lambda w, t: w.inv.receive("A", "s1", 2, serials=["S1"]),
        InvalidInput,
        "serials=",
    ),
    (
        "receive-serials-twice",
        lambda w, t: w.inv.receive("A", "s1", 2, serials=["S1", "S1"]),
        InvalidInput,
        "twice",
    ),
    (
        "receive-serials-a-string",
        lambda w, t: w.inv.receive("A", "s1", 2, serials="S1"),
        InvalidInput,
        "serials='S1'",
    ),
    (
        "return-unknown-lot",
        lambda w, t: w.inv.return_items("s1", [("A", 1)], lot="L9"),
        errors.UnknownLot,
        "lot='L9'",
    ),
    ("recall-lot-not-a-string", lambda w, t: w.inv.recall("A", None), InvalidInput, "lot=None"),
]


@pytest.mark.parametrize(
    ("call", "error", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_and_changes_nothing(
    world: World,
    tmp_path: Path,
    call: Call,
    error: type[Exception],
    text: str,
) -> None:
    inv = world.inv
    head, digest = inv.head, inv.digest()
    n_entries = len(inv.history())
    with pytest.raises(error) as info:
        call(world, tmp_path)
    assert type(info.value) is error, f"raised {type(info.value).__name__}, wanted {error}"
    assert isinstance(info.value, errors.OmnistockError)
    assert text in str(info.value), f"message {str(info.value)!r} lacks {text!r}"
    assert inv.head == head
    assert inv.digest() == digest
    assert len(inv.history()) == n_entries


def test_the_table_is_large_and_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
