"""Counters: the figures a store checks guards against, and how rows move them.

A store that checks guards itself (PostgreSQL) keeps, beside the journal,
the few figures a guard reads:

- per position ``(sku, location)``: holdable, reserved, safety and
  unsellable units (``Grid``);
- per reservation: its state, a digest of its lines and its expiry (a
  block of bulk holds counts as one, with a digest of which members it
  still has), so a command that relied on a reservation lands only if it
  is exactly as the command saw it;
- per open supply item (a purchase order or a transfer in transit), kept
  with the reservations under ``SUPPLY`` + its id: a command that mints a
  supply id relies on it not being open, one that receives against it on
  what it saw;
- usage: a channel's reserved units of a SKU (``c|channel|sku``), a
  location's picks on a day (``p|location|day``) and a SKU's lotted
  positions (``l|lots|sku``: a worker without a replica leaves lotted SKUs
  to the replica);
- per low-stock threshold whose alert count is not zero, kept with the
  reservations under ``ALERT`` + sku + US + location: a crossing relies on
  the count it saw, so racing writers cannot both journal one crossing;
- a digest of the network (locations, channels, policy, low-stock marks):
  network commands are guarded by "the network is as the plan saw it".

``counters_of`` reads them from a ledger (replay: the truth the tables are
compared with); ``Change`` is what folding some rows did to them, read
from a ``Savepoint`` taken before (the before figures) and the ledger
after. Both are O(what they cover), never O(ledger).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..skus import Sku
from ..values import Channel, Location
from .grid import Grid, Pos
from .heldbatches import HeldBatch
from .holds import Hold
from .rows import Kind
from .savepoint import MISSING, Savepoint
from .state import LedgerState

__all__ = [
    "Change",
    "Counters",
    "ResFigures",
    "counters_of",
    "network_digest",
    "position_figures",
]

NETWORK_KINDS = frozenset(
    (Kind.LOCATION_ADDED, Kind.CHANNEL_ADDED, Kind.POLICY_SET, Kind.THRESHOLD_SET, Kind.SKU_ADDED)
)
"""Rows guarded by "the network is as the plan saw it": they set something
last-writer-wins, so concurrent writers must not both rely on the old."""

SUPPLY = "\x1fsupply:"
"""Prefix of a supply item's record among the reservations' (ids are
printable, so no reservation id starts with it)."""

ALERT = "\x1falert:"
"""Prefix of a threshold's alert record among the reservations'."""

SKU_CLAIM = "\x1fsku:"
"""Prefix of a SKU's claim (``Conditions.claims``): taken by the command
that first names or first declares it (``fresh_skus``)."""

LOTS = "\x1flots:"
"""Prefix of a lotted position's book record among the reservations': a
command that moves lots (FEFO, an expiry, a recall) relies on the book it
saw, so two writers never take or expire the same lot units twice."""

PosFigures = tuple[int, int, int, int]
"""holdable, reserved, safety, unsellable."""
ResFigures = tuple[str, str, int | None]
"""state, digest of the lines (open and shipped), expiry (UTC microseconds or None)."""


class Counters:
    """Every counter of a ledger, keyed by name (comparable with a store's)."""

    __slots__ = ("network", "positions", "reservations", "usage")

    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], PosFigures] = {}
        self.reservations: dict[str, ResFigures] = {}
        self.usage: dict[str, int] = {}
        self.network = ""

    def differences(self, other: Counters, limit: int = 10) -> list[str]:
        """What differs from ``other``, in words (at most ``limit``)."""
        out: list[str] = []
        for name, mine, theirs in (
            ("position", self.positions, other.positions),
            ("reservation", self.reservations, other.reservations),
            ("usage", self.usage, other.usage),
        ):
            for k in sorted(set(mine) | set(theirs), key=repr):
                a, b = mine.get(k), theirs.get(k)  # type: ignore[call-overload]
                if a != b:
                    out.append(f"{name} {k}: replay says {a}, counters say {b}")
        if self.network != other.network:
            out.append(f"network rows: replay says {self.network}, counters say {other.network}")
        return out[:limit]


def network_digest(
    locations: dict[str, Any],
    channels: dict[str, Any],
    policy: dict[str, Any] | None,
    marks: Iterable[tuple[str, str | None, int]] = (),
    catalogue: dict[str, Any] | None = None,
) -> str:
    """A digest of the network and the low-stock ``marks`` (``(sku,
    location, low)``) ("" for none): equal networks, equal digests. Without
    marks it is the digest stores kept before thresholds existed.
    O(locations + channels + marks)."""
    ms = sorted((s, "" if loc is None else loc, low) for s, loc, low in marks)
    if not locations and not channels and policy is None and not ms and not catalogue:
        return ""
    text = repr((sorted(locations.items()), sorted(channels.items())))
    text += json.dumps(policy, sort_keys=True, default=str)
    if ms:
        text += repr(ms)
    # Time zones are not in a Location's repr: added only where set, so a
    # network without any keeps the digest it had before they existed.
    zones = sorted((k, v.tz) for k, v in locations.items() if getattr(v, "tz", None))
    if zones:
        text += repr(zones)
    if catalogue:  # declared SKUs (``skus.Sku``), only when there are some
        text += json.dumps([catalogue[k].to_dict() for k in sorted(catalogue)])
    caps = sorted(
        (k, v.preorder_cap)
        for k, v in channels.items()
        if getattr(v, "preorder_cap", None) is not None
    )
    if caps:  # likewise a channel's preorder cap
        text += repr(caps)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def position_figures(st: LedgerState, p: Pos) -> PosFigures:
    g = st.grid
    u = g.unsell.get(p)
    return int(g.holdable[p]), int(g.reserved[p]), g.safety.get(p, 0), 0 if u is None else sum(u)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def hold_figures(h: Hold | None, g: Grid) -> ResFigures | None:
    """A reservation's figures; closed ones are kept (their ids stay taken).
    Lines are named, not indexed: every process interns in its own order."""
    if h is None:
        return None
    skus, locs = g.skus, g.locs
    lines = sorted([(skus[s], locs[l], q) for (s, l), q in h.lines.items()])
    shipped: list[Any] = []  # a list either way: its repr is in the digest
    if h.shipped:
        shipped = sorted([(skus[s], locs[l], q) for (s, l), q in h.shipped.items()])
    parts: tuple[Any, ...] = (lines, shipped)
    if h.waiting:  # backordered units; a hold without keeps its old digest
        parts += (sorted(h.waiting.items()),)
    return h.state, _digest(repr(parts).encode("utf-8", "surrogatepass")), h.expires_us


def block_figures(b: HeldBatch | None) -> ResFigures | None:
    """A block's figures while it has members (its token is random, so a
    dropped block's row can go): which members it still has."""
    if b is None or not b.n_live:
        return None
    return block_state(b.expired, b.live.tobytes(), b.exp)


def block_state(expired: bool, live: bytes, exp: int) -> ResFigures:
    """A block's figures from its expiry flag, live-member mask and expiry."""
    return ("expired" if expired else "held"), _digest(live), exp


def supply_figures(qty: int, eta_us: int, booked: int = 0) -> ResFigures:
    """An open supply item's figures: its units left, the units promised
    to backorders (two writers booking one item serialise on it) and its
    ETA. O(1)."""
    return "open", (f"{qty}/{booked}" if booked else str(qty)), eta_us


def book_figures(book: dict[str, Any] | None) -> ResFigures | None:
    """A lotted position's book record: a digest of its lots (None: no book)."""
    if book is None:
        return None
    recs = sorted(lot.record() for lot in book.values())
    return "lots", _digest(repr(recs).encode("utf-8", "surrogatepass")), None


def alert_id(sku: str, location: str | None) -> str:
    """The counter id of the alert state of (sku, location or None)."""
    return f"{ALERT}{sku}\x1f{location or ''}"


def alert_figures(count: int) -> ResFigures | None:
    """A threshold's alert record: None while its count is zero, so the
    first crossing creates it (and two racing writers cannot both)."""
    return None if not count else ("alert", str(count), None)


def counters_of(st: LedgerState) -> Counters:
    """The counters ``st`` implies. O(positions + reservations)."""
    c = Counters()
    g = st.grid
    ns, nl = g.shape
    h, r = g.used()
    nz = np.argwhere((h != 0) | (r != 0))
    cells = {(int(a), int(b)) for a, b in nz} | set(g.safety) | set(g.unsell)
    for p in cells:
        if p[0] < ns and p[1] < nl:
            figs = position_figures(st, p)
            if any(figs):
                c.positions[(g.skus[p[0]], g.locs[p[1]])] = figs
    for hold in st.holds.by_id.values():
        f = hold_figures(hold, g)
        if f is not None:
            c.reservations[hold.id] = f
    for b in st.holds.batches.values():
        bf = block_figures(b)
        if bf is not None:
            c.reservations[b.token] = bf
    for item in st.supply.by_id.values():
        c.reservations[SUPPLY + item.id] = supply_figures(item.qty, item.eta_us, item.nbooked)
    for sku, loc, n in st.thresholds.counts():
        c.reservations[alert_id(sku, loc)] = ("alert", str(n), None)
    for (ch, s), n in st.chan_used.items():
        if n:
            c.usage[f"c|{ch}|{g.skus[s]}"] = n
    for (loc, day), n in st.picks.items():
        if n:
            c.usage[f"p|{loc}|{day}"] = n
    for (s, l), book in st.lots.by_pos.items():
        k = f"l|lots|{g.skus[s]}"
        c.usage[k] = c.usage.get(k, 0) + 1
        f = book_figures(book)
        if f is not None:
            c.reservations[f"{LOTS}{g.skus[s]}\x1f{g.locs[l]}"] = f
    c.network = network_digest(
        st.locations, st.channels, st.policy, st.thresholds.marks(), st.catalogue
    )
    return c


class Change:
    """What folding some rows did to the counters, against ``sp``.

    ``positions``: ``(sku, location) -> (before, after)`` figures, only
    those that changed; ``reservations``: ``id -> (before, after)`` (None:
    absent, or closed); ``usage``: key -> delta; ``network``: the network
    digest before and after, when the rows change the network.
    O(positions and reservations touched)."""

    __slots__ = ("fresh", "network", "positions", "reservations", "usage")

    def __init__(self, sp: Savepoint, st: LedgerState, rows: Iterable[tuple[Any, ...]]) -> None:
        g = st.grid
        self.positions: dict[tuple[str, str], tuple[PosFigures, PosFigures]] = {}
        cells: dict[Pos, PosFigures] = {}
        for p, (hold, res, safety, unsell) in sp.pos.items():
            cells[p] = (hold, res, safety or 0, 0 if unsell is None else sum(unsell))
        self.network: tuple[str, str] | None = None
        net = False
        born: list[Pos] = []
        for r in rows:  # positions interned by these rows were not in the grid before
            kind, sku, loc = r[1], r[2], r[3]
            net = net or kind in NETWORK_KINDS
            if sku and loc is not None and not sku.startswith("~"):
                s, l = g.sku_ix.get(sku), g.loc_ix.get(loc)
                if s is not None and l is not None and (s, l) not in cells:
                    new = s >= sp.n_skus or l >= sp.n_locs
                    cells[(s, l)] = (0, 0, 0, 0) if new else position_figures(st, (s, l))
                    if new and (s, l) in st.lots.by_pos:  # lotted since: no saved book
                        born.append((s, l))
        for p, before in cells.items():
            after = position_figures(st, p)
            if after != before:
                self.positions[(g.skus[p[0]], g.locs[p[1]])] = (before, after)
        if net:
            self.network = (
                _network_before(sp, st),
                network_digest(
                    st.locations, st.channels, st.policy, st.thresholds.marks(), st.catalogue
                ),
            )
        self.reservations: dict[str, tuple[ResFigures | None, ResFigures | None]] = {}
        for rid, old in sp.holds.items():
            rb = hold_figures(old, g) if isinstance(old, Hold) else None
            ra = hold_figures(st.holds.by_id.get(rid), g)
            if rb != ra:
                self.reservations[rid] = (rb, ra)
        for token, old_b in sp.batches.items():
            bb, ba = block_figures(old_b), block_figures(st.holds.batches.get(token))
            if bb != ba:
                self.reservations[token] = (bb, ba)
        for sid, rec in sp.supply.items():  # rec: (sku, loc, qty, eta, ...) before, or None
            sb = None if rec is None else supply_figures(rec[2], rec[3], sum(rec[7].values()))
            item = st.supply.by_id.get(sid)
            sa = None if item is None else supply_figures(item.qty, item.eta_us, item.nbooked)
            if sb != sa:
                self.reservations[SUPPLY + sid] = (sb, sa)
        for (sku, loc), (_low, was) in sp.thresholds.items():
            ab, aa = alert_figures(was), alert_figures(st.thresholds.count(sku, loc))
            if ab != aa:
                self.reservations[alert_id(sku, loc)] = (ab, aa)
        self.usage: dict[str, int] = {}
        for (ch, s), was in sp.chan_used.items():
            d = st.chan_used.get((ch, s), 0) - (was if isinstance(was, int) else 0)
            if d:
                self.usage[f"c|{ch}|{g.skus[s]}"] = d
        for (loc, day), was in sp.picks.items():
            d = st.picks.get((loc, day), 0) - (was if isinstance(was, int) else 0)
            if d:
                self.usage[f"p|{loc}|{day}"] = d
        lotted = [(p, (p in st.lots.by_pos) - (b is not None), b) for p, b in sp.books.items()]
        for p, d, was in [*lotted, *((p, 1, None) for p in born)] if lotted or born else ():
            if d:  # the position got its lots (or lost them: rolled back)
                k = f"l|lots|{g.skus[p[0]]}"
                self.usage[k] = self.usage.get(k, 0) + d
            fb, fa = book_figures(was), book_figures(st.lots.by_pos.get(p))
            if fb != fa:
                self.reservations[f"{LOTS}{g.skus[p[0]]}\x1f{g.locs[p[1]]}"] = (fb, fa)
        self.fresh = fresh_skus(sp, st)


def fresh_skus(sp: Savepoint, st: LedgerState) -> tuple[str, ...]:
    """SKUs these rows made known: named for the first time (new in the
    grid) and not declared before, or declared for the first time and never
    named before. A guarded store claims each (``SKU_CLAIM``), so the first
    movement of a SKU and its first ``add_sku`` cannot both land planned
    blind to each other: one would journal whole units, the other make them
    thousandths. O(SKUs new to the grid + declarations in the rows)."""
    g, was = st.grid, sp.catalogue
    out = {
        n
        for n in g.skus[sp.n_skus :]
        if not n.startswith("~") and (n not in st.catalogue or was.get(n, 0) is MISSING)
    }
    for n, before in was.items():
        i = g.sku_ix.get(n)
        if before is MISSING and (i is None or i >= sp.n_skus):
            out.add(n)
    return tuple(sorted(out)) if out else ()


def _network_before(sp: Savepoint, st: LedgerState) -> str:
    """The network digest as it was at ``sp`` (its saved entries put back)."""
    marks = {(s, loc): low for s, loc, low in st.thresholds.marks()}
    for k, (low, _n) in sp.thresholds.items():
        if low is None:
            marks.pop(k, None)
        else:
            marks[k] = low
    return network_digest(
        _put_back(st.locations, sp.locations, Location),
        _put_back(st.channels, sp.channels, Channel),
        sp.policy,
        [(s, loc, low) for (s, loc), low in marks.items()],
        _put_back(st.catalogue, sp.catalogue, Sku),
    )


def _put_back(now: dict[str, Any], saved: dict[str, Any], kind: type) -> dict[str, Any]:
    """``now`` with the savepoint's saved entries restored (an entry saved as
    anything but a ``kind`` did not exist then)."""
    out = dict(now)
    for k, v in saved.items():
        if isinstance(v, kind):
            out[k] = v
        else:
            out.pop(k, None)
    return out
