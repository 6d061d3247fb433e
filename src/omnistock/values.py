"""Immutable values of the public face.

All are frozen attrs classes whose converters validate every field, so an
invalid value cannot be built: the constructor raises a typed
``omnistock.errors`` exception naming the field. Entities with an id
(``Location``, ``Channel``, ``Order``, ``Reservation``) compare by id.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias, get_args

import attrs
import numpy as np
import numpy.typing as npt

from ._validate import (
    check_bool,
    check_float,
    check_id,
    check_int,
    check_opt_id,
    check_qty,
    from_micros,
)
from .errors import InvalidInput
from .lot_values import LotLine
from .outcomes import Applied, Entry, Resourced, Shortage, Transfer
from .skus import c_line_qty as _c_qty
from .skus import c_unit_name as _c_unit_name

__all__ = [
    "KINDS",
    "METHODS",
    "UNSELLABLE_STATES",
    "Applied",
    "Channel",
    "Entry",
    "IntColumn",
    "Line",
    "LineInput",
    "Location",
    "LocationKind",
    "Order",
    "OrderMethod",
    "Point",
    "PointInput",
    "Reservation",
    "ReservationLine",
    "Resourced",
    "Shortage",
    "Transfer",
]

LocationKind: TypeAlias = Literal["store", "warehouse", "dc", "dark_store"]
"""What ``Location(kind=...)`` accepts."""
OrderMethod: TypeAlias = Literal["ship", "pickup"]
"""What ``Order(method=...)`` accepts."""
KINDS: tuple[LocationKind, ...] = get_args(LocationKind)
METHODS: tuple[OrderMethod, ...] = get_args(OrderMethod)
IntColumn: TypeAlias = npt.NDArray[np.integer[Any]] | Sequence[int]
"""A 1-d column of whole numbers: an integer numpy array or a list of ints."""
UNSELLABLE_STATES = ("damaged", "inspection", "quarantine", "display", "expired")
"""States of units that are on hand but may not be sold. Index order is the
column order in the ledger."""


def _c_accepts_returns(v: bool) -> bool:
    return check_bool("accepts_returns", v)


def _c_allow_partial(v: bool) -> bool:
    return check_bool("allow_partial", v)


def _c_allow_split(v: bool) -> bool:
    return check_bool("allow_split", v)


def _c_backorder(v: bool) -> bool:
    return check_bool("backorder", v)


def _c_preorder_cap(v: int | None) -> int | None:
    return None if v is None else check_qty("preorder_cap", v, 0)


def _c_eta(v: datetime | int | None) -> datetime | None:
    return v if v is None or isinstance(v, datetime) else from_micros(v)  # stored results


def _c_buffer_0(v: int) -> int:
    return check_qty("buffer", v, 0)


def _c_cap(v: int | None) -> int | None:
    return None if v is None else check_qty("cap", v, 0)


def _c_channel(v: str | None) -> str | None:
    return check_opt_id("channel", v)


def _c_daily_capacity(v: int | None) -> int | None:
    return None if v is None else check_int("daily_capacity", v, 0)


def _c_id(v: str) -> str:
    return check_id("id", v)


def _c_lat_90_0_90_0(v: float) -> float:
    return check_float("lat", v, -90.0, 90.0)


def _c_location(v: str | None) -> str | None:
    return check_opt_id("location", v)


def _c_lon_180_0_180_0(v: float) -> float:
    return check_float("lon", v, -180.0, 180.0)


def _c_minimum_0(v: int) -> int:
    return check_qty("minimum", v, 0)


def _c_pickup(v: bool) -> bool:
    return check_bool("pickup", v)


def _c_pickup_at(v: str | None) -> str | None:
    return check_opt_id("pickup_at", v)


def _c_priority(v: int) -> int:
    return check_int("priority", v)


def _c_returns_to(v: str | None) -> str | None:
    return check_opt_id("returns_to", v)


DAY_US = 86_400_000_000
"""Microseconds in a day."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _c_tz(v: str | None) -> str | None:
    """An IANA time zone name (``Europe/London``) the system knows, or None."""
    if v is None:
        return None
    if not isinstance(v, str) or not v or len(v) > 64:
        raise InvalidInput("tz", v, "must be an IANA time zone name such as 'Europe/London'")
    try:
        _zone(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput("tz", v, "is not a known IANA time zone name") from None
    return v


def _c_sells(v: bool) -> bool:
    return check_bool("sells", v)


def _c_ships(v: bool) -> bool:
    return check_bool("ships", v)


def _c_sku(v: str) -> str:
    return check_id("sku", v)


def _by_id(cls: type) -> type:
    """Entities compare and hash by id only."""

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self.id == other.id)  # type: ignore[attr-defined]

    def __hash__(self: Any) -> int:
        return hash((cls.__name__, self.id))

    cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
    cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]
    return cls


@attrs.frozen
class Point:
    """A geographic point in decimal degrees (WGS84)."""

    lat: float = attrs.field(converter=_c_lat_90_0_90_0)
    lon: float = attrs.field(converter=_c_lon_180_0_180_0)


PointInput: TypeAlias = Point | tuple[float, float] | None
"""What a ``point`` or ``ship_to`` accepts: a ``Point``, a ``(lat, lon)``
pair, or None."""


def _point(v: PointInput, field: str = "point") -> Point | None:
    if v is None or isinstance(v, Point):
        return v
    if isinstance(v, tuple | list) and len(v) == 2:
        return Point(v[0], v[1])
    raise InvalidInput(field, v, "must be a Point(lat, lon) or a (lat, lon) pair")


def _ship_to(v: PointInput) -> Point | None:
    return _point(v, "ship_to")


@attrs.frozen
class Line:
    """``qty`` units of ``sku``, optionally pinned to ``location``; ``qty``
    is counted in ``unit`` (a pack unit of the SKU, ``inv.add_sku``) when
    given, else in the SKU's base unit."""

    sku: str = attrs.field(converter=_c_sku)
    # An int once the inventory has converted it (what plans see); a line
    # built by a caller may hold a Decimal until then (``skus.c_line_qty``).
    qty: int = attrs.field(converter=_c_qty)
    location: str | None = attrs.field(default=None, converter=_c_location)
    unit: str | None = attrs.field(default=None, converter=_c_unit_name, kw_only=True)

    @classmethod
    def of(cls, value: Any) -> Line:
        """Accept a ``Line``, a ``(sku, qty)`` or a ``(sku, qty, location)``."""
        if isinstance(value, Line):
            return value
        if isinstance(value, tuple | list) and len(value) in (2, 3):
            return cls(*value)
        raise InvalidInput("lines", value, "each line must be a Line or a (sku, qty) pair")


LineInput: TypeAlias = Line | tuple[str, int] | tuple[str, int, str | None]
"""One line as ``Order(lines=...)`` and the face's ``lines`` arguments accept
it: a ``Line``, a ``(sku, qty)`` or a ``(sku, qty, location)``."""


def lines_of(value: Iterable[LineInput], field: str = "lines") -> tuple[Line, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "must be a list of Line or (sku, qty) pairs")
    lines = tuple(Line.of(v) for v in value)
    if not lines:
        raise InvalidInput(field, value, "must hold at least one line")
    if len(lines) > 10_000:
        raise InvalidInput(field, f"<{len(lines)} lines>", "more than 10000 lines")
    return lines


def _kind(v: LocationKind) -> str:
    if v not in KINDS:
        raise InvalidInput("kind", v, f"must be one of {', '.join(KINDS)}")
    return str(v)


def _cap_default(kinds: tuple[str, ...]) -> Any:  # an attrs Factory
    return attrs.Factory(lambda self: self.kind in kinds, takes_self=True)


@_by_id
@attrs.frozen(eq=False)
class Location:
    """A place that holds stock.

    Capabilities default by ``kind``: a store sells, ships, offers pickup and
    accepts returns; a warehouse or DC only ships; a dark store ships and
    offers pickup. ``priority``: lower numbers are preferred.
    ``daily_capacity``: orders it can pick per day, ``None`` for unlimited.
    ``tz``: its IANA time zone (``"Europe/London"``): its days, and so its
    daily capacity, start at local midnight (UTC when None).
    """

    id: str = attrs.field(converter=_c_id)
    kind: str = attrs.field(default="store", converter=_kind)
    point: Point | None = attrs.field(default=None, converter=_point)
    sells: bool = attrs.field(default=_cap_default(("store",)), converter=_c_sells)
    ships: bool = attrs.field(default=_cap_default(KINDS), converter=_c_ships)
    pickup: bool = attrs.field(default=_cap_default(("store", "dark_store")), converter=_c_pickup)
    accepts_returns: bool = attrs.field(
        default=_cap_default(("store",)), converter=_c_accepts_returns
    )
    priority: int = attrs.field(default=0, converter=_c_priority)
    daily_capacity: int | None = attrs.field(default=None, converter=_c_daily_capacity)
    returns_to: str | None = attrs.field(default=None, converter=_c_returns_to)
    # Not in the repr: the network digest (``ledger.deltas``) hashes reprs,
    # and adds the time zones itself only where one is set, so a network
    # journaled before time zones existed keeps its digest.
    tz: str | None = attrs.field(default=None, converter=_c_tz, repr=False)

    def day(self, now_us: int) -> int:
        """The local day at UTC microseconds ``now_us``: days since
        1970-01-01 in the location's time zone (UTC when it has none).
        Daily capacity counts picks per such day. O(1)."""
        if self.tz is None:
            return now_us // DAY_US
        at = (_EPOCH + timedelta(microseconds=now_us)).astimezone(_zone(self.tz))
        off = at.utcoffset()
        return (now_us + (0 if off is None else off // timedelta(microseconds=1))) // DAY_US

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["point"] = None if self.point is None else [self.point.lat, self.point.lon]
        if self.tz is None:  # journaled as before time zones existed
            del d["tz"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Location:
        return cls(**d)


def _locations(v: Iterable[str] | None) -> tuple[str, ...] | None:
    if v is None:
        return None
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise InvalidInput("locations", v, "must be a list of location ids or None for all")
    out = tuple(check_id("locations", x) for x in v)
    if len(set(out)) != len(out):
        raise InvalidInput("locations", v, "lists a location twice")
    return out


@_by_id
@attrs.frozen(eq=False)
class Channel:
    """Where demand comes from.

    ``locations``: the locations that may serve it (``None``: every location).
    ``buffer``: units held back from what it may sell, per SKU.
    ``minimum``: units per SKU ring-fenced for it; ``cap``: most it may sell
    per SKU (``None``: no cap).
    ``preorder_cap``: most units of a SKU it may have backordered at once.
    """

    id: str = attrs.field(converter=_c_id)
    locations: tuple[str, ...] | None = attrs.field(default=None, converter=_locations)
    buffer: int = attrs.field(default=0, converter=_c_buffer_0)
    minimum: int = attrs.field(default=0, converter=_c_minimum_0)
    cap: int | None = attrs.field(default=None, converter=_c_cap)
    preorder_cap: int | None = attrs.field(default=None, converter=_c_preorder_cap, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.cap is not None and self.cap < self.minimum:
            raise InvalidInput("cap", self.cap, f"is below the channel's minimum={self.minimum}")

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["locations"] = None if self.locations is None else list(self.locations)
        if self.preorder_cap is None:  # journaled only when set, as before it existed
            del d["preorder_cap"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Channel:
        return cls(**d)


def _method(v: OrderMethod) -> str:
    if v not in METHODS:
        raise InvalidInput("method", v, "must be 'ship' or 'pickup'")
    return str(v)


@_by_id
@attrs.frozen(eq=False)
class Order:
    """An order or cart to reserve: lines, the channel it came from, and how it
    reaches the shopper (``ship`` to ``ship_to``, or ``pickup`` at ``pickup_at``).
    ``backorder=True``: what stock on hand cannot cover waits for dated supply."""

    id: str = attrs.field(converter=_c_id)
    channel: str | None = attrs.field(default=None, converter=_c_channel)
    lines: tuple[Line, ...] = attrs.field(default=(), converter=lines_of)
    method: OrderMethod = attrs.field(default="ship", converter=_method)
    ship_to: Point | None = attrs.field(default=None, converter=_ship_to)
    pickup_at: str | None = attrs.field(default=None, converter=_c_pickup_at)
    allow_split: bool = attrs.field(default=True, converter=_c_allow_split)
    allow_partial: bool = attrs.field(default=False, converter=_c_allow_partial)
    backorder: bool = attrs.field(default=False, converter=_c_backorder)

    def __attrs_post_init__(self) -> None:
        if self.method == "pickup" and self.pickup_at is None:
            raise InvalidInput("pickup_at", None, "a pickup order needs pickup_at")


@attrs.frozen
class ReservationLine:
    """Units of ``sku`` reserved (or shipped) at ``location``. ``eta`` (UTC)
    while backordered, else None. ``kit``: the kit these component units
    belong to (None for a plain line)."""

    sku: str
    location: str
    qty: int
    eta: datetime | None = attrs.field(default=None, converter=_c_eta)
    kit: str | None = None


@_by_id
@attrs.frozen(eq=False)
class Reservation:
    """Units promised for one order, each line at one location.

    ``state`` is one of held, committed, fulfilled, expired, released.
    ``lines`` hold what is still reserved; ``shipped`` what has left.
    ``expires_at`` is set while held, and for a paid pickup order: when it
    is released as a no-show unless collected.
    """

    id: str
    state: str
    lines: tuple[ReservationLine, ...]
    expires_at: datetime | None = None
    order_id: str | None = None
    channel: str | None = None
    shipped: tuple[ReservationLine, ...] = ()
    kits: tuple[ReservationLine, ...] = ()
    """The kits still reserved, one line per (kit, location): ``sku`` is the
    kit, ``qty`` the kits. Their component units are in ``lines`` with
    ``kit=`` set."""
    lots: tuple[LotLine, ...] = ()
    """A ship/collect result only: the lots (serials) these units took."""

    @property
    def qty(self) -> int:
        return sum(line.qty for line in self.lines)
