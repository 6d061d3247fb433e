"""Columnar holds: ``HoldBatch`` in, ``HoldBatchResult`` out.

``Inventory.hold_many(HoldBatch(...))`` is the bulk path for checkout
bursts, flash sales and channel imports: thousands of pinned orders are
reserved by one kernel call and journaled as one ``held-batch`` row, each
still a reservation of its own with its own outcome. Checks on the columns
run over one UTF-32 encoding of the columns in kernels (``ledger.names``),
not per element in Python.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import attrs
import numpy as np

from ._validate import MAX_ID_LEN, MAX_QTY, check_id, check_opt_id
from .errors import InvalidInput, InvalidQuantity
from .ledger.kernels import HELD, NOT_SERVED, REFUSED, UNKNOWN_LOCATION, UNKNOWN_SKU
from .ledger.names import ASCII, BAD, NameBuffer
from .values import IntColumn

__all__ = [
    "HELD",
    "NOT_SERVED",
    "REFUSED",
    "UNKNOWN_LOCATION",
    "UNKNOWN_SKU",
    "HoldBatch",
    "HoldBatchResult",
]

# Per-order outcome codes (``HoldBatchResult.status``): ``decide_batch``'s.
REASONS = {
    REFUSED: "insufficient stock",
    HELD: "held",
    UNKNOWN_SKU: "unknown sku",
    UNKNOWN_LOCATION: "unknown location",
    NOT_SERVED: "location does not serve the channel",
}


def _seq(field: str, v: Collection[str]) -> tuple[str, ...]:
    if isinstance(v, str | bytes) or not hasattr(v, "__len__"):
        raise InvalidInput(field, v, "must be a sequence of ids")
    return tuple(v)


def _check_ids(field: str, t: tuple[str, ...]) -> None:
    """Raise for the first element ``check_id`` refuses, naming it."""
    for i, x in enumerate(t):
        check_id(f"{field}[{i}]", x)


def _check_names(field: str, t: tuple[str, ...]) -> None:
    """Names need only be strings: an unknown one gets a status."""
    for i, x in enumerate(t):
        if not isinstance(x, str):
            raise InvalidInput(f"{field}[{i}]", x, "must be a string id")


def _qty(v: IntColumn) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise InvalidQuantity(
            "qty", a.dtype if a.ndim == 1 else a.shape, "must be a 1-d integer array"
        )
    a = np.array(a, dtype=np.int64)  # a copy: the batch must not change under the ledger
    if a.size and (a.min() < 1 or a.max() > MAX_QTY):
        i = int(np.flatnonzero((a < 1) | (a > MAX_QTY))[0])
        raise InvalidQuantity(f"qty[{i}]", int(a[i]), "every quantity must be in [1, 2**62]")
    return a


def _start(v: IntColumn | None) -> np.ndarray | None:
    if v is None:
        return None
    a = np.asarray(v)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer) or a.size < 1:
        raise InvalidInput("start", v, "must be a 1-d integer array of line offsets")
    a = np.ascontiguousarray(a, dtype=np.int64)
    if a[0] != 0 or (np.diff(a) <= 0).any():
        raise InvalidInput(
            "start",
            a.tolist()[:10],
            "must start at 0 and increase strictly (every order has at least one line)",
        )
    return a


def _c_orders(v: Collection[str]) -> tuple[str, ...]:
    return _seq("order_ids", v)


def _c_skus(v: Collection[str]) -> tuple[str, ...]:
    return _seq("skus", v)


def _c_locations(v: Collection[str]) -> tuple[str, ...]:
    return _seq("locations", v)


def _c_channel(v: str | None) -> str | None:
    return check_opt_id("channel", v)


@attrs.frozen(eq=False)
class HoldBatch:
    """Many pinned orders as columns.

    ``order_ids``: one id per order, distinct within the batch. ``skus``,
    ``locations``, ``qty``: one entry per line. ``start``: order ``j`` owns
    lines ``start[j]:start[j + 1]``; leave it out for one line per order.
    ``channel`` applies to the whole batch. Each order is all-or-nothing.
    Construction checks every column, O(lines), and raises ``InvalidInput``
    naming the column (and index) of the first bad value."""

    order_ids: tuple[str, ...] = attrs.field(converter=_c_orders)
    skus: tuple[str, ...] = attrs.field(converter=_c_skus)
    locations: tuple[str, ...] = attrs.field(converter=_c_locations)
    qty: np.ndarray = attrs.field(converter=_qty)
    start: np.ndarray | None = attrs.field(default=None, converter=_start)
    channel: str | None = attrs.field(default=None, converter=_c_channel)
    # The three name columns as one UTF-32 buffer (``ledger.names``), None
    # when a name column holds a string no id can be (looked up one by one).
    _names: NameBuffer | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        n, m = len(self.order_ids), len(self.skus)
        for name in ("locations", "qty"):
            if len(getattr(self, name)) != m:
                raise InvalidInput(
                    name, len(getattr(self, name)), f"must have one entry per line ({m}, as skus)"
                )
        if self.start is None:
            if m != n:
                raise InvalidInput(
                    "skus", m, f"must have one line per order ({n}) when start is not given"
                )
        elif len(self.start) != n + 1 or int(self.start[-1]) != m:
            raise InvalidInput(
                "start", len(self.start), f"must have {n + 1} offsets ending at the line count {m}"
            )
        self._check_names(n, m)

    def _check_names(self, n: int, m: int) -> None:
        """Check the id columns in one encoding of all three and two kernel
        passes (lengths and printable; distinct order ids), O(characters);
        element by element only to name what is wrong."""
        o, sk, lc = self.order_ids, self.skus, self.locations
        enc = NameBuffer(o, sk, lc)
        shared: NameBuffer | None = enc
        if enc.charset == BAD:  # which column, and can names still be encoded?
            orders = NameBuffer(o)
            if orders.charset == BAD:
                _check_ids("order_ids", o)
            _check_names("skus", sk)
            _check_names("locations", lc)
            shared = None  # names holding a NUL: looked up one by one
        else:
            orders = enc.part(0, n)
        ol = orders.lengths()
        if n and not (
            ol.min() >= 1
            and ol.max() <= MAX_ID_LEN
            and (orders.charset == ASCII or "".join(o).isprintable())
        ):
            _check_ids("order_ids", o)
        dup = orders.first_duplicate()
        if dup >= 0:
            raise InvalidInput(f"order_ids[{dup}]", o[dup], "appears twice in one batch")
        object.__setattr__(self, "_names", shared)

    def encoded(self) -> NameBuffer | None:
        """Every name, order ids then SKUs then locations, in one UTF-32
        buffer (``ledger.names``), or None when a name column holds a
        string no id can be."""
        return self._names

    def name_columns(self) -> tuple[NameBuffer, NameBuffer] | None:
        """The SKU and location columns encoded for a kernel lookup, or None
        when one holds a string no id can be."""
        enc, n, m = self._names, len(self.order_ids), len(self.skus)
        return None if enc is None else (enc.part(n, n + m), enc.part(n + m, n + 2 * m))

    def __len__(self) -> int:
        return len(self.order_ids)

    def offsets(self) -> np.ndarray:
        """``start``, or ``0..n`` for one line per order."""
        if self.start is not None:
            return self.start
        return np.arange(len(self.order_ids) + 1, dtype=np.int64)


@attrs.frozen(eq=False)
class HoldBatchResult:
    """One outcome per order of a ``HoldBatch``, as columns.

    ``status[j]``: ``HELD`` (1), ``REFUSED`` (0: some line short, nothing
    reserved), ``UNKNOWN_SKU`` (2), ``UNKNOWN_LOCATION`` (3) or
    ``NOT_SERVED`` (4: the location does not serve the batch's channel).
    A held order's reservation id is ``reservation_id(j)``; it expires at
    ``expires_at`` unless committed or extended."""

    order_ids: tuple[str, ...]
    status: np.ndarray
    token: str | None
    expires_at: datetime | None
    ids: tuple[str | None, ...] | None = None
    """Explicit reservation ids (the order-by-order fallback), else derived
    from ``token``."""

    def __len__(self) -> int:
        return len(self.order_ids)

    @property
    def held(self) -> int:
        """How many orders were held."""
        return int((self.status == HELD).sum())

    @property
    def ok(self) -> np.ndarray:
        """Mask of the held orders."""
        return np.asarray(self.status == HELD)

    def reservation_id(self, j: int) -> str | None:
        if self.status[j] != HELD:
            return None
        if self.ids is not None:
            return self.ids[j]
        return f"{self.order_ids[j]}#{self.token}"

    def reservation_ids(self) -> list[str | None]:
        """Every order's reservation id (None where not held). O(orders)."""
        return [self.reservation_id(j) for j in range(len(self.order_ids))]

    def reason(self, j: int) -> str:
        return REASONS[int(self.status[j])]

    def to_jsonable(self) -> dict[str, Any]:
        from ._validate import to_micros

        return {
            "order_ids": list(self.order_ids),
            "status": self.status.tolist(),
            "token": self.token,
            "exp": None if self.expires_at is None else to_micros(self.expires_at),
            "ids": None if self.ids is None else list(self.ids),
        }

    @classmethod
    def from_jsonable(cls, d: dict[str, Any]) -> HoldBatchResult:
        from ._validate import from_micros

        return cls(
            tuple(d["order_ids"]),
            np.asarray(d["status"], dtype=np.int8),
            d["token"],
            None if d["exp"] is None else from_micros(d["exp"]),
            None if d["ids"] is None else tuple(d["ids"]),
        )
