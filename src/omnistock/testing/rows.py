"""Journal rows to append in store tests (no pytest needed)."""

from __future__ import annotations

from ..storage.base import NewRow, Row

__all__ = ["T0", "as_read", "new_row", "new_rows"]

T0 = 1_700_000_000_000_000  # a plausible ts_us


def new_row(
    ts: int = T0,
    kind: str = "received",
    sku: str | None = "A",
    location: str | None = "s1",
    qty: int = 1,
    ref: str | None = None,
    channel: str | None = None,
    key: str | None = None,
    data: str | None = None,
) -> NewRow:
    """A journal row to append, with defaults for every field."""
    return (ts, kind, sku, location, qty, ref, channel, key, data)


def new_rows(n: int, start_ts: int = T0, sku: str = "A") -> tuple[NewRow, ...]:
    """``n`` rows of ``sku`` at consecutive timestamps, quantities 1..n."""
    return tuple(new_row(ts=start_ts + i, sku=sku, qty=i + 1) for i in range(n))


def as_read(first: int, rows: tuple[NewRow, ...]) -> list[Row]:
    """``rows`` as ``Store.read`` returns them when numbered from ``first``."""
    return [(first + i, *r) for i, r in enumerate(rows)]
