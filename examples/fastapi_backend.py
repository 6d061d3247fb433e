"""A retailer backend on omnistock: the reference service to start from.

Serve it (``pip install -e '.[api]'``, which includes uvicorn)::

    OMNISTOCK_STORE=sqlite:///shop.db uvicorn examples.fastapi_backend:app

or run this file to see it answer a few requests through FastAPI's TestClient.

What a deployment gets:

- **The async face** (``AsyncInventory``): no request blocks the event loop;
  concurrent requests land in one group commit.
- **One error shape**: every 4xx/5xx is RFC 9457 problem details
  (``application/problem+json``: ``type``, ``title``, ``status``,
  ``detail``, ``instance``), with ``code`` (the omnistock error) and, where
  it helps, ``available``, ``errors`` or ``suggestions``. Each route's
  error statuses are in the OpenAPI document.
- **Response models** for every success body.
- **The order id is the natural key**: a client that retries
  ``POST /orders`` (it never saw the answer) gets the first answer and
  books nothing twice; the same id with a different body is a 409. Order
  ids are refused when they hold characters that ids, paths or keys
  reserve (``#``, ``/``, ``%``, ``?``, whitespace, ...).
- ``GET /events?consumer=NAME`` and ``POST /events/{consumer}/ack``: the
  durable, at-least-once journal feed; ``GET /health``.

Endpoints: ``POST /orders``; ``GET /reservations/{id}`` (ids look like
``o-1#1``: URL-encode ``#`` as ``%23``); ``POST /reservations/{id}/commit``,
``/ship``, ``/collect``; ``DELETE /reservations/{id}`` releases it;
``GET /availability/{sku}?channel=&location=``; ``GET /explain/{sku}``;
``POST /webhooks/web`` (signed web-shop webhooks). Writes other than
``POST /orders`` take an ``Idempotency-Key`` header, passed on as the
command's ``key``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

try:
    from fastapi import FastAPI, Header, Path, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException
except ImportError as _missing:  # run without the extra: say which one
    sys.exit(
        f"this example needs the api extra ({_missing.name} is missing): "
        "pip install 'omnistock[api]'"
    )

import omnistock
from omnistock import (
    AsyncInventory,
    Channel,
    Entry,
    Inventory,
    Line,
    Location,
    Order,
    Point,
    Reservation,
    errors,
)
from omnistock.channels.web import WebShopAdapter
from omnistock.fulfilment.results import Allocation

PROBLEM = "application/problem+json"
ORDER_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
"""Order ids: no character that reservation ids (``#``), paths (``/``,
``%``, ``?``) or keys reserve, no whitespace; at most 64."""

# (error class, HTTP status, problem slug, title): first match wins.
STATUS: list[tuple[type[Exception], int, str, str]] = [
    (errors.InsufficientStock, 409, "insufficient-stock", "Not enough stock"),
    (errors.IdempotencyConflict, 409, "idempotency-conflict", "Key used by another request"),
    (errors.UnknownSku, 404, "unknown-sku", "Unknown SKU"),
    (errors.UnknownLocation, 404, "unknown-location", "Unknown location"),
    (errors.UnknownChannel, 404, "unknown-channel", "Unknown channel"),
    (errors.UnknownReservation, 404, "unknown-reservation", "Unknown reservation"),
    (errors.SignatureError, 401, "bad-signature", "Webhook signature rejected"),
    (errors.InvalidTransition, 409, "invalid-transition", "Not allowed in this state"),
    (errors.InvalidInput, 422, "invalid-input", "Invalid input"),
    (errors.ConcurrencyConflict, 503, "busy", "Too much contention; retry"),
    (errors.StorageError, 503, "storage-unavailable", "Store unavailable"),
]


# -- models ---------------------------------------------------------------------------
class Problem(BaseModel):
    """RFC 9457 problem details: the one error shape of this API."""

    type: str = Field(description="A URI naming the problem type.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="The request path.")
    code: str = Field(description="The omnistock error (or HTTP error) behind it.")
    available: int | None = Field(default=None, description="Units available (stock problems).")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Field errors.")
    suggestions: list[SuggestionOut] | None = Field(
        default=None, description="Stores that could serve a pickup order."
    )


class SuggestionOut(BaseModel):
    location: str
    distance_km: float


Problem.model_rebuild()


class LineIn(BaseModel):
    """An order line; ``location`` pins it (otherwise the policy chooses)."""

    sku: str = Field(min_length=1, max_length=128)
    qty: int
    location: str | None = None


class OrderIn(BaseModel):
    """The body of ``POST /orders``. ``id`` is the natural key."""

    id: str = Field(pattern=ORDER_ID)
    channel: str | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    method: str = "ship"
    ship_to: tuple[float, float] | None = None
    pickup_at: str | None = None
    allow_split: bool = True
    allow_partial: bool = False
    hold_seconds: int = Field(default=900, ge=1, le=30 * 86400)


class LineOut(BaseModel):
    sku: str
    location: str
    qty: int


class ReservationOut(BaseModel):
    id: str
    state: str
    order_id: str | None
    channel: str | None
    expires_at: datetime | None
    lines: list[LineOut]
    shipped: list[LineOut]


class TransferOut(BaseModel):
    id: str
    sku: str
    source: str
    qty: int
    eta: datetime


class AllocationOut(BaseModel):
    order_id: str
    status: str
    reservation: ReservationOut | None
    transfers: list[TransferOut]
    ready_at: datetime | None


class AvailabilityOut(BaseModel):
    sku: str
    channel: str | None
    location: str | None
    available: int


class PositionOut(BaseModel):
    location: str
    on_hand: int
    unsellable: dict[str, int] = Field(description="Units per unsellable state.")
    reserved: int
    safety: int
    atp: int


class ExplanationOut(BaseModel):
    sku: str
    available: int
    positive_sum: int
    buffer: int
    cap: int | None
    text: str
    positions: list[PositionOut]


class EntryOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    sku: str | None
    location: str | None
    qty: int
    ref: str | None
    channel: str | None


class AckIn(BaseModel):
    seq: int = Field(ge=0)


class AckOut(BaseModel):
    consumer: str
    seq: int


class HealthOut(BaseModel):
    status: str
    version: str
    head: int


class WebhookOut(BaseModel):
    applied: int


def reservation_out(r: Reservation) -> ReservationOut:
    return ReservationOut(
        id=r.id,
        state=r.state,
        order_id=r.order_id,
        channel=r.channel,
        expires_at=r.expires_at,
        lines=[LineOut(sku=x.sku, location=x.location, qty=x.qty) for x in r.lines],
        shipped=[LineOut(sku=x.sku, location=x.location, qty=x.qty) for x in r.shipped],
    )


def allocation_out(a: Allocation) -> AllocationOut:
    return AllocationOut(
        order_id=a.order_id,
        status=a.status,
        reservation=None if a.reservation is None else reservation_out(a.reservation),
        transfers=[
            TransferOut(id=t.id, sku=t.sku, source=t.source, qty=t.qty, eta=t.eta)
            for t in a.transfers
        ],
        ready_at=a.ready_at,
    )


def entry_out(e: Entry) -> EntryOut:
    return EntryOut(
        seq=e.seq, at=e.at, kind=e.kind, sku=e.sku, location=e.location, qty=e.qty,
        ref=e.ref, channel=e.channel,
    )  # fmt: skip


# -- problems -------------------------------------------------------------------------
def problem(
    request: Request, status: int, slug: str, title: str, detail: str, code: str, **extra: Any
) -> JSONResponse:
    """A problem-details response (RFC 9457)."""
    body = Problem(
        type=f"urn:omnistock:problem:{slug}", title=title, status=status, detail=detail,
        instance=request.url.path, code=code, **extra,
    )  # fmt: skip
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM)


def _documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer."""
    why = {
        401: "Signature rejected",
        404: "Unknown SKU, location, channel or reservation",
        409: "Not enough stock, an invalid transition, or a key reused",
        422: "Invalid input (names the field and value)",
        503: "Store unavailable or too much contention (retry)",
    }
    return {c: {"model": Problem, "description": why[c], "content": {PROBLEM: {}}} for c in codes}


def _install_problems(app: FastAPI) -> None:
    @app.exception_handler(errors.OmnistockError)
    async def omnistock_error(request: Request, exc: errors.OmnistockError) -> JSONResponse:
        status, slug, title = 500, "internal", "Internal error"
        for cls, code, s, t in STATUS:
            if isinstance(exc, cls):
                status, slug, title = code, s, t
                break
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.InsufficientStock):
            extra["available"] = exc.available
        return problem(request, status, slug, title, str(exc), type(exc).__name__, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return problem(
            request, 422, "invalid-input", "Invalid input", detail, "RequestValidationError",
            errors=fields,
        )  # fmt: skip

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(
            request, exc.status_code, f"http-{exc.status_code}", str(exc.detail),
            str(exc.detail), "HTTPException",
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak internals; the log has the traceback.
        return problem(request, 500, "internal", "Internal error", "see the server log", "Internal")


# -- the app --------------------------------------------------------------------------
Key = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def create_app(inv: AsyncInventory, web_secret: str | None = None) -> FastAPI:
    """The API over ``inv`` (closed when the app shuts down). ``web_secret``
    enables ``POST /webhooks/web``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await inv.aclose()

    app = FastAPI(title="omnistock retailer backend", version=omnistock.__version__,
                  lifespan=lifespan)  # fmt: skip
    _install_problems(app)
    web = WebShopAdapter(web_secret) if web_secret else None

    @app.get("/health", responses=_documented(503))
    async def health() -> HealthOut:
        """The store answers: its journal head."""
        return HealthOut(status="ok", version=omnistock.__version__, head=await inv.refresh())

    @app.post(
        "/orders",
        status_code=201,
        response_model=AllocationOut,
        responses=_documented(404, 409, 422, 503),
    )
    async def place_order(request: Request, body: OrderIn, key: Key = None) -> Any:
        """Allocate an order. The order id is the natural key: a retry
        returns the first answer. An order that cannot be filled is a 409
        problem with the reason (and stores to suggest for pickup)."""
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
        ttl = timedelta(seconds=body.hold_seconds)
        a = await inv.allocate(order, ttl=ttl, key=key or f"order:{body.id}")
        if a.status == "unfillable":
            sugg = [
                SuggestionOut(location=s.location, distance_km=s.distance_km) for s in a.suggestions
            ]
            return problem(
                request, 409, "unfillable", "Order cannot be filled",
                a.reason or "no location can serve it", "Unfillable", suggestions=sugg or None,
            )  # fmt: skip
        return allocation_out(a)

    @app.get("/reservations/{res_id}", responses=_documented(404))
    async def get_reservation(res_id: str) -> ReservationOut:
        return reservation_out(await inv.reservation(res_id))

    @app.post("/reservations/{res_id}/commit", responses=_documented(404, 409, 503))
    async def commit(res_id: str, key: Key = None) -> ReservationOut:
        return reservation_out(await inv.commit(res_id, key=key))

    @app.post("/reservations/{res_id}/ship", responses=_documented(404, 409, 503))
    async def ship(res_id: str, key: Key = None) -> ReservationOut:
        return reservation_out(await inv.ship(res_id, key=key))

    @app.post("/reservations/{res_id}/collect", responses=_documented(404, 409, 503))
    async def collect(res_id: str, key: Key = None) -> ReservationOut:
        return reservation_out(await inv.collect(res_id, key=key))

    @app.delete("/reservations/{res_id}", responses=_documented(404, 409, 503))
    async def release(res_id: str, key: Key = None) -> ReservationOut:
        return reservation_out(await inv.release(res_id, key=key))

    @app.get("/availability/{sku}", responses=_documented(404, 422))
    async def availability(
        sku: str, channel: str | None = None, location: str | None = None
    ) -> AvailabilityOut:
        n = await inv.available(sku, location, channel)
        return AvailabilityOut(sku=sku, channel=channel, location=location, available=n)

    @app.get("/explain/{sku}", responses=_documented(404, 422))
    async def explain(
        sku: str, channel: str | None = None, location: str | None = None
    ) -> ExplanationOut:
        e = await inv.explain(sku, location, channel)
        return ExplanationOut(
            sku=sku, available=e.available, positive_sum=e.positive_sum, buffer=e.buffer,
            cap=e.cap, text=str(e),
            positions=[
                PositionOut(location=p.location, on_hand=p.on_hand, unsellable=p.unsellable,
                            reserved=p.reserved, safety=p.safety, atp=p.atp)
                for p in e.positions
            ],
        )  # fmt: skip

    @app.get("/events", responses=_documented(422, 503))
    async def events(
        consumer: Annotated[str, Query(pattern=ORDER_ID)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        wait: Annotated[float, Query(ge=0, le=30)] = 0,
    ) -> list[EntryOut]:
        """Journal entries after ``consumer``'s last ack, oldest first
        (at-least-once: unacked entries come again); ``wait`` seconds for
        something new when there is nothing."""
        return [entry_out(e) for e in await inv.feed(consumer, limit=limit, wait=wait)]

    @app.post("/events/{consumer}/ack", responses=_documented(422, 503))
    async def ack(consumer: Annotated[str, Path(pattern=ORDER_ID)], body: AckIn) -> AckOut:
        """Everything up to ``seq`` was handled: the feed resumes after it."""
        await inv.ack(consumer, body.seq)
        return AckOut(consumer=consumer, seq=body.seq)

    @app.post("/webhooks/web", response_model=WebhookOut, responses=_documented(401, 404, 409, 422))
    async def web_webhook(request: Request) -> Any:
        if web is None:
            return problem(
                request, 404, "not-configured", "Webhooks not configured",
                "set OMNISTOCK_WEB_SECRET", "NotConfigured",
            )  # fmt: skip
        body, headers = await request.body(), dict(request.headers)
        results = await asyncio.to_thread(web.handle, inv.inventory, body, headers)
        return WebhookOut(applied=len(results))

    return app


def seed(inv: Inventory) -> Inventory:
    """A small network with stock, for the demo and the tests (keyed: a
    second seeding of one store moves nothing)."""
    inv.add_location(Location("DC-LEEDS", kind="dc", point=Point(53.80, -1.55)), key="seed-dc")
    inv.add_location(Location("ST-LONDON", kind="store", point=Point(51.51, -0.13)),
                     key="seed-st")  # fmt: skip
    inv.add_channel(Channel("web", buffer=1), key="seed-web")
    inv.receive("TEE-BLK-M", "DC-LEEDS", 20, key="seed-1")
    inv.receive("TEE-BLK-M", "ST-LONDON", 4, key="seed-2")
    return inv


def seeded(url: str = "memory://") -> AsyncInventory:
    """The async face over a seeded store."""
    return AsyncInventory(seed(Inventory.open(url)))


app = create_app(
    seeded(os.environ.get("OMNISTOCK_STORE", "memory://")), os.environ.get("OMNISTOCK_WEB_SECRET")
)


def main() -> None:
    """Answer a few requests in-process and print them."""
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    with TestClient(create_app(seeded())) as client:
        order = {
            "id": "o-1",
            "channel": "web",
            "ship_to": [51.5, -0.1],
            "lines": [{"sku": "TEE-BLK-M", "qty": 2}],
        }
        r = client.post("/orders", json=order)
        print(r.status_code, r.json()["status"], r.json()["reservation"]["lines"])
        print("retried:", client.post("/orders", json=order).json()["reservation"]["id"])
        rid = quote(r.json()["reservation"]["id"], safe="")  # ids look like 'o-1#1'
        print(client.post(f"/reservations/{rid}/commit").json()["state"])
        print(client.post(f"/reservations/{rid}/ship").json()["state"])
        print(client.get("/availability/TEE-BLK-M", params={"channel": "web"}).json())
        nope = client.get("/availability/NOPE")
        print(nope.status_code, nope.headers["content-type"], nope.json()["title"])
        events = client.get("/events", params={"consumer": "demo"}).json()
        print(len(events), "events; last:", events[-1]["kind"])
        client.post("/events/demo/ack", json={"seq": events[-1]["seq"]})
        print(client.get("/events", params={"consumer": "demo"}).json(), "after the ack")


if __name__ == "__main__":
    main()
