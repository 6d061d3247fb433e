"""The stateful machine of ``test_stateful.py`` with backorders (issue 15,
item 2): every rule of ``LedgerMachine`` still runs, against
``model_backorders.BackorderModel``, plus backordered holds (pinned lines
that wait on PO lines), and their commit, extend, release and refused
ship; receipts against a PO convert them, cancelling or re-dating a PO
re-sources them. The shared rules draw only reservations that wait for
nothing (what they do to a waiting one is the rules below').

Examples per store: ``OMNISTOCK_STATEFUL_EXAMPLES`` (both), or
``OMNISTOCK_STATEFUL_MEMORY_EXAMPLES`` / ``OMNISTOCK_STATEFUL_SQLITE_EXAMPLES``;
a quarter of ``test_stateful``'s by default.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import assume, note
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from model import Location as ModelLocation
from model import Refused
from model_backorders import BackorderModel
from test_stateful import LOCS, SKUS, TTLS, MemoryMachine, SQLiteMachine, _settings, keyed, norm

from omnistock import Line, Order, errors


class BackorderRules:
    """Rules mixed into a ``LedgerMachine`` (memory or SQLite)."""

    model: BackorderModel
    clock: Any
    keyed: list[Any]
    n_keys: int
    i: Any

    def _use_backorder_model(self) -> None:
        self.model = BackorderModel(
            SKUS,
            [ModelLocation("A"), ModelLocation("B"), ModelLocation("W", accepts_returns=False)],
        )

    def waiting(self) -> list[str]:
        self.model.expire(self.clock.now)
        return [rid for rid in self.model.res if self.model.waits(rid)]

    def draw_res(self, data: st.DataObject, states: tuple[str, ...] = ("held", "committed")) -> str:
        """As ``LedgerMachine.draw_res``, among reservations waiting for nothing."""
        self.model.expire(self.clock.now)
        ok = [rid for rid in self.model.res if not self.model.waits(rid)]
        assume(ok)
        live = [rid for rid in ok if self.model.res[rid].state in states]
        pool = live if live and data.draw(st.integers(0, 3), label="any") != 3 else None
        return data.draw(st.sampled_from(pool or ok), label="res_id")

    def direct(self, real: Callable[[str | None], Any], model: Callable[[], Any], key: bool) -> Any:
        """Both sides run; both refuse alike or give equal results (the
        re-sourcing of backorders is in the model's result already)."""
        self.model.expire(self.clock.now)
        k = None
        if key:
            self.n_keys += 1
            k = f"k{self.n_keys}"
        try:
            want = model()
        except Refused as refused:
            before = (self.i.digest(), self.i.head)
            with pytest.raises(getattr(errors, refused.kind)):
                real(k)
            assert (self.i.digest(), self.i.head) == before, "a refused command changed state"
            return None
        note(f"{self.model.trace[-1]} key={k} -> {want}")
        got = norm(real(k))
        assert got == want, f"real {got} != model {want}"
        self.model.crossings()
        if k is not None:
            self.keyed.append((k, real, got))
        return got

    # -- backorders ------------------------------------------------------------------
    @rule(
        order=st.sampled_from([f"b{n}" for n in range(1, 9)]),
        data=st.data(),
        ttl=st.sampled_from([*TTLS, 86400, 86400]),
        key=keyed,
    )
    def hold_backorder(self, order: str, data: st.DataObject, ttl: int, key: bool) -> None:
        """1-2 pinned lines, mostly where a PO line is due (so backorders
        share one), sometimes anywhere."""
        now = self.clock.now
        m = self.model
        m.expire(now)
        due = sorted(
            (po[0], po[1], m.free(sid), sid)
            for sid, po in m.supply.items()
            if po[3] >= now and m.free(sid) > 0
        )
        due += [d for d in due if m.booked.get(d[3])] * 2  # often a PO others wait on
        lines: list[tuple[str, int, str]] = []
        for _ in range(data.draw(st.sampled_from([1, 1, 1, 2]), label="n_lines")):
            if due and data.draw(st.integers(0, 4), label="anywhere") != 4:
                sku, loc, free, _ = data.draw(st.sampled_from(due), label="at_po")
                more = max(0, m.p(sku, loc).atp)  # past the stock there: it waits
                qty = more + data.draw(st.integers(1, max(1, free // 2)), label="qty")
            else:
                sku = data.draw(st.sampled_from(SKUS[:2]), label="sku")
                loc = data.draw(st.sampled_from(LOCS), label="loc")
                qty = data.draw(st.integers(1, 6), label="qty")
            lines.append((sku, qty, loc))
        o = Order(order, lines=[Line(*x) for x in lines], backorder=True)
        self.direct(
            lambda k: self.i.hold(o, ttl=ttl, key=k),
            lambda: self.model.hold_backorder(order, lines, now, timedelta(seconds=ttl)),
            key,
        )

    # Backorders are what this machine is about: twice the weight of a rule.
    hold_backorder_again = hold_backorder

    @rule(
        sku=st.sampled_from(SKUS[:2]),
        loc=st.sampled_from(LOCS),
        qty=st.integers(3, 12),
        days=st.integers(1, 3),
    )
    def expect_later(self, sku: str, loc: str, qty: int, days: int) -> None:
        """A PO line due in days (the shared rule's are mostly due soon and
        overdue a few steps later: never waited for)."""
        eta = self.clock.now + timedelta(days=days)
        self.model.expire(self.clock.now)
        assert self.i.expect(sku, loc, qty, eta=eta) == self.model.expect(sku, loc, qty, eta, None)

    expect_later_again = expect_later

    @precondition(lambda self: any(self.model.booked.values()))
    @rule(data=st.data(), key=keyed)
    def receive_booked(self, data: st.DataObject, key: bool) -> None:
        """A receipt against a PO line backorders wait on, often fewer units
        than they wait for (some convert, in the order they were taken)."""
        m = self.model
        ref = data.draw(st.sampled_from(sorted(s for s, b in m.booked.items() if b)), label="po")
        sku, loc, _q, _eta = m.supply[ref]
        qty = data.draw(st.integers(1, sum(m.booked[ref].values()) + 1), label="qty")
        self.direct(
            lambda k: self.i.receive(sku, loc, qty, ref=ref, key=k),
            lambda: m.receive_po(sku, loc, qty, ref),
            key,
        )

    @precondition(lambda self: self.waiting())
    @rule(data=st.data(), what=st.sampled_from(["commit", "extend", "release", "ship"]))
    def on_waiting(self, data: st.DataObject, what: str) -> None:
        rid = data.draw(st.sampled_from(self.waiting()), label="res_id")
        now = self.clock.now
        real: Callable[[str | None], Any]
        model: Callable[[], Any]
        if what == "commit":
            real, model = (lambda k: self.i.commit(rid)), (lambda: self.model.commit(rid))
        elif what == "extend":
            real = lambda k: self.i.extend(rid, 60)  # noqa: E731
            model = lambda: self.model.extend(rid, now, timedelta(seconds=60))  # noqa: E731
        elif what == "release":
            real, model = (lambda k: self.i.release(rid)), (lambda: self.model.release(rid))
        else:
            real, model = (lambda k: self.i.ship(rid)), (lambda: self.model.ship_waiting(rid))
        self.direct(real, model, False)

    # -- purchase orders: re-sourcing is the model's own result ------------------------
    @rule(data=st.data(), key=keyed)
    def cancel_po(self, data: st.DataObject, key: bool) -> None:
        ref = self.draw_po(data)  # type: ignore[attr-defined]
        self.direct(
            lambda k: self.i.cancel_expected(ref, key=k),
            lambda: self.model.cancel_expected(ref),
            key,
        )

    @rule(data=st.data(), ahead=st.sampled_from([0, 60, 600, 7200, 86400]), key=keyed)
    def redate_po(self, data: st.DataObject, ahead: int, key: bool) -> None:
        ref = self.draw_po(data)  # type: ignore[attr-defined]
        eta = self.clock.now + timedelta(seconds=ahead)
        self.direct(
            lambda k: self.i.redate(ref, eta, key=k),
            lambda: self.model.redate(ref, eta),
            key,
        )


class MemoryBackorderMachine(BackorderRules, MemoryMachine):
    def __init__(self) -> None:
        super().__init__()
        self._use_backorder_model()


class SQLiteBackorderMachine(BackorderRules, SQLiteMachine):
    def __init__(self) -> None:
        super().__init__()
        self._use_backorder_model()


TestMemoryBackorders = MemoryBackorderMachine.TestCase
TestMemoryBackorders.settings = _settings("memory", 50)
TestSQLiteBackorders = SQLiteBackorderMachine.TestCase
TestSQLiteBackorders.settings = _settings("sqlite", 25)
