"""Lot plans: receipts of lots and serials, which lots a movement takes
(first-expiry-first-out), and recalls.

``annotate`` is the one place a plan says which lots its units come from:
the ship, sell, transfer and count plans pass it their rows, and rows at
lotted positions get ``data["lots"]`` (``[[lot, units], ...]``), which the
fold (``ledger/lotfold.py``) applies. Rows at positions without lots are
left exactly as they were (one dict check when the ledger has no lots).
"""

from __future__ import annotations

import json
from typing import Any

from .._validate import from_micros
from ..errors import InvalidInput, UnknownLot
from ..ledger.grid import Pos
from ..ledger.lots import NO_LOT
from ..ledger.rows import (
    NEW_DATA,
    NEW_KIND,
    NEW_LOC,
    NEW_QTY,
    NEW_REF,
    NEW_SKU,
    SELLABLE,
    Kind,
    make,
)
from ..ledger.state import LedgerState
from ..lookup import check_bounds, known_pos, shortages, sku_row
from ..lot_values import LotLine, Recalled
from ..planning import Context, Datas, Emit, Plan
from ..storage import NewRow
from ..values import Applied

_TAKES = frozenset(k._value_ for k in (Kind.SOLD, Kind.FULFILLED, Kind.TRANSFER_OUT))


def _exp_dt(us: int | None) -> Any:
    return None if us is None else from_micros(us)


def annotate(st: LedgerState, rows: list[NewRow], datas: Datas) -> tuple[LotLine, ...]:
    """Name the lots of the rows (in place) that take sellable units from
    lotted positions, first-expiry-first-out; a sellable count below the
    lots' total takes FEFO too. Returns what was taken. O(rows) when the
    ledger has no lots."""
    lots = st.lots
    if not lots.by_pos:
        return ()
    g = st.grid
    taken: dict[Pos, dict[str, int]] = {}
    out: list[LotLine] = []
    for i, row in enumerate(rows):
        kind, sku, loc = row[NEW_KIND], row[NEW_SKU], row[NEW_LOC]
        qty: int = row[NEW_QTY]  # type: ignore[assignment]
        ref: str = row[NEW_REF]  # type: ignore[assignment]
        s, l = g.sku_ix.get(sku), g.loc_ix.get(loc)  # type: ignore[arg-type]
        if s is None or l is None:
            continue
        data = dict(datas[i] or {})
        if kind == Kind.TRANSFER_IN and ref in lots.transit:
            data["lots"] = _peek(lots.transit[ref], qty)
            rows[i], datas[i] = _with(row, data), data
            continue
        if (s, l) not in lots.by_pos:
            continue
        if kind in _TAKES:
            n = qty
        elif kind == Kind.COUNTED and data.get("state") == SELLABLE and qty < 0:
            n = -qty
        else:
            continue
        mine = taken.setdefault((s, l), {})
        pairs = lots.fefo((s, l), n, mine)
        book = lots.by_pos[(s, l)]
        for name, k in pairs:
            mine[name] = mine.get(name, 0) + k
            lot = book.get(name)
            out.append(LotLine(sku, loc, name, k, _exp_dt(None if lot is None else lot.exp)))  # type: ignore[arg-type]
        data["lots"] = pairs
        rows[i], datas[i] = _with(row, data), data
    return tuple(out)


def _with(row: NewRow, data: dict[str, Any]) -> NewRow:
    return (*row[:NEW_DATA], json.dumps(data))  # type: ignore[return-value]


def _peek(items: list[list[Any]], qty: int) -> list[list[Any]]:
    out = []
    for name, _exp, n in items:
        if qty <= 0:
            break
        out.append([name, min(n, qty)])
        qty -= min(n, qty)
    return out


def receive(
    st: LedgerState, cx: Context, sku: str, location: str, lots: list[tuple[str, int]],
    exp_us: int | None, ref: str | None, serial: bool,
) -> Plan[Applied]:  # fmt: skip
    """Units of named lots (or serials: lots of one unit) arrive sellable.
    A lot keeps one expiry: more of a lot with another expiry is refused,
    as is an expiry already past, and a serial already on hand."""
    p = known_pos(st, sku, location, new_sku=True)
    if ref is not None:
        from .purchases import check_receipt  # purchases imports transfers, which imports us

        check_receipt(st, ref, sku, location)
    q = sum(n for _, n in lots)
    check_bounds(st, p, "qty", q, holdable=q)
    field = "serials" if serial else "lot"
    if exp_us is not None and exp_us <= cx.now:
        raise InvalidInput("expires", from_micros(exp_us), "has passed by the ledger's clock")
    rows: list[NewRow] = []
    datas: Datas = []
    for name, n in lots:
        known, exp = st.lots.expiry_of(p[0], name)
        if known and exp != exp_us:
            why = f"lot {name!r} of {sku!r} expires at {_exp_dt(exp)}: a lot has one expiry"
            raise InvalidInput("expires", _exp_dt(exp_us), why)
        if serial and known and _units(st, p[0], name):
            raise InvalidInput(field, name, f"serial {name!r} of {sku!r} is already on hand")
        data: dict[str, Any] = {"lot": name}
        if exp_us is not None:
            data["exp"] = exp_us
        rows.append(
            make(Kind.RECEIVED, cx.ts, sku=sku, location=location, qty=n, ref=ref,
                 key=cx.key, data=json.dumps(data))
        )  # fmt: skip
        datas.append(data)
    return Plan(rows, datas, lambda s: Applied(s.head))


def _units(st: LedgerState, s: int, name: str) -> int:
    return sum(
        book[name].total
        for l in st.lots.by_sku.get(s, ())
        if (book := st.lots.by_pos.get((s, l))) is not None and name in book
    )


def known_lot(st: LedgerState, sku: str, lot: str, field: str = "lot") -> int:
    """The SKU row of ``sku``, once ``lot`` is known to be one of its lots;
    ``UnknownLot`` otherwise."""
    s = sku_row(st, sku)
    if lot == NO_LOT or not st.lots.expiry_of(s, lot)[0]:
        raise UnknownLot(lot, field)
    return s


def recall(st: LedgerState, cx: Context, sku: str, lot: str) -> Plan[Recalled]:
    """Move every sellable unit of ``lot`` to quarantine, at every location.
    Units already expired stay "expired". Reports the reservations it
    uncovers (the follow-up ``then_recall`` re-sources them)."""
    s = known_lot(st, sku, lot)
    g = st.grid
    rows: list[NewRow] = []
    datas: Datas = []
    taken: dict[Pos, int] = {}
    lines: list[LotLine] = []
    for l in sorted(st.lots.by_sku.get(s, ()), key=lambda c: g.locs[c]):
        book = st.lots.by_pos.get((s, l))
        it = None if book is None else book.get(lot)
        if it is None or it.qty <= 0:
            continue
        data = {"from": SELLABLE, "to": "quarantine", "lot": lot}
        rows.append(
            make(Kind.STATE_CHANGED, cx.ts, sku=sku, location=g.locs[l], qty=it.qty,
                 key=cx.key, data=json.dumps(data))
        )  # fmt: skip
        datas.append(data)
        taken[(s, l)] = it.qty
        lines.append(LotLine(sku, g.locs[l], lot, it.qty, _exp_dt(it.exp)))
    short = shortages(st, taken)
    return Plan(rows, datas, lambda a: Recalled(a.head, sku, lot, tuple(lines), short))


def then_recall(st: LedgerState, cx: Context, result: Recalled, emit: Emit) -> Recalled:
    """Re-source what a recall left uncovered, in the same commit."""
    if not result.shortages:
        return result
    g = st.grid
    positions = {(g.sku_ix[x.sku], g.loc_ix[x.location]): 0 for x in result.shortages}
    from attrs import evolve

    from ..fulfilment.resourcing import resource_uncovered

    done = resource_uncovered(st, cx.without_key(), positions, emit)

    return evolve(result, seq=st.head, resourced=done)


def lots_at(st: LedgerState, sku: str, location: str | None) -> list[LotLine]:
    """The lots of ``sku`` on hand (any state), per location, in FEFO order."""
    s = sku_row(st, sku)
    g = st.grid
    out = []
    for l in sorted(st.lots.by_sku.get(s, ()), key=lambda c: g.locs[c]):
        if location is not None and g.locs[l] != location:
            continue
        for lot in sorted(st.lots.by_pos.get((s, l), {}).values(), key=lambda x: x.order()):
            if lot.total:
                out.append(LotLine(sku, g.locs[l], lot.name, lot.total, _exp_dt(lot.exp)))
    return out


def with_lot(
    st: LedgerState, rows: list[NewRow], datas: Datas, lot: str
) -> tuple[list[NewRow], Datas]:
    """A return's rows with its sellable ``returned`` units put back into
    ``lot`` (a lot of that SKU, else ``UnknownLot``)."""
    rows, datas = list(rows), list(datas)
    for i, row in enumerate(rows):
        if row[NEW_KIND] != Kind.RETURNED:
            continue
        known_lot(st, row[NEW_SKU], lot)  # type: ignore[arg-type]
        data = dict(datas[i] or {})
        if data.get("state", SELLABLE) == SELLABLE:
            data["lot"] = lot
            rows[i], datas[i] = _with(row, data), data
    return rows, datas
