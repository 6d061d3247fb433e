"""Reading a CSV file strictly: UTF-8 (a BOM is allowed), no NUL bytes,
strict quoting, any line endings; blank lines are skipped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .model import CsvFile, ImportRefused, Problem, file_problem

MAX_BYTES = 512 * 1024 * 1024


def read_csv(path: str, text: str | bytes | None = None) -> CsvFile:
    """Read ``path`` (or parse ``text`` as if it were that file). Refuses
    non-UTF-8, NUL bytes and malformed quoting as problems, never raises
    anything but :class:`ImportRefused` (for an unreadable file)."""
    if text is None:
        try:
            size = Path(path).stat().st_size
            if size > MAX_BYTES:
                raise ImportRefused(
                    path, [Problem(0, "file", f"{size} bytes", f"is over {MAX_BYTES} bytes")]
                )
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ImportRefused(
                path, [Problem(0, "file", path, f"cannot read {path!r}: {exc.strerror}")]
            ) from None
    else:
        raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return CsvFile(
            path,
            (),
            (),
            (file_problem("", f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"),),
        )
    if "\x00" in decoded:
        return CsvFile(path, (), (), (file_problem("", "holds a NUL byte: it is not CSV text"),))
    reader = csv.reader(io.StringIO(decoded, newline=""), strict=True)
    rows: list[tuple[int, tuple[str, ...]]] = []
    header: tuple[str, ...] = ()
    try:
        for record in reader:
            line = _record_line(reader.line_num, record)
            if not record or (all(not f.strip() for f in record) and len(record) <= 1):
                continue  # a blank line
            if not header:
                header = tuple(h.strip().lower() for h in record)
                continue
            rows.append((line, tuple(f.strip() for f in record)))
    except csv.Error as exc:
        bad = Problem(reader.line_num, "file", "", f"line {reader.line_num} is not CSV: {exc}")
        return CsvFile(path, header, (), (bad,))
    return CsvFile(path, header, tuple(rows))


def _record_line(end_line: int, record: list[str]) -> int:
    """The line a record starts on (``line_num`` is where it ends)."""
    return end_line - sum(f.count("\n") + f.count("\r") - f.count("\r\n") for f in record)
