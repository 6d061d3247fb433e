"""The ledger's invariants, checked over a whole ``LedgerState``.

``violations(st)`` lists every broken invariant as a sentence; empty means
sound. ``check()`` runs it on the live ledger and on a fresh replay. It
reads the state and changes nothing. O(positions + reservation lines).

The invariants: no figures outside the used positions; ``reserved`` at
every position is the sum of the open reservations' and blocks' lines
there, and never negative; open reservations hold lines (or units in
transit for them), closed ones none; a reservation has an expiry exactly
while it is held, and the expiry and position indexes list exactly that;
blocks are well formed and no member is both in a block and detached; the
per-channel reserved units match the reservations; safety stock,
unsellable units and supply quantities are never negative; and every term
of the ATP formula stays within its bound (``breach``; ``_validate.MAX_QTY``
says why), so a ledger that got past one (an old journal) is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import MAX_QTY
from . import heldbatches, lotfold
from .fold import per_sku
from .grid import N_STATES
from .holds import COMMITTED, HELD, OPEN

if TYPE_CHECKING:
    from .fields import LedgerFields as LedgerState


def breach(
    holdable: int, reserved: int, safety: int, unsell: Sequence[int]
) -> tuple[str, object, str] | None:
    """The first term of one position outside its bound, as ``(term, value,
    "past 2**62" or "below ...")``; None when every term is within. The
    bounds: ``|on_hand|, |holdable|, |atp| <= 2**62``; ``reserved``,
    ``safety``, each unsellable state and their sum in ``[0, 2**62]``.
    Python ints. O(1)."""
    b = MAX_QTY
    u = sum(unsell)
    on_hand, atp = holdable + safety + u, holdable - reserved
    if (
        -b <= on_hand <= b
        and -b <= holdable <= b
        and -b <= atp <= b
        and 0 <= reserved <= b
        and 0 <= safety <= b
        and 0 <= u <= b
        and (not unsell or min(unsell) >= 0)
    ):  # the common case, a few compares
        return None
    terms = (
        ("on_hand", on_hand, -b),
        ("unsellable", u, 0),
        ("safety", safety, 0),
        ("reserved", reserved, 0),
        ("holdable", holdable, -b),
        ("atp", atp, -b),
    )
    for name, v, lo in terms:
        if v > b:
            return name, v, "past 2**62"
        if v < lo:
            return name, v, "below -2**62" if lo else "below 0"
    if unsell and min(unsell) < 0:
        return "unsellable", list(unsell), "below 0"
    return None


def violations(st: LedgerState) -> list[str]:
    """Every broken invariant of ``st``, as sentences. Empty means sound."""
    out: list[str] = []
    g = st.grid
    ns, nl = g.shape
    _, res = g.used()
    if (
        (g.holdable[ns:, :] != 0).any()
        or (g.holdable[:, nl:] != 0).any()
        or (g.reserved[ns:, :] != 0).any()
        or (g.reserved[:, nl:] != 0).any()
    ):
        out.append("grid holds figures outside the used positions")
    expect = np.zeros_like(res)
    earmarked = {i.res for i in st.supply.by_id.values() if i.res is not None}
    out += _block_violations(st, expect)
    for h in st.holds.by_id.values():
        if h.state in OPEN:
            if not h.lines and not h.waiting and h.id not in earmarked:
                out.append(f"open reservation {h.id} has no lines and nothing in transit")
        elif h.lines or h.waiting:
            out.append(f"closed reservation {h.id} ({h.state}) still holds units")
        # Held: an expiry; a paid pickup: a no-show due time, or none (kept).
        paid_pickup = h.state == COMMITTED and h.pickup is not None
        if not paid_pickup and (h.state == HELD) != (h.expires_us is not None):
            out.append(f"reservation {h.id} ({h.state}) has expiry {h.expires_us}")
        if h.expires_us is not None and (h.expires_us, h.id) not in st.holds.expiry:
            out.append(f"held reservation {h.id} missing from the expiry index")
        if h.kits:
            out += _kit_violations(st, h)
        for (s, l), q in h.lines.items():
            if q <= 0:
                out.append(f"reservation {h.id} has line qty {q}")
            expect[s, l] += q
            if h.id not in st.holds.by_pos.get((s, l), {}):
                out.append(f"reservation {h.id} missing from position index")
    if len(st.holds.expiry) != sum(1 for h in st.holds.by_id.values() if h.expires_us is not None):
        out.append("expiry index lists reservations that are not held")
    bad = np.argwhere(expect != res)
    for s, l in bad[:10]:
        out.append(
            f"reserved at ({g.skus[s]}, {g.locs[l]}) is {res[s, l]}, "
            f"reservations sum to {expect[s, l]}"
        )
    out += _channel_violations(st)
    if (res < 0).any():
        out.append("a position has negative reserved")
    for p, v in g.safety.items():
        if v < 0:
            out.append(f"negative safety at {p}")
    for p, u in g.unsell.items():
        if len(u) != N_STATES or min(u) < 0:
            out.append(f"negative unsellable at {p}: {u}")
    out += _bound_violations(st)
    out += lotfold.violations(st)
    for item in st.supply.by_id.values():
        if not 0 < item.qty <= MAX_QTY:
            out.append(f"supply {item.id} has qty {item.qty}")
    out += _backorder_violations(st)
    return out


def _backorder_violations(st: LedgerState) -> list[str]:
    """Backordered units: what each supply item has promised to backorders
    is positive and within its remaining units (supply is never promised
    twice), and matches what the reservations say they wait for.
    O(backorders)."""
    out = []
    waits: dict[tuple[str, str], int] = {}
    for h in st.holds.by_id.values():
        for sid, q in h.waiting.items():
            waits[(sid, h.id)] = q
            if q <= 0:
                out.append(f"reservation {h.id} waits for {q} units of supply {sid}")
    booked: dict[tuple[str, str], int] = {}
    for item in st.supply.by_id.values():
        total = sum(item.booked.values())
        if total != item.nbooked:
            out.append(f"supply {item.id} counts {item.nbooked} units booked, lists {total}")
        if total > item.qty:
            out.append(f"supply {item.id} promises {total} units to backorders, has {item.qty}")
        if item.booked and item.res is not None:
            out.append(f"supply {item.id} is earmarked for {item.res} and backordered")
        for rid, q in item.booked.items():
            booked[(item.id, rid)] = q
    if waits != booked:
        out.append("backordered units disagree with what the supply items promise")
    return out


def _kit_violations(st: LedgerState, h: Any) -> list[str]:
    """A reservation's kits (``kits.py``) are declared, positive, and its
    component units at each kit's location make them up."""
    out: list[str] = []
    need: dict[tuple[int, int], int] = {}
    g = st.grid
    for (kit, l), n in h.kits.items():
        comps = st.kits.get(kit)
        if comps is None or n <= 0:
            out.append(f"reservation {h.id} holds {n} of undeclared or empty kit {kit!r}")
            continue
        for c, q in comps.items():
            p = (g.sku_ix.get(c, -1), l)
            need[p] = need.get(p, 0) + n * q
    for p, q in need.items():
        have = h.lines.get(p, 0)
        if have < q:
            out.append(f"reservation {h.id}: kits need {q} units at {p}, it holds {have}")
    return out


def _bound_violations(st: LedgerState) -> list[str]:
    """Terms past their bound (``breach``): the grids in numpy, the positions
    with safety or unsellable units one by one. O(positions)."""
    g = st.grid
    hold, res = g.used()
    b = MAX_QTY
    wild = (hold > b) | (hold < -b) | (res > b) | (res < 0)
    atp = np.where(wild, 0, hold) - np.where(wild, 0, res)  # cannot wrap
    bad = {(int(s), int(l)) for s, l in np.argwhere(wild | (atp > b) | (atp < -b))}
    bad.update(p for p in (*g.safety, *g.unsell) if p[0] < hold.shape[0] and p[1] < hold.shape[1])
    out = []
    for s, l in sorted(bad):
        p = (s, l)
        why = breach(int(hold[s, l]), int(res[s, l]), g.safety.get(p, 0), g.unsell.get(p, ()))
        if why is not None:
            name, v, bound = why
            out.append(f"{name} at ({g.skus[s]}, {g.locs[l]}) is {v}, {bound}")
    return out[:10] + ([f"... and {len(out) - 10} more"] if len(out) > 10 else [])


def _channel_violations(st: LedgerState) -> list[str]:
    """The per-channel reserved units (``chan_used``) recounted."""
    used: dict[tuple[str, int], int] = {}
    for h in st.holds.by_id.values():
        if h.channel is not None:
            for (s, _), q in h.lines.items():
                used[(h.channel, s)] = used.get((h.channel, s), 0) + q
    for b in st.holds.batches.values():
        m = b.live_lines()
        if b.channel is not None:
            for a, v in per_sku(b.s[m], b.q[m]):
                used[(b.channel, a)] = used.get((b.channel, a), 0) + v
    if used != st.chan_used:
        return ["per-channel reserved units disagree with the reservations"]
    return []


def _block_violations(st: LedgerState, expect: np.ndarray) -> list[str]:
    """Check every block; add its reserved lines to ``expect``."""
    out = []
    hs = st.holds
    detached: dict[str, list[str]] = {}  # token -> orders of its detached members
    for rid in hs.by_id:
        parts = heldbatches.split_rid(rid)
        if parts is not None and parts[1] in hs.batches:
            detached.setdefault(parts[1], []).append(parts[0])
    for token, b in hs.batches.items():
        if b.n_live != int(b.live.sum()) or b.n_live <= 0:
            out.append(f"block {token} counts {b.n_live} members, holds {b.live.sum()}")
        if ((b.exp, token) in hs.batch_expiry) == b.expired:
            out.append(f"block {token} (expired={b.expired}) misfiled in the expiry index")
        if (
            len(b.start) != len(b.orders) + 1
            or int(b.start[-1]) != len(b.s)
            or (np.diff(b.start) <= 0).any()
            or (b.q <= 0).any()
        ):
            out.append(f"block {token} has malformed lines")
        m = b.live_lines()
        np.add.at(expect, (b.s[m], b.l[m]), b.q[m])
        for order in detached.get(token, ()):
            j = b.index(order)
            if j is not None and b.live[j]:
                out.append(f"reservation {b.rid(j)} is both in block {token} and detached")
    if len(hs.batch_expiry) != sum(1 for b in hs.batches.values() if not b.expired):
        out.append("block expiry index lists blocks that are not held")
    return out
