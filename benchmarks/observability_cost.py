"""What logging and OpenTelemetry cost on holds, through the face.

Holds per second on ``memory://`` and a SQLite file, in one run, under:

- ``none``: nothing configured (the library's NullHandler only);
- ``logging``: a file handler on ``omnistock`` at INFO and a slow-commit
  threshold (so every commit is timed);
- ``otel``: ``observability.instrument()`` with the OpenTelemetry SDK (a
  batch span processor to an exporter that drops spans, and an in-memory
  metric reader); ``otel-metrics``: the same with ``spans=False``. Both
  are left out when opentelemetry-sdk is not installed.

Each round runs every configuration once on a fresh inventory (the order
rotated per round, to spread the machine's noise), N single-line holds of
distinct SKUs on one channel. Prints the median holds/s per configuration
and its ratio to ``none``.

    python benchmarks/observability_cost.py [--rounds 7] [-n 2000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omnistock import Channel, Inventory, Line, Location, Order, observability

Setup = Callable[[], Any]


@contextmanager
def _nothing(_dir: Path) -> Iterator[None]:
    yield


@contextmanager
def _logging(dir_: Path) -> Iterator[None]:
    root = logging.getLogger("omnistock")
    handler = logging.FileHandler(dir_ / "omnistock.log")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    observability.configure(slow_commit=0.5)
    try:
        yield
    finally:
        observability.configure(slow_commit=None)
        root.setLevel(logging.NOTSET)
        root.removeHandler(handler)
        handler.close()


def _otel_setup(spans: bool) -> Callable[[Path], Any] | None:
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        return None

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    @contextmanager
    def otel(_dir: Path) -> Iterator[None]:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        observability.instrument(tracer_provider, meter_provider, spans=spans)
        try:
            yield
        finally:
            observability.uninstrument()
            tracer_provider.shutdown()
            meter_provider.shutdown()

    return otel


def _holds_per_s(url: str, n: int) -> float:
    with Inventory.open(url) as inv:
        inv.add_location(Location("L1"))
        inv.add_channel(Channel("web", locations=("L1",)))
        for i in range(n):
            inv.receive(f"sku-{i}", "L1", 10)
        orders = [
            Order(f"o{i}", channel="web", lines=[Line(f"sku-{i}", 1, "L1")]) for i in range(n)
        ]
        t = time.perf_counter()
        for o in orders:
            inv.hold(o)
        return n / (time.perf_counter() - t)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("-n", type=int, default=2000, help="holds per run on memory (SQLite: n/2)")
    args = p.parse_args(argv)
    configs: dict[str, Callable[[Path], Any]] = {"none": _nothing, "logging": _logging}
    otel, metrics_only = _otel_setup(True), _otel_setup(False)
    if otel is not None and metrics_only is not None:
        configs["otel"] = otel
        configs["otel-metrics"] = metrics_only
    else:
        print("otel: opentelemetry-sdk not installed; left out")
    names = list(configs)
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for store in ("memory", "sqlite"):
                for name in order:
                    url = "memory://" if store == "memory" else f"sqlite:///{d / f'{r}-{name}.db'}"
                    n = args.n if store == "memory" else args.n // 2
                    with configs[name](d):
                        results.setdefault((store, name), []).append(_holds_per_s(url, n))
    print(f"holds/s, median of {args.rounds} rounds (n={args.n} memory, {args.n // 2} sqlite)")
    print(f"{'store':<8} {'config':<12} {'holds/s':>10} {'vs none':>8}  {'min..max':>19}")
    for store in ("memory", "sqlite"):
        base = statistics.median(results[(store, "none")])
        for name in names:
            xs = results[(store, name)]
            med = statistics.median(xs)
            print(
                f"{store:<8} {name:<12} {med:>10,.0f} {med / base:>8.3f}  "
                f"{min(xs):>9,.0f}..{max(xs):>9,.0f}"
            )


if __name__ == "__main__":
    main()
