"""Web-shop webhooks end to end: signed events become ledger commands.

A shop sends order.placed (pinned and pickup), a redelivery of the same event,
a forged and a replayed request, order.cancelled, pickup.collected and
return.requested. Each step prints what the ledger says.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from omnistock import Channel, Inventory, Location
from omnistock.channels.web import WebShopAdapter, sign
from omnistock.errors import PayloadError, SignatureError

SECRET = b"shared-webhook-secret-0001"


def main() -> None:
    now = [datetime(2026, 11, 27, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("store-1", kind="store"))
    inv.add_location(Location("dc-1", kind="dc"))
    inv.add_channel(Channel("web", buffer=1))
    inv.receive("sku-42", "store-1", 6)
    inv.receive("sku-42", "dc-1", 20)
    web = WebShopAdapter(SECRET, "web", clock=clock)

    def deliver(event: dict[str, Any], at: datetime | None = None) -> list[Any]:
        body = json.dumps(event).encode()
        headers = sign(SECRET, body, int((at or now[0]).timestamp()))
        return web.handle(inv, body, headers)

    print("web can sell:", inv.available("sku-42", channel="web"))

    placed = {
        "id": "evt-1001",
        "type": "order.placed",
        "data": {
            "order_id": "W-1",
            "commit": True,
            "lines": [{"sku": "sku-42", "qty": 2, "location": "dc-1"}],
        },
    }
    res = deliver(placed)
    print("order.placed W-1 ->", [(r.id, r.state) for r in res])
    head = inv.head
    deliver(placed)  # the shop retried the webhook
    print("redelivered evt-1001: journal head unchanged:", inv.head == head)

    pickup = {
        "id": "evt-1002",
        "type": "order.placed",
        "data": {
            "order_id": "W-2",
            "method": "pickup",
            "pickup_at": "store-1",
            "lines": [{"sku": "sku-42", "qty": 1}],
        },
    }
    print("pickup order W-2 ->", deliver(pickup)[0].state, "at store-1")

    body = json.dumps({**placed, "id": "evt-evil"}).encode()
    try:
        web.handle(
            inv,
            body,
            {
                "X-Omnistock-Timestamp": str(int(now[0].timestamp())),
                "X-Omnistock-Signature": "v1=" + "0" * 64,
            },
        )
    except SignatureError as exc:
        print("forged request refused:", exc)
    try:
        deliver({**placed, "id": "evt-old"}, at=now[0] - timedelta(hours=1))
    except SignatureError as exc:
        print("replayed request refused:", exc)
    try:
        deliver(
            {
                "id": "evt-1003",
                "type": "order.placed",
                "data": {"order_id": "W-3", "lines": [{"sku": "sku-42", "qty": 1}]},
            }
        )
    except PayloadError as exc:
        print("unpinned ship order refused:", exc.field, "-", exc.reason[:60], "...")

    now[0] += timedelta(minutes=5)
    print(
        "order.cancelled W-1 ->",
        deliver({"id": "evt-1004", "type": "order.cancelled", "data": {"order_id": "W-1"}})[
            0
        ].state,
    )
    print(
        "pickup.collected W-2 ->",
        deliver({"id": "evt-1005", "type": "pickup.collected", "data": {"order_id": "W-2"}})[
            0
        ].state,
    )
    deliver(
        {
            "id": "evt-1006",
            "type": "return.requested",
            "data": {
                "order_id": "W-2",
                "location": "store-1",
                "condition": "damaged",
                "lines": [{"sku": "sku-42", "qty": 1}],
            },
        }
    )
    print(
        "returned damaged: store-1 on hand",
        inv.on_hand("sku-42", "store-1"),
        "of which damaged",
        inv.on_hand("sku-42", "store-1", "damaged"),
    )
    print("web can sell:", inv.available("sku-42", channel="web"))
    print("reconciler:", "ok" if inv.check().ok else "PROBLEMS")


if __name__ == "__main__":
    main()
