"""The face's lot commands and queries: receipts of lots and serials,
``on_hand(..., lot=)``, ``lots()`` and ``recall()``.

``Inventory.receive(..., lot=, expires=, serials=)`` and
``Inventory.return_items(..., lot=)`` pass their lot arguments here. Lot
commands need the whole ledger (``scope=None``): a worker without a
replica loads it (``scoped.py``), which is correct, only slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._validate import check_id, check_opt_id, check_qty, to_micros
from .command import PlanFn, R, Then
from .commands import lots
from .errors import InvalidInput, UnknownLot
from .ledger.lotfold import lot_units
from .lookup import loc_col, sku_row
from .lot_values import LotLine, Recalled
from .scoped import Scope
from .values import Applied

if TYPE_CHECKING:
    from .runner import Runner


def lot_arg(field: str, value: Any) -> str:
    """A lot name: a non-empty string."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string (a lot or serial number)")
    return check_id(field, value)


def expires_arg(value: Any) -> int | None:
    """An aware datetime (or None) as UTC microseconds."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput("expires", value, "must be an aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("expires", value, "must be timezone-aware (a naive datetime)")
    return to_micros(value)


class LotsFace:
    """Lots, expiry, recall and serials (see ``ledger/lots.py``)."""

    _runner: Runner

    def _run(
        self, name: str, plan: PlanFn[R], key: str | None = None, args: Any = None,
        then: Then[R] | None = None, scope: Scope | None = None,
    ) -> R:  # fmt: skip
        raise AssertionError("Inventory._run")  # pragma: no cover - Inventory defines it

    def _receive_lots(
        self, sku: str, location: str, qty: Any, lot: Any, expires: Any,
        serials: Sequence[Any] | None, key: str | None, ref: str | None,
    ) -> Applied:  # fmt: skip
        """``receive`` of a lot (``lot=``) or of serials (``serials=``,
        each a lot of one unit; ``qty`` must match their number)."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        check_opt_id("ref", ref)
        exp_us = expires_arg(expires)
        if serials is not None:
            if lot is not None:
                raise InvalidInput("serials", serials, "give lot= or serials=, not both")
            if isinstance(serials, str | bytes) or not isinstance(serials, Sequence):
                raise InvalidInput("serials", serials, "must be a list of serial numbers")
            names = [lot_arg("serials", x) for x in serials]
            if len(set(names)) != len(names):
                raise InvalidInput("serials", serials, "lists a serial twice")
            if len(names) != q:
                raise InvalidInput("serials", serials, f"must list qty={q} serials")
            pairs = [(n, 1) for n in names]
        else:
            pairs = [(lot_arg("lot", lot), q)]
        plan = lambda st, cx: lots.receive(  # noqa: E731
            st, cx, sku, location, pairs, exp_us, ref, serials is not None
        )
        args = [sku, location, q, ref, pairs, exp_us]
        return self._run("receive", plan, key, args)

    def on_hand(self, sku: str, location: str, state: Any = None, lot: str | None = None) -> int:
        """Physical units at a location: all, those in ``state``, or (``lot``)
        those of one lot or serial, in any state (``UnknownLot`` if the SKU
        has no such lot)."""
        if lot is None:
            return super().on_hand(sku, location, state)  # type: ignore[misc, no-any-return]
        name = lot_arg("lot", lot)
        if state is not None:
            raise InvalidInput("state", state, "give state= or lot=, not both")
        st = self._runner.sync()
        p = (sku_row(st, sku), loc_col(st, location))
        lots.known_lot(st, sku, name)
        n = lot_units(st, p, name)
        # in the SKU's own units (a Decimal for a SKU with decimals: face_skus.py)
        return self._fig(sku, 0 if n is None else n)  # type: ignore[attr-defined, no-any-return]

    def lots(self, sku: str, location: str | None = None) -> list[LotLine]:
        """The lots (and serials) of ``sku`` on hand, in any state, per
        location (or at ``location``), first expiry first. ``lot=""`` lines
        are units that came without a lot."""
        check_id("sku", sku)
        check_opt_id("location", location)
        st = self._runner.sync()
        if location is not None:
            loc_col(st, location)
        return self._out(lots.lots_at(st, sku, location))  # type: ignore[attr-defined, no-any-return]

    def recall(self, sku: str, lot: str, key: str | None = None) -> Recalled:
        """Move every sellable unit of ``lot`` to quarantine at every
        location (journaled ``state-changed`` rows naming the lot); the open
        reservations it uncovers are re-sourced like any shortage. Returns
        the units quarantined per location, the shortages and where they
        went. ``UnknownLot`` if the SKU has no such lot."""
        check_id("sku", sku)
        name = lot_arg("lot", lot)
        plan = lambda st, cx: lots.recall(st, cx, sku, name)  # noqa: E731
        return self._run("recall", plan, key, [sku, name], then=lots.then_recall)


__all__ = ["LotsFace", "UnknownLot", "expires_arg", "lot_arg"]
