"""A retailer backend on omnistock: a small FastAPI app.

Serve it (``pip install -e '.[api]'``, which includes uvicorn)::

    OMNISTOCK_STORE=sqlite:///shop.db uvicorn examples.fastapi_backend:app

or run this file to see it answer a few requests through FastAPI's TestClient.

Endpoints:

- ``POST /orders``: allocate an order (the sourcing policy picks locations);
  201 with the allocation, or 409 with the reason when it cannot be filled.
- ``GET /reservations/{id}`` (ids look like ``o-1#1``: URL-encode the ``#``
  as ``%23``); ``POST /reservations/{id}/commit``, ``/ship``,
  ``/collect``; ``DELETE /reservations/{id}`` releases it.
- ``GET /availability/{sku}?channel=&location=`` and ``GET /explain/{sku}``.
- ``POST /webhooks/web``: signed web-shop webhooks (``WebShopAdapter``).

Every write takes an ``Idempotency-Key`` header, passed to omnistock as the
command's ``key``: a retried request returns the first answer and moves
nothing twice. Errors map to HTTP codes: ``InsufficientStock`` and
``IdempotencyConflict`` 409, ``Unknown*`` 404, an invalid state transition
409, other ``InvalidInput`` 422, ``SignatureError`` 401.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

try:
    from fastapi import FastAPI, Header, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field
except ImportError as _missing:  # run without the extra: say which one
    sys.exit(
        f"this example needs the api extra ({_missing.name} is missing): "
        "pip install 'omnistock[api]'"
    )

from omnistock import Channel, Inventory, Line, Location, Order, Point, Reservation, errors
from omnistock.channels.web import WebShopAdapter
from omnistock.fulfilment.results import Allocation

STATUS: list[tuple[type[Exception], int]] = [
    (errors.InsufficientStock, 409),
    (errors.IdempotencyConflict, 409),
    (errors.UnknownSku, 404),
    (errors.UnknownLocation, 404),
    (errors.UnknownChannel, 404),
    (errors.UnknownReservation, 404),
    (errors.SignatureError, 401),
    (errors.InvalidTransition, 409),
    (errors.InvalidInput, 422),
    (errors.ConcurrencyConflict, 503),
    (errors.StorageError, 503),
]


class LineIn(BaseModel):
    """An order line; ``location`` pins it (otherwise the policy chooses)."""

    sku: str
    qty: int
    location: str | None = None


class OrderIn(BaseModel):
    """The body of ``POST /orders``."""

    id: str
    channel: str | None = None
    lines: list[LineIn]
    method: str = "ship"
    ship_to: tuple[float, float] | None = None
    pickup_at: str | None = None
    allow_split: bool = True
    allow_partial: bool = False
    hold_seconds: int = Field(default=900, ge=1, le=30 * 86400)


def reservation_json(r: Reservation) -> dict[str, Any]:
    """A reservation as the API shows it."""
    return {
        "id": r.id,
        "state": r.state,
        "order_id": r.order_id,
        "channel": r.channel,
        "expires_at": None if r.expires_at is None else r.expires_at.isoformat(),
        "lines": [{"sku": x.sku, "location": x.location, "qty": x.qty} for x in r.lines],
        "shipped": [{"sku": x.sku, "location": x.location, "qty": x.qty} for x in r.shipped],
    }


def allocation_json(a: Allocation) -> dict[str, Any]:
    """An allocation as the API shows it."""
    return {
        "order_id": a.order_id,
        "status": a.status,
        "reservation": None if a.reservation is None else reservation_json(a.reservation),
        "reason": a.reason,
        "suggestions": [
            {"location": s.location, "distance_km": s.distance_km} for s in a.suggestions
        ],
        "transfers": [
            {"id": t.id, "sku": t.sku, "from": t.source, "qty": t.qty, "eta": t.eta.isoformat()}
            for t in a.transfers
        ],
        "ready_at": None if a.ready_at is None else a.ready_at.isoformat(),
    }


def create_app(inv: Inventory, web_secret: str | None = None) -> FastAPI:
    """The API over ``inv``. ``web_secret`` enables ``POST /webhooks/web``."""
    app = FastAPI(title="omnistock retailer backend")
    web = WebShopAdapter(web_secret) if web_secret else None

    @app.exception_handler(errors.OmnistockError)
    async def omnistock_error(request: Request, exc: errors.OmnistockError) -> JSONResponse:
        code = next((c for cls, c in STATUS if isinstance(exc, cls)), 500)
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        if isinstance(exc, errors.InsufficientStock):
            body["available"] = exc.available
        return JSONResponse(body, status_code=code)

    @app.post("/orders", status_code=201)
    def place_order(
        body: OrderIn, idempotency_key: str | None = Header(default=None)
    ) -> JSONResponse:
        order = Order(
            body.id,
            channel=body.channel,
            lines=[Line(x.sku, x.qty, x.location) for x in body.lines],
            method=body.method,  # validated by Order: 422 if unknown
            ship_to=None if body.ship_to is None else Point(*body.ship_to),
            pickup_at=body.pickup_at,
            allow_split=body.allow_split,
            allow_partial=body.allow_partial,
        )
        a = inv.allocate(order, ttl=timedelta(seconds=body.hold_seconds), key=idempotency_key)
        return JSONResponse(
            allocation_json(a), status_code=409 if a.status == "unfillable" else 201
        )

    @app.get("/reservations/{res_id}")
    def get_reservation(res_id: str) -> dict[str, Any]:
        return reservation_json(inv.reservation(res_id))

    @app.post("/reservations/{res_id}/commit")
    def commit(res_id: str, idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        return reservation_json(inv.commit(res_id, key=idempotency_key))

    @app.post("/reservations/{res_id}/ship")
    def ship(res_id: str, idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        return reservation_json(inv.ship(res_id, key=idempotency_key))

    @app.post("/reservations/{res_id}/collect")
    def collect(res_id: str, idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        return reservation_json(inv.collect(res_id, key=idempotency_key))

    @app.delete("/reservations/{res_id}")
    def release(res_id: str, idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        return reservation_json(inv.release(res_id, key=idempotency_key))

    @app.get("/availability/{sku}")
    def availability(
        sku: str, channel: str | None = None, location: str | None = None
    ) -> dict[str, Any]:
        return {
            "sku": sku,
            "channel": channel,
            "location": location,
            "available": inv.available(sku, location, channel),
        }

    @app.get("/explain/{sku}")
    def explain(
        sku: str, channel: str | None = None, location: str | None = None
    ) -> dict[str, Any]:
        e = inv.explain(sku, location, channel)
        return {
            "sku": sku,
            "available": e.available,
            "positive_sum": e.positive_sum,
            "buffer": e.buffer,
            "cap": e.cap,
            "text": str(e),
            "positions": [
                {
                    "location": p.location,
                    "on_hand": p.on_hand,
                    "unsellable": p.unsellable,
                    "reserved": p.reserved,
                    "safety": p.safety,
                    "atp": p.atp,
                }
                for p in e.positions
            ],
        }

    @app.post("/webhooks/web")
    async def web_webhook(request: Request) -> Any:
        if web is None:
            return JSONResponse(
                {"error": "NotConfigured", "detail": "set a web secret"}, status_code=404
            )
        results = web.handle(inv, await request.body(), dict(request.headers))
        return {"applied": len(results)}

    return app


def seeded(url: str = "memory://") -> Inventory:
    """A small network with stock, for the demo and the tests."""
    inv = Inventory.open(url)
    inv.add_location(Location("DC-LEEDS", kind="dc", point=Point(53.80, -1.55)))
    inv.add_location(Location("ST-LONDON", kind="store", point=Point(51.51, -0.13)))
    inv.add_channel(Channel("web", buffer=1))
    inv.receive("TEE-BLK-M", "DC-LEEDS", 20, key="seed-1")
    inv.receive("TEE-BLK-M", "ST-LONDON", 4, key="seed-2")
    return inv


app = create_app(
    seeded(os.environ.get("OMNISTOCK_STORE", "memory://")), os.environ.get("OMNISTOCK_WEB_SECRET")
)


def main() -> None:
    """Answer a few requests in-process and print them."""
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    client = TestClient(create_app(seeded()))
    r = client.post(
        "/orders",
        json={
            "id": "o-1",
            "channel": "web",
            "ship_to": [51.5, -0.1],
            "lines": [{"sku": "TEE-BLK-M", "qty": 2}],
        },
        headers={"Idempotency-Key": "checkout-o-1"},
    )
    print(r.status_code, r.json()["status"], r.json()["reservation"]["lines"])
    rid = quote(r.json()["reservation"]["id"], safe="")  # ids look like 'o-1#1'
    print(client.post(f"/reservations/{rid}/commit").json()["state"])
    print(client.post(f"/reservations/{rid}/ship").json()["state"])
    print(client.get("/availability/TEE-BLK-M", params={"channel": "web"}).json())
    print(client.get("/availability/NOPE").status_code, "for an unknown SKU")


if __name__ == "__main__":
    main()
