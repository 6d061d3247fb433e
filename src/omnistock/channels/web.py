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
(schema, naming the field) and applies nothing. The payload schema is
:data:`omnistock.channels.payloads.WebEvent` (JSON Schema:
``docs/schemas/web.json``; prose: ``docs/channels.md``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ..errors import PayloadError, SignatureError
from ..values import Line, Order, Point, Reservation
from . import _schema as S
from . import payloads as P
from ._orders import by_order, reservations_of, scope
from .base import ChannelAdapter, Command

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["EVENT_TYPES", "WebShopAdapter", "reservations_of", "sign"]

TS_HEADER = "x-omnistock-timestamp"
SIG_HEADER = "x-omnistock-signature"
EVENT_TYPES = ("order.placed", "order.cancelled", "pickup.collected", "return.requested")
CONDITIONS = P.CONDITIONS
MAX_TTL = P.MAX_TTL


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
        ev: P.WebEvent = S.decode(payload, P.WebEvent, self.max_bytes, self.max_depth)
        key = self.prefix + ev.id
        if isinstance(ev, P.OrderPlaced):
            return self._placed(ev.data, key)
        if isinstance(ev, P.ReturnRequested):
            r = ev.data
            S.printable(r.order_id, "data.order_id")
            S.printable(r.location, "data.location")
            S.printable_lines(r.lines, "data.lines")
            return [
                Command(
                    "return_items",
                    {
                        "location": r.location,
                        "lines": [(x.sku, x.qty) for x in r.lines],
                        "condition": r.condition,
                        "order_id": r.order_id,
                    },
                    key,
                )
            ]
        order_id = S.printable(ev.data.order_id, "data.order_id")
        op = "release_order" if isinstance(ev, P.OrderCancelled) else "collect_order"
        return [Command(op, {"order_id": order_id}, key)]

    def _placed(self, d: P.PlacedData, key: str) -> list[Command]:
        order_id = S.printable(d.order_id, "data.order_id")
        pickup_at = None
        if d.method == "pickup":
            if d.pickup_at is UNSET:
                raise PayloadError("data.pickup_at", None, "is required for a pickup order")
            pickup_at = S.printable(d.pickup_at, "data.pickup_at")
        elif d.pickup_at is not UNSET:
            raise PayloadError("data.pickup_at", d.pickup_at, "only a pickup order has it")
        S.printable_lines(d.lines, "data.lines")
        ship_to = None
        if d.ship_to is not UNSET:
            if d.method != "ship":
                raise PayloadError("data.ship_to", d.ship_to, "only a ship order has it")
            ship_to = Point(d.ship_to.lat, d.ship_to.lon)
        # Unpinned ship lines are placed by the sourcing policy (allocate).
        sourced = d.method == "ship" and any(x.location is None for x in d.lines)
        ttl = self.ttl if d.hold_seconds is UNSET else timedelta(seconds=d.hold_seconds)
        try:
            order = Order(
                order_id,
                channel=self.channel,
                lines=[Line(x.sku, x.qty, x.location) for x in d.lines],
                method=d.method,
                pickup_at=pickup_at,
                ship_to=ship_to,
            )
        except PayloadError:
            raise
        except Exception as exc:  # a validator the schema missed: still typed
            raise PayloadError("data", order_id, str(exc)) from None
        cmds = [Command("allocate" if sourced else "hold", {"order": order, "ttl": ttl}, key)]
        if d.commit:
            # "/" is not in the event-id alphabet: no event id can forge this key
            cmds.append(Command("commit_order", {"order_id": order_id}, key + "/commit"))
        return cmds

    # -- applying -----------------------------------------------------------------
    def execute(self, inv: Inventory, command: Command) -> Any:
        op = command.op
        if op in ("release_order", "collect_order", "commit_order"):
            fns: dict[str, Callable[..., Reservation]] = {
                "release_order": inv.release,
                "collect_order": inv.collect,
                "commit_order": inv.commit,
            }
            fn = fns[op]
            return by_order(inv, command.kwargs["order_id"], self.channel, fn, command.key)
        return super().execute(inv, command)

    # -- outbound -----------------------------------------------------------------
    def publish(self, inv: Queries, skus: Iterable[str] | None = None) -> dict[str, int]:
        """``available(sku, channel=self.channel)`` for each SKU."""
        return {
            s: inv.available(s, channel=self.channel) for s in (inv.skus if skus is None else skus)
        }
