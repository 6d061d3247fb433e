"""SKUs with units at the face: ``add_sku``, and the conversion of
quantities in and out (``skus.py`` holds the arithmetic).

The face is the only place a quantity has decimals or a pack unit: every
argument is turned into the ledger's scaled int before the plan runs, and
every figure back into a ``Decimal`` (SKUs with decimals) on the way out.
Ledger, kernels, scopes and stores see ints only. A SKU never declared
takes the old path: ints in, ints out, the same checks.

This mixin sits first among ``Inventory``'s bases, so its query and supply
overrides wrap the read and supply halves (``face_reads``,
``face_supply``, ``face_integration``) by ``super()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._validate import check_id
from .commands import catalogue
from .errors import ConcurrencyConflict, InvalidInput
from .feeds.availability import AvailabilityChange
from .fulfilment.results import Allocation
from .lot_values import LotLine, Recalled
from .low_stock import Alert
from .reports import Explanation, PositionFigures, Promise, SupplyLine
from .skus import Sku, from_scaled, line_qty, to_scaled
from .values import (
    Applied,
    Entry,
    Line,
    Order,
    Reservation,
    ReservationLine,
    Resourced,
    Shortage,
    Transfer,
)

if TYPE_CHECKING:
    from .command import PlanFn, R, Then
    from .runner import Runner
    from .scoped import Scope

_T = TypeVar("_T")
_TLS = threading.local()
"""``used``: the catalogue entries (or None) the calling thread converted
quantities by, since its last command was built (``SkuFace._checked``)."""
Qty = int | Decimal | str
"""A quantity as the face takes it: an int, or for a SKU with decimals a
``Decimal`` or a decimal string (floats are refused)."""


class SkuFace:
    """The catalogue half of ``Inventory``: SKUs with units and decimals."""

    _runner: Runner

    def _run(
        self, name: str, plan: PlanFn[R], key: str | None = None, args: Any = None,
        then: Then[R] | None = None, scope: Scope | None = None,
    ) -> R:  # fmt: skip
        raise AssertionError("Inventory._run")  # pragma: no cover - Inventory defines it

    # -- the command and the read ------------------------------------------------------
    def add_sku(self, sku: Sku, key: str | None = None) -> Sku:
        """Declare ``sku``'s base unit, decimals and pack units (journaled:
        every process, a reopened store and replay see it). The same entry
        again is a no-op; units may change at any time; ``decimals`` may
        not once the journal holds a quantity of the SKU (``InvalidInput``
        naming ``decimals``)."""
        if not isinstance(sku, Sku):
            raise InvalidInput("sku", sku, "must be a Sku")
        plan = lambda st, cx: catalogue.add_sku(st, cx, sku)  # noqa: E731
        return self._run("add_sku", plan, key, sku.to_dict())

    @property
    def catalogue(self) -> dict[str, Sku]:
        """Every declared SKU, by id (a SKU not here is whole units)."""
        return dict(self._runner.sync().catalogue)

    # -- arguments in --------------------------------------------------------------------
    def _entry(self, sku: str, plain: bool) -> Sku | None:
        """``sku``'s entry; a miss is looked up again after catching up
        unless the value is a plain int of the base unit (``plain``), so
        another process's declaration is seen without costing the common
        case a round trip."""
        r = self._runner
        got = r.state.catalogue.get(sku)
        if r.shared or r.scoped is not None:  # other processes may declare it meanwhile
            if got is None and not plain:
                got = r.sync(((sku,), ())).catalogue.get(sku)
            used = getattr(_TLS, "used", None)
            if used is None or getattr(_TLS, "owner", None) is not r:
                used, _TLS.owner = {}, r
                _TLS.used = used
            used[sku] = got
        return got

    def _checked(self, plan: PlanFn[R]) -> PlanFn[R]:
        """``plan``, refusing to run on a ledger whose catalogue entry of a
        SKU differs from the one this call converted its quantities by (a
        declaration by another process that this one had not seen):
        ``ConcurrencyConflict``, nothing written, and a retry converts
        afresh. Only on shared stores; O(SKUs converted) per planning."""
        used = getattr(_TLS, "used", None)
        if not used:
            return plan
        _TLS.used = None
        if getattr(_TLS, "owner", None) is not self._runner:
            return plan  # noted by another inventory's call that failed early

        def checked(st: Any, cx: Any) -> Any:
            cat = st.catalogue
            for sku, e in used.items():
                got = cat.get(sku)
                if got is not e and got != e:
                    why = "its catalogue entry (add_sku) changed since this call converted"
                    raise ConcurrencyConflict(f"sku={sku!r}: {why} its quantities: retry")
            return plan(st, cx)

        return checked

    def _qty(self, field: str, sku: Any, value: Any, minimum: int = 1) -> int:
        """``value`` of ``sku`` as the ledger's scaled int (``to_scaled``)."""
        check_id("sku", sku)
        try:
            return to_scaled(field, value, self._entry(sku, type(value) is int), minimum)
        except BaseException:
            _TLS.used = None  # refused: no command follows
            raise

    def _lines(self, ls: tuple[Line, ...]) -> tuple[Line, ...]:
        """The lines with scaled int quantities in base units. O(lines);
        lines of undeclared SKUs in ints are returned as they are."""
        cat = self._runner.state.catalogue
        if not cat and all(type(x.qty) is int and x.unit is None for x in ls):
            if not self._runner.shared and self._runner.scoped is None:
                return ls
            for x in ls:
                self._entry(x.sku, True)  # noted for ``_checked``
            return ls
        out = []
        for x in ls:
            plain = type(x.qty) is int and x.unit is None
            e = self._entry(x.sku, plain)
            if e is None and plain:
                out.append(x)
                continue
            try:
                out.append(_copy(x, qty=line_qty(x.qty, x.unit, e), unit=None))
            except BaseException:
                _TLS.used = None  # refused: no command follows
                raise
        return tuple(out)

    def _order(self, order: Order) -> Order:
        ls = self._lines(order.lines)
        return order if ls is order.lines else _copy(order, lines=ls)

    def _orders(self, orders: Any) -> Any:
        if isinstance(orders, list | tuple) and all(isinstance(o, Order) for o in orders):
            out = [self._order(o) for o in orders]
            _TLS.used = None  # their plans are built in commands/: not ``_checked``
            return out
        return orders  # checked (and refused if bad) where it is planned

    def _batch(self, skus: Iterable[str]) -> None:
        """Columnar batches carry int columns: a SKU with decimals is refused."""
        cat = self._runner.state.catalogue
        if cat:
            for s in set(skus):
                e = cat.get(s)
                if e is not None and e.decimals:
                    why = "has decimals: hold or allocate it with Order lines, not a batch"
                    raise InvalidInput("sku", s, why)

    # -- figures out ---------------------------------------------------------------------
    def _out(self, value: Any) -> Any:
        """``value`` with every quantity of a SKU with decimals as a Decimal:
        free when no SKU is declared, else O(size of ``value``); a value
        with no such quantity is returned as it is."""
        cat = self._runner.state.catalogue
        return _convert(value, cat) if cat else value

    def _fig(self, sku: str, q: int) -> int | Decimal:
        return from_scaled(q, self._runner.state.catalogue.get(sku))

    # -- the queries and supply commands that carry quantities ---------------------------
    def available(self, sku: str, location: str | None = None, channel: str | None = None) -> Any:
        return self._fig(sku, super().available(sku, location, channel))  # type: ignore[misc]

    def explain(self, sku: str, location: str | None = None, channel: str | None = None) -> Any:
        return self._out(super().explain(sku, location, channel))  # type: ignore[misc]

    def on_hand(self, sku: str, location: str, state: Any = None) -> Any:
        return self._fig(sku, super().on_hand(sku, location, state))  # type: ignore[misc]

    def promise(
        self, sku: str, qty: Qty, channel: str | None = None, location: str | None = None
    ) -> Promise:
        q = self._qty("qty", sku, qty)
        _TLS.used = None  # a query: nothing to check
        return self._out(super().promise(sku, q, channel, location))  # type: ignore[misc,no-any-return]

    def alerts(self) -> list[Alert]:
        return self._out(super().alerts())  # type: ignore[misc,no-any-return]

    def thresholds(self) -> dict[tuple[str, str | None], Any]:
        got = super().thresholds()  # type: ignore[misc]
        return {k: self._fig(k[0], v) for k, v in got.items()}

    def reservation(self, res_id: str) -> Reservation:
        return self._out(super().reservation(res_id))  # type: ignore[misc,no-any-return]

    def reservations(self, state: str | None = None) -> list[Reservation]:
        return self._out(super().reservations(state))  # type: ignore[misc,no-any-return]

    def transfers(self) -> list[Transfer]:
        return self._out(super().transfers())  # type: ignore[misc,no-any-return]

    def history(
        self,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
        since: int | datetime = 0,
        until: int | datetime | None = None,
        kind: str | None = None,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Entry]:
        got = super().history(sku, location, ref, since, until, kind, limit, order)  # type: ignore[misc]
        return self._out(got)  # type: ignore[no-any-return]

    def feed(self, consumer: str, limit: int = 1000, wait: float = 0) -> list[Entry]:
        return self._out(super().feed(consumer, limit, wait))  # type: ignore[misc,no-any-return]

    def availability(self, consumer: str, channel: str) -> list[AvailabilityChange]:
        return self._out(super().availability(consumer, channel))  # type: ignore[misc,no-any-return]

    def expect(
        self, sku: str, location: str, qty: Qty, eta: datetime, ref: str | None = None,
        key: str | None = None,
    ) -> str:  # fmt: skip
        q = self._qty("qty", sku, qty)
        return super().expect(sku, location, q, eta, ref, key)  # type: ignore[misc,no-any-return]

    def transfer(
        self, sku: str, source: str, destination: str, qty: Qty, eta: datetime | None = None,
        key: str | None = None,
    ) -> Transfer:  # fmt: skip
        q = self._qty("qty", sku, qty)
        return super().transfer(sku, source, destination, q, eta, key)  # type: ignore[misc,no-any-return]

    def receive_transfer(
        self, transfer_id: str, qty: Qty | None = None, key: str | None = None
    ) -> Applied:
        if qty is not None and (type(qty) is not int or self._runner.state.catalogue):
            check_id("transfer_id", transfer_id)
            st = self._runner.sync()
            item = st.supply.by_id.get(transfer_id)
            if item is not None:  # the item keeps the SKU's grid index
                qty = self._qty("qty", st.grid.skus[item.sku], qty)
        return super().receive_transfer(transfer_id, qty, key)  # type: ignore[misc,no-any-return]


def _convert(v: Any, cat: dict[str, Sku]) -> Any:
    """``v`` with the quantities of SKUs with decimals as Decimals."""
    conv = _CONVERTERS.get(type(v))
    if conv is not None:
        return conv(v, cat)
    if type(v) is list:
        return [_convert(x, cat) for x in v]
    if type(v) is tuple:
        return tuple(_convert(x, cat) for x in v)
    return v


_FIELDS: dict[type, tuple[str, ...]] = {}


def _copy(obj: _T, **changes: Any) -> _T:
    """A copy of the frozen attrs value ``obj`` with ``changes``, without
    running its converters again: every field is already checked (the
    changes are the face's own conversions). O(fields)."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(a.name for a in attrs.fields(cls))  # type: ignore[arg-type]
    new = object.__new__(cls)
    put = object.__setattr__
    for n in names:
        put(new, n, getattr(obj, n))
    for n, v in changes.items():
        put(new, n, v)
    return new


def _q(cat: dict[str, Sku], sku: str | None, q: Any) -> Any:
    e = None if sku is None else cat.get(sku)
    return q if e is None or not e.decimals or q is None else from_scaled(q, e)


def _line(x: ReservationLine, cat: dict[str, Sku]) -> ReservationLine:
    e = cat.get(x.sku)
    return x if e is None or not e.decimals else _copy(x, qty=from_scaled(x.qty, e))


def _lines_out(xs: tuple[ReservationLine, ...], cat: dict[str, Sku]) -> tuple[Any, ...]:
    if not xs:
        return xs
    out = tuple([_line(x, cat) for x in xs])
    return out if any(a is not b for a, b in zip(out, xs, strict=True)) else xs


def _res(r: Reservation, cat: dict[str, Sku]) -> Reservation:
    lines, shipped = _lines_out(r.lines, cat), _lines_out(r.shipped, cat)
    if r.lots:  # a ship result: the lots its units took
        return _copy(r, lines=lines, shipped=shipped, lots=_lots(r.lots, cat))
    return (
        r if lines is r.lines and shipped is r.shipped else _copy(r, lines=lines, shipped=shipped)
    )


def _lot(x: LotLine, c: dict[str, Sku]) -> LotLine:
    return attrs.evolve(x, qty=_q(c, x.sku, x.qty))


def _lots(xs: tuple[LotLine, ...], c: dict[str, Sku]) -> tuple[LotLine, ...]:
    return tuple([_lot(x, c) for x in xs]) if xs else xs


def _transfer(t: Transfer, c: dict[str, Sku]) -> Transfer:
    return attrs.evolve(t, qty=_q(c, t.sku, t.qty), lots=_lots(t.lots, c))


def _resourced(r: Resourced, c: dict[str, Sku]) -> Resourced:
    return attrs.evolve(
        r, qty=_q(c, r.sku, r.qty), missing=_q(c, r.sku, r.missing),
        to=tuple((loc, _q(c, r.sku, q)) for loc, q in r.to),
        transfers=tuple(_transfer(t, c) for t in r.transfers),
    )  # fmt: skip


def _applied(a: Applied, c: dict[str, Sku]) -> Applied:
    return attrs.evolve(
        a,
        shortages=tuple(attrs.evolve(s, qty=_q(c, s.sku, s.qty)) for s in a.shortages),
        resourced=tuple(_resourced(r, c) for r in a.resourced),
        transfers=tuple(_transfer(t, c) for t in a.transfers),
        lots=_lots(a.lots, c),
    )


def _allocation(a: Allocation, c: dict[str, Sku]) -> Allocation:
    return attrs.evolve(
        a,
        reservation=None if a.reservation is None else _res(a.reservation, c),
        lines=_lines_out(a.lines, c),
        transfers=tuple(_transfer(t, c) for t in a.transfers),
    )


def _explanation(x: Explanation, c: dict[str, Sku]) -> Explanation:
    s = x.sku
    pos = tuple(
        PositionFigures(
            p.location, _q(c, s, p.on_hand), {k: _q(c, s, v) for k, v in p.unsellable.items()},
            _q(c, s, p.reserved), _q(c, s, p.safety),
        )
        for p in x.positions
    )  # fmt: skip
    return attrs.evolve(
        x, positions=pos, positive_sum=_q(c, s, x.positive_sum), buffer=_q(c, s, x.buffer),
        cap=_q(c, s, x.cap), available=_q(c, s, x.available),
    )  # fmt: skip


def _promise(p: Promise, c: dict[str, Sku]) -> Promise:
    sup = tuple(attrs.evolve(x, qty=_q(c, p.sku, x.qty)) for x in p.supply)
    return attrs.evolve(
        p, qty=_q(c, p.sku, p.qty), from_stock=_q(c, p.sku, p.from_stock), supply=sup
    )


_CONVERTERS: dict[type, Any] = {
    Reservation: _res,
    ReservationLine: _line,
    Allocation: _allocation,
    Applied: _applied,
    Transfer: _transfer,
    Shortage: lambda s, c: attrs.evolve(s, qty=_q(c, s.sku, s.qty)),
    Entry: lambda e, c: attrs.evolve(e, qty=_q(c, e.sku, e.qty)),
    Explanation: _explanation,
    Promise: _promise,
    SupplyLine: lambda x, c: x,
    AvailabilityChange: lambda a, c: attrs.evolve(a, available=_q(c, a.sku, a.available)),
    Alert: lambda a, c: attrs.evolve(a, low=_q(c, a.sku, a.low), atp=_q(c, a.sku, a.atp)),
    LotLine: _lot,
    Recalled: lambda r, c: attrs.evolve(
        r,
        quarantined=_lots(r.quarantined, c),
        shortages=tuple(attrs.evolve(s, qty=_q(c, s.sku, s.qty)) for s in r.shortages),
        resourced=tuple(_resourced(x, c) for x in r.resourced),
    ),
}


def _inherit_docs() -> None:
    """Each override keeps the docstring of the method it wraps, plus what
    it converts (the API reference shows the override)."""
    from .face_integration import IntegrationFace
    from .face_reads import ReadFace
    from .face_supply import SupplyFace

    note = (
        "\n\n        Quantities of a SKU with decimals (``add_sku``) are ``Decimal``"
        " (or decimal strings, in); other SKUs' are ints."
    )
    for name, fn in list(vars(SkuFace).items()):
        if name.startswith("_") or not callable(fn):
            continue
        for base in (ReadFace, SupplyFace, IntegrationFace):
            wrapped = getattr(base, name, None)
            if wrapped is not None and wrapped.__doc__:
                fn.__doc__ = wrapped.__doc__.rstrip() + note
                break


_inherit_docs()
