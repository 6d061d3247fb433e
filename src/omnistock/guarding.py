"""From a plan's guards and what its rows did, the conditions a guarded
store checks (``storage.Conditions``).

The planning logic stays in Python, written once: the store only applies
counter deltas and checks generic conditions. What a command relies on
becomes:

- every reservation it changes must be exactly as it saw it (state, open
  units, expiry): two commands on one reservation serialise on its row,
  and the second fails if the first changed it;
- ``WithinFree``: at each such position, reserved stays within holdable
  after the deltas;
- ``Unchanged``: the position's figures are those the plan saw (commands
  that set a figure, such as a stock count, whose delta depends on it);
- ``FenceRoom`` / ``CapacityRoom``: the channel's units of the SKU stay
  within its cap, the location's picks within its daily capacity;
- ids it minted were not minted by another writer (``claims``), and the
  network is as it saw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .ledger.deltas import Change
from .ledger.fold import per_sku
from .ledger.heldbatches import resolve
from .ledger.state import LedgerState
from .planning import CapacityRoom, FenceRoom, Guard, Unchanged, WithinFree
from .storage import Conditions

__all__ = ["batch_conditions", "conditions"]

_ZERO = (0, 0, 0, 0)


def conditions(
    st: LedgerState, change: Change, guards: Iterable[Guard], claims: Sequence[str]
) -> Conditions:
    """The conditions of a group of commands: ``change`` is what their rows
    did (against the savepoint before the first), ``guards`` what their
    plans relied on, ``claims`` the ids they minted. O(touched + guards)."""
    free: set[tuple[str, str]] = set()
    seen: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    limits: dict[str, int | None] = {}
    for g in guards:
        if isinstance(g, WithinFree):
            free.add((g.sku, g.location))
        elif isinstance(g, Unchanged):
            seen[(g.sku, g.location)] = g.figures
        elif isinstance(g, FenceRoom):
            ch = st.channels.get(g.channel)
            if ch is not None and ch.cap is not None:
                limits[f"c|{g.channel}|{g.sku}"] = ch.cap
        elif isinstance(g, CapacityRoom):
            loc = st.locations.get(g.location)
            if loc is not None and loc.daily_capacity is not None:
                limits[f"p|{g.location}|{g.day}"] = loc.daily_capacity
    positions = []
    for k in sorted(change.positions.keys() | free | seen.keys()):
        ch_ = change.positions.get(k)
        if ch_ is None:
            d = _ZERO
        else:
            before, after = ch_
            d = (
                after[0] - before[0],
                after[1] - before[1],
                after[2] - before[2],
                after[3] - before[3],
            )
        positions.append((k[0], k[1], d, k in free, seen.get(k)))
    usage = [(k, v, limits.get(k)) for k, v in sorted(change.usage.items())]
    return Conditions(
        positions=tuple(positions),
        reservations=tuple((k, *change.reservations[k]) for k in sorted(change.reservations)),
        usage=tuple(usage),
        claims=tuple(sorted(set(claims))),
        network=change.network,
    )


def batch_conditions(
    st: LedgerState, datas: Sequence[dict[str, Any] | None], ref: str, channel: str | None
) -> Conditions:
    """The conditions of one bulk ``held-batch`` row, whose plan already
    reserved its units in the live grids: every position it reserves at
    stays within free, and its token is new. O(lines log lines)."""
    d = datas[0]
    assert d is not None
    _start, s, l, q = resolve(d, st.grid)
    g = st.grid
    cells: dict[tuple[int, int], int] = {}
    for a, b, n in zip(s.tolist(), l.tolist(), q.tolist(), strict=True):
        cells[(a, b)] = cells.get((a, b), 0) + n
    positions = tuple(
        (g.skus[a], g.locs[b], (0, n, 0, 0), True, None)
        for (a, b), n in sorted(cells.items(), key=lambda x: (g.skus[x[0][0]], g.locs[x[0][1]]))
    )
    units = int(np.asarray(q).sum())
    usage: list[tuple[str, int, int | None]] = []
    if channel is not None:
        cap = st.channels[channel].cap if channel in st.channels else None
        usage = sorted((f"c|{channel}|{g.skus[a]}", v, cap) for a, v in per_sku(s, q))
    return Conditions(
        positions=positions,
        reservations=((ref, None, ("held", units, int(d["exp"]))),),
        usage=tuple(usage),
    )
