"""The PostgreSQL store's reads for a worker without a replica
(``Inventory.open(url, replica=False)``, ``scoped.py``): the counters of
the SKUs a command names, the journal rows of the reservations it names,
the holds due by the clock, and the network.

A mixin of ``PostgresStore``: it uses the store's read connection. Every
query here is served by an index (positions and usage by primary key,
rows by ``journal_ref_seq``, due holds by ``reservations_held_due``, paid
pickups due (no-shows) by ``reservations_paid_due``,
network rows by ``journal_network2``), so its cost follows what it reads,
never the size of the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..base import Counted, Row

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["NETWORK_KINDS", "Scoping"]

SUPPLY = "\x1fsupply:"
"""Prefix of an open supply item's record among the reservations'
(``ledger.deltas.SUPPLY``, spelt out: an adapter imports no core module)."""
NETWORK_KINDS = ("location-added", "channel-added", "policy-set", "sku-added")
"""The row kinds that define the network (``ledger.rows.Kind``; spelt out
here: an adapter imports no core module). ``journal_network2`` indexes them."""


class Scoping:
    """``counted``/``rows_of``/``network_rows`` of a ``PostgresStore``."""

    _reading: Callable[[str], AbstractContextManager[psycopg.Connection[Any]]]
    _ident: Callable[[], sql.Identifier]

    def counted(
        self, skus: Sequence[str], usage: Sequence[str], due_us: int | None, due_limit: int
    ) -> Counted:
        """One round trip, one snapshot: the positions of ``skus`` (every
        location), the ``usage`` counters named, the network's digest,
        (with ``due_us``) the ids of up to ``due_limit`` held reservations
        and blocks whose expiry is at or before it, and of paid pickups
        due for release as no-shows by then, earliest first, and
        which of ``skus`` the journal names at all. O(positions and keys
        read + due ids + one index probe a SKU), by index."""
        from psycopg import sql

        q = sql.SQL(
            "SELECT (SELECT digest FROM {0}.network),"
            " (SELECT coalesce(json_agg(json_build_array(sku, location, holdable, reserved,"
            "  safety, unsellable)), '[]') FROM {0}.positions WHERE sku = ANY(%(skus)s)),"
            " (SELECT coalesce(json_agg(json_build_array(k, n)), '[]') FROM {0}.usage"
            "  WHERE k = ANY(%(keys)s)),"
            " (SELECT coalesce(array_agg(id ORDER BY e, id), '{{}}') FROM (SELECT id, e FROM"
            "  ((SELECT id, expires_us e FROM {0}.reservations WHERE state = 'held'"
            "  AND expires_us <= %(due)s ORDER BY expires_us LIMIT %(lim)s) UNION ALL"
            "  (SELECT id, expires_us FROM {0}.reservations WHERE state = 'committed'"
            "  AND expires_us <= %(due)s ORDER BY expires_us LIMIT %(lim)s)) u"
            "  ORDER BY e, id LIMIT %(lim)s) d),"
            " (SELECT coalesce(array_agg(s), '{{}}') FROM unnest(%(skus)s::text[]) s"
            "  WHERE EXISTS (SELECT 1 FROM {0}.journal j WHERE j.sku = s))"
        ).format(self._ident())
        due = -(2**63) if due_us is None else due_us
        args = {"skus": list(skus), "keys": list(usage), "due": due, "lim": due_limit}
        with self._reading("read counters") as conn:
            row = conn.execute(q, args).fetchone()
        assert row is not None
        net, pos, use, due_ids, known = row
        pos = json.loads(pos) if isinstance(pos, str) else pos
        use = json.loads(use) if isinstance(use, str) else use
        return Counted(
            positions=[(p[0], p[1], (int(p[2]), int(p[3]), int(p[4]), int(p[5]))) for p in pos],
            usage={k: int(n) for k, n in use},
            network=net or "",
            due=tuple(due_ids),
            known=frozenset(known),
        )

    def rows_of(self, refs: Sequence[str]) -> list[Row]:
        """Every journal row whose ref is one of ``refs``, in seq order.
        O(rows read), by index."""
        from psycopg import sql

        if not refs:
            return []
        q = sql.SQL(
            "SELECT seq, ts_us, kind, sku, location, qty, ref, channel, key, data"
            ' FROM {}.journal WHERE ref COLLATE "C" = ANY(%s) ORDER BY seq'
        ).format(self._ident())
        with self._reading("read reservation rows") as conn:
            return [tuple(r) for r in conn.execute(q, (list(refs),))]

    def supply_refs(self, skus: Sequence[str]) -> list[str]:
        """Ids of the open supply items (purchase orders, transfers in
        transit) of ``skus``. O(supply rows of those SKUs), by the partial
        index ``journal_supply``."""
        from psycopg import sql

        if not skus:
            return []
        q = sql.SQL(
            "SELECT DISTINCT j.ref FROM {0}.journal j WHERE j.sku = ANY(%s)"
            " AND j.kind IN ('expected', 'transfer-out') AND j.ref IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM {0}.reservations r WHERE r.id = %s || j.ref)"
            " ORDER BY 1"
        ).format(self._ident())
        with self._reading("read open supply") as conn:
            return [str(r[0]) for r in conn.execute(q, (list(skus), SUPPLY))]

    def backordered_supply(self, skus: Sequence[str]) -> bool:
        """Whether an open supply item of ``skus`` has units promised to
        backorders (its counter's lines read ``qty/booked``, ``deltas``):
        what it may still promise is then a replica's to say. O(supply rows
        of those SKUs)."""
        from psycopg import sql

        if not skus:
            return False
        q = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {0}.journal j JOIN {0}.reservations r"
            " ON r.id = %s || j.ref WHERE j.sku = ANY(%s)"
            " AND j.kind IN ('expected', 'transfer-out') AND j.ref IS NOT NULL"
            " AND position('/' in r.lines) > 0)"
        ).format(self._ident())
        with self._reading("read backordered supply") as conn:
            row = conn.execute(q, (SUPPLY, list(skus))).fetchone()
            return bool(row and row[0])

    def network_rows(self) -> list[Row]:
        """The rows that define the network (locations, channels, policy),
        in seq order. O(network rows), by a partial index."""
        from psycopg import sql

        q = sql.SQL(
            "SELECT seq, ts_us, kind, sku, location, qty, ref, channel, key, data"
            " FROM {}.journal WHERE kind = ANY(%s) ORDER BY seq"
        ).format(self._ident())
        with self._reading("read the network") as conn:
            return [tuple(r) for r in conn.execute(q, (list(NETWORK_KINDS),))]
