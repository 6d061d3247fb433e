"""CSV import of stock and locations that never counts twice.

Used by ``omnistock import``; usable from Python too::

    plan = importer.plan(inv, importer.read_csv("stock.csv"))   # checks everything
    result = importer.apply(inv, plan)                           # writes the new rows

Stock files (``sku,location,qty`` and optionally a ``ref`` or ``key`` column)
are receipts, or cycle counts with ``count=True``. Location files have
``id,kind`` and optionally ``lat,lon,sells,ships,pickup,accepts_returns,
priority,daily_capacity,returns_to``. Any other column is refused.

:func:`plan` reads the whole file and checks every row against the ledger
before anything is written. It reports **every** bad row at once
(:class:`ImportRefused`, each :class:`Problem` naming the line, the column
and the value); a refused file writes nothing.

Each stock row has a stable idempotency key:

- with a ``ref`` (or ``key``) column, ``import:<op>:ref:<batch>:<ref>``;
- otherwise ``import:<op>:<batch>:<n>`` for the n-th data row of the file
  (blank lines do not count; line endings and the file's name do not matter).

A row whose key was used before was imported before: it is skipped, after
checking that the journal holds the same SKU, location and quantity for it.
If it does not (the file was edited, a row was inserted or deleted above it,
or it is another delivery that happens to be imported under the same batch),
the row is refused as a conflict, never applied a second time. So importing
the same file again, with CRLF line endings, or with rows appended, applies
exactly the new rows; a new delivery file is imported under its own
``batch`` (or carries refs).

Writing: the public API has no single transaction for many receipts or
counts, so :func:`apply` writes row by row, each under its key. Everything
that can be refused was checked first, so a failure while writing is a store
failure (or another writer changing the network under us):
:class:`ImportInterrupted` says how many rows were written, and running the
same import again writes exactly the rest.

Threshold files (``sku,low`` and optionally ``location``; an empty
location is network-wide) set low-stock marks (``Inventory.set_threshold``).
They are idempotent by content: an unchanged mark is skipped, a new or
changed one is set.

Locations are idempotent by content: an unchanged location is skipped, a new
one is added (``returns_to`` targets first), and redefining an existing
location with different fields needs ``update=True``; the differences are
listed in the plan either way.
"""

from __future__ import annotations

from .._validate import check_id
from ..errors import OmnistockError
from ..inventory import Inventory
from .locations import plan_locations
from .model import (
    CsvFile,
    ImportInterrupted,
    ImportPlan,
    ImportRefused,
    ImportResult,
    LocationRow,
    Problem,
    StockRow,
    ThresholdRow,
    file_problem,
)
from .reader import read_csv
from .stock import plan_stock
from .thresholds import plan_thresholds

__all__ = [
    "LOCATION_COLUMNS",
    "STOCK_COLUMNS",
    "THRESHOLD_COLUMNS",
    "CsvFile",
    "ImportInterrupted",
    "ImportPlan",
    "ImportRefused",
    "ImportResult",
    "LocationRow",
    "Problem",
    "StockRow",
    "ThresholdRow",
    "apply",
    "plan",
    "read_csv",
]

STOCK_COLUMNS = ("sku", "location", "qty")
STOCK_OPTIONAL = ("ref", "key")
THRESHOLD_COLUMNS = ("sku", "low")
THRESHOLD_OPTIONAL = ("location",)
LOCATION_COLUMNS = ("id", "kind")
LOCATION_OPTIONAL = (
    "lat",
    "lon",
    "sells",
    "ships",
    "pickup",
    "accepts_returns",
    "priority",
    "daily_capacity",
    "returns_to",
)


def plan(
    inv: Inventory,
    data: CsvFile,
    kind: str | None = None,
    count: bool = False,
    update: bool = False,
    batch: str = "",
) -> ImportPlan:
    """Check the whole file against ``inv`` and return what to write; raise
    :class:`ImportRefused` listing every problem. Writes nothing."""
    path = data.path
    if data.problems:
        raise ImportRefused(path, data.problems)
    header = data.header
    if not header:
        raise ImportRefused(
            path,
            [
                file_problem(
                    "", f"is empty; it needs a header row such as {','.join(STOCK_COLUMNS)}"
                )
            ],
        )
    if kind is None:
        if set(STOCK_COLUMNS) <= set(header):
            kind = "stock"
        elif set(LOCATION_COLUMNS) <= set(header):
            kind = "locations"
        elif set(THRESHOLD_COLUMNS) <= set(header):
            kind = "thresholds"
        else:
            raise ImportRefused(
                path,
                [
                    Problem(
                        1,
                        "header",
                        ",".join(header),
                        f"does not say what the file holds: stock needs columns "
                        f"{','.join(STOCK_COLUMNS)}, locations {','.join(LOCATION_COLUMNS)}, "
                        f"thresholds {','.join(THRESHOLD_COLUMNS)} "
                        "(or say --as stock|locations|thresholds)",
                    )
                ],
            )
    if batch:
        check_id("batch", batch)
    problems = _check_header(header, kind)
    if problems:
        raise ImportRefused(path, problems)
    if kind == "stock":
        return plan_stock(inv, data, count, batch)
    if kind == "thresholds":
        return plan_thresholds(inv, data)
    return plan_locations(inv, data, update)


_COLUMNS = {
    "stock": (STOCK_COLUMNS, STOCK_OPTIONAL),
    "locations": (LOCATION_COLUMNS, LOCATION_OPTIONAL),
    "thresholds": (THRESHOLD_COLUMNS, THRESHOLD_OPTIONAL),
}


def _check_header(header: tuple[str, ...], kind: str) -> list[Problem]:
    need, optional = _COLUMNS[kind]
    known = need + optional
    out = []
    for i, h in enumerate(header):
        if not h:
            out.append(Problem(1, f"#{i + 1}", h, "has no name"))
        elif h not in known:
            out.append(
                Problem(1, h, h, f"is not a {kind} column; known: {', '.join(known)} (remove it)")
            )
        elif header.index(h) != i:
            out.append(Problem(1, h, h, "appears twice in the header"))
    for c in need:
        if c not in header:
            out.append(Problem(1, c, "", f"is missing; the header must include {','.join(need)}"))
    if kind == "stock" and "ref" in header and "key" in header:
        out.append(Problem(1, "key", "key", "give a ref or a key column, not both"))
    return out


def apply(inv: Inventory, p: ImportPlan) -> ImportResult:
    """Write what :func:`plan` found new. Raises :class:`ImportInterrupted`
    if the store fails part-way (re-running the import finishes the job)."""
    head = inv.head
    written = units = 0
    if p.kind == "stock":
        write = inv.count if p.op == "count" else inv.receive
        for row in p.new:
            try:
                write(row.sku, row.location, row.qty, key=row.key)
            except OmnistockError as exc:
                raise ImportInterrupted(p.path, written, len(p.new), row.line, exc) from exc
            written += 1
            units += row.qty
        return ImportResult(p, head, inv.head, written, units)
    if p.kind == "thresholds":
        for t in p.thresholds:
            if t.status == "same":
                continue
            try:
                inv.set_threshold(t.sku, t.location, low=t.low)
            except OmnistockError as exc:
                raise ImportInterrupted(p.path, written, len(p.thresholds), t.line, exc) from exc
            written += 1
        return ImportResult(p, head, inv.head, written, 0)
    for r in p.order:
        try:
            inv.add_location(r.location)
        except OmnistockError as exc:
            raise ImportInterrupted(p.path, written, len(p.order), r.line, exc) from exc
        written += 1
    return ImportResult(p, head, inv.head, written, 0)
