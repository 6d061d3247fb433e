"""Issue 13 item 14: secrets and crashes in the CLI.

- a PostgreSQL password in ``--store`` (or ``OMNISTOCK_STORE``) is printed
  nowhere: not in output, errors or help;
- the store URL can come from ``OMNISTOCK_STORE``;
- no traceback for an unwritable ``--report``/``--json`` (checked before
  the simulation runs), a broken pipe (``| head``) or Ctrl-C (exit 130);
- a mistyped ``sqlite:///`` path on a query or ``check`` says the file does
  not exist and exits 2, unless ``--create``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from omnistock import Inventory, Location, cli

SECRET = "hunter2-s3cret"
SMALL = ["--stores", "4", "--dcs", "1", "--skus", "20", "--ship-orders", "40"]
SMALL += ["--bopis-orders", "5", "--pos-sales", "40", "--returns", "2", "--counts", "4"]
SMALL += ["--no-progress"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shop(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with Inventory.open(url) as inv:
        inv.add_location(Location("S1"))
        inv.receive("A", "S1", 7)
    return url


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cli.STORE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


# -- secrets -------------------------------------------------------------------------
SECRET_URLS = [
    f"postgresql://bob:{SECRET}@127.0.0.1:1/shop",
    f"postgresql://bob:{SECRET}@127.0.0.1:1/shop?connect_timeout=2&sslmode=disable",
    f"postgres://bob@127.0.0.1:1/shop?password={SECRET}",
    f"postgresql://bob:{SECRET}@127.0.0.1:1/shop?partitions=nan",
    f"postgresql://bob:{SECRET}@127.0.0.1:1/shop?bogus_option=1",
    f"postgresql://bob:{SECRET}@[::1/shop",
    f"sqlite://bob:{SECRET}@host/x.db",
    f"memory://bob:{SECRET}@nowhere",
    f"mystery://bob:{SECRET}@nowhere/x",
]
VERBS = [
    ["available", "A"],
    ["explain", "A", "--location", "S1"],
    ["history", "--limit", "5"],
    ["check"],
    ["import", "locations.csv"],
    ["demo"],
    ["simulate", *SMALL],
]


@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v[0])
def test_a_password_in_the_store_url_is_never_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, verb: list[str]
) -> None:
    pytest.importorskip("psycopg")
    (tmp_path / "locations.csv").write_text("id,kind\nS1,store\n")
    code, out, err = run(capsys, *verb, "--store", url)
    assert code == 2, err
    assert SECRET not in out + err
    assert "Traceback" not in err
    assert err.strip(), "the user is told what went wrong"


@pytest.mark.parametrize("url", SECRET_URLS[:3])
def test_a_password_from_the_environment_is_never_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv(cli.STORE_ENV, url)
    code, out, err = run(capsys, "check")
    assert code == 2 and SECRET not in out + err
    assert "bob" in err  # it says which store it tried
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "***" in out


def test_an_internal_error_is_reported_scrubbed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://bob:{SECRET}@127.0.0.1:1/shop"

    def boom(args: Any) -> int:
        raise RuntimeError(f"unexpected, while using {args.store}")

    monkeypatch.setattr(cli, "_query", boom)
    code, out, err = run(capsys, "check", "--store", url)
    assert code == cli.EXIT_INTERNAL
    assert SECRET not in out + err and "RuntimeError" in err and "bob:***@" in err


# -- OMNISTOCK_STORE -------------------------------------------------------------------
def test_the_store_comes_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, shop: str
) -> None:
    monkeypatch.setenv(cli.STORE_ENV, shop)
    assert run(capsys, "available", "A")[:2] == (0, "7\n")
    # --store wins over the environment
    code, _, err = run(capsys, "available", "A", "--store", "sqlite:///elsewhere.db")
    assert code == 2 and "elsewhere.db" in err
    monkeypatch.setenv(cli.STORE_ENV, "  ")  # blank: the default
    assert cli.default_store() == cli.DEFAULT_STORE


# -- a mistyped sqlite path ---------------------------------------------------------------
@pytest.mark.parametrize(
    "verb", [["available", "A"], ["explain", "A"], ["history"], ["check"]], ids=lambda v: v[0]
)
def test_a_missing_sqlite_file_is_an_error_not_an_empty_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verb: list[str]
) -> None:
    typo = tmp_path / "shpo.db"
    code, _, err = run(capsys, *verb, "--store", f"sqlite:///{typo}")
    assert code == 2 and "does not exist" in err and "--create" in err
    assert not typo.exists()  # nothing was created


def test_create_starts_an_empty_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out, _ = run(capsys, "check", "--create", "--store", url)
    assert code == 0 and out.startswith("check ok")
    assert run(capsys, "check", "--store", url)[0] == 0  # it exists now


def test_the_default_store_is_not_created_by_a_query(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "check")
    assert code == 2 and "omnistock.db" in err
    assert not (tmp_path / "omnistock.db").exists()


def test_a_stock_import_into_a_missing_store_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "stock.csv").write_text("sku,location,qty\nA,S1,1\n")
    (tmp_path / "locations.csv").write_text("id,kind\nS1,store\n")
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, _, err = run(capsys, "import", "stock.csv", "--store", url)
    assert code == 2 and "does not exist" in err
    assert run(capsys, "import", "locations.csv", "--store", url)[0] == 0  # a new store
    assert run(capsys, "import", "stock.csv", "--store", url)[0] == 0


# -- unwritable outputs -------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--json", "--report"])
@pytest.mark.parametrize("where", ["missing-dir/out.file", "."])
def test_an_unwritable_output_is_refused_before_the_simulation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, where: str
) -> None:
    db = tmp_path / "sim.db"
    t0 = time.perf_counter()
    code, _, err = run(
        capsys, "simulate", *SMALL, "--days", "30", "--store", f"sqlite:///{db}", flag, where
    )
    assert code == 2 and flag in err and "Traceback" not in err
    assert not db.exists(), "the simulation did not run"
    assert time.perf_counter() - t0 < 5
    code, _, err = run(capsys, "compare", "a.toml", "b.toml", flag, where)
    assert code == 2 and flag in err  # before the policies are even read


def test_a_writable_output_is_not_left_behind_by_the_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnistock.simulate import console

    def stop(args: Any, url: str) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(console, "run_simulate", stop)
    code, _, err = run(capsys, "simulate", "--json", "k.json", "--store", "memory://")
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "k.json").exists()


# -- Ctrl-C -----------------------------------------------------------------------------
def test_ctrl_c_in_process_exits_130_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, shop: str
) -> None:
    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_query", interrupted)
    code, _, err = run(capsys, "history", "--store", shop)
    assert code == 130 and err.strip() == "omnistock history: interrupted"


def test_ctrl_c_during_a_simulation_exits_130(tmp_path: Path) -> None:
    script = (
        "import sys; from omnistock import cli; print('ready', flush=True); "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    store = ["--store", f"sqlite:///{tmp_path / 'sim.db'}"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "simulate", "--week", "--no-progress", *store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err


# -- broken pipe ----------------------------------------------------------------------
@pytest.fixture
def long_history(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'long.db'}"
    with Inventory.open(url) as inv:
        inv.add_location(Location("S1"))
        for i in range(2500):
            inv.receive(f"SKU-{i % 50}", "S1", 1 + i % 7)
    return url


def test_a_closed_pipe_is_not_a_traceback(long_history: str, tmp_path: Path) -> None:
    """``omnistock history | head -1``: the reader goes away after one line."""
    store = ["--store", long_history]
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnistock.cli", "history", "--limit=100000", *store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.split()[0] == b"1"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == cli.EXIT_PIPE, err
    assert "Traceback" not in err and "Exception ignored" not in err and err == ""


def test_history_piped_into_head_in_a_shell(long_history: str, tmp_path: Path) -> None:
    cmd = (
        f"set -o pipefail; {sys.executable} -m omnistock.cli history --limit 100000 "
        f"--store {long_history} 2>err.txt | head -1"
    )
    r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, capture_output=True, text=True)
    assert r.stdout.split()[0] == "1"
    assert (tmp_path / "err.txt").read_text() == ""
    assert r.returncode == cli.EXIT_PIPE


def test_env_var_is_read_by_a_real_process(shop: str, tmp_path: Path) -> None:
    env = {**os.environ, cli.STORE_ENV: shop}
    r = subprocess.run(
        [sys.executable, "-m", "omnistock.cli", "available", "A"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.strip() == "7"
