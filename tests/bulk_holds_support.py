"""Shared helpers of the bulk-hold tests (``tests/face/test_bulk_holds_*.py``
and ``tests/unit/test_bulk_holds_blocks.py``).

``Inventory.hold_many(HoldBatch)`` decides a batch with one kernel call and
journals it as one ``held-batch`` row; its reservations live in a ledger
block until a command names one of them. These helpers build batches from
plain data, state what a plain ``hold`` decides, and read every figure a
reader sees, all through the public API. (Importable by bare name: ``tests/``
is on ``sys.path``, as for ``conftest``.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from omnistock import (
    HoldBatch,
    HoldBatchResult,
    Inventory,
    Line,
    Location,
    Order,
    Reservation,
    errors,
)
from omnistock.holdbatch import HELD, NOT_SERVED, REFUSED, UNKNOWN_LOCATION, UNKNOWN_SKU

Make = Callable[..., Inventory]
# An order as plain data: (order id, [(sku, qty, location), ...]).
Spec = tuple[str, list[tuple[str, int, str]]]

# Journal row kinds of a batch (``Inventory.store.read`` rows, field 2).
HELD_BATCH = "held-batch"
EXPIRED_BATCH = "expired-batch"

# Six single-line orders of one A at s2.
SIX: list[Spec] = [(f"m{j}", [("A", 1, "s2")]) for j in range(6)]


def batch_of(orders: Sequence[Spec], channel: str | None = None, single: bool = False) -> HoldBatch:
    """A ``HoldBatch`` of ``orders``; ``single`` leaves ``start`` out (every
    order must then have exactly one line)."""
    skus = [s for _, ls in orders for s, _, _ in ls]
    locs = [x for _, ls in orders for _, _, x in ls]
    qty = [q for _, ls in orders for _, q, _ in ls]
    ids = [o for o, _ in orders]
    if single:
        assert all(len(ls) == 1 for _, ls in orders)
        return HoldBatch(ids, skus, locs, qty, channel=channel)
    start = [0, *itertools.accumulate(len(ls) for _, ls in orders)]
    return HoldBatch(ids, skus, locs, qty, start=start, channel=channel)


def order_of(spec: Spec, channel: str | None = None) -> Order:
    oid, lines = spec
    return Order(oid, channel=channel, lines=[Line(s, q, x) for s, q, x in lines])


def status_of_hold(inv: Inventory, order: Order, ttl: Any = 900) -> tuple[int, Any]:
    """What a plain ``hold`` decides, as a ``HoldBatchResult`` status code."""
    try:
        return HELD, inv.hold(order, ttl=ttl)
    except errors.InsufficientStock as exc:
        return REFUSED, exc
    except errors.UnknownSku as exc:
        return UNKNOWN_SKU, exc
    except errors.UnknownLocation as exc:
        return UNKNOWN_LOCATION, exc
    except errors.InvalidInput as exc:
        assert "does not serve" in str(exc), exc
        return NOT_SERVED, exc


def lines_of(res: Reservation) -> list[tuple[str, str, int]]:
    return sorted((x.sku, x.location, x.qty) for x in res.lines)


def member(r: HoldBatchResult, j: int) -> str:
    """The reservation id of order ``j``, which must have been held."""
    rid = r.reservation_id(j)
    assert rid is not None, (j, r.reason(j))
    return rid


def figures(inv: Inventory, skus: Sequence[str], locs: Sequence[str]) -> list[Any]:
    """Every figure a reader sees for these positions."""
    out: list[Any] = []
    for s in skus:
        out.append(inv.available(s))
        for x in locs:
            out.append(inv.explain(s, x))
    return out


def reservations_seen(inv: Inventory) -> list[tuple[Any, ...]]:
    """Every reservation as a reader sees it (block members included)."""
    return sorted(
        (x.id, x.state, tuple(lines_of(x)), x.expires_at, x.channel) for x in inv.reservations()
    )


def journal_kinds(inv: Inventory, since: int = 0) -> list[str]:
    """The kind of every journal row after ``since``, read from the store."""
    return [row[2] for row in inv.store.read(since)]


def assert_sound(*invs: Inventory) -> None:
    """``check()`` passes: the live ledger equals a replay of the journal and
    every invariant holds (``check`` runs the live ledger's ``violations()``
    and reports each as a problem)."""
    for inv in invs:
        report = inv.check()
        assert report.ok, report.problems
        assert report.problems == ()


def two_stores(inv: Inventory) -> Inventory:
    """Stores s1 and s2: A 6 at s1 and 10 at s2, B 4 at s1."""
    inv.add_location(Location("s1"))
    inv.add_location(Location("s2"))
    inv.receive("A", "s1", 6)
    inv.receive("A", "s2", 10)
    inv.receive("B", "s1", 4)
    return inv
