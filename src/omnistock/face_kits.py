"""The face's kit methods: declare a kit (bundle) and read the definitions.

``Inventory`` (``inventory.py``) takes these methods from ``KitFace``. Kit
lines work everywhere a line does (``hold``, ``allocate``, ``release``,
``ship``, ``sell``, ``return_items``, ``reject``), and kit SKUs in
``available``, ``explain`` and ``promise``: see ``ledger/kits.py`` and
``commands/kits.py``, and docs/concepts.md "Kits and bundles".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._validate import check_id, check_qty
from .command import PlanFn, R, Then
from .commands import kits
from .errors import InvalidInput
from .queries import Reader
from .runner import Runner
from .scoped import Scope

MAX_COMPONENTS = 1000
"""Components a kit may have."""


def components_arg(kit: str, components: Any) -> dict[str, int]:
    """``components`` as ``{sku: qty}``: a non-empty mapping of ids to
    positive whole quantities, none of them the kit itself."""
    if not isinstance(components, Mapping):
        raise InvalidInput("components", components, "must be a mapping {sku: qty}")
    if not components:
        raise InvalidInput("components", components, "must name at least one component")
    if len(components) > MAX_COMPONENTS:
        raise InvalidInput("components", len(components), f"more than {MAX_COMPONENTS}")
    out: dict[str, int] = {}
    for c, q in components.items():
        check_id("components", c)
        if c == kit:
            raise InvalidInput("components", c, "a kit cannot contain itself")
        out[c] = check_qty(f"components[{c!r}]", q)
    return out


class KitFace:
    """The kit half of ``Inventory``'s commands."""

    _runner: Runner
    _reader: Reader

    def _run(
        self, name: str, plan: PlanFn[R], key: str | None = None, args: Any = None,
        then: Then[R] | None = None, scope: Scope | None = None,
    ) -> R:  # fmt: skip
        raise AssertionError("Inventory._run")  # pragma: no cover - Inventory defines it

    def add_kit(
        self, kit_sku: str, components: Mapping[str, int], key: str | None = None
    ) -> dict[str, int]:
        """Declare ``kit_sku`` as a kit of ``components`` (``{sku: qty per
        kit}``); returns the definition. Journaled: every process on the
        store sees it. A kit has no stock of its own: its ATP at a location
        is the least ``floor(atp / qty)`` over its components, and each
        kit line of an order is reserved, shipped, sold and returned as its
        components, all at one location. Declaring the same kit again is a
        no-op; another definition, a kit SKU that already has rows as a
        plain SKU, a component that is a kit (kits do not nest) or the kit
        itself raise ``InvalidInput`` and write nothing."""
        check_id("kit_sku", kit_sku)
        comps = components_arg(kit_sku, components)
        plan = lambda st, cx: kits.add_kit(st, cx, kit_sku, comps)  # noqa: E731
        return self._run("add_kit", plan, key, [kit_sku, sorted(comps.items())])

    def kits(self) -> dict[str, dict[str, int]]:
        """Every kit declared: ``{kit: {component: qty}}``."""
        return self._reader.kits()
