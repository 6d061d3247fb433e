"""SKUs with units: ``Sku`` and the conversion of quantities at the face.

A SKU declared with ``decimals=d`` keeps every quantity in the journal, the
ledger grids and the kernels as a SCALED int64: ``Decimal("1.250")`` kg at
``d=3`` is 1250. Only the face converts (arguments in, figures out), with
``to_scaled`` and ``from_scaled`` here; nothing below the face knows a
quantity had decimals. A SKU never declared keeps today's rules exactly:
whole ints in, ints out.

Bounds: ``decimals`` is at most ``MAX_DECIMALS`` (6). A scaled quantity must
still lie within ``MAX_QTY`` (2**62), the ledger's bound on every term, so a
SKU at 6 decimals takes at most 2**62 / 10**6 (about 4.6 * 10**12) units:
the int64 arithmetic of the ledger stays exact at every scale.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import attrs

from ._validate import MAX_QTY, check_id, check_qty
from .errors import InvalidInput, InvalidQuantity

__all__ = ["MAX_DECIMALS", "Sku", "from_scaled", "line_qty", "to_scaled"]

MAX_DECIMALS = 6
"""Most decimals a SKU may have: 2**62 / 10**6 whole units still fit."""
_EXACT = Context(prec=200)  # wide enough that no accepted value is rounded


def _c_id(v: str) -> str:
    return check_id("id", v)


def _c_decimals(v: Any) -> int:
    if type(v) is not int or not 0 <= v <= MAX_DECIMALS:
        raise InvalidInput("decimals", v, f"must be an int in 0..{MAX_DECIMALS}")
    return v


def _c_unit(v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > 64 or not v.isprintable():
        raise InvalidInput("unit", v, "must be a non-empty printable name (at most 64 chars)")
    return v


def _decimal(field: str, v: Any) -> Decimal:
    """An exact Decimal from an int, a Decimal or a numeric string; floats,
    bools and non-finite values are refused (``InvalidQuantity``)."""
    if isinstance(v, bool | float):
        why = "must not be a float: give a Decimal or a string such as '1.250'"
        raise InvalidQuantity(field, v, why if isinstance(v, float) else "must be a number")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except (InvalidOperation, ValueError):
            raise InvalidQuantity(field, v, "is not a decimal number") from None
    else:
        raise InvalidQuantity(field, v, "must be an int, a Decimal or a decimal string")
    if not d.is_finite():
        raise InvalidQuantity(field, v, "must be finite")
    if d.adjusted() > 40 or -d.as_tuple().exponent > 40:  # type: ignore[operator]
        raise InvalidQuantity(field, v, "is too large or has too many digits")
    return d


def _c_units(v: Any) -> Mapping[str, Decimal]:
    if not isinstance(v, Mapping):
        raise InvalidInput("units", v, "must be a mapping of unit name -> factor")
    out: dict[str, Decimal] = {}
    for name, factor in v.items():
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise InvalidInput("units", name, "unit names must be non-empty printable strings")
        try:
            f = _decimal(f"units[{name!r}]", factor)
        except InvalidQuantity as exc:
            raise InvalidInput(f"units[{name!r}]", factor, exc.reason) from None
        if f <= 0:
            raise InvalidInput(f"units[{name!r}]", factor, "must be positive")
        out[name] = f
    return types.MappingProxyType(dict(sorted(out.items())))


@attrs.frozen
class Sku:
    """A SKU's catalogue entry: its base ``unit`` (a label), how many
    ``decimals`` its quantities have (0..6; ``Decimal`` in and out when
    above 0) and its pack ``units`` (``{"case": 12}``: a case is 12 base
    units; a factor may have decimals, e.g. ``Decimal("0.5")``, if the
    SKU's decimals can hold it). Declared by ``Inventory.add_sku``."""

    id: str = attrs.field(converter=_c_id)
    unit: str = attrs.field(default="each", converter=_c_unit)
    decimals: int = attrs.field(default=0, converter=_c_decimals)
    units: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_c_units, hash=False)
    _factors: dict[str, int] = attrs.field(init=False, repr=False, eq=False, hash=False)
    """Scaled base units per unit name (the base unit's included)."""

    def __attrs_post_init__(self) -> None:
        factors = {self.unit: 10**self.decimals}
        for name, f in self.units.items():
            if name == self.unit:
                raise InvalidInput(f"units[{name!r}]", f, "is the SKU's base unit")
            scaled = f.scaleb(self.decimals, _EXACT)
            if scaled != scaled.to_integral_value():
                why = f"is finer than the SKU's {self.decimals} decimals"
                raise InvalidInput(f"units[{name!r}]", f, why)
            if scaled > MAX_QTY:
                raise InvalidInput(f"units[{name!r}]", f, "is too large")
            factors[name] = int(scaled)
        object.__setattr__(self, "_factors", factors)

    def factor(self, unit: str) -> int:
        """Scaled base units in one ``unit`` (the base unit: ``10**decimals``);
        ``InvalidInput`` naming an unknown unit."""
        f = self._factors.get(unit)
        if f is None:
            known = ", ".join([self.unit, *self.units])
            raise InvalidInput("unit", unit, f"is not a unit of SKU {self.id!r} ({known})")
        return f

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "unit": self.unit,
            "decimals": self.decimals,
            "units": {k: str(v) for k, v in self.units.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sku:
        return cls(d["id"], d["unit"], d["decimals"], d["units"])


def to_scaled(field: str, value: Any, sku: Sku | None, minimum: int = 1) -> int:
    """``value`` as the ledger's int for ``sku``: for a SKU never declared,
    or declared with 0 decimals and given an int, exactly ``check_qty``;
    otherwise an int, a ``Decimal`` or a decimal string, times
    ``10**decimals``, which must be whole (a finer value is refused),
    within [minimum, 2**62]. Floats are refused everywhere."""
    if sku is None or type(value) is int:
        v = check_qty(field, value, minimum)
        if sku is None or not sku.decimals:
            return v
        return _bounded(field, value, v * 10**sku.decimals, minimum)
    key = (value, sku.decimals)
    memo = type(value) is Decimal and value.is_finite()
    got = _SCALED.get(key) if memo else None
    if got is None:
        d = _decimal(field, value)
        scaled = d.scaleb(sku.decimals, _EXACT)
        if scaled != scaled.to_integral_value():
            why = f"has more than the {sku.decimals} decimals of SKU {sku.id!r}"
            raise InvalidQuantity(field, value, why)
        got = int(scaled)
        if memo:
            if len(_SCALED) >= 4096:  # bounded: quantities repeat, but not without end
                _SCALED.clear()
            _SCALED[key] = got
    return _bounded(field, value, got, minimum)


_SCALED: dict[tuple[Decimal, int], int] = {}
"""Decimals already scaled (a Decimal and its decimals -> the int)."""


def _bounded(field: str, value: Any, v: int, minimum: int) -> int:
    if v < minimum:
        raise InvalidQuantity(field, value, "must be positive" if minimum else "must be >= 0")
    if v > MAX_QTY:
        raise InvalidQuantity(field, value, f"is too large (at most 2**62 scaled units, {MAX_QTY})")
    return v


def line_qty(line_qty: Any, unit: str | None, sku: Sku | None, field: str = "qty") -> int:
    """A ``Line``'s quantity (in ``unit``, the base unit when None) as
    scaled base units of ``sku``. A unit needs a declared SKU."""
    if unit is None:
        return to_scaled(field, line_qty, sku)
    if sku is None:
        raise InvalidInput("unit", unit, "the SKU has no units: declare it with add_sku")
    if unit == sku.unit:
        return to_scaled(field, line_qty, sku)
    factor = sku.factor(unit)
    if type(line_qty) is int:
        return _bounded(field, line_qty, check_qty(field, line_qty) * factor, 1)
    d = _decimal(field, line_qty)
    if d <= 0:
        raise InvalidQuantity(field, line_qty, "must be positive")
    total = _EXACT.multiply(d, factor)
    if total != total.to_integral_value():
        why = f"{line_qty} {unit} is finer than the {sku.decimals} decimals of SKU {sku.id!r}"
        raise InvalidQuantity(field, line_qty, why)
    return _bounded(field, line_qty, int(total), 1)


def c_line_qty(v: int | Decimal) -> Any:
    """A ``Line``'s qty: an int as ever; a Decimal or decimal string (kept
    as a Decimal) for a SKU with decimals or a pack unit: the inventory
    converts it by the SKU's entry, which a Line need not know yet."""
    if type(v) is int or not isinstance(v, Decimal | str):
        return check_qty("qty", v)
    d = _decimal("qty", v)
    if d <= 0:
        raise InvalidQuantity("qty", v, "must be positive")
    return d


def c_unit_name(v: str | None) -> str | None:
    if v is not None and (not isinstance(v, str) or not v.strip() or not v.isprintable()):
        raise InvalidInput("unit", v, "must be a unit name or None (the base unit)")
    return v


def from_scaled(q: int, sku: Sku | None) -> int | Decimal:
    """A ledger int as the user's quantity: a ``Decimal`` with exactly the
    SKU's decimals when it has some, else the int itself."""
    if sku is None or not sku.decimals:
        return q
    key = (q, sku.decimals)
    got = _FIGURES.get(key)
    if got is None:
        got = Decimal(q).scaleb(-sku.decimals, _EXACT)
        if len(_FIGURES) >= 4096:  # bounded, as _SCALED
            _FIGURES.clear()
        _FIGURES[key] = got
    return got


_FIGURES: dict[tuple[int, int], Decimal] = {}
"""Figures already converted (a scaled int and decimals -> the Decimal)."""
