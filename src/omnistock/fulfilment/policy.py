"""Sourcing policies: ordered hard filters, then ranked preferences.

A :class:`Policy` is a frozen value. It is built in code, from a dict
(:meth:`Policy.from_dict`) or from TOML text (:meth:`Policy.from_toml`);
:meth:`Policy.to_dict` / :meth:`Policy.to_toml` round-trip. Bad keys or
values raise :class:`omnistock.errors.InvalidInput` naming the field and the
value. Every number is range-checked where it enters: distances in
``(0, 20040]`` km (half the Earth's circumference), ``transfer_hours`` in
``[0, 8760]`` (a year), ``per_parcel`` and ``per_km`` in ``[0, 1e6]``,
``suggestions`` in ``[0, 50]``, ``candidates`` in ``[1, 100000]``; NaN and
infinities are refused.

Filters (applied in the listed order; the first that fails is the reason
recorded in the trace):

- ``capability``: the location ``ships`` (ship orders) or offers ``pickup``
  (pickup orders).
- ``channel``: the location is one of the channel's ``locations``.
- ``radius``: within ``radius_km`` of the order's destination (no radius:
  passes; unknown distance with a radius: fails).
- ``capacity``: picks left today > 0.
- ``excluded``: not listed in ``exclude``.

After the policy's filters, a location with no ATP for any line of the
order is always dropped (reason ``no_stock``).

Store safety stock: the ledger's ATP already excludes safety stock, so with
``protect_safety=True`` (the default) it is never given to an order. With
``False``, a caller that passes the safety matrix to ``source`` lets the
order use it.

Preferences (lexicographic):

- ``fewest_splits``: fewest locations in the plan. A plan-level preference,
  so it may only come first.
- ``closest``: smaller haversine distance to the destination.
- ``priority``: lower ``Location.priority`` first.
- ``highest_stock``: more ATP summed over the order's SKUs.
- ``lowest_cost``: lower ``per_parcel + per_km * distance``.

Ties after every preference go to the earlier candidate in the caller's list.

BOPIS (pickup orders): the order is reserved at its pickup store. If that
store is short, ``bopis_fallback`` lists what to try, in order:

- ``transfer``: source the missing units from other locations within
  ``transfer_radius_km`` of the store (``None``: any distance) and transfer
  them in; the order is ready ``transfer_hours`` later;
- ``suggest``: name up to ``suggestions`` nearest pickup stores that can
  serve the whole order now, with their distance.

When none applies, the order is ``unfillable`` with the reason.

Paid pickups (no-shows): a pickup order committed (paid) must be collected
within ``pickup_window_hours`` plus ``pickup_grace_hours`` (each in ``[0,
8760]``; defaults one week and one day; a ``timedelta`` is taken too). The
due time is fixed when the order is paid (or when its last transfer in
arrives, if later) and journaled on that row; when it passes, the ledger's
clock releases the order as a ``no-show`` and its units return to stock.
With ``keep_paid_pickups=True`` an order paid meanwhile gets no due time
and is never released by the clock.

``candidates``: consider only the K nearest locations (to the order's
destination) that pass the static filters (capability, channel, excluded),
as waves of thousands of stores do; ``None`` considers every location and
the trace names them all.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Literal, TypeAlias, get_args

import attrs

from .._validate import check_bool, check_id
from ..errors import InvalidInput

__all__ = [
    "BOPIS_OUTCOMES",
    "DEFAULT_POLICY",
    "FILTERS",
    "PREFERENCES",
    "BopisOutcome",
    "FilterName",
    "Policy",
    "PreferenceName",
]

FilterName: TypeAlias = Literal["capability", "channel", "radius", "capacity", "excluded"]
PreferenceName: TypeAlias = Literal[
    "fewest_splits", "closest", "priority", "highest_stock", "lowest_cost"
]
BopisOutcome: TypeAlias = Literal["transfer", "suggest"]

FILTERS: tuple[FilterName, ...] = get_args(FilterName)
PREFERENCES: tuple[PreferenceName, ...] = get_args(PreferenceName)
"""Integer codes of the preferences, as the wave kernels take them."""

_KEYS = (
    "filters",
    "preferences",
    "radius_km",
    "protect_safety",
    "exclude",
    "per_parcel",
    "per_km",
    "bopis_fallback",
    "transfer_radius_km",
    "transfer_hours",
    "suggestions",
    "candidates",
    "pickup_window_hours",
    "pickup_grace_hours",
    "keep_paid_pickups",
)
BOPIS_OUTCOMES: tuple[BopisOutcome, ...] = get_args(BopisOutcome)
"""What a short pickup store may do, tried in the policy's order; when none
works the order is refused (``unfillable``) with the reason."""


def _names(field: str, allowed: tuple[str, ...], v: Iterable[str]) -> tuple[str, ...]:
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise InvalidInput(field, v, f"must be a list of names from {', '.join(allowed)}")
    out = tuple(v)
    for name in out:
        if name not in allowed:
            raise InvalidInput(field, name, f"unknown; must be one of {', '.join(allowed)}")
    if len(set(out)) != len(out):
        raise InvalidInput(field, v, "names an entry twice")
    return out


def _filters(v: Iterable[FilterName]) -> tuple[str, ...]:
    return _names("filters", FILTERS, v)


def _preferences(v: Iterable[PreferenceName]) -> tuple[str, ...]:
    out = _names("preferences", PREFERENCES, v)
    if "fewest_splits" in out[1:]:
        raise InvalidInput(
            "preferences", v, "fewest_splits decides the plan's size, so it may only come first"
        )
    return out


MAX_KM = 20_040.0
"""Half the Earth's circumference, rounded up: no two points are farther
apart, so a larger radius means nothing (use None for "any distance")."""
MAX_HOURS = 8_760.0
"""One year: the longest ``transfer_hours`` (a longer ETA is a data error, and
would overflow the dates it is added to)."""
MAX_COST = 1_000_000.0
"""The largest ``per_parcel`` and ``per_km``: costs stay exact in the
optimiser's float arithmetic (its "unserved" penalty sums them)."""
MAX_EXCLUDE = 100_000


def _bounded(field: str, v: Any, hi: float) -> float:
    """``v`` as a float in ``[0, hi]``; NaN, infinities, bools and
    non-numbers are refused naming the field and the value."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise InvalidInput(field, v, "must be a number")
    try:
        f = float(v)
    except (OverflowError, ValueError):  # an int beyond float range
        raise InvalidInput(field, v, f"must be a finite number from 0 to {hi:g}") from None
    if not math.isfinite(f) or not 0 <= f <= hi:
        raise InvalidInput(field, v, f"must be a finite number from 0 to {hi:g}")
    return f


def _radius(v: float | None) -> float | None:
    if v is None:
        return None
    f = _bounded("radius_km", v, MAX_KM)
    if f == 0:
        raise InvalidInput("radius_km", v, "must be > 0 (or None for no radius)")
    return f


def _per_parcel(v: float) -> float:
    return _bounded("per_parcel", v, MAX_COST)


def _per_km(v: float) -> float:
    return _bounded("per_km", v, MAX_COST)


def _protect(v: bool) -> bool:
    return check_bool("protect_safety", v)


def _exclude(v: Iterable[str]) -> tuple[str, ...]:
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise InvalidInput("exclude", v, "must be a list of location ids")
    out = tuple(check_id("exclude", x) for x in v)
    if len(out) > MAX_EXCLUDE:
        raise InvalidInput("exclude", f"<{len(out)} ids>", f"lists more than {MAX_EXCLUDE} ids")
    if len(set(out)) != len(out):
        raise InvalidInput("exclude", v, "lists a location twice")
    return out


def _bopis(v: Iterable[BopisOutcome]) -> tuple[str, ...]:
    return _names("bopis_fallback", BOPIS_OUTCOMES, v)


def _transfer_radius(v: float | None) -> float | None:
    return None if v is None else _bounded("transfer_radius_km", v, MAX_KM)


def _transfer_hours(v: float) -> float:
    return _bounded("transfer_hours", v, MAX_HOURS)


def _hours(field: str, v: Any) -> float:
    """Hours in ``[0, MAX_HOURS]``; a ``timedelta`` is taken as its hours (a
    negative one is refused, naming the timedelta)."""
    if isinstance(v, timedelta):
        if v < timedelta(0) or v > timedelta(hours=MAX_HOURS):
            raise InvalidInput(field, v, f"must be from 0 to {MAX_HOURS:g} hours")
        return v / timedelta(hours=1)
    return _bounded(field, v, MAX_HOURS)


def _pickup_window(v: float | timedelta) -> float:
    return _hours("pickup_window_hours", v)


def _pickup_grace(v: float | timedelta) -> float:
    return _hours("pickup_grace_hours", v)


def _keep_paid(v: bool) -> bool:
    return check_bool("keep_paid_pickups", v)


def _candidates(v: int | None) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= int(v) <= 100_000:
        raise InvalidInput("candidates", v, "must be None or an integer from 1 to 100000")
    return int(v)


def _suggestions(v: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= int(v) <= 50:
        raise InvalidInput("suggestions", v, "must be an integer from 0 to 50")
    return int(v)


@attrs.frozen
class Policy:
    """An ordered list of hard filters then ranked preferences (see module doc).

    The default is every filter, then ``fewest_splits``, ``closest``,
    ``priority``: common practice.
    """

    filters: tuple[str, ...] = attrs.field(default=FILTERS, converter=_filters)
    preferences: tuple[str, ...] = attrs.field(
        default=("fewest_splits", "closest", "priority"), converter=_preferences
    )
    radius_km: float | None = attrs.field(default=None, converter=_radius)
    protect_safety: bool = attrs.field(default=True, converter=_protect)
    exclude: tuple[str, ...] = attrs.field(default=(), converter=_exclude)
    per_parcel: float = attrs.field(default=0.0, converter=_per_parcel)
    per_km: float = attrs.field(default=0.0, converter=_per_km)
    # BOPIS: when the pickup store is short, try these outcomes in order.
    bopis_fallback: tuple[str, ...] = attrs.field(default=BOPIS_OUTCOMES, converter=_bopis)
    transfer_radius_km: float | None = attrs.field(default=None, converter=_transfer_radius)
    transfer_hours: float = attrs.field(default=24.0, converter=_transfer_hours)
    suggestions: int = attrs.field(default=3, converter=_suggestions)
    # Consider only the K nearest locations that pass the static filters
    # (capability, channel, excluded); None: every location.
    candidates: int | None = attrs.field(default=None, converter=_candidates)
    # Paid pickups: collected within window + grace of payment, or released.
    pickup_window_hours: float = attrs.field(default=168.0, converter=_pickup_window)
    pickup_grace_hours: float = attrs.field(default=24.0, converter=_pickup_grace)
    keep_paid_pickups: bool = attrs.field(default=False, converter=_keep_paid)

    @property
    def paid_pickup_us(self) -> int | None:
        """How long after it is paid (and ready) a pickup order is released
        as a no-show: window plus grace, in microseconds; None when paid
        pickups are kept."""
        if self.keep_paid_pickups:
            return None
        return round((self.pickup_window_hours + self.pickup_grace_hours) * 3_600_000_000)

    @property
    def fewest_splits(self) -> bool:
        """True when plans are compared first by their number of locations."""
        return bool(self.preferences) and self.preferences[0] == "fewest_splits"

    @property
    def rank_preferences(self) -> tuple[str, ...]:
        """The location-level preferences, which rank candidates."""
        return tuple(p for p in self.preferences if p != "fewest_splits")

    def cost(self, distance_km: float) -> float:
        """Cost of one parcel from a location ``distance_km`` away (an unknown,
        infinite distance costs ``inf`` when ``per_km > 0``)."""
        if self.per_km == 0.0:
            return self.per_parcel
        return self.per_parcel + self.per_km * distance_km

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, floats, None); ``from_dict`` rebuilds an equal policy."""
        return {
            "filters": list(self.filters),
            "preferences": list(self.preferences),
            "radius_km": self.radius_km,
            "protect_safety": self.protect_safety,
            "exclude": list(self.exclude),
            "per_parcel": self.per_parcel,
            "per_km": self.per_km,
            "bopis_fallback": list(self.bopis_fallback),
            "transfer_radius_km": self.transfer_radius_km,
            "transfer_hours": self.transfer_hours,
            "suggestions": self.suggestions,
            "candidates": self.candidates,
            "pickup_window_hours": self.pickup_window_hours,
            "pickup_grace_hours": self.pickup_grace_hours,
            "keep_paid_pickups": self.keep_paid_pickups,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Policy:
        """Build from a mapping; missing keys take defaults, unknown keys raise."""
        if not isinstance(d, Mapping):
            raise InvalidInput("policy", d, "must be a mapping of policy settings")
        for key in d:
            if key not in _KEYS:
                raise InvalidInput(
                    str(key), d[key], f"unknown policy key; known: {', '.join(_KEYS)}"
                )
        return cls(**dict(d))

    def to_toml(self) -> str:
        """TOML text; ``from_toml`` rebuilds an equal policy (None is omitted)."""
        out = []
        for key, value in self.to_dict().items():
            if value is None:
                continue
            out.append(f"{key} = {_toml_value(value)}")
        return "\n".join(out) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """Parse TOML: the keys at top level, or all under one ``[policy]`` table."""
        if not isinstance(text, str):
            raise InvalidInput("policy", text, "TOML must be given as str")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("policy", text, f"is not valid TOML: {exc}") from None
        if set(doc) == {"policy"} and isinstance(doc["policy"], dict):
            doc = doc["policy"]
        return cls.from_dict(doc)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float | int):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


DEFAULT_POLICY = Policy()
