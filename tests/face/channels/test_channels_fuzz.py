"""Hypothesis fuzzes every adapter's parser with malformed, truncated, huge and
hostile payloads. Each must raise a typed omnistock error and leave the
ledger exactly as it was (same digest, same head)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.base import ChannelAdapter
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.channels.pos import PosAdapter
from omnistock.channels.web import WebShopAdapter, sign
from omnistock.errors import OmnistockError, SignatureError

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
SECRET = b"fuzzing-secret-0123456789"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TAKEN = {
    "A",
    "S",
    "W",
    "o-1",
    "mk-1",
    "web",
    "pos",
    "amazon",
    "sale",
    "return",
    "exchange",
    "order",
    "cancel",
    "ship",
    "pickup",
    "sellable",
    "damaged",
    "inspection",
    "quarantine",
    "display",
    "write_off",
    "order.placed",
    "order.cancelled",
    "pickup.collected",
    "return.requested",
}

_world: dict[str, Inventory] = {}


def world() -> Inventory:
    """One ledger shared by every example: no fuzzed payload may change it."""
    if "inv" not in _world:
        inv = Inventory(clock=lambda: NOW)
        inv.add_location(Location("S", kind="store"))
        inv.add_location(Location("W", kind="warehouse"))
        inv.add_channel(Channel("web"))
        inv.add_channel(Channel("amazon", buffer=1))
        inv.add_channel(Channel("pos", locations=["S"], minimum=2))
        inv.receive("A", "S", 10)
        inv.receive("A", "W", 10)
        inv.hold(Order("o-1", channel="web", lines=[Line("A", 1, "S")]), ttl=86400)
        inv.hold(Order("mk-1", channel="amazon", lines=[Line("A", 1, "W")]), ttl=86400)
        _world["inv"] = inv
    return _world["inv"]


WEB = WebShopAdapter(SECRET, "web", clock=lambda: NOW)
POS = PosAdapter("t1", "S", channel="pos")
MARKET = MarketplaceAdapter("amazon")


def web_send(body: bytes) -> None:
    WEB.handle(world(), body, sign(SECRET, body, int(NOW.timestamp())))


def pos_send(body: bytes) -> None:
    POS.handle(world(), body)


def market_send(body: bytes) -> None:
    MARKET.handle(world(), body)


ADAPTERS: list[tuple[str, Callable[[bytes], None]]] = [
    ("web", web_send),
    ("pos", pos_send),
    ("marketplace", market_send),
]

TEMPLATES: dict[str, list[tuple[dict[str, Any], set[str]]]] = {
    # (valid payload, fields that any foreign string makes invalid)
    "web": [
        (
            {
                "id": "evt-1",
                "type": "order.placed",
                "data": {"order_id": "o-new", "lines": [{"sku": "A", "qty": 1, "location": "S"}]},
            },
            {"id", "type", "sku", "location"},
        ),
        (
            {
                "id": "evt-2",
                "type": "order.placed",
                "data": {
                    "order_id": "o-new",
                    "method": "pickup",
                    "pickup_at": "S",
                    "lines": [{"sku": "A", "qty": 1}],
                },
            },
            {"id", "type", "sku", "method", "pickup_at"},
        ),
        (
            {"id": "evt-3", "type": "order.cancelled", "data": {"order_id": "o-1"}},
            {"id", "type", "order_id"},
        ),
        (
            {"id": "evt-4", "type": "pickup.collected", "data": {"order_id": "o-1"}},
            {"id", "type", "order_id"},
        ),
        (
            {
                "id": "evt-5",
                "type": "return.requested",
                "data": {
                    "order_id": "o-1",
                    "location": "S",
                    "condition": "damaged",
                    "lines": [{"sku": "A", "qty": 1}],
                },
            },
            {"id", "type", "location", "condition", "sku"},
        ),
    ],
    "pos": [
        (
            {"receipt_id": "r1", "type": "sale", "items": [{"sku": "A", "qty": 1}]},
            {"receipt_id", "type", "sku"},
        ),
        (
            {
                "receipt_id": "r2",
                "type": "return",
                "items": [{"sku": "A", "qty": 1}],
                "condition": "damaged",
            },
            {"receipt_id", "type", "sku", "condition"},
        ),
        (
            {
                "receipt_id": "r3",
                "type": "exchange",
                "items": [{"sku": "A", "qty": 1}],
                "returned": [{"sku": "A", "qty": 1}],
            },
            {"receipt_id", "type", "sku"},
        ),
    ],
    "marketplace": [
        (
            {
                "message_id": "m1",
                "type": "order",
                "order_id": "mk-2",
                "lines": [{"sku": "A", "qty": 1, "location": "W"}],
            },
            {"message_id", "type", "sku", "location"},
        ),
        (
            {"message_id": "m2", "type": "cancel", "order_id": "mk-1"},
            {"message_id", "type", "order_id"},
        ),
    ],
}

OPTIONAL = {"condition", "location"}
"""Template fields whose absence is valid (deleting them is not a mutation): a
web order line without a location is placed by the sourcing policy."""

HOSTILE = st.sampled_from(
    [
        "'; DROP TABLE journal; --",
        '" OR 1=1 --',
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/dev/null",
        "A\x00",
        "\u202eA",
        "😀" * 50,
        "%s%s%n",
        "${jndi:ldap://x}",
        " A",
        "A ",
        "<script>",
        "\ud800x",
        "Ａ",
        "a" * 129,
        "",
    ]
) | st.text(min_size=1, max_size=40).map(lambda s: s + "/'")
WRONG_STR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.just({"$gt": ""}),
)
WRONG_INT = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.floats(),
    st.just(1.0),
    st.integers(max_value=0),
    st.integers(min_value=10**6 + 1),
    st.just(10**400),
    st.lists(st.integers(), max_size=2),
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def get_parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw: st.DrawFn, adapter: str) -> bytes:
    doc, stringy = draw(st.sampled_from(TEMPLATES[adapter]))
    doc = copy.deepcopy(doc)
    path = draw(st.sampled_from(paths(doc)))
    parent, last = get_parent(doc, path), path[-1]
    value = parent[last]
    how = draw(st.sampled_from(["delete", "wrong", "hostile", "extra", "bomb"]))
    if how == "delete" and last in OPTIONAL:
        how = "wrong"
    if how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "extra" or (how == "delete" and isinstance(parent, list)):
        target = parent if isinstance(parent, dict) else get_parent(doc, path[:-1])
        target[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in target))] = 1
    elif how == "hostile" and last in stringy:
        parent[last] = draw(HOSTILE.filter(lambda s: s not in TAKEN))
    elif how == "bomb":
        depth = draw(st.integers(9, 3000))
        parent[last] = (
            json.loads("[" * min(depth, 900) + "]" * min(depth, 900)) if depth < 900 else None
        )
        body = json.dumps(doc)
        if depth >= 900:  # too deep for json.dumps: splice the bomb in as text
            body = body.replace("null", "[" * depth + "]" * depth, 1)
        return body.encode()
    elif how == "hostile" and last in OPTIONAL:  # null is a valid optional value
        parent[last] = draw(WRONG_STR.filter(lambda v: v is not None))
    elif isinstance(value, int) and not isinstance(value, bool):
        parent[last] = draw(WRONG_INT)
    elif isinstance(value, str):
        wrong = WRONG_STR.filter(lambda v: v is not None) if last in OPTIONAL else WRONG_STR
        parent[last] = draw(wrong)
    else:  # a list or object replaced by a scalar
        parent[last] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=3)))
    # ensure_ascii=False with a lone surrogate gives bytes that are not UTF-8: also hostile
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def must_fail(send: Callable[[bytes], None], body: bytes) -> None:
    inv = world()
    head, digest = inv.head, inv.digest()
    try:
        send(body)
    except OmnistockError:
        pass
    else:
        raise AssertionError(f"accepted: {body[:200]!r}")
    assert (inv.head, inv.digest()) == (head, digest)


def each_adapter(test: Callable[[str, Callable[[bytes], None], Any], None]) -> Any:
    @FUZZ
    @given(data=st.data(), which=st.sampled_from(ADAPTERS))
    def run(data: Any, which: tuple[str, Callable[[bytes], None]]) -> None:
        test(which[0], which[1], data)

    return run


@each_adapter
def test_random_bytes(name: str, send: Callable[[bytes], None], data: Any) -> None:
    must_fail(send, data.draw(st.binary(max_size=300)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


@each_adapter
def test_random_json(name: str, send: Callable[[bytes], None], data: Any) -> None:
    must_fail(send, json.dumps(data.draw(json_values)).encode())


@each_adapter
def test_mutated_valid_payloads(name: str, send: Callable[[bytes], None], data: Any) -> None:
    must_fail(send, data.draw(mutated(name)))


@each_adapter
def test_truncated_payloads(name: str, send: Callable[[bytes], None], data: Any) -> None:
    doc, _ = data.draw(st.sampled_from(TEMPLATES[name]))
    body = json.dumps(doc).encode()
    must_fail(send, body[: data.draw(st.integers(0, len(body) - 1))])


@each_adapter
def test_huge_payloads(name: str, send: Callable[[bytes], None], data: Any) -> None:
    doc, _ = data.draw(st.sampled_from(TEMPLATES[name]))
    doc = copy.deepcopy(doc)
    kind = data.draw(st.sampled_from(["pad", "lines", "string"]))
    if kind == "pad":
        body = json.dumps(doc).encode() + b" " * data.draw(st.integers(70_000, 200_000))
    else:
        holder = doc.get("data", doc)
        key = "lines" if "lines" in holder else "items" if "items" in holder else None
        if kind == "lines" and key is not None:
            holder[key] = holder[key] * data.draw(st.integers(501, 2000))
        else:
            first = next(k for k, v in holder.items() if isinstance(v, str))
            holder[first] = "x" * data.draw(st.integers(129, 60_000))
        body = json.dumps(doc).encode()
    must_fail(send, body)


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(["X-Omnistock-Timestamp", "X-Omnistock-Signature", "x-other"]),
        st.text(max_size=80),
        max_size=3,
    )
    | st.none(),
    shift=st.integers(-(10**6), 10**6),
)
def test_web_bad_signatures(headers: dict[str, str] | None, shift: int) -> None:
    body = json.dumps(TEMPLATES["web"][0][0]).encode()
    inv = world()
    head = inv.head
    for h in (
        headers,
        sign(SECRET, body, int(NOW.timestamp()) + shift)
        if abs(shift) > 300
        else sign(b"wrong-secret-0123456789", body, int(NOW.timestamp()) + shift),
    ):
        try:
            WEB.handle(inv, body, h)
        except SignatureError:
            pass
        else:
            raise AssertionError(f"accepted headers {h!r}")
    assert inv.head == head


def test_templates_are_valid() -> None:
    """The fuzz seeds are themselves well-formed (parse succeeds), so the
    fuzzing above is probing real edges, not a broken template."""
    adapters: dict[str, ChannelAdapter] = {"web": WEB, "pos": POS, "marketplace": MARKET}
    for name, templates in TEMPLATES.items():
        for doc, _ in templates:
            body = json.dumps(doc).encode()
            if name == "web":
                WEB.parse(body, sign(SECRET, body, int(NOW.timestamp())))
            else:
                adapters[name].parse(body)
