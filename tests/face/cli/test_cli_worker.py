"""``omnistock worker``: sweeps what is due and snapshots, once (``--once``)
or until SIGTERM/SIGINT, which stop it cleanly (exit 0, a line saying so)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnistock import Inventory, Line, Location, Order
from omnistock.cli import main


def _store(tmp_path: Path, due: int, later: int = 1) -> str:
    """A SQLite store, all written a day ago (a command at today's time
    would expire them lazily): ``due`` holds that expired then and ``later``
    holds that expire in a month."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    past = datetime.now(UTC) - timedelta(days=1)
    with Inventory.open(url, clock=lambda: past) as inv:
        inv.add_location(Location("s1"))
        inv.receive("A", "s1", 100)
        for i in range(due):
            inv.hold(Order(f"cart{i}", lines=[Line("A", 1, "s1")]), ttl=60)
        for i in range(later):
            inv.hold(Order(f"later{i}", lines=[Line("A", 1, "s1")]), ttl=timedelta(days=30))
    return url


def _expired(url: str) -> list[str]:
    with Inventory.open(url) as inv:  # the store's rows: reading them expires nothing
        return sorted(r[6] for r in inv.store.read(0) if r[2] == "expired")


def test_once_sweeps_everything_due_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store(tmp_path, due=5)
    assert main(["worker", "--once", "--limit", "2", "--store", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("omnistock worker: sweeping sqlite:///")
    assert "expired 5 reservation(s)" in out[1]
    assert out[-1] == (
        "omnistock worker: stopped after one pass (--once): 3 sweep(s), 5 expired, 0 snapshot(s)"
    )
    assert _expired(url) == [f"cart{i}#1" for i in range(5)]
    assert main(["worker", "--once", "--store", url]) == 0  # nothing left: nothing written
    assert "1 sweep(s), 0 expired" in capsys.readouterr().out
    assert _expired(url) == [f"cart{i}#1" for i in range(5)]


@pytest.mark.parametrize(("lag_warn", "warned"), [("3", ["erp"]), ("0", []), ("100", [])])
def test_a_consumer_far_behind_the_journal_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lag_warn: str, warned: list[str]
) -> None:
    """The feed's housekeeping: a consumer that stopped acknowledging is
    named (with its lag) at WARNING; one that keeps up is not."""
    url = _store(tmp_path, due=0, later=5)
    with Inventory.open(url) as inv:
        inv.ack("erp", 1)
        inv.ack("wms", inv.head)
    args = ["worker", "--once", "--lag-warn", lag_warn, "--snapshot-every", "0", "--store", url]
    assert main(args) == 0
    err = capsys.readouterr().err
    named = [c for c in ("erp", "wms") if f"consumer '{c}'" in err]
    assert named == warned, err
    if warned:
        assert "rows behind the journal (last ack at seq 1," in err


def test_the_store_lists_its_cursors(store_url: str) -> None:
    with Inventory.open(store_url) as inv:
        inv.add_location(Location("s1"))
        inv.receive("A", "s1", 3)
        inv.ack("b", 2)
        inv.ack("a", 1)
        assert inv.store.cursors() == [("a", "", 1), ("b", "", 2)]


def test_once_takes_a_snapshot_when_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _store(tmp_path, due=1)
    assert main(["worker", "--once", "--snapshot-every", "3", "--store", url]) == 0
    assert "1 snapshot(s)" in capsys.readouterr().out
    with Inventory.open(url) as inv:
        found = inv.store.load_snapshot()
        assert found is not None and found[0] == inv.head
    assert main(["worker", "--once", "--snapshot-every", "3", "--store", url]) == 0
    assert "0 snapshot(s)" in capsys.readouterr().out  # the journal did not grow


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--interval", "0"),
        ("--interval", "-1"),
        ("--interval", "nan"),
        ("--interval", "inf"),
        ("--interval", "soon"),
        ("--limit", "0"),
        ("--limit", "1.5"),
        ("--limit", "many"),
        ("--snapshot-every", "-1"),
        ("--snapshot-every", "x"),
        ("--log-level", "LOUD"),
    ],
)
def test_bad_options_exit_2_naming_the_option_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    url = _store(tmp_path, due=1)
    with pytest.raises(SystemExit) as stopped:
        main(["worker", "--once", flag, value, "--store", url])
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err
    assert _expired(url) == []


def test_a_missing_sqlite_file_is_an_error_unless_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    assert main(["worker", "--once", "--store", url]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["worker", "--once", "--create", "--store", url]) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_running_worker_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    url = _store(tmp_path, due=3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnistock", "worker", "--interval", "0.05", "--store", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    guard = threading.Timer(120, proc.kill)  # a hung worker fails the test, not the run
    guard.start()
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        assert lines[0].startswith("omnistock worker: sweeping"), lines
        lines.append(proc.stdout.readline())  # the first tick expires what is due
        assert "expired 3 reservation(s)" in lines[1], lines
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        guard.cancel()
    assert proc.returncode == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"omnistock worker: stopped on {sig.name}: "), out
    assert "3 expired" in last
    assert "Traceback" not in err
    assert _expired(url) == ["cart0#1", "cart1#1", "cart2#1"]
