"""The vocabulary of a command's plan: ``Context``, ``Plan`` and guards.

A command is planned by a pure function ``(state, context) -> Plan``: it reads
the ledger it can see, changes nothing, and says what to append (``rows``,
with their parsed ``datas``), what it relies on (``guards``) and how to read
its result from the ledger once the rows are folded (``result``). The runner
(``omnistock.runner``) does the rest: idempotency, expiry, the guarded
append, the fold and the result.

Guards name the facts a plan relied on, in the terms a store can check
atomically: today the memory and SQLite stores check the head they were
planned against (a stronger condition, so every guard holds); a store that
checks the guards themselves appends whenever they still hold.
``violations(st, guards)`` evaluates them against a ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

import attrs

from ._validate import to_micros
from .errors import InvalidInput
from .ledger.rows import Kind, make
from .ledger.state import LedgerState
from .storage.base import NewRow

R = TypeVar("R")
DEFAULT_TTL = timedelta(minutes=15)
"""A hold's lifetime when the caller gives none."""
MAX_US = to_micros(datetime.max.replace(tzinfo=UTC)) - 86_400_000_000  # a day of headroom
Datas = list[dict[str, Any] | None]
# Appends more rows to the command being planned (applied at once).
Emit = Callable[[list[NewRow], Datas], None]


# -- guards ---------------------------------------------------------------
class WithinFree(NamedTuple):
    """At (sku, location), reserved units stay within what holds may draw on."""

    sku: str
    location: str


class InState(NamedTuple):
    """Reservation ``res_id`` is in one of ``states``."""

    res_id: str
    states: tuple[str, ...]


class KeyUnused(NamedTuple):
    """Idempotency key ``key`` has not been used."""

    key: str


class FenceRoom(NamedTuple):
    """Channel ``channel``'s buffer, cap and others' fences leave room for
    what the plan reserves of ``sku``."""

    channel: str
    sku: str


class Unchanged(NamedTuple):
    """The position's figures (holdable, reserved, safety, unsellable) are
    still ``figures``: for commands whose rows depend on them (a count
    journals the difference to what it saw)."""

    sku: str
    location: str
    figures: tuple[int, int, int, int]


def unchanged(st: LedgerState, sku: str, location: str) -> Unchanged:
    """An ``Unchanged`` guard on the position as ``st`` has it now."""
    from .ledger.deltas import position_figures

    s, l = st.grid.sku_ix.get(sku), st.grid.loc_ix.get(location)
    figs = (0, 0, 0, 0) if s is None or l is None else position_figures(st, (s, l))
    return Unchanged(sku, location, figs)


class CapacityRoom(NamedTuple):
    """Location ``location`` has picks left on its local day ``day``."""

    location: str
    day: int


Guard = WithinFree | InState | KeyUnused | FenceRoom | CapacityRoom | Unchanged


@attrs.define(slots=True)
class Context:
    """What a plan may know beyond the ledger: the clock, the journal time
    its rows carry, the command's key, and how to claim a new id."""

    now: int
    """The ledger clock, UTC microseconds."""
    ts: int
    """Journal time for the rows: ``now``, never before the head's time."""
    key: str | None
    """The command's idempotency key, carried on every row it appends."""
    partitioned: bool = False
    """The store orders rows per partition (see ``claim``)."""

    def without_key(self) -> Context:
        """This context for a follow-up that carries no key (a re-sourcing
        inside another command): same clock, time and store."""
        return Context(self.now, self.ts, None, self.partitioned)

    def until(self, field: str, delta_us: int) -> int:
        """``now + delta_us`` in journal microseconds, refused with
        ``InvalidInput`` naming ``field`` when no datetime can hold it."""
        t = self.now + delta_us
        if not 0 <= t <= MAX_US:
            raise InvalidInput(field, delta_us, "ends beyond the last representable time")
        return t

    def claim(self, scope: str) -> list[NewRow]:
        """Rows that make minting a new id derived from ``scope`` conflict
        between writers. A partitioned store could otherwise let two
        processes derive the same id (``<order>#1``, ``T<head>``) for rows in
        different partitions; elsewhere the head already orders them, so it
        is empty. (A guarded store is not partitioned: it checks a minted
        reservation or supply item as new by itself.)"""
        if not self.partitioned:
            return []
        return [make(Kind.CLAIMED, self.ts, sku="~" + scope, key=self.key)]


@attrs.define(slots=True)
class Plan(Generic[R]):
    """A planned command: the rows to append, their parsed data, how to read
    the result from the ledger after the fold, and the guards it relies on.

    ``undo`` is set only by plans that decide in the live grids while
    planning (bulk hold batches): it takes that back if the append fails."""

    rows: list[NewRow]
    datas: Datas
    result: Callable[[LedgerState], R]
    guards: Sequence[Guard] | Callable[[], Sequence[Guard]] = ()
    """What the plan relies on; a callable states them lazily (``guards_of``),
    so a store that checks a head, not guards, never pays to build them."""
    undo: Callable[[], None] | None = None
    refused: bool = False
    """The result is a refusal (an ``unfillable`` answer): nothing is
    written, not even the command's key, so a retry may succeed."""
    partly_refused: bool = False
    """Part of the result is a refusal (a bulk hold that refused some
    orders): like a refusal, it is re-checked if decided on a stale ledger."""


def guards_of(plan: Plan[Any]) -> Sequence[Guard]:
    """The plan's guards, built now if it stated them lazily."""
    g = plan.guards
    return g() if callable(g) else g


def done(value: R) -> Callable[[LedgerState], R]:
    """A result known without the fold (a refusal-free no-op, a decision)."""
    return lambda _st: value


def nothing(_st: LedgerState, _cx: Context) -> Plan[None]:
    """A command that moves nothing (queries run it to apply expiry)."""
    return Plan([], [], done(None))


def violations(st: LedgerState, guards: Sequence[Guard]) -> list[str]:
    """The guards that do not hold in ``st``, in words (empty: all hold).

    Checks what the ledger alone can show: position ATP, reservation states,
    channel caps against the units the channel holds, and daily picks. Key
    use is the store's to check (``Store.lookup_key``). O(guards)."""
    g = st.grid
    out: list[str] = []
    for gd in guards:
        if isinstance(gd, WithinFree):
            s, l = g.sku_ix.get(gd.sku), g.loc_ix.get(gd.location)
            if s is not None and l is not None and g.atp(s, l) < 0:
                out.append(f"reserved exceeds free at ({gd.sku}, {gd.location})")
        elif isinstance(gd, InState):
            h = st.holds.peek(gd.res_id)
            if h is None or h.state not in gd.states:
                out.append(f"reservation {gd.res_id} is not {'/'.join(gd.states)}")
        elif isinstance(gd, FenceRoom):
            ch = st.channels.get(gd.channel)
            s = g.sku_ix.get(gd.sku)
            cap = None if ch is None else ch.cap
            if s is not None and cap is not None and st.chan_used.get((gd.channel, s), 0) > cap:
                out.append(f"channel {gd.channel} holds more {gd.sku} than its cap")
        elif isinstance(gd, Unchanged):
            s, l = g.sku_ix.get(gd.sku), g.loc_ix.get(gd.location)
            if s is not None and l is not None:
                from .ledger.deltas import position_figures

                if position_figures(st, (s, l)) != gd.figures:
                    out.append(f"position ({gd.sku}, {gd.location}) changed")
        elif isinstance(gd, CapacityRoom):
            loc = st.locations.get(gd.location)
            limit = None if loc is None else loc.daily_capacity
            if limit is not None and st.picks.get((gd.location, gd.day), 0) > limit:
                out.append(f"location {gd.location} is past its capacity on day {gd.day}")
    return out
