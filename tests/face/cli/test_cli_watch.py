"""``omnistock watch`` (issue 17): the feed as JSON lines.

- without ``--ack`` the cursor stays, so the same lines come again;
- with ``--ack`` each batch is acknowledged once printed;
- ``--limit`` bounds the rows of a batch; bad options exit 2 naming them;
- ``--follow --ack`` prints an entry another process commits later, and
  stops on Ctrl-C with exit 130.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from omnistock import Inventory, Location, cli
from omnistock.cli_watch import entry_json


@pytest.fixture
def shop(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with Inventory.open(url) as inv:
        inv.add_location(Location("s1"))
        inv.receive("A", "s1", 5)
        inv.receive("B", "s1", 2, key="k1")
    return url


def watch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = cli.main(["watch", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_watch_prints_the_feed_and_acks_only_when_asked(
    capsys: pytest.CaptureFixture[str], shop: str
) -> None:
    with Inventory.open(shop) as inv:
        expected = [entry_json(e) for e in inv.history()]
    code, lines, err = watch(capsys, "--store", shop, "--consumer", "erp")
    assert (code, err) == (0, "")
    assert lines == expected
    docs = [json.loads(x) for x in lines]
    assert [(d["seq"], d["kind"], d["sku"], d["qty"], d["key"]) for d in docs] == [
        (1, "location-added", None, 0, None),
        (2, "received", "A", 5, None),
        (3, "received", "B", 2, "k1"),
    ]
    assert docs[1]["at"].endswith("+00:00")
    assert watch(capsys, "--store", shop, "--consumer", "erp")[1] == expected  # no ack
    assert (
        watch(capsys, "--store", shop, "--consumer", "erp", "--limit", "2", "--ack")[1]
        == (expected[:2])
    )
    assert watch(capsys, "--store", shop, "--consumer", "erp", "--ack")[1] == expected[2:]
    assert watch(capsys, "--store", shop, "--consumer", "erp")[1] == []
    with Inventory.open(shop) as inv:
        assert inv.cursor("erp") == 3


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--consumer", ""], "consumer"),
        (["--consumer", "a\tb"], "consumer"),
        (["--consumer", "erp", "--limit", "0"], "limit"),
        (["--consumer", "erp", "--limit", "-3"], "limit"),
        (["--consumer", "erp", "--limit", "1000000"], "limit"),
        (["--consumer", "erp", "--follow", "--wait", "-1"], "wait"),
        (["--consumer", "erp", "--follow", "--wait", "nan"], "wait"),
    ],
)
def test_watch_bad_options_exit_2_naming_them(
    capsys: pytest.CaptureFixture[str], shop: str, argv: list[str], says: str
) -> None:
    code, lines, err = watch(capsys, "--store", shop, *argv)
    assert (code, lines) == (2, [])
    assert says in err and "Traceback" not in err
    with Inventory.open(shop) as inv:
        assert inv.cursor("erp") == 0


@pytest.mark.parametrize("argv", [[], ["--consumer", "erp", "--limit", "x"]])
def test_watch_unusable_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], shop: str, argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["watch", "--store", shop, *argv])
    assert exc.value.code == 2
    assert "--consumer" in capsys.readouterr().err or "--limit" in argv


def test_watch_on_a_missing_file_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    code, _, err = watch(capsys, "--store", url, "--consumer", "erp")
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "nope.db").exists()


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """``proc``'s output lines, read by a thread as they come."""
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _line(q: queue.Queue[str], bound: float = 60.0) -> str:
    """The next line; fails after ``bound`` seconds without one."""
    try:
        return q.get(timeout=bound)
    except queue.Empty:
        pytest.fail("watch --follow printed nothing")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
def test_watch_follow_prints_later_entries_until_ctrl_c(shop: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "omnistock", "watch", "--store", shop, "--consumer", "tv"]
    proc = subprocess.Popen(
        [*cmd, "--follow", "--ack", "--wait", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    out = _lines(proc)
    try:
        assert [json.loads(_line(out))["seq"] for _ in range(3)] == [1, 2, 3]
        with Inventory.open(shop) as inv:
            inv.receive("C", "s1", 1)
        doc = json.loads(_line(out))
        assert (doc["seq"], doc["sku"]) == (4, "C")
        deadline = time.monotonic() + 60
        while True:  # the ack follows the print
            with Inventory.open(shop) as inv:
                if inv.cursor("tv") == 4:
                    break
            assert time.monotonic() < deadline, "the batch was never acknowledged"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
