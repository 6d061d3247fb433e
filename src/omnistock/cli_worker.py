"""``omnistock worker``: sweep the expiries due and take snapshots, on an
interval, until SIGTERM or SIGINT (docs/operations.md).

Expiry is lazy, so nothing depends on the worker: it brings expiries to the
journal (and so to the feed) promptly, and keeps start-up fast with fresh
snapshots. Several workers may run on one store; each expiry is journaled
once. A signal lets the sweep in progress finish, then the worker closes the
store and exits 0, printing one line that says so.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from .errors import ConcurrencyConflict, StorageError
from .inventory import Inventory
from .storage import redact

__all__ = ["add_worker_arguments", "worker"]

log = logging.getLogger("omnistock.worker")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"--interval {text!r}: must be a positive number")
    return v


def _count(flag: str, minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = minimum - 1
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: must be an integer >= {minimum}")
        return v

    return parse


def add_worker_arguments(w: argparse.ArgumentParser) -> None:
    """The worker verb's options."""
    w.add_argument(
        "--interval",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="seconds between sweeps once nothing more is due (default 1)",
    )
    w.add_argument(
        "--once", action="store_true", help="sweep (and snapshot if due) once, then exit"
    )
    w.add_argument(
        "--limit",
        type=_count("--limit", 1),
        default=1000,
        help="reservations and batches expired per commit (default 1000)",
    )
    w.add_argument(
        "--snapshot-every",
        type=_count("--snapshot-every", 0),
        default=10_000,
        metavar="N",
        help="snapshot once the journal grew N rows past the last one (default 10000; 0: never)",
    )
    w.add_argument(
        "--lag-warn",
        type=_count("--lag-warn", 0),
        default=10_000,
        metavar="N",
        help="warn (at most once a minute each) about feed consumers N or more rows behind "
        "the journal (default 10000; 0: never)",
    )
    w.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="print omnistock's log records at this level and above to stderr (default WARNING)",
    )


class _Stop:
    """Set by SIGTERM or SIGINT; remembers which."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.name = ""

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.name = signal.Signals(signum).name
        self.event.set()


@contextmanager
def _handling(stop: _Stop) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` instead of ending the process (only
    in the main thread, where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before: dict[int, Any] = {s: signal.signal(s, stop) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


@contextmanager
def _logging_to_stderr(level: str) -> Iterator[None]:
    """The worker is an application: it shows omnistock's records itself."""
    root = logging.getLogger("omnistock")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Worker:
    def __init__(self, inv: Inventory, args: argparse.Namespace, stop: _Stop) -> None:
        self.inv, self.args, self.stop = inv, args, stop
        self.sweeps = self.expired = self.snapshots = 0
        self.warned: dict[tuple[str, str], float] = {}  # consumer -> when last warned
        found = inv.store.load_snapshot() if args.snapshot_every else None
        self.last_snap = 0 if found is None else found[0]

    def tick(self) -> None:
        """Sweep until nothing more is due (or a signal came), then
        snapshot if due."""
        n = 0
        while True:
            try:
                swept = self.inv.sweep(self.args.limit)
            except ConcurrencyConflict as exc:  # the store is busy: next tick
                log.warning("sweep gave up for now: %s", exc)
                break
            self.sweeps += 1
            n += swept.count
            if not swept.more or self.stop.event.is_set():
                break
        if n:
            self.expired += n
            print(f"{_stamp()} expired {n} reservation(s)/batch(es)", flush=True)
        self._snapshot()
        self._watch_consumers()

    def _watch_consumers(self) -> None:
        """The feed's housekeeping: the journal is the feed and a cursor is
        one row, so nothing needs pruning; what needs watching is a consumer
        that stopped acknowledging (a connector down means a channel sells
        on stale figures). Warns once a minute per consumer past the lag."""
        lag_warn = self.args.lag_warn
        if not lag_warn:
            return
        head = self.inv.store.head()
        now = time.monotonic()
        for consumer, stream, seq in self.inv.store.cursors():
            lag = head - seq
            k = (consumer, stream)
            if lag < lag_warn or now - self.warned.get(k, -1e9) < 60:
                continue
            self.warned[k] = now
            what = "journal feed" if not stream else f"stream {stream!r}"
            log.warning(
                "consumer %r (%s) is %d rows behind the journal (last ack at seq %d, head %d)",
                consumer, what, lag, seq, head,
            )  # fmt: skip

    def _snapshot(self) -> None:
        every = self.args.snapshot_every
        if not every:
            return
        head = self.inv.refresh()
        if head - self.last_snap < every:
            return
        try:
            self.last_snap = self.inv.snapshot()
        except StorageError as exc:  # e.g. appends in flight on PostgreSQL: next tick
            log.warning("snapshot at seq %d not taken: %s", head, exc)
            return
        self.snapshots += 1
        log.info("snapshot saved at seq %d", self.last_snap)


def worker(args: argparse.Namespace) -> int:
    """Run ``omnistock worker``; returns the exit code (0 when stopped by a
    signal or after ``--once``)."""
    stop = _Stop()
    with _handling(stop), _logging_to_stderr(args.log_level):
        with Inventory.open(args.store) as inv:
            w = _Worker(inv, args, stop)
            every = "once" if args.once else f"every {args.interval:g} s"
            print(
                f"omnistock worker: sweeping {redact(args.store)} {every} "
                f"(limit {args.limit}); stop with SIGTERM or Ctrl-C",
                flush=True,
            )
            log.info("started on %s", redact(args.store))
            while not stop.event.is_set():
                w.tick()
                if args.once:
                    break
                stop.event.wait(args.interval)
        why = f"on {stop.name}" if stop.name else "after one pass (--once)"
        print(
            f"omnistock worker: stopped {why}: {w.sweeps} sweep(s), {w.expired} expired, "
            f"{w.snapshots} snapshot(s)",
            flush=True,
        )
        log.info("stopped %s", why)
    return 0
