"""POS adapter: receipts become ``sell`` and ``return_items``, online or
offline.

Receipt schema (JSON, see ``docs/channels.md``)::

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

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import InvalidInput, OmnistockError, PayloadError
from ..values import Resourced, Shortage
from . import _schema as S
from .base import ChannelAdapter, Command

if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..queries import Reader

__all__ = ["PosAdapter", "PosTerminal", "SyncReport"]

CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")
RECEIPT_TYPES = ("sale", "return", "exchange")


class PosAdapter(ChannelAdapter):
    """Receipts of one terminal at one store location.

    ``channel``: the ledger channel sales are journaled under (must exist in
    every ledger the receipts reach), or None."""

    name = "pos"

    def __init__(
        self,
        terminal: str,
        location: str,
        channel: str | None = None,
        *,
        max_bytes: int = S.MAX_BODY,
    ) -> None:
        self.terminal = S.event_id(terminal, "terminal")
        if len(terminal) > 48:
            raise PayloadError("terminal", terminal, "longer than 48 characters")
        self.location = S.ident(location, "location")
        self.channel = None if channel is None else S.ident(channel, "channel")
        self.max_bytes = max_bytes

    def key(self, receipt_id: str, part: str) -> str:
        return f"pos:{self.terminal}:{receipt_id}:{part}"

    def parse(self, payload: bytes, headers: Mapping[str, str] | None = None) -> list[Command]:
        """Validate a receipt. Pure; raises ``PayloadError`` naming the field."""
        doc = S.obj(
            S.load_json(payload, self.max_bytes),
            "",
            ("receipt_id", "type"),
            ("items", "returned", "condition", "order_id", "terminal"),
        )
        rid = S.event_id(doc["receipt_id"], "receipt_id")
        if len(rid) > 64:
            raise PayloadError("receipt_id", rid, "longer than 64 characters")
        kind = S.choice(doc["type"], "type", RECEIPT_TYPES)
        if "terminal" in doc and doc["terminal"] != self.terminal:
            raise PayloadError(
                "terminal", doc["terminal"], f"is not this adapter's terminal {self.terminal!r}"
            )
        order_id = None if doc.get("order_id") is None else S.ident(doc["order_id"], "order_id")
        cond = S.choice(doc.get("condition", "sellable"), "condition", CONDITIONS)
        if "items" not in doc:
            raise PayloadError("items", None, "is required")
        items = [(s, q) for s, q, _ in S.lines(doc["items"], "items", "forbidden")]
        cmds: list[Command] = []
        if kind == "exchange":
            if "returned" not in doc:
                raise PayloadError("returned", None, "is required for an exchange")
            back = [(s, q) for s, q, _ in S.lines(doc["returned"], "returned", "forbidden")]
            cmds.append(self._ret(back, cond, order_id, rid))
        elif "returned" in doc:
            raise PayloadError("returned", doc["returned"], "only an exchange has it")
        if kind == "return":
            cmds.append(self._ret(items, cond, order_id, rid))
        else:
            if kind == "sale" and ("condition" in doc or order_id is not None):
                f = "condition" if "condition" in doc else "order_id"
                raise PayloadError(f, doc[f], "a sale has no returned units")
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

    def apply(self, inv: Inventory, commands: Sequence[Command]) -> list[Any]:
        """Check every line against ``inv`` first (known SKUs, a location
        that sells and takes returns), so an exchange applies both halves or
        neither; then apply in order."""
        loc = inv.locations.get(self.location)
        if loc is None:
            from ..errors import UnknownLocation

            raise UnknownLocation(self.location)
        for c in commands:
            if c.op == "return_items" and not loc.accepts_returns:
                raise InvalidInput("location", self.location, "does not accept returns")
            for sku, _ in c.kwargs["lines"]:
                inv.on_hand(sku, self.location)  # raises UnknownSku
        return super().apply(inv, commands)

    def publish(self, inv: Reader, skus: Iterable[str] | None = None) -> dict[str, int]:
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
    ``cursor``: local journal seq synced up to; ``error``: why the sync
    stopped early (it resumes from ``cursor``)."""

    since: int
    cursor: int
    applied: tuple[str, ...] = ()
    replayed: tuple[str, ...] = ()
    shortages: tuple[Shortage, ...] = ()
    to_resource: tuple[str, ...] = ()
    error: str | None = None
    resourced: tuple[Resourced, ...] = ()


class PosTerminal:
    """A till that keeps selling offline on its own local ledger.

    ``local``: an :class:`Inventory` on the till's own store (e.g.
    ``Inventory.open("sqlite:///till.db")``), holding the adapter's location.
    """

    def __init__(self, adapter: PosAdapter, local: Inventory, cursor: int = 0) -> None:
        self.adapter = adapter
        self.local = local
        self.cursor = cursor

    def seed(self, central: Reader, skus: Iterable[str] | None = None) -> int:
        """Copy the location (and channel) and its sellable counts from the
        central ledger into the local one; returns how many SKUs. Counts are
        not synced back (only sales and returns are)."""
        loc = self.adapter.location
        self.local.add_location(central.locations[loc])
        ch = self.adapter.channel
        if ch is not None:
            c = central.channels[ch]
            self.local.add_channel(attrs.evolve(c, locations=(loc,)))
        n = 0
        for sku in central.skus if skus is None else skus:
            self.local.count(sku, loc, central.on_hand(sku, loc, "sellable"))
            n += 1
        self.cursor = self.local.head
        return n

    def ring(self, payload: bytes) -> list[Any]:
        """Ring a receipt into the local ledger (works with no network)."""
        return self.adapter.handle(self.local, payload)

    def sync(self, central: Inventory, since: int | None = None) -> SyncReport:
        """Send local sales and returns after ``since`` (default: the saved
        cursor) to ``central``. Idempotent and resumable; advances
        ``self.cursor`` after each command the central ledger accepted."""
        start = self.cursor if since is None else since
        applied: list[str] = []
        replayed: list[str] = []
        shortages: list[Shortage] = []
        resourced: list[Resourced] = []
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
                else:
                    import json

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
        )

    def _central_key(self, group: list[Any]) -> str:
        key, seq = group[0][8], group[0][0]
        prefix = f"pos:{self.adapter.terminal}:"
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
