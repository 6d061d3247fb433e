"""The channel-adapter contract (omnistock.testing.AdapterContract) for the
built-in web-shop, POS and marketplace adapters."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from omnistock.channels.base import ChannelAdapter
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.channels.pos import PosAdapter
from omnistock.channels.web import WebShopAdapter, sign
from omnistock.testing import AdapterContract, FakeClock

SECRET = b"contract-secret-0123456789"


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


class TestWebShopAdapter(AdapterContract):
    def make_adapter(self) -> ChannelAdapter:
        return WebShopAdapter(SECRET, "web", clock=lambda: FakeClock().now)

    def headers(self, payload: bytes, clock: FakeClock) -> Mapping[str, str] | None:
        return sign(SECRET, payload, int(clock().timestamp()))

    def valid_payloads(self) -> Sequence[bytes]:
        line = {"sku": "A", "qty": 2, "location": "S"}
        return [
            body({"id": "e1", "type": "order.placed", "data": {"order_id": "o1", "lines": [line]}}),
            body({"id": "e2", "type": "order.cancelled", "data": {"order_id": "o1"}}),
            body(
                {
                    "id": "e3",
                    "type": "order.placed",
                    "data": {
                        "order_id": "o2",
                        "method": "pickup",
                        "pickup_at": "S",
                        "lines": [{"sku": "B", "qty": 1}],
                    },
                }
            ),
        ]

    def invalid_payloads(self) -> Sequence[tuple[bytes, str]]:
        ok = {"order_id": "o9", "lines": [{"sku": "A", "qty": 1}]}
        return [
            (
                body({"id": "e9", "type": "order.placed", "data": {**ok, "colour": 1}}),
                "data.colour",
            ),
            (body({"id": "e9", "type": "order.placed", "data": {"order_id": "o9"}}), "data.lines"),
            (body({"id": "e 9", "type": "order.placed", "data": ok}), "id"),
        ]


class TestPosAdapter(AdapterContract):
    def make_adapter(self) -> ChannelAdapter:
        return PosAdapter("t1", "S", channel="pos")

    def valid_payloads(self) -> Sequence[bytes]:
        return [
            body({"receipt_id": "r1", "type": "sale", "items": [{"sku": "A", "qty": 2}]}),
            body({"receipt_id": "r2", "type": "return", "items": [{"sku": "A", "qty": 1}]}),
        ]

    def invalid_payloads(self) -> Sequence[tuple[bytes, str]]:
        return [
            (body({"receipt_id": "r9", "type": "sale"}), "items"),
            (
                body({"receipt_id": "r9", "type": "sale", "items": [{"sku": "A", "qty": 0}]}),
                "items[0].qty",
            ),
        ]


class TestMarketplaceAdapter(AdapterContract):
    def make_adapter(self) -> ChannelAdapter:
        return MarketplaceAdapter("marketplace")

    def valid_payloads(self) -> Sequence[bytes]:
        return [
            body(
                {
                    "message_id": "m1",
                    "type": "order",
                    "order_id": "mk-1",
                    "lines": [{"sku": "A", "qty": 1, "location": "W"}],
                }
            ),
            body({"message_id": "m2", "type": "cancel", "order_id": "mk-1"}),
        ]

    def invalid_payloads(self) -> Sequence[tuple[bytes, str]]:
        return [
            (
                body(
                    {
                        "message_id": "m9",
                        "type": "order",
                        "order_id": "mk-9",
                        "lines": [{"sku": "A", "qty": 1}],
                    }
                ),
                "lines[0].location",
            ),
        ]
