"""The reference service (examples/fastapi_backend.py), through its
TestClient, on SQLite and PostgreSQL (and memory)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from omnistock import Inventory
from omnistock.channels.web import sign

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_backend.py"
SECRET = "a-shared-secret-of-32-bytes-long"
PROBLEM = "application/problem+json"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_backend_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return _load()


@pytest.fixture
def client(example: ModuleType, store_url: str) -> Iterator[TestClient]:
    with TestClient(example.create_app(example.seeded(store_url), web_secret=SECRET)) as c:
        yield c


def _order(oid: str, qty: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "id": oid,
        "channel": "web",
        "ship_to": [51.5, -0.1],
        "lines": [{"sku": "TEE-BLK-M", "qty": qty}],
        **extra,
    }


def _rid(resp: Any) -> str:
    return quote(resp.json()["reservation"]["id"], safe="")


def _avail(client: TestClient, **params: str) -> int:
    n: int = client.get("/availability/TEE-BLK-M", params=params).json()["available"]
    return n


def _is_problem(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is RFC 9457 problem details with ``status``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers["content-type"]
    body: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail", "instance", "code"} <= body.keys(), body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def test_order_commit_ship(client: TestClient) -> None:
    before = _avail(client)
    r = client.post("/orders", json=_order("o-1"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "allocated"
    rid = _rid(r)
    assert _avail(client) == before - 2
    assert client.post(f"/reservations/{rid}/commit").json()["state"] == "committed"
    assert client.post(f"/reservations/{rid}/ship").json()["state"] == "fulfilled"
    assert client.get(f"/reservations/{rid}").json()["state"] == "fulfilled"


def test_the_order_id_is_the_natural_key(client: TestClient) -> None:
    """A client that retries a POST it never saw answered gets the same
    reservation; the same id with another body is a 409 problem."""
    first = client.post("/orders", json=_order("o-9"))
    avail = _avail(client)
    again = client.post("/orders", json=_order("o-9"))
    assert again.status_code == 201
    assert again.json()["reservation"]["id"] == first.json()["reservation"]["id"]
    assert _avail(client) == avail
    other = client.post("/orders", json=_order("o-9", qty=3))
    _is_problem(other, 409, "IdempotencyConflict")
    assert _avail(client) == avail


def test_idempotency_key_header(client: TestClient) -> None:
    h = {"Idempotency-Key": "checkout-7"}
    first = client.post("/orders", json=_order("o-7"), headers=h)
    avail = _avail(client)
    again = client.post("/orders", json=_order("o-7"), headers=h)
    assert again.json()["reservation"]["id"] == first.json()["reservation"]["id"]
    assert _avail(client) == avail
    _is_problem(client.post("/orders", json=_order("o-8"), headers=h), 409, "IdempotencyConflict")


def test_release_returns_stock(client: TestClient) -> None:
    before = _avail(client)
    rid = _rid(client.post("/orders", json=_order("o-2", 3)))
    r = client.delete(f"/reservations/{rid}")
    assert r.status_code == 200 and r.json()["state"] == "released"
    assert _avail(client) == before


@pytest.mark.parametrize(
    "order_id",
    ["o#1", "a/b", "50%", "why?", "two words", "tab\there", "", "-leading", "x" * 65, "é"],
)
def test_ids_with_reserved_characters_are_refused(client: TestClient, order_id: str) -> None:
    head = client.get("/health").json()["head"]
    body = _is_problem(client.post("/orders", json=_order(order_id)), 422)
    assert any(e["field"] == "body.id" for e in body["errors"]), body
    assert client.get("/health").json()["head"] == head  # nothing journaled


def test_every_error_is_one_problem_shape(client: TestClient) -> None:
    body = _is_problem(client.post("/orders", json=_order("o-3", 1000)), 409, "Unfillable")
    assert body["type"] == "urn:omnistock:problem:unfillable"
    pinned = {"id": "o-4", "lines": [{"sku": "TEE-BLK-M", "qty": 99, "location": "ST-LONDON"}]}
    _is_problem(client.post("/orders", json=pinned), 409)
    _is_problem(client.get("/availability/NOPE"), 404, "UnknownSku")
    _is_problem(client.get("/explain/TEE-BLK-M", params={"channel": "nope"}), 404)
    _is_problem(client.post("/reservations/nope%231/commit"), 404, "UnknownReservation")
    bad = _is_problem(client.post("/orders", json=_order("o-5", 0)), 422, "InvalidQuantity")
    assert "qty" in bad["detail"]
    _is_problem(client.post("/orders", json=_order("o-6", method="teleport")), 422)
    _is_problem(client.post("/orders", content=b"{not json"), 422, "RequestValidationError")
    _is_problem(client.get("/no/such/route"), 404, "HTTPException")
    rid = _rid(client.post("/orders", json=_order("o-10", 1)))
    _is_problem(client.post(f"/reservations/{rid}/ship"), 409, "InvalidTransition")


def test_openapi_documents_every_error_status(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/orders"]["post"]["responses"]
    assert {"201", "404", "409", "422", "503"} <= post.keys()
    assert "Problem" in json.dumps(post["409"])
    for path in ("/reservations/{res_id}/commit", "/reservations/{res_id}"):
        for op in spec["paths"][path].values():
            assert "404" in op["responses"], (path, op["responses"].keys())
    assert "ReservationOut" in spec["components"]["schemas"]
    assert "AllocationOut" in spec["components"]["schemas"]


def test_explain(client: TestClient) -> None:
    e = client.get("/explain/TEE-BLK-M", params={"channel": "web"}).json()
    assert e["buffer"] == 1
    assert e["available"] == e["positive_sum"] - 1
    assert {p["location"] for p in e["positions"]} == {"DC-LEEDS", "ST-LONDON"}


def test_events_at_least_once_then_acked(client: TestClient) -> None:
    client.post("/orders", json=_order("o-11"))
    first = client.get("/events", params={"consumer": "erp"}).json()
    assert [e["seq"] for e in first] == sorted(e["seq"] for e in first)
    assert any(e["kind"] == "held" and e["ref"] == "o-11#1" for e in first)
    assert client.get("/events", params={"consumer": "erp"}).json() == first  # not acked
    last = first[-1]["seq"]
    assert client.post("/events/erp/ack", json={"seq": last}).json() == {
        "consumer": "erp",
        "seq": last,
    }
    assert client.get("/events", params={"consumer": "erp"}).json() == []
    client.post("/orders", json=_order("o-12"))
    new = client.get("/events", params={"consumer": "erp"}).json()
    assert new and all(e["seq"] > last for e in new)
    assert client.get("/events", params={"consumer": "other"}).json()[0]["seq"] == first[0]["seq"]
    _is_problem(client.get("/events", params={"consumer": "a#b"}), 422)
    _is_problem(client.get("/events", params={"consumer": "erp", "limit": 0}), 422)


def test_health(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["head"] >= 5


def test_signed_webhook(client: TestClient) -> None:
    body = json.dumps(
        {
            "id": "evt-1",
            "type": "order.placed",
            "data": {
                "order_id": "wo-1",
                "lines": [{"sku": "TEE-BLK-M", "qty": 1, "location": "DC-LEEDS"}],
            },
        }
    ).encode()
    headers = sign(SECRET.encode(), body, int(time.time()))
    before = _avail(client, location="DC-LEEDS")
    r = client.post("/webhooks/web", content=body, headers=headers)
    assert r.status_code == 200, r.text
    again = client.post("/webhooks/web", content=body, headers=headers)  # redelivered
    assert again.status_code == 200
    assert _avail(client, location="DC-LEEDS") == before - 1
    forged = dict(headers, **{"X-Omnistock-Signature": "v1=" + "0" * 64})
    _is_problem(client.post("/webhooks/web", content=body, headers=forged), 401, "SignatureError")


def test_a_second_process_sees_the_same_store(example: ModuleType, tmp_path: Path) -> None:
    """Two services on one SQLite file (two workers): an order booked by one
    is seen, and not booked twice, by the other."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with (
        TestClient(example.create_app(example.seeded(url))) as a,
        TestClient(example.create_app(example.seeded(url))) as b,
    ):
        first = a.post("/orders", json=_order("o-20"))
        again = b.post("/orders", json=_order("o-20"))
        assert again.json()["reservation"]["id"] == first.json()["reservation"]["id"]
        assert _avail(a) == _avail(b)
    with Inventory.open(url) as inv:
        assert inv.check().ok


def test_example_runs(example: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    example.main()
    out = capsys.readouterr().out
    assert "allocated" in out and "fulfilled" in out and "404" in out and PROBLEM in out
