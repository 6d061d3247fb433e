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
unsellable units and supply quantities are never negative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import heldbatches
from .fold import per_sku
from .grid import N_STATES
from .holds import HELD, OPEN

if TYPE_CHECKING:
    from .state import LedgerState


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
            if not h.lines and h.id not in earmarked:
                out.append(f"open reservation {h.id} has no lines and nothing in transit")
        elif h.lines:
            out.append(f"closed reservation {h.id} ({h.state}) still holds units")
        if (h.state == HELD) != (h.expires_us is not None):
            out.append(f"reservation {h.id} ({h.state}) has expiry {h.expires_us}")
        if h.expires_us is not None and (h.expires_us, h.id) not in st.holds.expiry:
            out.append(f"held reservation {h.id} missing from the expiry index")
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
    for item in st.supply.by_id.values():
        if item.qty <= 0:
            out.append(f"supply {item.id} has qty {item.qty}")
    return out


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
