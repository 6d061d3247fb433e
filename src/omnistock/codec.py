"""JSON encoding of command arguments and results.

Idempotency needs both: a command's fingerprint (its canonical arguments) is
compared on a repeated key, and its first result is stored so a repeat can
return it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from ._validate import from_micros, to_micros
from .errors import StorageError
from .lot_values import LotLine, Recalled
from .values import (
    Applied,
    Channel,
    Location,
    Order,
    Reservation,
    ReservationLine,
    Resourced,
    Shortage,
    Transfer,
)


def order_args(order: Order) -> list[Any]:
    return [
        order.id,
        order.channel,
        [[x.sku, x.qty, x.location] for x in order.lines],
        order.method,
        None if order.ship_to is None else [order.ship_to.lat, order.ship_to.lon],
        order.pickup_at,
        order.allow_split,
        order.allow_partial,
        *([True] if order.backorder else []),  # as before when not backordered
    ]


def line_list(x: ReservationLine) -> list[Any]:
    """A reservation line as ``[sku, location, qty]``, plus its ETA in UTC
    microseconds when backordered and its kit when it has one (the ETA
    None then): ``ReservationLine(*it)`` reads it back."""
    if x.kit is not None:
        return [x.sku, x.location, x.qty, None if x.eta is None else to_micros(x.eta), x.kit]
    if x.eta is None:
        return [x.sku, x.location, x.qty]
    return [x.sku, x.location, x.qty, to_micros(x.eta)]


def _res(r: Reservation) -> dict[str, Any]:
    return {
        "id": r.id,
        "state": r.state,
        "order_id": r.order_id,
        "channel": r.channel,
        "expires_at": None if r.expires_at is None else to_micros(r.expires_at),
        "lines": [line_list(x) for x in r.lines],
        "shipped": [[x.sku, x.location, x.qty] for x in r.shipped],
        **({"kits": [[x.sku, x.location, x.qty] for x in r.kits]} if r.kits else {}),
        **({"lots": lots_jsonable(r.lots)} if r.lots else {}),
    }


def lots_jsonable(lots: tuple[LotLine, ...]) -> list[Any]:
    return [
        [x.sku, x.location, x.lot, x.qty, None if x.expires is None else to_micros(x.expires)]
        for x in lots
    ]


def lots_of(v: list[Any]) -> tuple[LotLine, ...]:
    return tuple(LotLine(a, b, c, d, None if e is None else from_micros(e)) for a, b, c, d, e in v)


def transfer_jsonable(t: Transfer) -> list[Any]:
    out = [t.id, t.sku, t.source, t.destination, t.qty, to_micros(t.eta), t.reservation]
    return [*out, lots_jsonable(t.lots)] if t.lots else out


def transfer_of(v: list[Any]) -> Transfer:
    lots = lots_of(v[7]) if len(v) > 7 else ()
    return Transfer(v[0], v[1], v[2], v[3], v[4], from_micros(v[5]), v[6], lots)


def _resourced(r: Resourced) -> list[Any]:
    return [
        r.reservation,
        r.sku,
        r.source,
        r.qty,
        [list(x) for x in r.to],
        r.missing,
        [transfer_jsonable(t) for t in r.transfers],
        *([[list(x) for x in r.backorders]] if r.backorders else []),
    ]


def _resourced_of(v: list[Any]) -> Resourced:
    return Resourced(
        v[0],
        v[1],
        v[2],
        v[3],
        tuple((a, b) for a, b in v[4]),
        v[5],
        tuple(transfer_of(t) for t in v[6]),
        tuple((a, b) for a, b in v[7]) if len(v) > 7 else (),
    )


def decode_reservation(d: dict[str, Any]) -> Reservation:
    return Reservation(
        id=d["id"],
        state=d["state"],
        order_id=d["order_id"],
        channel=d["channel"],
        expires_at=None if d["expires_at"] is None else from_micros(d["expires_at"]),
        lines=tuple(ReservationLine(*x) for x in d["lines"]),
        shipped=tuple(ReservationLine(*x) for x in d["shipped"]),
        kits=tuple(ReservationLine(*x) for x in d.get("kits", ())),
        lots=lots_of(d.get("lots", [])),
    )


def to_jsonable(result: Any) -> Any:
    if result is None or isinstance(result, str | int):
        return {"t": "plain", "v": result}
    if isinstance(result, Reservation):
        return {"t": "reservation", "v": _res(result)}
    if isinstance(result, Applied):
        return {
            "t": "applied",
            "v": [
                result.seq,
                [[s.sku, s.location, s.qty, list(s.reservations)] for s in result.shortages],
                [_resourced(r) for r in result.resourced],
                [transfer_jsonable(t) for t in result.transfers],
                *([lots_jsonable(result.lots)] if result.lots else []),
            ],
        }
    if isinstance(result, Transfer):
        return {"t": "transfer", "v": transfer_jsonable(result)}
    if isinstance(result, Recalled):
        rest = to_jsonable(Applied(result.seq, result.shortages, result.resourced))["v"]
        return {
            "t": "recalled",
            "v": [result.sku, result.lot, lots_jsonable(result.quarantined), rest],
        }
    if isinstance(result, Location):
        return {"t": "location", "v": result.to_dict()}
    if isinstance(result, Channel):
        return {"t": "channel", "v": result.to_dict()}
    if hasattr(result, "to_jsonable"):
        return {"t": type(result).__name__, "v": result.to_jsonable()}
    raise TypeError(f"cannot encode result {result!r}")


_DECODERS: dict[str, Any] = {
    "plain": lambda v: v,
    "reservation": decode_reservation,
    "applied": lambda v: Applied(
        v[0],
        tuple(Shortage(a, b, c, tuple(d)) for a, b, c, d in v[1]),
        tuple(_resourced_of(r) for r in v[2]),
        tuple(transfer_of(t) for t in v[3]),
        lots_of(v[4]) if len(v) > 4 else (),
    ),
    "transfer": transfer_of,
    "recalled": lambda v: _recalled_of(v),
    "location": Location.from_dict,
    "channel": Channel.from_dict,
}


def _recalled_of(v: list[Any]) -> Recalled:
    a = _DECODERS["applied"](v[3])
    return Recalled(a.seq, v[0], v[1], lots_of(v[2]), a.shortages, a.resourced)


def register(name: str, decoder: Any) -> None:
    """Let a service module (fulfilment, channels) store its own result type."""
    _DECODERS[name] = decoder


def encode(result: Any) -> str:
    return json.dumps(to_jsonable(result), separators=(",", ":"))


def decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        d = json.loads(text)
        return _DECODERS[d["t"]](d["v"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"stored command result cannot be read: {exc}") from exc
