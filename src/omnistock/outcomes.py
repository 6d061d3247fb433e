"""What commands and the journal give back: ``Applied`` (a stock movement's
outcome, with its ``Shortage``, ``Resourced`` and ``Transfer`` values) and
``Entry`` (one journal line). Frozen attrs values, re-exported by
``values``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .lot_values import LotLine

__all__ = ["Applied", "Entry", "Resourced", "Shortage", "Transfer"]


@attrs.frozen
class Shortage:
    """Reservations at one position that physical stock no longer covers.

    ``qty`` units are missing; ``reservations`` names the reservations (newest
    first) whose units are uncovered, so fulfilment can re-source them.
    """

    sku: str
    location: str
    qty: int
    reservations: tuple[str, ...]


@attrs.frozen
class Transfer:
    """Units moving between locations: out of ``source`` now, into
    ``destination`` when received (``Inventory.receive_transfer``).
    ``reservation`` names the order they are earmarked for (BOPIS,
    re-sourcing): they arrive reserved for it."""

    id: str
    sku: str
    source: str
    destination: str
    qty: int
    eta: datetime
    reservation: str | None = None
    lots: tuple[LotLine, ...] = ()


@attrs.frozen
class Resourced:
    """A reservation line that lost its stock (a sale, a count, a store's
    rejection) and where it went: ``to`` lists the new (location, qty) it is
    reserved at, ``transfers`` units on their way to a pickup store, and
    ``missing`` units could not be re-sourced and stay uncovered."""

    reservation: str
    sku: str
    source: str
    qty: int
    to: tuple[tuple[str, int], ...] = ()
    missing: int = 0
    transfers: tuple[Transfer, ...] = ()
    backorders: tuple[tuple[str, int], ...] = ()  # (supply id, units) waited for now


@attrs.frozen
class Applied:
    """What a stock movement command did: the journal head after it, any
    shortage it left, how the reservations it uncovered were re-sourced, and
    any transfer it started (a return sent on to ``returns_to``)."""

    seq: int
    shortages: tuple[Shortage, ...] = ()
    resourced: tuple[Resourced, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    lots: tuple[LotLine, ...] = ()
    """A sale's result: the lots its units were taken from."""


@attrs.frozen
class Entry:
    """One journal line."""

    seq: int
    at: datetime
    kind: str
    sku: str | None
    location: str | None
    qty: int
    ref: str | None
    channel: str | None
    key: str | None
    data: dict[str, Any] | None = None
