"""Kits (bundles): a SKU made of other SKUs, with no stock of its own.

A ``kit-added`` row declares ``kit -> {component: qty}``; ``Kits`` keeps the
definitions (a ``dict``, so a plain SKU costs one dict miss) and, per
component, the kits that use it. Components are plain SKUs: a kit is never
a component (no nesting, so no cycles), and a kit never has a position of
its own in the grid.

A kit's ATP at a location is ``min over components of floor(atp / qty)``
(``kit_atp``). A reservation's kit lines are its component lines, all at
one location; ``kit-held`` rows record how many kits they make up
(``Hold.kits``). Whatever takes component units out of a reservation
(release, expiry, shipment, rejection) leaves it with at most the kits its
remaining component units still make up (``clamp``), so no row kind but
``kit-held`` needs to know about kits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fields import LedgerFields
    from .grid import Grid
    from .holds import Hold

__all__ = ["Kits", "clamp", "kit_atp", "kit_terms"]


MEMO_MAX = 4096
"""Entries ``Kits.memo`` keeps before it starts afresh."""


class Kits(dict[str, dict[str, int]]):
    """Kit -> its components ``{sku: qty}`` (sorted by SKU); ``of`` maps a
    component to the kits that use it."""

    __slots__ = ("memo", "of")

    def __init__(self) -> None:
        super().__init__()
        self.of: dict[str, tuple[str, ...]] = {}
        # Values derived from the definitions by the plans (a kit line's
        # component lines), dropped whenever a definition comes or goes.
        self.memo: dict[Any, Any] = {}

    def define(self, kit: str, components: dict[str, int]) -> None:
        """Add (or put back) a definition. O(components)."""
        self[kit] = dict(sorted(components.items()))
        self.reindex()

    def forget(self, kit: str) -> None:
        """Drop a definition (a savepoint rolling back its row)."""
        self.pop(kit, None)
        self.reindex()

    def reindex(self) -> None:
        self.memo = {}
        of: dict[str, list[str]] = {}
        for kit, comps in sorted(self.items()):
            for c in comps:
                of.setdefault(c, []).append(kit)
        self.of = {c: tuple(ks) for c, ks in of.items()}


def _atp(g: Grid, sku: str, l: int) -> int:
    s = g.sku_ix.get(sku)
    return 0 if s is None else g.atp(s, l)


def kit_terms(g: Grid, comps: dict[str, int], l: int) -> list[tuple[str, int, int, int]]:
    """Per component at location column ``l``: ``(sku, qty per kit, its atp,
    kits it allows = floor(atp / qty))``. A component never stocked has ATP 0."""
    out = []
    for c, q in comps.items():
        a = _atp(g, c, l)
        out.append((c, q, a, a // q))
    return out


def kit_atp(g: Grid, comps: dict[str, int], l: int) -> int:
    """Kits buildable at location column ``l``: the least ``floor(atp /
    qty)`` over the components (negative when a component is). O(components)."""
    return min(_atp(g, c, l) // q for c, q in comps.items())


def clamp(st: LedgerFields, h: Hold) -> None:
    """Bring ``h.kits`` within what its component lines still make up (each
    (kit, location) keeps ``min(kits, floor(units / qty))``). Called by the
    fold whenever units leave a reservation that has kits."""
    g = st.grid
    for k, n in list(h.kits.items()):
        kit, l = k
        comps = st.kits.get(kit, {})
        for c, q in comps.items():
            s = g.sku_ix.get(c)
            have = 0 if s is None else h.lines.get((s, l), 0)
            n = min(n, have // q)
        if n > 0:
            h.kits[k] = n
        else:
            del h.kits[k]
