"""Checks shared by the stock and location rows."""

from __future__ import annotations

from urllib.parse import quote

from .._validate import check_id
from ..errors import InvalidInput
from .model import CsvFile, Problem


def fields(data: CsvFile, problems: list[Problem]) -> list[tuple[int, int, dict[str, str]]]:
    """(line, data-row ordinal, {column: value}) of the rows with the
    header's number of fields; the others become problems."""
    width = len(data.header)
    out = []
    for n, (line, values) in enumerate(data.rows, start=1):
        if len(values) != width:
            shown = ",".join(values)
            problems.append(
                Problem(line, "row", shown, f"has {len(values)} field(s); the header has {width}")
            )
            continue
        out.append((line, n, dict(zip(data.header, values, strict=True))))
    return out


def whole(line: int, column: str, text: str, low: int, high: int) -> int | Problem:
    t = text.strip()
    if not (t.isascii() and (t.isdigit() or (t[:1] in "+-" and t[1:].isdigit()))):
        return Problem(line, column, text, "is not a whole number")
    if len(t) > 25 or not low <= int(t) <= high:
        return Problem(line, column, text, f"must be from {low} to {high}")
    return int(t)


def ident(line: int, column: str, text: str) -> str | Problem:
    try:
        return check_id(column, text)
    except InvalidInput as exc:
        return Problem(line, column, text, exc.reason)


def scope(text: str) -> str:
    return quote(text, safe="")
