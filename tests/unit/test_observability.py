"""Logging (the ``omnistock`` logger hierarchy) and the optional
OpenTelemetry spans and metrics (``omnistock.observability``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnistock import Channel, Inventory, Line, Location, Order, errors, observability
from omnistock.storage.memory import MemoryStore


def _shop(inv: Inventory) -> None:
    inv.add_location(Location("s1"))
    inv.add_channel(Channel("web", locations=("s1",)))
    inv.receive("A", "s1", 5)


def _stale_pair(tmp_path: Path) -> tuple[Inventory, Inventory]:
    """Two inventories on one SQLite file; B does not catch up before a
    command, so its first append after A's meets a conflict."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    a = Inventory.open(url)
    _shop(a)
    b = Inventory.open(url)
    b._runner.shared = False
    a.receive("A", "s1", 1)
    return a, b


class _Refusing(MemoryStore):
    """Every append meets a conflict (another writer always got in first)."""

    def append(self, commits: Any, expected_head: int) -> int:
        raise errors.ConcurrencyConflict("the head moved")


@pytest.fixture
def slow_reset() -> Iterator[None]:
    before = observability.slow_commit_threshold()
    yield
    observability.configure(slow_commit=before)


# -- logging ------------------------------------------------------------------------
def test_the_library_installs_only_a_null_handler() -> None:
    root = logging.getLogger("omnistock")
    assert root.handlers and all(isinstance(h, logging.NullHandler) for h in root.handlers)
    for name in observability.LOGGERS:
        assert name.startswith("omnistock.")
        assert logging.getLogger(name).handlers == []


def test_a_conflict_is_logged_at_debug_with_the_store_s_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = _stale_pair(tmp_path)
    with a, b, caplog.at_level(logging.DEBUG, "omnistock.runner"):
        b.receive("A", "s1", 1)
        assert b.available("A", "s1") == 7
    (rec,) = [r for r in caplog.records if r.name == "omnistock.runner"]
    assert rec.levelno == logging.DEBUG
    assert "['receive']: attempt 1 of 50" in rec.getMessage()


def test_nothing_is_logged_above_debug_for_a_conflict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = _stale_pair(tmp_path)
    with a, b, caplog.at_level(logging.INFO, "omnistock"):
        b.receive("A", "s1", 1)
    assert caplog.records == []


def test_giving_up_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    inv = Inventory(_Refusing())
    conflict = pytest.raises(errors.ConcurrencyConflict, match="gave up after 50")
    with caplog.at_level(logging.INFO, "omnistock.runner"), conflict:
        inv.add_location(Location("s1"))
    (rec,) = caplog.records
    assert rec.levelno == logging.INFO and "gave up after 50 conflicts" in rec.getMessage()
    assert inv.head == 0


def test_a_slow_commit_is_logged_at_warning_once_a_threshold_is_set(
    slow_reset: None, caplog: pytest.LogCaptureFixture
) -> None:
    inv = Inventory()
    with caplog.at_level(logging.WARNING, "omnistock"):
        inv.add_location(Location("s1"))  # not timed: no threshold
        assert caplog.records == []
        observability.configure(slow_commit=1e-9)  # every commit is slower than that
        inv.receive("A", "s1", 1)
        (rec,) = caplog.records
        assert rec.name == "omnistock.runner" and rec.levelno == logging.WARNING
        assert "slow commit" in rec.getMessage() and "receive after 0 conflict(s)" in (
            rec.getMessage()
        )
        observability.configure(slow_commit=None)
        inv.receive("A", "s1", 1)
        assert len(caplog.records) == 1
    assert not observability.timed


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "1", [1]], ids=repr)
def test_a_bad_slow_commit_threshold_is_refused_naming_it(slow_reset: None, value: Any) -> None:
    observability.configure(slow_commit=0.5)
    with pytest.raises(errors.InvalidInput, match="slow_commit="):
        observability.configure(slow_commit=value)
    assert observability.slow_commit_threshold() == 0.5


@pytest.mark.parametrize(("text", "seconds"), [("250", 0.25), ("", None), ("soon", None)])
def test_the_threshold_can_come_from_the_environment(text: str, seconds: float | None) -> None:
    env = {**os.environ, observability.ENV_SLOW: text}
    code = "from omnistock import observability as o; print(o.slow_commit_threshold())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(seconds)


# -- OpenTelemetry ----------------------------------------------------------------------
def test_instrument_without_opentelemetry_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.metrics", None)
    with pytest.raises(ImportError, match=r"omnistock\[otel\]"):
        observability.instrument()
    assert not observability.instrumented()


class Telemetry:
    def __init__(self) -> None:
        sdk_trace = pytest.importorskip(
            "opentelemetry.sdk.trace",
            reason="opentelemetry-sdk is not installed (pip install opentelemetry-sdk)",
        )
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.spans_out = InMemorySpanExporter()
        self.tracer_provider = sdk_trace.TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_out))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[tuple[str, dict[str, Any]]]:
        return [(s.name, dict(s.attributes or {})) for s in self.spans_out.get_finished_spans()]

    def points(self, metric: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Per attribute set, a counter's value or a histogram's count."""
        data = self.reader.get_metrics_data()
        out: dict[frozenset[tuple[str, Any]], Any] = {}
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name != metric:
                        continue
                    for p in m.data.data_points:
                        key = frozenset((p.attributes or {}).items())
                        out[key] = getattr(p, "value", None) or getattr(p, "count", None)
        return out


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    t = Telemetry()
    observability.instrument(t.tracer_provider, t.meter_provider)
    yield t
    observability.uninstrument()


def _attrs(**kw: str) -> frozenset[tuple[str, str]]:
    return frozenset(("omnistock." + k, v) for k, v in kw.items())


def test_commands_are_spans_and_holds_and_refusals_are_counted_by_channel(
    otel: Telemetry, clock: Any
) -> None:
    inv = Inventory(clock=clock)
    _shop(inv)
    res = inv.hold(Order("o1", channel="web", lines=[Line("A", 2, "s1")]), ttl=60)
    with pytest.raises(errors.InsufficientStock):
        inv.hold(Order("o2", channel="web", lines=[Line("A", 9, "s1")]))
    with pytest.raises(errors.UnknownReservation):
        inv.commit("nope")
    out = inv.hold_many(
        [
            Order("o3", channel="web", lines=[Line("A", 1, "s1")]),
            Order("o4", channel="web", lines=[Line("A", 9, "s1")]),
        ]
    )
    assert isinstance(out[1], errors.InsufficientStock)
    clock.advance(120)
    assert inv.sweep().reservations == (res.id,)
    spans = otel.spans()
    names = [n for n, _ in spans]
    assert names[:3] == ["omnistock add_location", "omnistock add_channel", "omnistock receive"]
    by_name = {n: a for n, a in spans}
    assert spans[3] == (
        "omnistock hold",
        {"omnistock.command": "hold", "omnistock.channel": "web"},
    )
    assert spans[4][1]["omnistock.outcome"] == "refused"
    assert spans[4][1]["error.type"] == "InsufficientStock"
    assert by_name["omnistock commit"]["omnistock.outcome"] == "error"
    assert by_name["omnistock hold (batch)"]["omnistock.batch.size"] == 2
    assert "omnistock sweep" in names
    assert otel.points("omnistock.holds") == {_attrs(command="hold", channel="web"): 2}
    assert otel.points("omnistock.refusals") == {_attrs(command="hold", channel="web"): 2}
    assert otel.points("omnistock.expired") == {_attrs(what="hold", channel="web"): 1}
    latency = otel.points("omnistock.command.duration")
    assert latency[_attrs(command="hold", outcome="ok")] == 2  # one hold, one batch of holds
    assert latency[_attrs(command="hold", outcome="refused")] == 1
    assert latency[_attrs(command="commit", outcome="error")] == 1
    assert latency[_attrs(command="sweep", outcome="ok")] == 1


def test_conflicts_are_counted(otel: Telemetry, tmp_path: Path) -> None:
    a, b = _stale_pair(tmp_path)
    with a, b:
        b.receive("A", "s1", 1)
    assert otel.points("omnistock.conflicts") == {frozenset({("omnistock.reason", "conflict")}): 1}


def test_uninstrument_stops_reporting(otel: Telemetry) -> None:
    observability.uninstrument()
    Inventory().add_location(Location("s1"))
    assert otel.spans() == []
    assert not observability.instrumented()


@pytest.mark.parametrize(("spans", "metrics"), [(False, True), (True, False)])
def test_spans_or_metrics_can_be_left_out(spans: bool, metrics: bool) -> None:
    t = Telemetry()
    observability.instrument(t.tracer_provider, t.meter_provider, spans=spans, metrics=metrics)
    try:
        inv = Inventory()
        _shop(inv)
        inv.hold(Order("o1", channel="web", lines=[Line("A", 1, "s1")]))
    finally:
        observability.uninstrument()
    assert bool(t.spans()) is spans
    assert bool(t.points("omnistock.holds")) is metrics


@pytest.mark.parametrize("flag", ["spans", "metrics"])
@pytest.mark.parametrize("value", [None, 1, "yes"], ids=repr)
def test_a_bad_instrument_flag_is_refused_naming_it(flag: str, value: Any) -> None:
    with pytest.raises(errors.InvalidInput, match=f"{flag}="):
        observability.instrument(**{flag: value})
    assert not observability.instrumented()
