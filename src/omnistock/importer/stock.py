"""Stock rows: receipts or cycle counts, each under a stable key."""

from __future__ import annotations

from .._validate import MAX_QTY
from ..errors import UnknownSku
from ..inventory import Inventory
from .common import fields, ident, scope, whole
from .model import CsvFile, ImportPlan, ImportRefused, Problem, StockRow


def plan_stock(inv: Inventory, data: CsvFile, count: bool, batch: str) -> ImportPlan:
    op = "count" if count else "receive"
    problems: list[Problem] = []
    known = set(inv.locations)
    refcol = "ref" if "ref" in data.header else "key" if "key" in data.header else None
    rows: list[StockRow] = []
    seen_refs: dict[str, int] = {}
    for line, n, r in fields(data, problems):
        sku = ident(line, "sku", r["sku"])
        loc = ident(line, "location", r["location"])
        qty = whole(line, "qty", r["qty"], 0 if count else 1, MAX_QTY)
        bad = [x for x in (sku, loc, qty) if isinstance(x, Problem)]
        if isinstance(loc, str) and loc not in known:
            bad.append(
                Problem(
                    line,
                    "location",
                    loc,
                    "is not in the store; import the locations first "
                    "(omnistock import locations.csv)",
                )
            )
        if refcol is not None:
            ref = ident(line, refcol, r[refcol])
            if isinstance(ref, Problem):
                bad.append(ref)
            elif ref in seen_refs:
                bad.append(Problem(line, refcol, ref, f"is used twice (line {seen_refs[ref]})"))
            else:
                seen_refs[ref] = line
            key = f"import:{op}:ref:{scope(batch)}:{scope(r[refcol])}"
        else:
            key = f"import:{op}:{scope(batch)}:{n}"
        if bad:
            problems.extend(bad)
            continue
        assert isinstance(sku, str) and isinstance(loc, str) and isinstance(qty, int)
        rows.append(StockRow(line, sku, loc, qty, key))
    new, before = _split_imported(inv, rows, op, problems)
    problems.extend(_twice(rows) if count else _bounds(inv, new))
    if problems:
        raise ImportRefused(data.path, sorted(problems, key=lambda p: p.line))
    return ImportPlan(data.path, "stock", op, tuple(new), before)


def _split_imported(
    inv: Inventory, rows: list[StockRow], op: str, problems: list[Problem]
) -> tuple[list[StockRow], int]:
    """Rows whose key is unused, and how many were imported before with the
    same content; a used key with other content is a conflict."""
    kind = "counted" if op == "count" else "received"
    new: list[StockRow] = []
    before = 0
    for row in rows:
        rec = inv.store.lookup_key(row.key)
        if rec is None:
            new.append(row)
            continue
        found = [e for e in inv.history(since=rec.seq - 1, until=rec.seq) if e.key == row.key]
        was = None
        if found:
            e = found[0]
            q = (e.data or {}).get("to") if kind == "counted" else e.qty
            was = (e.kind, e.sku, e.location, q)
        if was == (kind, row.sku, row.location, row.qty):
            before += 1
            continue
        shown = "?" if was is None else f"{was[1]},{was[2]},{was[3]}"
        problems.append(
            Problem(
                row.line,
                "row",
                f"{row.sku},{row.location},{row.qty}",
                f"conflicts with what this row's key ({row.key}) imported before: "
                f"{shown} at journal seq {rec.seq}. A re-import must not change rows "
                "already imported; import another delivery with --batch NAME or a ref column",
            )
        )
    return new, before


def _twice(rows: list[StockRow]) -> list[Problem]:
    """A position counted twice in one file: which count is the truth?"""
    out: list[Problem] = []
    first: dict[tuple[str, str], int] = {}
    for row in rows:
        pos = (row.sku, row.location)
        if pos in first:
            shown = f"{row.sku},{row.location}"
            out.append(Problem(row.line, "row", shown, f"is counted twice (line {first[pos]})"))
        else:
            first[pos] = row.line
    return out


def _bounds(inv: Inventory, rows: list[StockRow]) -> list[Problem]:
    """Receipts that would take a position past the ledger's bound of 2**62
    units on hand (with the file's earlier receipts there)."""
    out: list[Problem] = []
    total: dict[tuple[str, str], int] = {}
    for row in rows:
        pos = (row.sku, row.location)
        if pos not in total:
            try:
                total[pos] = inv.on_hand(row.sku, row.location)
            except UnknownSku:
                total[pos] = 0
        total[pos] += row.qty
        if total[pos] > MAX_QTY:
            out.append(
                Problem(
                    row.line,
                    "qty",
                    str(row.qty),
                    f"would take {row.sku}@{row.location} past 2**62 units on hand",
                )
            )
    return out
