"""Columnar waves: ``OrderBatch`` in, ``BatchResult`` out.

For waves of many single-line ship orders, numpy columns avoid building an
``Order`` per line; ``Inventory.allocate_many(OrderBatch(...))`` sources the
whole wave through one numba kernel call and journals it in one commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from .._validate import MAX_QTY, check_bool, check_id, check_opt_id
from ..errors import InvalidInput
from ..values import IntColumn
from .kernels import ALLOCATED

__all__ = ["BatchResult", "OrderBatch"]


FloatColumn: TypeAlias = npt.NDArray[np.floating[Any] | np.integer[Any]] | Sequence[float]
"""A 1-d column of numbers (NaN allowed): a numpy array or a list of floats."""


def _strings(field: str, v: Iterable[str]) -> tuple[str, ...]:
    if isinstance(v, str | bytes):
        raise InvalidInput(field, v, "must be a sequence of ids")
    out = tuple(check_id(field, x) for x in v)
    return out


def _ints(field: str, v: IntColumn) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise InvalidInput(field, a.dtype, "must be a 1-d integer array")
    a = a.astype(np.int64)
    if a.size and (a.min() < 1 or a.max() > MAX_QTY):
        raise InvalidInput(field, int(a.min()), "every quantity must be in [1, 2**62]")
    return a


def _floats(field: str, v: FloatColumn, lo: float, hi: float) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim != 1:
        raise InvalidInput(field, a.shape, "must be a 1-d float array")
    bad = ~np.isnan(a) & ((a < lo) | (a > hi))
    if bad.any():
        raise InvalidInput(field, float(a[bad][0]), f"must be in [{lo}, {hi}] or NaN")
    return a


def _c_ids(v: Iterable[str]) -> tuple[str, ...]:
    return _strings("order_ids", v)


def _c_skus(v: Iterable[str]) -> tuple[str, ...]:
    return _strings("skus", v)


def _c_qty(v: IntColumn) -> np.ndarray:
    return _ints("qty", v)


def _c_lat(v: FloatColumn) -> np.ndarray:
    return _floats("lat", v, -90.0, 90.0)


def _c_lon(v: FloatColumn) -> np.ndarray:
    return _floats("lon", v, -180.0, 180.0)


def _c_channel(v: str | None) -> str | None:
    return check_opt_id("channel", v)


def _c_split(v: bool) -> bool:
    return check_bool("allow_split", v)


def _c_partial(v: bool) -> bool:
    return check_bool("allow_partial", v)


@attrs.frozen(eq=False)
class OrderBatch:
    """A wave of single-line ship orders as columns.

    ``order_ids``, ``skus``: one id per order; ``qty``: int units;
    ``lat``/``lon``: the ship-to point (NaN: unknown). ``channel``,
    ``allow_split`` and ``allow_partial`` apply to the whole wave."""

    order_ids: tuple[str, ...] = attrs.field(converter=_c_ids)
    skus: tuple[str, ...] = attrs.field(converter=_c_skus)
    qty: np.ndarray = attrs.field(converter=_c_qty)
    lat: np.ndarray = attrs.field(converter=_c_lat)
    lon: np.ndarray = attrs.field(converter=_c_lon)
    channel: str | None = attrs.field(default=None, converter=_c_channel)
    allow_split: bool = attrs.field(default=True, converter=_c_split)
    allow_partial: bool = attrs.field(default=False, converter=_c_partial)

    def __attrs_post_init__(self) -> None:
        n = len(self.order_ids)
        for name in ("skus", "qty", "lat", "lon"):
            if len(getattr(self, name)) != n:
                raise InvalidInput(
                    name, len(getattr(self, name)), f"must have one entry per order ({n})"
                )

    def __len__(self) -> int:
        return len(self.order_ids)

    def orders(self) -> list[Any]:
        """The wave as ``Order`` values (for the order-by-order path)."""
        from ..values import Order, Point

        return [
            Order(
                oid,
                channel=self.channel,
                lines=[(sku, int(q))],
                ship_to=None if np.isnan(la) else Point(float(la), float(lo)),
                allow_split=self.allow_split,
                allow_partial=self.allow_partial,
            )
            for oid, sku, q, la, lo in zip(
                self.order_ids, self.skus, self.qty, self.lat, self.lon, strict=True
            )
        ]


@attrs.frozen(eq=False)
class BatchResult:
    """The wave's decisions, columnar.

    ``status[j]``: 1 allocated, 2 partial, 0 unfillable. ``reservation[j]``:
    the reservation id or None. Order ``j`` took ``qty[k]`` units at
    ``location[k]`` for ``k`` in ``start[j]:start[j + 1]``."""

    order_ids: tuple[str, ...]
    status: np.ndarray
    reservation: tuple[str | None, ...]
    start: np.ndarray
    location: tuple[str, ...]
    qty: np.ndarray

    def takes(self, j: int) -> list[tuple[str, int]]:
        """(location, qty) pairs order ``j`` was served from."""
        lo, hi = int(self.start[j]), int(self.start[j + 1])
        return [(self.location[k], int(self.qty[k])) for k in range(lo, hi)]

    @property
    def allocated(self) -> int:
        return int((self.status == ALLOCATED).sum())

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "order_ids": list(self.order_ids),
            "status": self.status.tolist(),
            "reservation": list(self.reservation),
            "start": self.start.tolist(),
            "location": list(self.location),
            "qty": self.qty.tolist(),
        }

    @classmethod
    def from_jsonable(cls, d: dict[str, Any]) -> BatchResult:
        """The result ``to_jsonable`` wrote (a repeated key returns it)."""
        return cls(
            tuple(d["order_ids"]),
            np.array(d["status"], dtype=np.int8),
            tuple(d["reservation"]),
            np.array(d["start"], dtype=np.int64),
            tuple(d["location"]),
            np.array(d["qty"], dtype=np.int64),
        )
