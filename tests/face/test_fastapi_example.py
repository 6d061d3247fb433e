"""The FastAPI example backend, through its TestClient."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from omnistock.channels.web import sign

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_backend.py"
SECRET = "a-shared-secret-of-32-bytes-long"


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
def client(example: ModuleType) -> TestClient:
    return TestClient(example.create_app(example.seeded(), web_secret=SECRET))


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


def test_order_commit_ship(client: TestClient) -> None:
    before = client.get("/availability/TEE-BLK-M").json()["available"]
    r = client.post("/orders", json=_order("o-1"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "allocated"
    rid = _rid(r)
    assert client.get("/availability/TEE-BLK-M").json()["available"] == before - 2
    assert client.post(f"/reservations/{rid}/commit").json()["state"] == "committed"
    assert client.post(f"/reservations/{rid}/ship").json()["state"] == "fulfilled"
    assert client.get(f"/reservations/{rid}").json()["state"] == "fulfilled"


def test_a_retried_post_without_a_key_books_once(client: TestClient) -> None:
    """The order id is a natural key (issue 13, item 5): a client that
    retries a POST it never saw answered gets the same reservation."""
    first = client.post("/orders", json=_order("o-9"))
    avail = client.get("/availability/TEE-BLK-M").json()["available"]
    again = client.post("/orders", json=_order("o-9"))
    assert again.status_code == 201
    assert again.json()["reservation"]["id"] == first.json()["reservation"]["id"]
    assert client.get("/availability/TEE-BLK-M").json()["available"] == avail


def test_idempotency_key_header(client: TestClient) -> None:
    h = {"Idempotency-Key": "checkout-7"}
    first = client.post("/orders", json=_order("o-7"), headers=h)
    avail = client.get("/availability/TEE-BLK-M").json()["available"]
    again = client.post("/orders", json=_order("o-7"), headers=h)
    assert again.status_code == 201
    assert again.json()["reservation"]["id"] == first.json()["reservation"]["id"]
    assert client.get("/availability/TEE-BLK-M").json()["available"] == avail
    other = client.post("/orders", json=_order("o-8"), headers=h)
    assert other.status_code == 409
    assert other.json()["error"] == "IdempotencyConflict"


def test_release_returns_stock(client: TestClient) -> None:
    before = client.get("/availability/TEE-BLK-M").json()["available"]
    rid = _rid(client.post("/orders", json=_order("o-2", 3)))
    r = client.delete(f"/reservations/{rid}")
    assert r.status_code == 200 and r.json()["state"] == "released"
    assert client.get("/availability/TEE-BLK-M").json()["available"] == before


def test_error_codes(client: TestClient) -> None:
    assert client.post("/orders", json=_order("o-3", 1000)).status_code == 409
    pinned = {"id": "o-4", "lines": [{"sku": "TEE-BLK-M", "qty": 99, "location": "ST-LONDON"}]}
    assert client.post("/orders", json=pinned).status_code == 409
    assert client.get("/availability/NOPE").status_code == 404
    assert client.get("/explain/TEE-BLK-M", params={"channel": "nope"}).status_code == 404
    assert client.post("/reservations/nope%231/commit").status_code == 404
    bad = client.post("/orders", json=_order("o-5", 0))
    assert bad.status_code == 422 and "qty" in bad.json()["detail"]
    assert client.post("/orders", json=_order("o-6", method="teleport")).status_code == 422
    rid = _rid(client.post("/orders", json=_order("o-9", 1)))
    shipped_held = client.post(f"/reservations/{rid}/ship")
    assert shipped_held.status_code == 409  # held, not committed: an invalid transition


def test_explain(client: TestClient) -> None:
    e = client.get("/explain/TEE-BLK-M", params={"channel": "web"}).json()
    assert e["buffer"] == 1
    assert e["available"] == e["positive_sum"] - 1
    assert {p["location"] for p in e["positions"]} == {"DC-LEEDS", "ST-LONDON"}


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
    before = client.get("/availability/TEE-BLK-M", params={"location": "DC-LEEDS"}).json()
    r = client.post("/webhooks/web", content=body, headers=headers)
    assert r.status_code == 200, r.text
    again = client.post("/webhooks/web", content=body, headers=headers)  # redelivered
    assert again.status_code == 200
    after = client.get("/availability/TEE-BLK-M", params={"location": "DC-LEEDS"}).json()
    assert after["available"] == before["available"] - 1
    forged = dict(headers, **{"X-Omnistock-Signature": "v1=" + "0" * 64})
    assert client.post("/webhooks/web", content=body, headers=forged).status_code == 401


def test_example_runs(example: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    example.main()
    out = capsys.readouterr().out
    assert "allocated" in out and "fulfilled" in out and "404" in out
