"""Argument checks shared by values and the face.

Each check returns the normalised value or raises a typed error naming the
field and the value. They are plain functions so hot paths can call them
without building attrs objects.
"""

from __future__ import annotations

import math
import numbers
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import InvalidInput, InvalidQuantity

MAX_QTY = 2**62
"""Largest quantity accepted anywhere, and the ledger's bound on every term
of the ATP formula at a position: ``|on_hand|``, ``|holdable|`` and
``|atp|`` are at most 2**62; ``reserved``, ``safety``, each unsellable
state and their sum lie in ``[0, 2**62]``. The difference of any two terms
therefore fits int64, and so does a term plus a quantity. Commands refuse
a change past a bound (``lookup.check_bounds``); ``check()`` reports one
(``ledger.invariants``). Sums over positions are Python ints."""

MAX_ID_LEN = 200


def check_id(field: str, value: Any) -> str:
    """Return ``value`` if it is a usable id: a non-empty str of at most 200
    printable characters."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string id")
    if not value:
        raise InvalidInput(field, value, "must not be empty")
    if len(value) > MAX_ID_LEN:
        raise InvalidInput(field, value, f"longer than {MAX_ID_LEN} characters")
    if not value.isprintable():
        raise InvalidInput(field, value, "contains control characters")
    return str(value)


def check_opt_id(field: str, value: Any) -> str | None:
    return None if value is None else check_id(field, value)


def check_qty(field: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is a whole number in [minimum, 2**62].

    bool, float (even 3.0), NaN and strings are refused: a quantity that is not
    exactly an integer is a bug upstream, not something to round.
    """
    if type(value) is int:
        v = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidQuantity(field, value, "must be an integer number of units")
    else:
        v = int(value)
    if v < minimum:
        raise InvalidQuantity(field, value, f"must be at least {minimum}")
    if v > MAX_QTY:
        raise InvalidQuantity(field, value, f"must be at most 2**62 ({MAX_QTY})")
    return v


def check_int(field: str, value: Any, minimum: int | None = None) -> int:
    """An integer setting (priority, capacity), not a quantity of stock."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(field, value, "must be an integer")
    v = int(value)
    if minimum is not None and v < minimum:
        raise InvalidInput(field, value, f"must be at least {minimum}")
    if abs(v) > MAX_QTY:
        raise InvalidInput(field, value, "out of range")
    return v


def check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, value, "must be True or False")
    return value


def check_when(field: str, value: Any) -> datetime:
    """Return an aware datetime converted to UTC. Naive datetimes are refused:
    a stock ledger shared by stores in several time zones cannot guess."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, value, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value, "must be timezone-aware (naive datetime)")
    return value.astimezone(UTC)


def check_ttl(field: str, value: Any) -> timedelta:
    """A positive duration: a timedelta or a number of seconds."""
    if isinstance(value, timedelta):
        td = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(field, value, "must be a timedelta or a number of seconds")
    else:
        f = float(value)
        if not math.isfinite(f):
            raise InvalidInput(field, value, "must be finite")
        if f > 10 * 365 * 86400:
            raise InvalidInput(field, value, "longer than ten years")
        td = timedelta(seconds=f)
    if td <= timedelta(0):
        raise InvalidInput(field, value, "must be positive")
    if td > timedelta(days=3650):
        raise InvalidInput(field, value, "longer than ten years")
    return td


def check_float(field: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(field, value, "must be a number")
    f = float(value)
    if not math.isfinite(f) or not lo <= f <= hi:
        raise InvalidInput(field, value, f"must be a finite number in [{lo}, {hi}]")
    return f


def to_micros(dt: datetime) -> int:
    """UTC microseconds since the epoch, the journal's time unit."""
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
