"""The hand-written payload checks omnistock used before msgspec (issue 17),
kept verbatim as the baseline of ``benchmarks/validation.py``: the JSON
loader, the field checkers, and the web-shop adapter's ``parse_unsigned`` as
it was (:class:`HandWrittenWebAdapter`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, TypeVar

from omnistock.channels.base import Command
from omnistock.channels.web import WebShopAdapter
from omnistock.errors import PayloadError
from omnistock.values import METHODS, Line, Order, Point

EVENT_TYPES = ("order.placed", "order.cancelled", "pickup.collected", "return.requested")
CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")
MAX_TTL = 30 * 86400

MAX_BODY = 64 * 1024
MAX_DEPTH = 8
MAX_ID = 128
MAX_LINES = 500
MAX_QTY = 1_000_000
"""Largest quantity one payload line may carry: channels move units, not
ledgers' worth of stock; anything bigger is a bug or an attack."""

EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")


def load_json(body: Any, max_bytes: int = MAX_BODY, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a raw JSON body under the bounds above."""
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise PayloadError("body", body, "must be the raw request body as bytes")
    if len(body) > max_bytes:
        raise PayloadError("body", f"<{len(body)} bytes>", f"larger than {max_bytes} bytes")
    if not body.strip():
        raise PayloadError("body", body, "is empty")
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise PayloadError("body", body[:40], f"is not UTF-8 ({exc.reason})") from None
    _check_depth(text, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_no_dupes, parse_constant=_no_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PayloadError("body", text[:40], f"is not valid JSON ({exc})") from None


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise PayloadError("body", text[:40], f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise PayloadError(k, v, "appears twice in one object")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise PayloadError("body", name, "NaN and Infinity are not JSON numbers")


def obj(
    v: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A JSON object with exactly the ``required`` fields and any of the
    ``optional`` ones; unknown fields are refused."""
    if not isinstance(v, dict):
        raise PayloadError(path or "body", v, "must be a JSON object")
    allowed = set(required) | set(optional)
    for k in v:
        if k not in allowed:
            raise PayloadError(_join(path, k), v[k], "is not a known field")
    for k in required:
        if k not in v:
            raise PayloadError(_join(path, k), None, "is required")
    return v


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def ident(v: Any, path: str, max_len: int = MAX_ID) -> str:
    """An opaque id: a string of 1..max_len printable characters without
    leading or trailing whitespace. Quotes, slashes, ``;`` and any other
    printable character are allowed: ids reach the store only as bound
    parameters, never as SQL text or file paths."""
    if not isinstance(v, str):
        raise PayloadError(path, v, "must be a string")
    if not v:
        raise PayloadError(path, v, "must not be empty")
    if len(v) > max_len:
        raise PayloadError(path, v, f"longer than {max_len} characters")
    if not v.isprintable():
        raise PayloadError(path, v, "contains control or non-printable characters")
    if v != v.strip():
        raise PayloadError(path, v, "has leading or trailing whitespace")
    return v


def event_id(v: Any, path: str) -> str:
    """An event or receipt id used in idempotency keys: 1..128 of
    ``A-Z a-z 0-9 _ . : -``, starting with a letter or digit."""
    if not isinstance(v, str) or EVENT_ID.fullmatch(v) is None:
        raise PayloadError(
            path,
            v,
            "must be 1-128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit",
        )
    return v


def integer(v: Any, path: str, lo: int, hi: int) -> int:
    if type(v) is not int:
        raise PayloadError(path, v, "must be an integer")
    if not lo <= v <= hi:
        raise PayloadError(path, v, f"must be between {lo} and {hi}")
    return v


def coordinate(v: Any, path: str, lo: float, hi: float) -> float:
    """A JSON number (int or float, not bool) in [lo, hi]."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        raise PayloadError(path, v, "must be a number")
    if not lo <= v <= hi:
        raise PayloadError(path, v, f"must be between {lo} and {hi}")
    return float(v)


def boolean(v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise PayloadError(path, v, "must be true or false")
    return v


_Name = TypeVar("_Name", bound=str)


def choice(v: Any, path: str, options: tuple[_Name, ...]) -> _Name:
    if not isinstance(v, str) or v not in options:
        raise PayloadError(path, v, f"must be one of {', '.join(options)}")
    return v


def lines(
    v: Any, path: str, location: str = "optional", max_lines: int = MAX_LINES
) -> list[tuple[str, int, str | None]]:
    """A non-empty list of ``{"sku", "qty"[, "location"]}``. ``location`` is
    ``optional``, ``required`` or ``forbidden``."""
    if not isinstance(v, list):
        raise PayloadError(path, v, "must be a list of lines")
    if not v:
        raise PayloadError(path, v, "must hold at least one line")
    if len(v) > max_lines:
        raise PayloadError(path, f"<{len(v)} lines>", f"more than {max_lines} lines")
    out = []
    for i, item in enumerate(v):
        p = f"{path}[{i}]"
        req = ("sku", "qty", "location") if location == "required" else ("sku", "qty")
        opt = ("location",) if location == "optional" else ()
        d = obj(item, p, req, opt)
        sku = ident(d["sku"], f"{p}.sku")
        qty = integer(d["qty"], f"{p}.qty", 1, MAX_QTY)
        loc = d.get("location")
        out.append((sku, qty, None if loc is None else ident(loc, f"{p}.location")))
    return out


class _Checks:
    """The old ``_schema`` module's functions under the name ``S``."""

    load_json = staticmethod(load_json)
    obj = staticmethod(obj)
    ident = staticmethod(ident)
    event_id = staticmethod(event_id)
    integer = staticmethod(integer)
    coordinate = staticmethod(coordinate)
    boolean = staticmethod(boolean)
    choice = staticmethod(choice)
    lines = staticmethod(lines)


S = _Checks


class HandWrittenWebAdapter(WebShopAdapter):
    """The web-shop adapter with its pre-msgspec validation."""

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
