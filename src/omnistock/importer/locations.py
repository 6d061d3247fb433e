"""Location rows: added when new, skipped when unchanged, redefined only
with ``update``."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidInput
from ..inventory import Inventory
from ..values import Location, Point
from .common import fields, whole
from .model import CsvFile, ImportPlan, ImportRefused, LocationRow, Problem

BOOLS = {"true": True, "yes": True, "y": True, "1": True}
BOOLS.update({"false": False, "no": False, "n": False, "0": False})


def _location(line: int, r: dict[str, str], problems: list[Problem]) -> Location | None:
    kw: dict[str, Any] = {"id": r["id"], "kind": r["kind"] or "store"}
    bad: list[Problem] = []
    lat, lon = r.get("lat", ""), r.get("lon", "")
    if bool(lat) != bool(lon):
        bad.append(
            Problem(line, "lat" if not lat else "lon", "", "give both lat and lon, or neither")
        )
    elif lat:
        try:
            flat, flon = float(lat), float(lon)
            if not (math.isfinite(flat) and math.isfinite(flon)):
                raise ValueError
            kw["point"] = Point(flat, flon)
        except (ValueError, InvalidInput) as exc:
            reason = exc.reason if isinstance(exc, InvalidInput) else "is not a finite number"
            bad.append(Problem(line, "lat,lon", f"{lat},{lon}", reason))
    for col in ("sells", "ships", "pickup", "accepts_returns"):
        v = r.get(col, "")
        if v:
            if v.lower() not in BOOLS:
                bad.append(Problem(line, col, v, "is not true/false (or yes/no, 1/0)"))
            else:
                kw[col] = BOOLS[v.lower()]
    for col, low in (("priority", -(2**31)), ("daily_capacity", 0)):
        v = r.get(col, "")
        if v:
            got = whole(line, col, v, low, 2**31 - 1)
            if isinstance(got, Problem):
                bad.append(got)
            else:
                kw[col] = got
    if r.get("returns_to"):
        kw["returns_to"] = r["returns_to"]
    if bad:
        problems.extend(bad)
        return None
    try:
        return Location(**kw)
    except InvalidInput as exc:
        problems.append(Problem(line, exc.field, str(exc.value), exc.reason))
        return None


def _diff(old: Location, new: Location) -> tuple[str, ...]:
    a, b = old.to_dict(), new.to_dict()
    return tuple(f"{k} {a[k]!r} -> {b[k]!r}" for k in a if a[k] != b.get(k))


def plan_locations(inv: Inventory, data: CsvFile, update: bool) -> ImportPlan:
    problems: list[Problem] = []
    existing = inv.locations
    rows: list[LocationRow] = []
    lines: dict[str, int] = {}
    for line, _, r in fields(data, problems):
        loc = _location(line, r, problems)
        if loc is None:
            continue
        if loc.id in lines:
            problems.append(Problem(line, "id", loc.id, f"is defined twice (line {lines[loc.id]})"))
            continue
        lines[loc.id] = line
        old = existing.get(loc.id)
        if old is None:
            rows.append(LocationRow(line, loc, "new"))
            continue
        changes = _diff(old, loc)
        if not changes:
            rows.append(LocationRow(line, loc, "same"))
        elif update:
            rows.append(LocationRow(line, loc, "update", changes))
        else:
            problems.append(
                Problem(
                    line,
                    "id",
                    loc.id,
                    "exists with other fields ("
                    + "; ".join(changes)
                    + "); pass --update to redefine it",
                )
            )
    order = _write_order(set(existing), rows, problems)
    if problems:
        raise ImportRefused(data.path, sorted(problems, key=lambda p: p.line))
    return ImportPlan(data.path, "locations", "add", locations=tuple(rows), order=tuple(order))


def _write_order(
    existing: set[str], rows: list[LocationRow], problems: list[Problem]
) -> list[LocationRow]:
    """New and updated rows, each after the location its ``returns_to``
    names; a ``returns_to`` that names no location, or a cycle of them among
    new locations, is a problem."""
    pending = [r for r in rows if r.status != "same"]
    in_file = {r.location.id for r in rows}
    for r in pending:
        rt = r.location.returns_to
        if rt is not None and rt not in existing and rt not in in_file:
            problems.append(
                Problem(r.line, "returns_to", rt, "names no location in the store or the file")
            )
    done = set(existing) | {r.location.id for r in rows if r.status == "same"}
    order: list[LocationRow] = []
    while pending:
        ready = [r for r in pending if r.location.returns_to in (None, r.location.id, *done)]
        if not ready:
            for r in pending:
                if r.location.returns_to in in_file:
                    problems.append(
                        Problem(
                            r.line,
                            "returns_to",
                            str(r.location.returns_to),
                            "forms a cycle of new locations; add one without returns_to first",
                        )
                    )
            break
        order.extend(ready)
        done.update(r.location.id for r in ready)
        pending = [r for r in pending if r not in ready]
    return order
