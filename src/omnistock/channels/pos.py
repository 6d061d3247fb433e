"""POS adapter: receipts become ``sell`` and ``return_items``, online or
offline.

Receipt schema (:class:`omnistock.channels.payloads.PosReceipt`; JSON Schema
in ``docs/schemas/pos.json``, prose in ``docs/channels.md``)::

    {"receipt_id": "r-1001", "type": "sale" | "return" | "exchange",
     "items":    [{"sku": "A", "qty": 1}, ...],   # sold (sale, exchange)
     "returned": [{"sku": "B", "qty": 1}, ...],   # taken back (exchange)
     "condition": "sellable",                     # of returned units
     "order_id": "web-77"}                        # optional, for returns

For a return, ``items`` are the units taken back. Keys are
``pos:<terminal>:<receipt_id>:sale`` and ``...:return``, so a receipt
printed twice moves stock once.

Offline mode: :class:`PosTerminal` embeds a local :class:`Inventory` (a
SQLite file on the till) and rings receipts into it while the central ledger
is unreachable. :meth:`PosTerminal.sync` then sends the local journal's sales
and returns to the central ledger:

- each local command becomes one central command with the same arguments
  and a deterministic key (the local key, or ``pos:<terminal>:@<seq>``), so
  sync is idempotent and resumable: re-running an interrupted sync, or
  syncing again from 0, gives the same central state;
- sales apply as physical truth; the reservations they leave uncovered are
  re-sourced by the central policy in the same commit (``SyncReport.resourced``);
  what could not be re-sourced is reported (``SyncReport.to_resource``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from msgspec import UNSET

from ..errors import (
    InvalidInput,
    OmnistockError,
    PayloadError,
    UnknownChannel,
    UnknownLocation,
    UnknownSku,
)
from ..values import Resourced, Shortage
from . import _schema as S
from . import payloads as P
from ._orders import scope
from .base import ChannelAdapter, Command

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Queries

__all__ = ["PosAdapter", "PosTerminal", "SyncReport"]

CONDITIONS = P.CONDITIONS
RECEIPT_TYPES = ("sale", "return", "exchange")


class PosAdapter(ChannelAdapter):
    """Receipts of one terminal at one store location.

    ``channel``: the ledger channel sales are journaled under (must exist in
    every ledger the receipts reach), or None. ``instance`` scopes receipt
    ids (keys are ``pos:<instance>:<receipt_id>:sale``); default
    ``<terminal>@<location>``, so till ``t1`` of one store and till ``t1`` of
    another never share a key.

    A sale is refused (``InvalidInput`` naming the location) at a location
    whose ``sells`` is False, a return at one whose ``accepts_returns`` is
    False."""

    name = "pos"

    def __init__(
        self,
        terminal: str,
        location: str,
        channel: str | None = None,
        *,
        max_bytes: int = S.MAX_BODY,
        instance: str | None = None,
    ) -> None:
        self.terminal = S.event_id(terminal, "terminal")
        if len(terminal) > 48:
            raise PayloadError("terminal", terminal, "longer than 48 characters")
        self.location = S.ident(location, "location")
        self.channel = None if channel is None else S.ident(channel, "channel")
        self.max_bytes = max_bytes
        self.instance = (
            f"{self.terminal}@{self.location}"
            if instance is None
            else S.ident(instance, "instance")
        )
        self.prefix = f"pos:{scope(self.instance)}:"
        """Every key this adapter writes starts with it."""

    def key(self, receipt_id: str, part: str) -> str:
        return f"{self.prefix}{receipt_id}:{part}"

    def parse(self, payload: bytes, headers: Mapping[str, str] | None = None) -> list[Command]:
        """Validate a receipt. Pure; raises ``PayloadError`` naming the field."""
        r: P.PosReceipt = S.decode(payload, P.PosReceipt, self.max_bytes)
        rid = r.receipt_id
        if r.terminal is not UNSET and r.terminal != self.terminal:
            raise PayloadError(
                "terminal", r.terminal, f"is not this adapter's terminal {self.terminal!r}"
            )
        order_id = None if r.order_id is None else S.printable(r.order_id, "order_id")
        cond = "sellable" if r.condition is UNSET else r.condition
        S.printable_lines(r.items, "items")
        items = [(x.sku, x.qty) for x in r.items]
        cmds: list[Command] = []
        if r.type == "exchange":
            if r.returned is UNSET:
                raise PayloadError("returned", None, "is required for an exchange")
            S.printable_lines(r.returned, "returned")
            back = [(x.sku, x.qty) for x in r.returned]
            cmds.append(self._ret(back, cond, order_id, rid))
        elif r.returned is not UNSET:
            raise PayloadError("returned", r.returned, "only an exchange has it")
        if r.type == "return":
            cmds.append(self._ret(items, cond, order_id, rid))
        else:
            if r.type == "sale" and (r.condition is not UNSET or order_id is not None):
                if r.condition is not UNSET:
                    raise PayloadError("condition", r.condition, "a sale has no returned units")
                raise PayloadError("order_id", order_id, "a sale has no returned units")
            cmds.append(
                Command(
                    "sell",
                    {"location": self.location, "lines": items, "channel": self.channel},
                    self.key(rid, "sale"),
                )
            )
        return cmds

    def _ret(self, ls: list[tuple[str, int]], cond: str, order_id: str | None, rid: str) -> Command:
        return Command(
            "return_items",
            {"location": self.location, "lines": ls, "condition": cond, "order_id": order_id},
            self.key(rid, "return"),
        )

    def check_location(self, inv: Queries, commands: Sequence[Command]) -> None:
        """The location exists in ``inv``, sells (for a sale) and accepts
        returns (for a return); else a typed error naming it."""
        loc = inv.locations.get(self.location)
        if loc is None:
            raise UnknownLocation(self.location)
        for c in commands:
            if c.op == "sell" and not loc.sells:
                raise InvalidInput(
                    "location", self.location, "does not sell (sells=False): no POS sales here"
                )
            if c.op == "return_items" and not loc.accepts_returns:
                raise InvalidInput("location", self.location, "does not accept returns")

    def apply(self, inv: Inventory, commands: Sequence[Command]) -> list[Any]:
        """Check every line against ``inv`` first (known SKUs, a location
        that sells and takes returns), so an exchange applies both halves or
        neither; then apply in order."""
        self.check_location(inv, commands)
        for c in commands:
            for sku, _ in c.kwargs["lines"]:
                inv.on_hand(sku, self.location)  # raises UnknownSku
        return super().apply(inv, commands)

    def publish(self, inv: Queries, skus: Iterable[str] | None = None) -> dict[str, int]:
        """Units sellable now at the terminal's location (shelf display)."""
        return {
            s: inv.available(s, location=self.location)
            for s in (inv.skus if skus is None else skus)
        }


@attrs.frozen
class SyncReport:
    """What one :meth:`PosTerminal.sync` did.

    ``applied``: central keys applied now; ``replayed``: keys the central
    ledger already had (an earlier, maybe interrupted, sync);
    ``shortages``: uncovered reservations the synced sales caused (as the
    central ledger reported them when each sale first applied);
    ``resourced``: how the central ledger re-sourced them (in the same
    commit as each sale); ``to_resource``: reservations still open that it
    could not fully re-source (units nowhere to be had);
    ``negative_stock``: positions where the synced sales sold more than the
    central ledger had sellable (a SKU the till was never seeded with, stock
    the central ledger never heard of): ``qty`` is how far below zero the
    central sellable figure is after the sync (the reservations a sale
    uncovers are in ``shortages``); ``cursor``: local journal seq synced up to; ``error``: why
    the sync stopped early (it resumes from ``cursor``)."""

    since: int
    cursor: int
    applied: tuple[str, ...] = ()
    replayed: tuple[str, ...] = ()
    shortages: tuple[Shortage, ...] = ()
    to_resource: tuple[str, ...] = ()
    error: str | None = None
    resourced: tuple[Resourced, ...] = ()
    negative_stock: tuple[Shortage, ...] = ()


class PosTerminal:
    """A till that keeps selling offline on its own local ledger.

    ``local``: an :class:`Inventory` on the till's own store (e.g.
    ``Inventory.open("sqlite:///till.db")``), holding the adapter's location.

    A sale is physical truth: the till rings any SKU, including one it was
    never seeded with (the local ledger then learns the SKU at zero and goes
    below it), and :meth:`sync` sends it on; the central ledger reports what
    it leaves short (:attr:`SyncReport.negative_stock`,
    :attr:`SyncReport.shortages`).
    """

    def __init__(self, adapter: PosAdapter, local: Inventory, cursor: int = 0) -> None:
        self.adapter = adapter
        self.local = local
        self.cursor = cursor

    def seed(self, central: Queries, skus: Iterable[str] | None = None) -> int:
        """Copy the location (and channel) and its sellable counts from the
        central ledger into the local one; returns how many SKUs. Counts are
        not synced back (only sales and returns are).

        Sales and returns rung but not yet synced are kept: they stay after
        the cursor (the next :meth:`sync` sends them), and each SKU's local
        count is the central figure less what was sold here since (plus
        sellable returns), since the central figure does not include them
        yet. The cursor moves past the seed only when nothing is unsynced."""
        loc = self.adapter.location
        where = central.locations.get(loc)
        if where is None:
            raise UnknownLocation(loc)
        # the till holds one location: its returns stay here; the central
        # ledger routes them to returns_to when they sync
        self.local.add_location(attrs.evolve(where, returns_to=None))
        ch = self.adapter.channel
        if ch is not None:
            c = central.channels.get(ch)
            if c is None:
                raise UnknownChannel(ch)
            self.local.add_channel(attrs.evolve(c, locations=(loc,)))
        pending = self._unsynced()
        n = 0
        for sku in central.skus if skus is None else skus:
            figure = central.on_hand(sku, loc, "sellable") + pending.get(sku, 0)
            self.local.count(sku, loc, max(0, figure))
            n += 1
        if not pending:
            self.cursor = self.local.head
        return n

    def _unsynced(self) -> dict[str, int]:
        """Net sellable units moved by sales and returns after the cursor,
        per SKU (sold: minus; returned sellable: plus). A SKU whose net is 0
        is still listed, so an empty dict means nothing is unsynced."""
        out: dict[str, int] = {}
        for r in self.local.store.read(self.cursor, self.local.head):
            kind, sku, qty = r[2], r[3], int(r[5])
            if sku is None:
                continue
            if kind == "sold":
                out[sku] = out.get(sku, 0) - qty
            elif kind == "returned":
                data = json.loads(r[9]) if r[9] else {}
                sellable = data.get("state", "sellable") == "sellable"
                out[sku] = out.get(sku, 0) + (qty if sellable else 0)
        return out

    def ring(self, payload: bytes) -> list[Any]:
        """Ring a receipt into the local ledger (works with no network).

        A SKU the till was never seeded with is learnt at zero and sold
        below it: the sale happened, so it is recorded and synced. A sale at
        a location that does not sell is refused (``InvalidInput``)."""
        commands = self.adapter.parse(payload)
        self.adapter.check_location(self.local, commands)
        loc = self.adapter.location
        for c in commands:
            for sku, _ in c.kwargs["lines"]:
                try:
                    self.local.on_hand(sku, loc)
                except UnknownSku:
                    self.local.count(sku, loc, 0)
        return self.adapter.apply(self.local, commands)

    def sync(self, central: Inventory, since: int | None = None) -> SyncReport:
        """Send local sales and returns after ``since`` (default: the saved
        cursor) to ``central``. Idempotent and resumable; advances
        ``self.cursor`` after each command the central ledger accepted."""
        start = self.cursor if since is None else since
        applied: list[str] = []
        replayed: list[str] = []
        shortages: list[Shortage] = []
        resourced: list[Resourced] = []
        sold_at: dict[tuple[str, str], None] = {}
        error = None
        for group in _groups(self.local.store.read(start, self.local.head)):
            last = group[-1][0]
            kind = group[0][2]
            if kind not in ("sold", "returned"):
                self.cursor = last
                continue
            ckey = self._central_key(group)
            lines = [(r[3], r[5]) for r in group]
            loc = group[0][4]
            try:
                seen = central.store.lookup_key(ckey) is not None
                if kind == "sold":
                    res = central.sell(loc, lines, key=ckey, channel=group[0][7])
                    shortages.extend(res.shortages)
                    resourced.extend(res.resourced)
                    sold_at.update(((sku, loc), None) for sku, _ in lines)
                else:
                    data = json.loads(group[0][9]) if group[0][9] else {}
                    central.return_items(
                        loc,
                        lines,
                        condition=data.get("state", "sellable"),
                        order_id=group[0][6],
                        key=ckey,
                    )
            except OmnistockError as exc:
                error = f"{ckey}: {exc}"
                break
            (replayed if seen else applied).append(ckey)
            self.cursor = last
        else:
            self.cursor = max(self.cursor, self.local.head)
        names: list[str] = []
        for r in resourced:  # what the central policy could not move elsewhere
            if (
                r.missing
                and r.reservation not in names
                and central.reservation(r.reservation).state in ("held", "committed")
            ):
                names.append(r.reservation)
        return SyncReport(
            start,
            self.cursor,
            tuple(applied),
            tuple(replayed),
            tuple(shortages),
            tuple(names),
            error,
            tuple(resourced),
            self._negative(central, sold_at),
        )

    @staticmethod
    def _negative(central: Inventory, positions: Iterable[tuple[str, str]]) -> tuple[Shortage, ...]:
        """Positions whose central sellable figure is below zero."""
        out = []
        for sku, loc in positions:
            figure = central.on_hand(sku, loc, "sellable")
            if figure < 0:
                out.append(Shortage(sku, loc, -figure, ()))
        return tuple(out)

    def _central_key(self, group: list[Any]) -> str:
        key, seq = group[0][8], group[0][0]
        prefix = self.adapter.prefix
        if isinstance(key, str) and key.startswith(prefix):
            return key
        return f"{prefix}@{seq}"


def _groups(rows: Iterable[Any]) -> Iterable[list[Any]]:
    """Consecutive rows of one command: same key and kind (an unkeyed row is
    its own group)."""
    cur: list[Any] = []
    for r in rows:
        if cur and (r[8] is None or r[8] != cur[0][8] or r[2] != cur[0][2]):
            yield cur
            cur = []
        cur.append(r)
    if cur:
        yield cur
