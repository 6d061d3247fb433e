"""Web-shop adapter: signed JSON webhooks become ledger commands.

Authentication (checked before the body is parsed):

- ``X-Omnistock-Timestamp``: the sender's Unix time in whole seconds.
- ``X-Omnistock-Signature``: ``v1=`` + hex HMAC-SHA256, keyed with the shared
  secret, over ``<timestamp>.`` + the raw body bytes. Compared with
  ``hmac.compare_digest`` (constant time).
- A timestamp more than ``tolerance`` seconds from the adapter's clock is a
  replay (or a skewed sender) and is refused. Within the window, a
  redelivered event is harmless: its event id is the idempotency key.

Any failure raises ``SignatureError`` (authentication) or ``PayloadError``
(schema, naming the field) and applies nothing. The payload schema is in
``docs/channels.md``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import PayloadError, SignatureError
from ..values import METHODS, Line, Order, Point
from . import _schema as S
from ._orders import by_order, reservations_of, scope
from .base import ChannelAdapter, Command

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["EVENT_TYPES", "WebShopAdapter", "reservations_of", "sign"]

TS_HEADER = "x-omnistock-timestamp"
SIG_HEADER = "x-omnistock-signature"
EVENT_TYPES = ("order.placed", "order.cancelled", "pickup.collected", "return.requested")
CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")
MAX_TTL = 30 * 86400


def sign(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers a sender adds to ``body`` (what a web shop's webhook
    sender, or a test, computes)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return {
        "X-Omnistock-Timestamp": str(timestamp),
        "X-Omnistock-Signature": "v1=" + mac.hexdigest(),
    }


class WebShopAdapter(ChannelAdapter):
    """Signed web-shop webhooks for one channel.

    ``secret``: the shared HMAC key (at least 16 bytes). ``channel``: the
    ledger channel orders are placed under. ``clock``: aware-UTC "now" for the
    timestamp check. ``ttl``: default hold time of placed orders.
    ``instance``: the name of this web shop, which scopes its event ids
    (keys are ``web:<instance>:<event id>``); default: the channel. Two shops
    that feed the same channel must each be given their own ``instance``,
    since their event ids are numbered independently.

    Order events (``order.cancelled``, ``pickup.collected``, ``commit``) act
    only on this adapter's channel's reservations: another channel's order
    with the same id is never touched.
    """

    name = "web"

    def __init__(
        self,
        secret: bytes | str,
        channel: str = "web",
        *,
        tolerance: float = 300.0,
        clock: Callable[[], datetime] | None = None,
        ttl: timedelta = timedelta(minutes=30),
        max_bytes: int = S.MAX_BODY,
        max_depth: int = S.MAX_DEPTH,
        instance: str | None = None,
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if not isinstance(key, bytes) or len(key) < 16:
            raise PayloadError("secret", "<hidden>", "must be at least 16 bytes")
        self._secret = key
        self.channel = S.ident(channel, "channel")
        self.instance = self.channel if instance is None else S.ident(instance, "instance")
        self.prefix = f"web:{scope(self.instance)}:"
        """Every key this adapter writes starts with it."""
        self.tolerance = float(tolerance)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    # -- inbound ------------------------------------------------------------------
    def verify(self, payload: bytes, headers: Mapping[str, str] | None) -> None:
        """Check size, timestamp and signature of a raw body."""
        if not isinstance(payload, bytes):
            raise PayloadError("body", payload, "must be the raw request body as bytes")
        if len(payload) > self.max_bytes:
            raise PayloadError(
                "body", f"<{len(payload)} bytes>", f"larger than {self.max_bytes} bytes"
            )
        if headers is None or not isinstance(headers, Mapping):
            raise SignatureError("missing signature headers")
        h = {str(k).lower(): v for k, v in headers.items()}
        ts_text, sig = h.get(TS_HEADER), h.get(SIG_HEADER)
        if not isinstance(ts_text, str) or not isinstance(sig, str):
            raise SignatureError(f"headers {TS_HEADER} and {SIG_HEADER} are required")
        if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
            raise SignatureError(f"{TS_HEADER}={ts_text[:20]!r} is not a Unix time in seconds")
        now = self._clock().timestamp()
        if abs(now - int(ts_text)) > self.tolerance:
            raise SignatureError(
                f"{TS_HEADER}={ts_text} is outside the {self.tolerance:g}s "
                "tolerance (replayed or clock skew)"
            )
        if not sig.startswith("v1=") or not sig.isascii():
            raise SignatureError(f"{SIG_HEADER} must be 'v1=<hex>'")
        expected = hmac.new(
            self._secret, ts_text.encode() + b"." + payload, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), sig[3:].encode()):
            raise SignatureError("signature does not match the body")

    def parse(self, payload: bytes, headers: Mapping[str, str] | None = None) -> list[Command]:
        """Verify the signature, then validate the event strictly. Pure."""
        self.verify(payload, headers)
        return self.parse_unsigned(payload)

    def parse_unsigned(self, payload: bytes) -> list[Command]:
        """Validate an already-authenticated body (schema only)."""
        doc = S.obj(
            S.load_json(payload, self.max_bytes, self.max_depth),
            "",
            ("id", "type", "data"),
            ("created_at",),
        )
        eid = S.event_id(doc["id"], "id")
        kind = S.choice(doc["type"], "type", EVENT_TYPES)
        if "created_at" in doc:
            S.integer(doc["created_at"], "created_at", 0, 2**40)
        key = self.prefix + eid
        data = doc["data"]
        if kind == "order.placed":
            return self._placed(data, key)
        if kind == "return.requested":
            d = S.obj(data, "data", ("order_id", "location", "lines"), ("condition",))
            order_id = S.ident(d["order_id"], "data.order_id")
            loc = S.ident(d["location"], "data.location")
            ls = S.lines(d["lines"], "data.lines", location="forbidden")
            cond = S.choice(d.get("condition", "sellable"), "data.condition", CONDITIONS)
            return [
                Command(
                    "return_items",
                    {
                        "location": loc,
                        "lines": [(s, q) for s, q, _ in ls],
                        "condition": cond,
                        "order_id": order_id,
                    },
                    key,
                )
            ]
        d = S.obj(data, "data", ("order_id",))
        order_id = S.ident(d["order_id"], "data.order_id")
        op = "release_order" if kind == "order.cancelled" else "collect_order"
        return [Command(op, {"order_id": order_id}, key)]

    def _placed(self, data: Any, key: str) -> list[Command]:
        d = S.obj(
            data,
            "data",
            ("order_id", "lines"),
            ("method", "pickup_at", "hold_seconds", "commit", "ship_to"),
        )
        order_id = S.ident(d["order_id"], "data.order_id")
        method = S.choice(d.get("method", "ship"), "data.method", METHODS)
        pickup_at = None
        if method == "pickup":
            if "pickup_at" not in d:
                raise PayloadError("data.pickup_at", None, "is required for a pickup order")
            pickup_at = S.ident(d["pickup_at"], "data.pickup_at")
        elif "pickup_at" in d:
            raise PayloadError("data.pickup_at", d["pickup_at"], "only a pickup order has it")
        ls = S.lines(d["lines"], "data.lines")
        ship_to = None
        if "ship_to" in d:
            if method != "ship":
                raise PayloadError("data.ship_to", d["ship_to"], "only a ship order has it")
            p = S.obj(d["ship_to"], "data.ship_to", ("lat", "lon"))
            ship_to = Point(
                S.coordinate(p["lat"], "data.ship_to.lat", -90.0, 90.0),
                S.coordinate(p["lon"], "data.ship_to.lon", -180.0, 180.0),
            )
        # Unpinned ship lines are placed by the sourcing policy (allocate).
        sourced = method == "ship" and any(loc is None for _, _, loc in ls)
        ttl = self.ttl
        if "hold_seconds" in d:
            ttl = timedelta(seconds=S.integer(d["hold_seconds"], "data.hold_seconds", 1, MAX_TTL))
        commit = S.boolean(d.get("commit", False), "data.commit")
        try:
            order = Order(
                order_id,
                channel=self.channel,
                lines=[Line(s, q, loc) for s, q, loc in ls],
                method=method,
                pickup_at=pickup_at,
                ship_to=ship_to,
            )
        except PayloadError:
            raise
        except Exception as exc:  # a validator the schema missed: still typed
            raise PayloadError("data", order_id, str(exc)) from None
        cmds = [Command("allocate" if sourced else "hold", {"order": order, "ttl": ttl}, key)]
        if commit:
            # "/" is not in the event-id alphabet: no event id can forge this key
            cmds.append(Command("commit_order", {"order_id": order_id}, key + "/commit"))
        return cmds

    # -- applying -----------------------------------------------------------------
    def execute(self, inv: Inventory, command: Command) -> Any:
        op = command.op
        if op in ("release_order", "collect_order", "commit_order"):
            fn = {
                "release_order": inv.release,
                "collect_order": inv.collect,
                "commit_order": inv.commit,
            }[op]
            return by_order(inv, command.kwargs["order_id"], self.channel, fn, command.key)
        return super().execute(inv, command)

    # -- outbound -----------------------------------------------------------------
    def publish(self, inv: Queries, skus: Iterable[str] | None = None) -> dict[str, int]:
        """``available(sku, channel=self.channel)`` for each SKU."""
        return {
            s: inv.available(s, channel=self.channel) for s in (inv.skus if skus is None else skus)
        }
