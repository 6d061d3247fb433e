"""The expiry plan: every hold and held batch due by the clock.

Expiry is lazy: the runner plans it first in any commit (and before any
query) once something is due, so correctness never waits for a cron job.
Each reservation's expiry is journaled once, as ``expired`` rows (one per
line) or one ``expired-batch`` row per held batch.
"""

from __future__ import annotations

import json

import numpy as np

from .ledger import heldbatches
from .ledger.rows import Kind, make
from .ledger.state import LedgerState
from .planning import Context, Plan, done
from .storage import NewRow


def plan_expiry(st: LedgerState, cx: Context) -> Plan[None]:
    """Rows expiring what is due at ``cx.now``. O(lines expiring + batches)."""
    due = st.holds.due(cx.now)
    batches = st.holds.due_batches(cx.now)
    rows: list[NewRow] = []
    if not due and not batches:
        return Plan(rows, [], done(None))
    g, ts = st.grid, cx.ts
    for rid in due:
        h = st.holds.by_id[rid]
        for (s, l), q in h.lines.items():
            rows.append(
                make(
                    Kind.EXPIRED,
                    ts,
                    sku=g.skus[s],
                    location=g.locs[l],
                    qty=q,
                    ref=rid,
                    channel=h.channel,
                )
            )
    for token in batches:
        b = st.holds.batches[token]
        m = b.live_lines()
        names = [g.skus[i] for i in np.unique(b.s[m]).tolist()]
        members = [b.orders[j] for j in b.live_members()]
        text = json.dumps(
            {"orders": heldbatches.pack_strs(members), "skus": heldbatches.pack_strs(names)},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        qty = int(b.q[m].sum())
        rows.append(
            make(
                Kind.EXPIRED_BATCH,
                ts,
                sku=heldbatches.BATCH_SKU,
                qty=qty,
                ref=token,
                channel=b.channel,
                data=text,
            )
        )
    return Plan(rows, [None] * len(rows), done(None))
