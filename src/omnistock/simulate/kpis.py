"""Counting what a simulation did, and the KPIs it reports.

Definitions (every figure but the wall-time ones is a pure function of the
seed, the sizes and the policy, so two runs give identical KPIs):

- ``events_per_s``: simulated events applied per second of wall time
  (``wall_s``); the only figures that vary between runs.
- ``fill_rate.<channel>``: units reserved (or sold, for ``pos``) over units
  asked, at the time of the order. A POS sale fills when the shelf holds the
  units (``on_hand - unsellable``); otherwise the shopper leaves.
- ``split_rate``: allocated ship orders served from more than one location,
  over allocated ship orders.
- ``mean_ship_km``: mean great-circle distance from the shipping location to
  the shopper, per parcel (one parcel per location of an order).
- ``bopis_success``: pickup orders collected over pickup orders placed.
- ``paid_noshow_orders`` / ``paid_noshow_units``: pickup orders paid online
  (committed when placed) that were never collected, released by the
  ledger's clock as no-shows once the policy's pickup window and grace
  passed, and the units they gave back to stock. (``bopis_noshow`` counts
  the unpaid ones, whose holds expired.)
- ``shortage_units`` / ``resourced_units``: reserved units that a POS sale, a
  cycle count or a store's rejection left uncovered, and how many of them the
  policy re-sourced elsewhere (``shortages_resourced`` is the ratio).
- ``oversells``: positions at which a hold or an allocation left more units
  promised than can be promised, checked right after every reservation on
  each position it reserved at: ``on_hand - unsellable - reserved - safety
  >= 0``, which implies ``reserved <= on_hand - unsellable``. Must be 0.
  (A POS sale or a count may later take physical stock below what is
  reserved: that is a shortage, re-sourced, not an oversell.)
- ``amended`` / ``amend_refused``: paid orders amended (a unit more or
  less on a line, sometimes a SKU added; only the change is checked), and
  amendments refused for want of stock (nothing changed).
- ``partial_cancels``: paid orders with one unit of one line cancelled
  (``release(res_id, lines=)``).
- ``po_late`` / ``po_cancelled``: purchase orders re-dated when due (they
  arrive later; ``promise()`` leaves a PO out while it is overdue) and
  purchase orders cancelled by the supplier (``cancel_expected``; the DC
  is topped up again at the next replenishment).
- ``backorders`` / ``backordered_units``: ship orders (a ``backorder_rate``
  share may wait) that were allocated with units waiting on a PO or a
  transfer, and those units; ``backorder_converted_units``: backordered
  units that became on-hand reservations on receipt (in the order they
  were taken); ``backorder_resourced_units`` / ``backorder_short_units``:
  backordered units a late or cancelled PO moved (to stock or other
  supply) or left short (released); ``backorder_ship_waits``: shipments of
  a backorder that waited (what was on hand shipped), or a preorder still
  waiting on a late PO when its ship time came.
- ``preorders`` / ``preorders_taken`` / ``preorders_shipped``: web
  preorders of launched SKUs (``launches``); those the launch's PO could
  still cover (taken, paid, waiting on it); those shipped once it arrived.
- ``uncovered_at_end``: positions where, at the end, reserved exceeds the
  physical sellable units (shortages nothing could re-source).
- ``kit_orders`` / ``kit_orders_filled`` / ``kit_units`` / ``kit_shipped``:
  web orders for a gift box (a kit), those allocated whole at one location
  (paid at once), the kits they reserved and the orders shipped.
- ``fresh_orders`` / ``fresh_orders_filled`` / ``fresh_received_units`` /
  ``fresh_sold_units``: web orders for a fresh (lotted) item held at a
  store, those the store could serve, the units of the stores' morning
  deliveries, and fresh units sold at the tills.
- ``expired_units``: units of lots whose expiry passed during the run
  (``lot-expired`` rows journaled by the ledger's clock).
- ``recalls`` / ``recalled_units``: lots recalled and the sellable units
  they moved to quarantine at every location; ``recall_shortage_units`` /
  ``recall_resourced_units``: reserved units the recall uncovered, and how
  many of them were re-sourced elsewhere (the DCs' long-life lots).
- ``check_ok``: ``Inventory.check()``: the journal replayed from scratch
  equals the live ledger and every invariant holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WALL_FIELDS", "Tally", "compare_rows", "flatten", "format_kpis"]

WALL_FIELDS = ("wall_s", "events_per_s")
"""KPIs measured in wall time: excluded from determinism comparisons."""


@dataclass
class Tally:
    """Running counters of a simulation."""

    events: int = 0
    asked: dict[str, int] = field(default_factory=dict)
    filled: dict[str, int] = field(default_factory=dict)
    ship_orders: int = 0
    ship_allocated: int = 0
    ship_partial: int = 0
    split_orders: int = 0
    parcels: int = 0
    parcel_km: float = 0.0
    shipped: int = 0
    abandoned: int = 0
    cancelled: int = 0
    amended: int = 0
    amend_refused: int = 0
    partial_cancels: int = 0
    po_late: int = 0
    po_cancelled: int = 0
    backorders: int = 0
    backordered_units: int = 0
    backorder_converted_units: int = 0
    backorder_resourced_units: int = 0
    backorder_short_units: int = 0
    backorder_ship_waits: int = 0
    preorders: int = 0
    preorders_taken: int = 0
    preorders_shipped: int = 0
    bopis_orders: int = 0
    bopis_in_store: int = 0
    bopis_transfer: int = 0
    bopis_suggested: int = 0
    bopis_refused: int = 0
    bopis_collected: int = 0
    bopis_noshow: int = 0
    paid_noshow_orders: int = 0
    paid_noshow_units: int = 0
    pos_sales: int = 0
    pos_lost: int = 0
    shortage_units: int = 0
    resourced_units: int = 0
    rejections: int = 0
    rejections_resourced: int = 0
    returned_units: int = 0
    counts: int = 0
    received_units: int = 0
    transfers: int = 0
    oversells: int = 0
    uncovered_at_end: int = 0
    kit_orders: int = 0
    kit_orders_filled: int = 0
    kit_units: int = 0
    kit_shipped: int = 0
    fresh_orders: int = 0
    fresh_orders_filled: int = 0
    fresh_received_units: int = 0
    fresh_sold_units: int = 0
    expired_units: int = 0
    recalls: int = 0
    recalled_units: int = 0
    recall_shortage_units: int = 0
    recall_resourced_units: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def ask(self, channel: str, asked: int, filled: int) -> None:
        self.asked[channel] = self.asked.get(channel, 0) + asked
        self.filled[channel] = self.filled.get(channel, 0) + filled

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def kpis(self, wall_s: float, check_ok: bool, check_text: str) -> dict[str, Any]:
        """The KPIs, in report order (see the module doc)."""

        def ratio(a: float, b: float) -> float:
            return round(a / b, 4) if b else 0.0

        fill = {ch: ratio(self.filled.get(ch, 0), self.asked[ch]) for ch in sorted(self.asked)}
        return {
            "events": self.events,
            "wall_s": round(wall_s, 3),
            "events_per_s": round(self.events / wall_s, 1) if wall_s > 0 else 0.0,
            "fill_rate": fill,
            "split_rate": ratio(self.split_orders, self.ship_allocated),
            "mean_ship_km": round(self.parcel_km / self.parcels, 2) if self.parcels else 0.0,
            "bopis_success": ratio(self.bopis_collected, self.bopis_orders),
            "shortages_resourced": ratio(self.resourced_units, self.shortage_units),
            "oversells": self.oversells,
            "check_ok": check_ok,
            "ship_orders": self.ship_orders,
            "ship_allocated": self.ship_allocated,
            "ship_partial": self.ship_partial,
            "shipped": self.shipped,
            "abandoned": self.abandoned,
            "cancelled": self.cancelled,
            "amended": self.amended,
            "amend_refused": self.amend_refused,
            "partial_cancels": self.partial_cancels,
            "po_late": self.po_late,
            "po_cancelled": self.po_cancelled,
            "backorders": self.backorders,
            "backordered_units": self.backordered_units,
            "backorder_converted_units": self.backorder_converted_units,
            "backorder_resourced_units": self.backorder_resourced_units,
            "backorder_short_units": self.backorder_short_units,
            "backorder_ship_waits": self.backorder_ship_waits,
            "preorders": self.preorders,
            "preorders_taken": self.preorders_taken,
            "preorders_shipped": self.preorders_shipped,
            "parcels": self.parcels,
            "bopis_orders": self.bopis_orders,
            "bopis_in_store": self.bopis_in_store,
            "bopis_transfer": self.bopis_transfer,
            "bopis_suggested": self.bopis_suggested,
            "bopis_refused": self.bopis_refused,
            "bopis_collected": self.bopis_collected,
            "bopis_noshow": self.bopis_noshow,
            "paid_noshow_orders": self.paid_noshow_orders,
            "paid_noshow_units": self.paid_noshow_units,
            "pos_sales": self.pos_sales,
            "pos_lost": self.pos_lost,
            "shortage_units": self.shortage_units,
            "resourced_units": self.resourced_units,
            "rejections": self.rejections,
            "rejections_resourced": self.rejections_resourced,
            "returned_units": self.returned_units,
            "counts": self.counts,
            "received_units": self.received_units,
            "transfers": self.transfers,
            "uncovered_at_end": self.uncovered_at_end,
            "kit_orders": self.kit_orders,
            "kit_orders_filled": self.kit_orders_filled,
            "kit_units": self.kit_units,
            "kit_shipped": self.kit_shipped,
            "fresh_orders": self.fresh_orders,
            "fresh_orders_filled": self.fresh_orders_filled,
            "fresh_received_units": self.fresh_received_units,
            "fresh_sold_units": self.fresh_sold_units,
            "expired_units": self.expired_units,
            "recalls": self.recalls,
            "recalled_units": self.recalled_units,
            "recall_shortage_units": self.recall_shortage_units,
            "recall_resourced_units": self.recall_resourced_units,
            "command_errors": dict(sorted(self.errors.items())),
            "check": check_text,
        }


def flatten(kpis: dict[str, Any]) -> dict[str, Any]:
    """One level: ``fill_rate: {web: ..}`` becomes ``fill_rate.web``."""
    out: dict[str, Any] = {}
    for k, v in kpis.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = v2
        else:
            out[k] = v
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def format_kpis(kpis: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows for display."""
    rows = []
    for k, v in flatten(kpis).items():
        if k == "check":
            continue
        if k.startswith("fill_rate.") or k in (
            "split_rate",
            "bopis_success",
            "shortages_resourced",
        ):
            rows.append((k, f"{v:.1%}"))
        else:
            rows.append((k, _fmt(v)))
    return rows


def compare_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], int]:
    """A side-by-side table of several runs' KPIs: the KPI, each run's value
    and, for every run after the first, its difference from the first.
    Returns the KPI names, the cells and how many non-wall-time KPIs differ."""
    flat = [flatten(r) for r in runs]
    names = [k for k in flat[0] if k != "check"]
    for f in flat[1:]:
        names += [k for k in f if k not in names and k != "check"]
    cells: list[list[str]] = []
    differing = 0
    for k in names:
        vals = [f.get(k) for f in flat]
        row = [_fmt(v) if v is not None else "-" for v in vals]
        base = vals[0]
        differs = False
        for v in vals[1:]:
            if (
                isinstance(v, int | float)
                and isinstance(base, int | float)
                and not isinstance(v, bool)
            ):
                d = v - base
                row.append("0" if d == 0 else (f"{d:+.4g}" if isinstance(d, float) else f"{d:+,}"))
                differs = differs or d != 0
            else:
                same = v == base
                row.append("=" if same else "differs")
                differs = differs or not same
        if differs and k not in WALL_FIELDS:
            differing += 1
        cells.append(row)
    return names, cells, differing
