"""The importer's values: problems, the refusal and interruption errors,
the parsed file, the plan and the result."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..errors import InvalidInput, StorageError
from ..values import Location


@attrs.frozen
class Problem:
    """One reason a file is refused: ``line`` (0: the file as a whole),
    ``column`` (or ``row``), the ``value`` found and what is wrong."""

    line: int
    column: str
    value: str
    reason: str

    def render(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        if self.column == "file":
            return f"{where}: {self.reason}"
        if self.column == "row":
            return f"{where}: row {self.value!r} {self.reason}"
        return f"{where}: column {self.column!r}: {self.value!r} {self.reason}"


class ImportRefused(InvalidInput):
    """The file has problems; nothing was written. ``problems`` lists every
    one of them."""

    def __init__(self, path: str, problems: Iterable[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        first = self.problems[0].render(path) if self.problems else ""
        super().__init__(
            "file", path, f"{len(self.problems)} problem(s), nothing was written; first: {first}"
        )


class ImportInterrupted(StorageError):
    """Writing stopped part-way (a store failure). ``written`` rows are in the
    journal under their keys; importing the same file again writes exactly
    the rest."""

    def __init__(self, path: str, written: int, total: int, line: int, cause: Exception) -> None:
        self.written, self.total, self.line = written, total, line
        super().__init__(
            f"{path}:{line}: writing stopped after {written} of {total} new row(s): "
            f"{type(cause).__name__}: {cause}. Every row has its own idempotency key: "
            "run the same import again to write the rest (rows already written are "
            "skipped, never counted twice)"
        )


@attrs.frozen
class CsvFile:
    """A parsed CSV: its header (lower-cased) and data rows with their line
    numbers (first line of the record), or the problems that stopped
    parsing."""

    path: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    problems: tuple[Problem, ...] = ()


def file_problem(value: str, reason: str) -> Problem:
    return Problem(0, "file", value, reason)


@attrs.frozen
class StockRow:
    line: int
    sku: str
    location: str
    qty: int
    key: str


@attrs.frozen
class LocationRow:
    line: int
    location: Location
    status: str  # "new", "same" or "update"
    changes: tuple[str, ...] = ()


@attrs.frozen
class ThresholdRow:
    line: int
    sku: str
    location: str | None  # None: network-wide
    low: int
    status: str  # "new", "same" or "update"


@attrs.frozen
class ImportPlan:
    """What :func:`apply` will write. ``kind``: ``stock``, ``locations`` or
    ``thresholds``; ``op``: ``receive`` or ``count`` for stock; ``new`` the
    rows to write; ``before`` how many stock rows were imported before
    (skipped); ``locations`` every location row with its status;
    ``thresholds`` every threshold row with its status."""

    path: str
    kind: str
    op: str
    new: tuple[StockRow, ...] = ()
    before: int = 0
    locations: tuple[LocationRow, ...] = ()
    order: tuple[LocationRow, ...] = ()
    """The new and updated locations in the order they are written
    (``returns_to`` targets first)."""
    thresholds: tuple[ThresholdRow, ...] = ()

    @property
    def updates(self) -> tuple[LocationRow, ...]:
        return tuple(r for r in self.locations if r.status == "update")


@attrs.frozen
class ImportResult:
    plan: ImportPlan
    head_before: int
    head_after: int
    written: int
    units: int
