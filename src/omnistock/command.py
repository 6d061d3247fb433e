"""A command on its way through the runner, and its outcome.

``Command`` pairs a plan function (``commands/``) with its idempotency key,
its fingerprint and an optional follow-up; the runner settles it with its
own result or its own typed error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from .errors import CommandFailed, InsufficientStock, OmnistockError
from .ledger.state import LedgerState
from .planning import Context, Emit, Plan

R = TypeVar("R")
Clock = Callable[[], datetime]
RETRIES = 50
PlanFn = Callable[[LedgerState, Context], Plan[R]]
# A follow-up: runs once the plan's rows are applied, may emit more rows
# into the same commit, and returns the command's final result.
Then = Callable[[LedgerState, Context, R, Emit], R]


def utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.define(slots=True, eq=False)
class Command(Generic[R]):
    """One command on its way through the pipeline, then its outcome."""

    name: str
    plan: PlanFn[R]
    key: str | None = None
    fingerprint: str | None = None
    then: Then[R] | None = None
    alone: bool = False
    """Plans in the live grids (bulk): committed by itself, undone on failure."""
    planned: Plan[Any] | None = None
    """A plan made on the lone path for this very ledger, handed to the group
    path (its rows touch a low-stock mark), which uses it once."""
    scope: Any = attrs.field(default=None, kw_only=True)
    """What it names (``scoped.Scope``): a worker without a replica reads
    only that. None: it needs the replica."""
    result: Any = None
    refused: bool = False
    """Its result is a refusal: nothing of it, not its key, was written."""
    error: BaseException | None = None
    done: bool = False

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True


def failed(cmd: Command[Any], exc: Exception) -> OmnistockError:
    """``exc`` as this command's typed outcome (a defect is ``CommandFailed``)."""
    if isinstance(exc, OmnistockError):
        return exc
    err = CommandFailed(f"{cmd.name} failed: {type(exc).__name__}: {exc}; nothing was written")
    err.__cause__ = exc
    return err


def is_refusal(error: BaseException | None) -> bool:
    """A refusal for want of stock: an outcome, not bad input."""
    return isinstance(error, InsufficientStock)
