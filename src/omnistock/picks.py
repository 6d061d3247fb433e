"""Daily capacity: the picks a ship order takes at the locations it uses,
and gives back when it leaves them.

A ship order takes one pick per capacity-limited location it uses, on that
location's local day (``Location.day``: its time zone's midnight, UTC when
it has none), journaled as a ``picked`` row of 1 naming the reservation.
When the order no longer uses a location (released, partly released,
amended or re-sourced away, expired) the same day, the pick goes back
(a ``picked`` row of -1), so the store may pick another order today. A
pick of an earlier day, or at a location the order shipped from, is spent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .ledger.grid import Pos
from .ledger.holds import Hold
from .ledger.rows import Kind, make
from .ledger.state import LedgerState
from .planning import Context, Datas
from .storage import NewRow

__all__ = ["capacity_left", "give_back_rows", "pick_rows", "used_locations"]


def capacity_left(st: LedgerState, now: int) -> dict[str, int]:
    """Picks left today (the location's local day) per capacity-limited
    location. O(locations)."""
    return {
        loc.id: max(0, loc.daily_capacity - st.picks.get((loc.id, loc.day(now)), 0))
        for loc in st.locations.values()
        if loc.daily_capacity is not None
    }


def pick_rows(
    st: LedgerState,
    cx: Context,
    method: str,
    want: dict[Pos, int],
    rid: str | None = None,
    skip: Iterable[str] = (),
) -> tuple[list[NewRow], Datas]:
    """One pick per capacity-limited location a ship order (reservation
    ``rid``) uses today (its local day), but the locations in ``skip``
    (already picked for it)."""
    if method != "ship":
        return [], []
    rows: list[NewRow] = []
    datas: Datas = []
    locs = dict.fromkeys(st.grid.locs[l] for (_, l) in want)
    for loc in locs:
        site = st.locations[loc]
        if site.daily_capacity is None or loc in skip:
            continue
        data = {"day": site.day(cx.now)}
        rows.append(
            make(
                Kind.PICKED, cx.ts, location=loc, qty=1, ref=rid, key=cx.key, data=json.dumps(data)
            )
        )
        datas.append(data)
    return rows, datas


def used_locations(st: LedgerState, h: Hold) -> set[str]:
    """Locations reservation ``h`` holds or shipped units at: a ship order
    picks once per location it uses, so these take no new pick."""
    locs = st.grid.locs
    return {locs[l] for _, l in h.lines} | {locs[l] for _, l in h.shipped}


def give_back_rows(
    st: LedgerState, cx: Context, h: Hold, leaving: Iterable[str]
) -> tuple[list[NewRow], Datas]:
    """``give_back`` for a command's context (its clock, time and key)."""
    rows = give_back(st, cx.now, cx.ts, cx.key, h, leaving)
    return rows, [None] * len(rows)


def give_back(
    st: LedgerState, now: int, ts: int, key: str | None, h: Hold, leaving: Iterable[str]
) -> list[NewRow]:
    """Reservation ``h`` no longer uses the locations ``leaving``: each pick
    it took there today (the location's local day) is given back to that
    day's capacity (a ``picked`` row of -1). A pick of an earlier day, or at
    a location it shipped from, is spent and stays."""
    rows: list[NewRow] = []
    shipped = {st.grid.locs[l] for _, l in h.shipped}
    for loc in dict.fromkeys(leaving):
        day = h.picked.get(loc) if h.picked else None
        site = st.locations.get(loc)
        if day is None or site is None or loc in shipped or day != site.day(now):
            continue
        data = {"day": day}
        rows.append(
            make(
                Kind.PICKED,
                ts,
                location=loc,
                qty=-1,
                ref=h.id,
                key=key,
                data=json.dumps(data),
            )
        )
    return rows
