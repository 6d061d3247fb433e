"""Threshold rows: low-stock marks, set when new or changed, skipped when
unchanged (idempotent by content, like locations)."""

from __future__ import annotations

from .._validate import MAX_QTY
from ..inventory import Inventory
from .common import fields, ident, whole
from .model import CsvFile, ImportPlan, ImportRefused, Problem, ThresholdRow


def plan_thresholds(inv: Inventory, data: CsvFile) -> ImportPlan:
    """Check every row (``sku``, ``low``, optional ``location``: empty means
    network-wide) against ``inv``; raise ``ImportRefused`` listing every
    problem, or return the plan with each row's status."""
    problems: list[Problem] = []
    known = set(inv.locations)
    now = inv.thresholds()
    seen: dict[tuple[str, str | None], int] = {}
    rows: list[ThresholdRow] = []
    for line, _n, r in fields(data, problems):
        sku = ident(line, "sku", r["sku"])
        text = r.get("location", "").strip()
        loc = ident(line, "location", text) if text else None
        low = whole(line, "low", r["low"], 0, MAX_QTY)
        bad = [x for x in (sku, loc, low) if isinstance(x, Problem)]
        if isinstance(loc, str) and loc not in known:
            bad.append(
                Problem(
                    line,
                    "location",
                    loc,
                    "is not in the store; import the locations first "
                    "(omnistock import locations.csv), or leave it empty for network-wide",
                )
            )
        if isinstance(sku, str) and not isinstance(loc, Problem):
            k = (sku, loc)
            if k in seen:
                where = loc or "the network"
                bad.append(Problem(line, "row", f"{sku},{where}", f"is set twice (line {seen[k]})"))
            else:
                seen[k] = line
        if bad:
            problems.extend(bad)
            continue
        assert isinstance(sku, str) and isinstance(low, int) and not isinstance(loc, Problem)
        was = now.get((sku, loc))
        status = "new" if was is None else "same" if was == low else "update"
        rows.append(ThresholdRow(line, sku, loc, low, status))
    if problems:
        raise ImportRefused(data.path, sorted(problems, key=lambda p: p.line))
    return ImportPlan(data.path, "thresholds", "set", thresholds=tuple(rows))
