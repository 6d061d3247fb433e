"""The command machinery the face's command mixins share.

A command is planned (validated against the ledger, rows and result built,
nothing changed), then appended and applied by ``Inventory``'s runner. The
mixins (``stock``, ``reservations``, ``orders``) define commands;
``CommandBase`` declares what they use of the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .ledger.grid import Pos
from .ledger.holds import Hold
from .ledger.state import LedgerState
from .queries import Reader
from .storage import NewRow
from .values import Order, Reservation, Shortage

Clock = Callable[[], datetime]
DEFAULT_TTL = timedelta(minutes=15)
RETRIES = 50
CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")

# A planned command: rows to append, their parsed data, and the result.
Plan = tuple[list[NewRow], list[dict[str, Any] | None], Any]
# Emits more rows into the command being committed (applied at once).
Emit = Callable[[list[NewRow], list[dict[str, Any] | None]], None]
# A follow-up step: runs once the command's rows are applied, may emit more
# rows into the same commit, and returns the command's final result.
Follow = Callable[[int, Any, Emit], Any]


class _Request:
    """One queued command and, once the leader ran it, its outcome."""

    __slots__ = ("done", "error", "follow", "fp", "key", "name", "plan", "result")

    def __init__(
        self,
        name: str,
        key: str | None,
        fp: str | None,
        plan: Callable[[int], Plan],
        follow: Follow | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.fp = fp
        self.plan = plan
        self.follow = follow
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False

    @classmethod
    def failed(cls, name: str, error: BaseException) -> _Request:
        r = cls(name, None, None, _nothing)
        r.error, r.done = error, True
        return r


def _nothing(now: int) -> Plan:
    """A command that moves nothing (queries use it to apply expiry)."""
    return [], [], None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CommandBase(Reader):
    """What command mixins use of ``Inventory`` (declared for type checkers)."""

    if TYPE_CHECKING:
        _state: LedgerState

        def _run(
            self,
            name: str,
            args: Any,
            key: str | None,
            plan: Callable[[int], Plan],
            follow: Follow | None = None,
        ) -> Any: ...
        def _request(
            self,
            name: str,
            args: Any,
            key: str | None,
            plan: Callable[[int], Plan],
            follow: Follow | None = None,
        ) -> _Request: ...
        def _submit(self, req: _Request) -> Any: ...
        def _submit_many(self, reqs: list[_Request]) -> None: ...
        def _ts(self, now: int) -> int: ...
        def _claim(self, ts: int, key: str | None, scope: str) -> list[NewRow]: ...
        def _now_us(self) -> int: ...
        def _commit_block(
            self, name: str, key: str | None, fp: str | None, plan: Callable[[int], Any]
        ) -> Any: ...
        # bulkholds.py
        def _hold_batch(self, batch: Any, ttl: Any, key: str | None) -> Any: ...
        # stock.py
        def _known_pos(self, sku: str, location: str, new_sku: bool = False) -> Pos: ...
        def _shortages(self, taken: dict[Pos, int]) -> tuple[Shortage, ...]: ...
        # reservations.py
        def _hold_request(self, order: Order, ttl: Any, key: str | None) -> _Request: ...
        def _pinned(self, order: Order) -> dict[Pos, int]: ...
        def _open_hold(self, res_id: Any, allowed: tuple[str, ...], action: str) -> Hold: ...
        def _line_rows(
            self,
            h: Hold,
            kind: str,
            now: int,
            key: str | None,
            data: dict[str, Any] | None = None,
            qtys: dict[Pos, int] | None = None,
        ) -> tuple[list[NewRow], list[Any]]: ...
        def _after(self, h: Hold, rows: list[NewRow], datas: list[Any]) -> Reservation: ...
        # orders.py
        def _policy_of(self, st: LedgerState) -> Any: ...
        def _resource_follow(self, now: int, result: Any, emit: Emit) -> Any: ...
