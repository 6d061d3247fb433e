"""Logging and optional OpenTelemetry for omnistock (docs/operations.md).

Logging: modules log to the ``omnistock`` hierarchy (``omnistock.runner``
for conflicts, retries and slow commits; ``omnistock.tailing`` for a
PostgreSQL writer's catch-up; ``omnistock.snapshot`` for snapshots and
their fallbacks; ``omnistock.audit``; ``omnistock.worker``). The library
installs no handler but a ``NullHandler`` on ``omnistock``: the application
decides where records go.

Slow commits are timed only once a threshold is set (``configure``, or the
``OMNISTOCK_SLOW_COMMIT_MS`` environment variable read at import).

OpenTelemetry (``pip install 'omnistock[otel]'``): ``instrument()`` turns on
a span per command and the metrics below, through the global tracer and
meter providers or the ones given. Nothing is traced until it is called.

Cost when nothing is configured: the runner reads ``hooks`` (None) once per
command and ``timed`` (False) once per commit, and a conflict checks
``isEnabledFor`` before formatting anything; benchmarks/observability_cost.py
measures it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import InsufficientStock, InvalidInput, OmnistockError

if TYPE_CHECKING:
    from .command import Command

__all__ = [
    "LOGGERS",
    "configure",
    "instrument",
    "instrumented",
    "slow_commit_threshold",
    "uninstrument",
]

logging.getLogger("omnistock").addHandler(logging.NullHandler())

LOGGERS = {
    "omnistock.runner": "conflicts and retries (DEBUG), a command that gave up (INFO), "
    "slow commits (WARNING), sweeps (DEBUG)",
    "omnistock.tailing": "a guarded (PostgreSQL) writer's rows folded ahead and catch-up "
    "(DEBUG), catch-up that did not finish (WARNING)",
    "omnistock.snapshot": "snapshots taken (INFO), a snapshot refused on load or failed "
    "after a commit (WARNING)",
    "omnistock.audit": "check() could not compare the counter tables (WARNING)",
    "omnistock.worker": "omnistock worker: start, sweeps, snapshots, stop (INFO)",
}
"""The loggers omnistock writes to and what each reports at which level."""

_runner_log = logging.getLogger("omnistock.runner")

R = TypeVar("R")
ENV_SLOW = "OMNISTOCK_SLOW_COMMIT_MS"


class Otel:
    """The OpenTelemetry side: a tracer, and the instruments it records."""

    def __init__(
        self, tracer_provider: Any = None, meter_provider: Any = None, *, spans: bool, metrics: bool
    ) -> None:
        from opentelemetry import metrics as otel_metrics
        from opentelemetry import trace

        from . import __version__
        from .fulfilment.batch import BatchResult
        from .fulfilment.results import Allocation
        from .holdbatch import HoldBatchResult
        from .values import Reservation

        self._types = (Reservation, Allocation, HoldBatchResult, BatchResult)
        if not spans:  # a no-op tracer: spans cost most (docs/operations.md)
            tracer_provider = trace.NoOpTracerProvider()
        if not metrics:
            meter_provider = otel_metrics.NoOpMeterProvider()
        self.tracer = trace.get_tracer("omnistock", __version__, tracer_provider=tracer_provider)
        meter = otel_metrics.get_meter("omnistock", __version__, meter_provider=meter_provider)
        self.latency = meter.create_histogram(
            "omnistock.command.duration",
            unit="s",
            description="Time from a command's call to its outcome (queueing, conflicts included)",
        )
        self.conflicts = meter.create_counter(
            "omnistock.conflicts",
            unit="{conflict}",
            description="Commits planned again: the store refused the append, or a "
            "refusal was re-checked after catching up",
        )
        self.holds = meter.create_counter(
            "omnistock.holds", unit="{reservation}", description="Reservations held"
        )
        self.refusals = meter.create_counter(
            "omnistock.refusals",
            unit="{refusal}",
            description="Holds and allocations refused for want of stock",
        )
        self.expired = meter.create_counter(
            "omnistock.expired",
            unit="{reservation}",
            description="Reservations and held batches expired by sweep()",
        )

    def command(self, cmd: Command[R], run: Callable[[Command[R]], R]) -> R:
        """``run(cmd)`` in a span ``omnistock <name>``, timed and counted."""
        name = cmd.name
        attrs: dict[str, Any] = {"omnistock.command": name}
        with self.tracer.start_as_current_span(
            "omnistock " + name,
            attributes=attrs,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            t0 = time.perf_counter()
            outcome = "ok"
            try:
                result = run(cmd)
            except BaseException as exc:
                outcome = self._failed(span, name, exc)
                raise
            finally:
                attrs["omnistock.outcome"] = outcome
                self.latency.record(time.perf_counter() - t0, attrs)
            self._count(name, result, span)
            return result

    def batch(self, cmds: Sequence[Command[Any]], run: Callable[[], None]) -> None:
        """``run()`` committing ``cmds`` together, in one span; each command's
        outcome counted."""
        name = cmds[0].name if cmds else "batch"
        attrs: dict[str, Any] = {"omnistock.command": name}
        with self.tracer.start_as_current_span(
            "omnistock " + name + " (batch)",
            attributes={**attrs, "omnistock.batch.size": len(cmds)},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            t0 = time.perf_counter()
            outcome = "ok"
            try:
                run()
            except BaseException as exc:
                outcome = self._failed(span, name, exc)
                raise
            finally:
                attrs["omnistock.outcome"] = outcome
                self.latency.record(time.perf_counter() - t0, attrs)
            for cmd in cmds:
                if cmd.error is not None:
                    self._refused(cmd.name, cmd.error)
                else:
                    self._count(cmd.name, cmd.result, None)

    def _failed(self, span: Any, name: str, exc: BaseException) -> str:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", type(exc).__name__)
        if self._refused(name, exc):
            span.set_attribute("omnistock.outcome", "refused")
            return "refused"
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, str(exc)))
        span.set_attribute("omnistock.outcome", "error")
        return "error"

    def _refused(self, name: str, exc: BaseException) -> bool:
        if not isinstance(exc, InsufficientStock):
            return False
        self.refusals.add(1, _labels(name, exc.channel))
        return True

    def _count(self, name: str, result: Any, span: Any) -> None:
        """Holds and refusals in a command's result."""
        reservation, allocation, hold_batch, wave = self._types
        if isinstance(result, reservation):
            if name in ("hold", "allocate"):
                self.holds.add(1, _labels(name, result.channel))
                if span is not None and result.channel is not None:
                    span.set_attribute("omnistock.channel", result.channel)
        elif isinstance(result, allocation):
            res = result.reservation
            if res is not None:
                self.holds.add(1, _labels(name, res.channel))
            if result.status == "unfillable":
                self.refusals.add(1, _labels(name, None))
            if span is not None:
                span.set_attribute("omnistock.allocation.status", result.status)
        elif isinstance(result, hold_batch):
            held = result.held
            if held:
                self.holds.add(held, _labels(name, None))
            if len(result) - held:
                self.refusals.add(len(result) - held, _labels(name, None))
        elif isinstance(result, wave):
            ok = sum(r is not None for r in result.reservation)
            if ok:
                self.holds.add(ok, _labels(name, None))
            if len(result.order_ids) - ok:
                self.refusals.add(len(result.order_ids) - ok, _labels(name, None))
        elif isinstance(result, list):
            for item in result:
                if isinstance(item, OmnistockError):
                    self._refused(name, item)
                else:
                    self._count(name, item, None)

    def conflict(self, reason: str) -> None:
        self.conflicts.add(1, {"omnistock.reason": reason})

    def swept(self, expired: Sequence[Any]) -> None:
        for e in expired:
            self.expired.add(1, {"omnistock.what": e.what, **_channel(e.channel)})


def _channel(channel: str | None) -> dict[str, str]:
    return {} if channel is None else {"omnistock.channel": channel}


def _labels(name: str, channel: str | None) -> dict[str, str]:
    return {"omnistock.command": name, **_channel(channel)}


# -- the switches the runner reads ----------------------------------------------
hooks: Otel | None = None
"""Set by ``instrument()``: the runner reports commands and conflicts to it."""
_slow: float | None = None
timed = False
"""True once a slow-commit threshold is set: the runner times its commits."""
slow_s = math.inf
"""The threshold in seconds (infinity when commits are not timed)."""


def _check_slow(value: object) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise InvalidInput("slow_commit", value, "must be a positive number of seconds, or None")
    return float(value)  # type: ignore[arg-type]


def configure(*, slow_commit: float | None) -> None:
    """Log a commit (a group of commands and its retries) slower than
    ``slow_commit`` seconds at WARNING on ``omnistock.runner``; None stops
    timing commits. Applies to every inventory in the process."""
    global _slow, timed, slow_s
    _slow = _check_slow(slow_commit)
    timed = _slow is not None
    slow_s = math.inf if _slow is None else _slow


def slow_commit_threshold() -> float | None:
    """The slow-commit threshold in seconds, or None (commits not timed)."""
    return _slow


def commit_took(seconds: float, names: Sequence[str], conflicts: int) -> None:
    """A commit of commands ``names`` took ``seconds`` after ``conflicts``
    retries: logged if over the threshold."""
    if _slow is not None and seconds >= _slow and _runner_log.isEnabledFor(logging.WARNING):
        shown = ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
        _runner_log.warning(
            "slow commit: %.1f ms (threshold %.1f ms) for %s after %d conflict(s)",
            seconds * 1000,
            _slow * 1000,
            shown,
            conflicts,
        )


def instrument(
    tracer_provider: Any = None,
    meter_provider: Any = None,
    *,
    spans: bool = True,
    metrics: bool = True,
) -> None:
    """Turn on OpenTelemetry spans and metrics for every inventory in the
    process (the global providers unless given; ``spans=False`` or
    ``metrics=False`` leaves one out). Raises ImportError naming the extra
    when opentelemetry-api is not installed."""
    for name, flag in (("spans", spans), ("metrics", metrics)):
        if flag is not True and flag is not False:
            raise InvalidInput(name, flag, "must be True or False")
    global hooks
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        raise ImportError(
            "omnistock.observability.instrument() needs OpenTelemetry: "
            "pip install 'omnistock[otel]'"
        ) from None
    hooks = Otel(tracer_provider, meter_provider, spans=spans, metrics=metrics)


def uninstrument() -> None:
    """Turn OpenTelemetry off again (the hot path is back to one check)."""
    global hooks
    hooks = None


def instrumented() -> bool:
    """True while ``instrument()`` is in force."""
    return hooks is not None


def _from_env() -> None:
    text = os.environ.get(ENV_SLOW, "").strip()
    if not text:
        return
    try:
        ms = float(text)
        configure(slow_commit=ms / 1000)
    except (ValueError, OmnistockError):
        logging.getLogger("omnistock").warning(
            "%s=%r is not a positive number of milliseconds; slow commits not timed",
            ENV_SLOW,
            text,
        )


_from_env()
