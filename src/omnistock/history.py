"""Journal entries for ``Inventory.history``: rows as ``Entry`` values, with
block rows (``ledger/heldbatches.py``) shown as one entry per reservation line.

A row kind with an ``expands_to`` in ``ledger.rows.INFO`` is a block row:
a ``held-batch`` row becomes a ``held`` entry per position of each order it
held (``data`` names the order, the expiry and the batch token; the entry
keeps the row's key); an ``expired-batch`` row an ``expired`` entry per
position of each order still in the block. All entries of one row share its
``seq``. Every other row is one entry as it is. O(rows read + entries).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ._validate import from_micros
from .ledger import heldbatches
from .ledger.rows import BATCH_KINDS, INFO, Kind
from .storage import Row, Store
from .values import Entry


def entry_of(row: Sequence[Any]) -> Entry:
    seq, ts, kind, sku, loc, qty, ref, channel, key, data = row
    return Entry(
        seq,
        from_micros(ts),
        kind,
        sku,
        loc,
        qty,
        ref,
        channel,
        key,
        None if data is None else json.loads(data),
    )


def rows_for(
    store: Store,
    since: int,
    until: int | None,
    sku: str | None,
    location: str | None,
    ref: str | None,
) -> Iterator[Row]:
    """Rows that may hold a matching entry, in sequence order: the store's
    filtered rows, plus every block row when a filter could match inside
    one (block rows carry no SKU or location of their own)."""
    if sku is None and location is None and ref is None:
        return store.filtered(since, until)
    main = store.filtered(since, until, sku=sku, location=location, ref=ref)
    if ref is not None:
        parts = heldbatches.split_rid(ref)
        if parts is None:
            return main
        extra = store.filtered(since, until, ref=parts[1])
    else:
        extra = store.filtered(since, until, sku=heldbatches.BATCH_SKU)
    return _unique(heapq.merge(main, extra, key=lambda r: r[0]))


def of_order(ref: str | None, order: str) -> bool:
    """Whether ``ref`` belongs to order ``order``: the order itself (a
    return), one of its reservations (``<order>#<n>``, a bulk hold's
    ``<order>#<token>``) or a transfer earmarked for one
    (``<order>#<n>/T<k>``). Another order's ids have a ``#`` after the
    prefix (``<order>#x#1``), so they never match."""
    if ref is None:
        return False
    if ref == order:
        return True
    return (
        ref.startswith(order)
        and ref[len(order) : len(order) + 1] == "#"
        and ("#" not in ref[len(order) + 1 :])
    )


def rows_for_order(
    store: Store, since: int, until: int | None, order: str, tokens: Iterable[str]
) -> Iterator[Row]:
    """Rows that may hold an entry of order ``order``, in sequence order:
    the refs in ``[order#, order$)`` (its reservations and their transfers:
    one index range), rows whose ref is the order, and the block rows of
    ``tokens`` (the bulk holds it has members in) plus those its detached
    members name. O(log n + rows of the order + block rows)."""
    mine = list(store.ref_between(order + "#", order + "$", since, until))
    blocks = dict.fromkeys(tokens)
    for r in mine:
        ref = r[6]
        parts = heldbatches.split_rid(ref) if ref is not None and of_order(ref, order) else None
        if parts is not None and parts[0] == order:
            blocks[parts[1]] = None
    parts_ = [iter(mine), store.filtered(since, until, ref=order)]
    parts_ += [store.filtered(since, until, ref=t) for t in blocks]
    return _unique(heapq.merge(*parts_, key=lambda r: r[0]))


def _unique(rows: Iterator[Row]) -> Iterator[Row]:
    last = None
    for r in rows:
        if r != last:
            yield r
        last = r


def entries(
    store: Store,
    rows: Iterator[Row],
    sku: str | None,
    location: str | None,
    ref: str | None,
    order: str | None = None,
) -> Iterator[Entry]:
    """Entries of ``rows`` matching every filter, block rows expanded."""
    held: dict[str, dict[str, Any]] = {}  # token -> its held-batch data
    for row in rows:
        kind = row[2]
        if kind not in BATCH_KINDS:
            e = entry_of(row)
            if (
                (sku is None or e.sku == sku)
                and (location is None or e.location == location)
                and (ref is None or e.ref == ref)
                and (order is None or of_order(e.ref, order))
            ):
                yield e
            continue
        token = row[6]
        assert token is not None and row[9] is not None
        d = json.loads(row[9])
        out_kind = INFO[kind].expands_to
        assert out_kind is not None
        if kind == Kind.HELD_BATCH:
            held[token] = d
            members: Sequence[int] = range(len(heldbatches.orders_of(d)))
        else:
            hd = held.get(token) or _held_data(store, token)
            if hd is None:  # pragma: no cover - a journal always has the held row
                continue
            want = set(heldbatches.orders_of(d))
            d = hd
            members = [j for j, o in enumerate(heldbatches.orders_of(d)) if o in want]
        if order is not None:
            names = heldbatches.orders_of(d)
            members = [j for j in members if names[j] == order]
        yield from _expand(row, d, members, out_kind, token, sku, location, ref)


def _held_data(store: Store, token: str) -> dict[str, Any] | None:
    for r in store.filtered(0, None, ref=token):
        if r[2] == Kind.HELD_BATCH and r[9] is not None:
            d: dict[str, Any] = json.loads(r[9])
            return d
    return None


def _expand(
    row: Row,
    d: dict[str, Any],
    members: Any,
    kind: Kind,
    token: str,
    sku: str | None,
    location: str | None,
    ref: str | None,
) -> Iterator[Entry]:
    seq, ts, _k, _s, _l, _q, _r, channel, key, _d = row
    at = from_micros(ts)
    name = kind.value  # entries carry the plain journal string, as other rows do
    orders, start_a, s, l, q_a = heldbatches.columns(d)
    start, q = start_a.tolist(), q_a.tolist()
    for j in members:
        rid = f"{orders[j]}#{token}"
        if ref is not None and rid != ref:
            continue
        per_pos: dict[tuple[str, str], int] = {}  # lines at one position add up, as in hold
        for k in range(start[j], start[j + 1]):
            per_pos[(s[k], l[k])] = per_pos.get((s[k], l[k]), 0) + q[k]
        for (sk, lc), n in per_pos.items():
            if (sku is None or sk == sku) and (location is None or lc == location):
                data = {"order": orders[j], "batch": token}
                if kind == Kind.HELD:
                    data["exp"] = d["exp"]
                yield Entry(
                    seq, at, name, sk, lc, n, rid, channel, key if kind == Kind.HELD else None, data
                )
