"""From a plan's guards and what its rows did, the conditions a guarded
store checks (``storage.Conditions``).

The planning logic stays in Python, written once: the store only applies
counter deltas and checks generic conditions. What a command relies on
becomes:

- every reservation it changes must be exactly as it saw it (state, its
  lines, expiry): two commands on one reservation serialise on its row,
  and the second fails if the first changed it;
- ``WithinFree``, and every position whose reserved units grow: reserved
  stays within holdable after the deltas, or the command does not make it
  worse (units that arrive reserved);
- ``Unchanged``: the position's figures are those the plan saw (commands
  that set a figure, such as a stock count, whose delta depends on it);
- ``FenceRoom`` / ``CapacityRoom``, and every usage that grows: the
  channel's units of the SKU stay within its cap, the location's picks
  within its daily capacity;
- a reservation or supply item it creates must not exist, one it changes
  must be as it saw it (both are records, see ``ledger.deltas``); and the
  network is as it saw it;
- a SKU it names or declares for the first time is claimed: of two
  commands planned blind to each other's first touch of a SKU (its first
  movement, its first ``add_sku``) only one lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .ledger.deltas import SKU_CLAIM, Change, block_state
from .ledger.fold import per_sku
from .ledger.heldbatches import resolve
from .ledger.state import LedgerState
from .planning import Guard, Unchanged, WithinFree
from .storage import Conditions

__all__ = ["batch_conditions", "conditions"]

_ZERO = (0, 0, 0, 0)


def conditions(
    st: LedgerState,
    change: Change,
    guards: Iterable[Guard],
    held_at: dict[tuple[str, str], int],
    planned: int = 0,
) -> Conditions:
    """The conditions of a group of commands: ``change`` is what their rows
    did (against the savepoint before the first), ``guards`` what their
    plans relied on, ``held_at`` the lowest
    ATP right after a hold row at each position it held at. Every position
    held at is checked for free stock as it stood after each hold (a later
    row of the group adding stock does not excuse an earlier hold), and
    every usage that grows against its limit, whether or not a plan said
    so (a follow-up such as a re-sourcing states no guards of its own).
    ``planned``: the seq the first row was planned at (``Conditions``).
    O(touched + guards)."""
    free: set[tuple[str, str]] = set()
    seen: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for g in guards:
        if isinstance(g, WithinFree):
            free.add((g.sku, g.location))
        elif isinstance(g, Unchanged):
            seen[(g.sku, g.location)] = g.figures
    grid = st.grid
    moved = change.positions
    keys = set(moved)
    keys.update(free, seen, held_at)
    positions = []
    for k in sorted(keys) if len(keys) > 1 else keys:
        ch = moved.get(k)
        if ch is None:
            d = _ZERO
        else:
            (h0, r0, s0, u0), (h1, r1, s1, u1) = ch
            d = (h1 - h0, r1 - r0, s1 - s0, u1 - u0)
        offset: int | None = 0 if k in free else None
        low = held_at.get(k)
        if low is not None:  # the ATP after its hold rows, against the ATP now
            ix = grid.sku_ix[k[0]], grid.loc_ix[k[1]]
            now = grid.holdable.item(ix) - grid.reserved.item(ix)
            offset = min(0 if offset is None else offset, low - now)
        positions.append((k[0], k[1], d, offset, seen.get(k)))
    res = change.reservations
    use = change.usage
    return Conditions(
        positions=tuple(positions),
        reservations=tuple([(k, *res[k]) for k in sorted(res)]) if res else (),
        usage=tuple([(k, v, _limit(st, k) if v > 0 else None) for k, v in sorted(use.items())])
        if use
        else (),
        network=change.network,
        claims=tuple([SKU_CLAIM + sku for sku in change.fresh]) if change.fresh else (),
        planned=planned,
    )


def _limit(st: LedgerState, key: str) -> int | None:
    """The limit of a usage key: a channel's cap, a location's daily capacity."""
    kind, who, _rest = key.split("|", 2)
    if kind == "l":  # a SKU's lotted positions: a count, no limit
        return None
    if kind == "c":
        ch = st.channels.get(who)
        return None if ch is None else ch.cap
    loc = st.locations.get(who)
    return None if loc is None else loc.daily_capacity


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
        (g.skus[a], g.locs[b], (0, n, 0, 0), 0, None)
        for (a, b), n in sorted(cells.items(), key=lambda x: (g.skus[x[0][0]], g.locs[x[0][1]]))
    )
    n = len(_start) - 1
    usage: list[tuple[str, int, int | None]] = []
    if channel is not None:
        keys = [(f"c|{channel}|{g.skus[a]}", v) for a, v in per_sku(s, q)]
        usage = sorted((k, v, _limit(st, k)) for k, v in keys)
    return Conditions(
        positions=positions,
        reservations=(
            (ref, None, block_state(False, np.ones(n, np.bool_).tobytes(), int(d["exp"]))),
        ),
        usage=tuple(usage),
    )
