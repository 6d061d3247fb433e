"""The face's supply commands: purchase orders (``expect``,
``cancel_expected``, ``redate``) and transfers (``transfer``,
``receive_transfer``, ``close_transfer``).

``Inventory`` (``inventory.py``) takes these methods from ``SupplyFace``:
each checks its arguments and asks the runner to commit a plan function
from ``commands/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._validate import check_id, check_opt_id, check_qty, check_when, to_micros
from .command import PlanFn, R, Then
from .commands import purchases, stock, transfers
from .fulfilment.backorders import resupply_after
from .fulfilment.resourcing import resource_lost
from .scoped import Scope
from .values import Applied, Transfer


class SupplyFace:
    """The supply half of ``Inventory``'s commands."""

    def _run(
        self, name: str, plan: PlanFn[R], key: str | None = None, args: Any = None,
        then: Then[R] | None = None, scope: Scope | None = None,
    ) -> R:  # fmt: skip
        raise AssertionError("Inventory._run")  # pragma: no cover - Inventory defines it

    def expect(
        self,
        sku: str,
        location: str,
        qty: int,
        eta: datetime,
        ref: str | None = None,
        key: str | None = None,
    ) -> str:
        """Record incoming supply (a purchase order line) due at ``eta``;
        returns its id. Not in ATP; ``promise()`` counts it."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = to_micros(check_when("eta", eta))
        check_opt_id("ref", ref)
        plan = lambda st, cx: stock.expect(st, cx, sku, location, q, eta_us, ref)  # noqa: E731
        return self._run("expect", plan, key, [sku, location, q, eta_us, ref])

    def cancel_expected(self, po_id: str, key: str | None = None) -> Applied:
        """The units still expected on PO line ``po_id`` (from ``expect``)
        will not come: they leave ``promise()``. Backorders waiting on them
        move, oldest first, to stock on hand at their location, else to the
        next supply due there; the rest are released (the result's
        ``resourced``, newest first). Raises ``UnknownSupply`` for a PO line
        that is not open (cancelling twice included)."""
        check_id("po_id", po_id)
        moved: dict[str, Any] = {}
        plan = lambda st, cx: purchases.cancel_expected(st, cx, po_id, moved)  # noqa: E731
        then = resupply_after(moved, "purchase order cancelled")
        return self._run("cancel_expected", plan, key, [po_id], then)  # type: ignore[no-any-return]

    def redate(self, po_id: str, eta: datetime, key: str | None = None) -> Applied:
        """PO line ``po_id`` is now due at ``eta``: ``promise()`` dates its
        units by it (an overdue PO, which ``promise()`` leaves out, is
        promised again). Later than it was: backorders waiting on it move
        to stock on hand or to supply due sooner where there is some (the
        result's ``resourced``); the rest keep waiting. Raises
        ``UnknownSupply`` if it is not open."""
        check_id("po_id", po_id)
        eta_us = to_micros(check_when("eta", eta))
        moved: dict[str, Any] = {}
        plan = lambda st, cx: purchases.redate(st, cx, po_id, eta_us, moved)  # noqa: E731
        then = resupply_after(moved, "purchase order late")
        return self._run("redate", plan, key, [po_id, eta_us], then)  # type: ignore[no-any-return]

    def transfer(
        self,
        sku: str,
        source: str,
        destination: str,
        qty: int,
        eta: datetime | None = None,
        key: str | None = None,
    ) -> Transfer:
        """Send ``qty`` units free at ``source`` to ``destination``: they
        leave now, are in transit (``promise()`` counts them) and arrive
        with ``receive_transfer``. ``eta`` defaults to the policy's lead time."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = None if eta is None else to_micros(check_when("eta", eta))
        plan = lambda st, cx: transfers.transfer(st, cx, sku, source, destination, q, eta_us)  # noqa: E731
        return self._run("transfer", plan, key, [sku, source, destination, q, eta_us])

    def receive_transfer(
        self, transfer_id: str, qty: int | None = None, key: str | None = None
    ) -> Applied:
        """Units of a transfer arrive at its destination (all, or ``qty``).
        Units earmarked for an open reservation arrive reserved for it."""
        check_id("transfer_id", transfer_id)
        q = None if qty is None else check_qty("qty", qty)
        plan = lambda st, cx: transfers.receive_transfer(st, cx, transfer_id, q)  # noqa: E731
        return self._run("receive_transfer", plan, key, [transfer_id, q])

    def close_transfer(self, transfer_id: str, key: str | None = None) -> Applied:
        """Close a transfer short: the units not received are journaled as
        lost in transit and leave ``promise()``. A pickup order waiting on
        them is re-sourced by a new transfer into its store (the result's
        ``resourced``), or released if nothing is left for it. Closing
        twice, or an id that is no transfer in transit, raises
        ``UnknownSupply``."""
        check_id("transfer_id", transfer_id)
        lost: dict[str, Any] = {}
        moved: dict[str, Any] = {}
        plan = lambda st, cx: transfers.close_transfer(st, cx, transfer_id, lost, moved)  # noqa: E731
        then = resupply_after(moved, "lost in transit", resource_lost(lost))
        return self._run("close_transfer", plan, key, [transfer_id], then)  # type: ignore[no-any-return]
