"""The everyday verbs (import, available, explain, history, check, bench) run
as a real command in a subprocess, on a SQLite store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

LOCATIONS = """id,kind,lat,lon,daily_capacity,returns_to
DC-LEEDS,dc,53.80,-1.55,,
ST-LONDON,store,51.51,-0.13,50,DC-LEEDS
ST-MANCH,store,53.48,-2.24,,DC-LEEDS
"""
STOCK = """sku,location,qty
TEE-BLK-M,DC-LEEDS,40
TEE-BLK-M,ST-LONDON,5
JEAN-32,ST-MANCH,3
"""


def omnistock(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnistock.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "locations.csv").write_text(LOCATIONS)
    (tmp_path / "stock.csv").write_text(STOCK)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    r = omnistock("import", "locations.csv", "--store", url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 location(s)" in r.stdout
    r = omnistock("--store", url, "import", "stock.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "48 unit(s) received" in r.stdout
    return tmp_path, url


def test_import_is_idempotent(shop: tuple[Path, str]) -> None:
    cwd, url = shop
    r = omnistock("import", "stock.csv", "--store", url, cwd=cwd)
    assert r.returncode == 0 and "imported before" in r.stdout
    assert omnistock("available", "TEE-BLK-M", "--store", url, cwd=cwd).stdout.strip() == "45"


def test_available_explain_history_check(shop: tuple[Path, str]) -> None:
    cwd, url = shop
    r = omnistock("available", "TEE-BLK-M", "--location", "ST-LONDON", "--store", url, cwd=cwd)
    assert r.returncode == 0 and r.stdout.strip() == "5"
    r = omnistock("explain", "TEE-BLK-M", "--store", url, cwd=cwd)
    assert r.returncode == 0 and "sum of max(0, atp) = 45" in r.stdout
    assert "ST-LONDON: on_hand 5" in r.stdout
    r = omnistock("history", "--sku", "JEAN-32", "--store", url, cwd=cwd)
    assert r.returncode == 0 and "received" in r.stdout and "ST-MANCH" in r.stdout
    r = omnistock("check", "--store", url, cwd=cwd)
    assert r.returncode == 0 and r.stdout.startswith("check ok")


def test_thresholds_import_and_alerts(shop: tuple[Path, str]) -> None:
    cwd, url = shop
    (cwd / "thresholds.csv").write_text("sku,location,low\nTEE-BLK-M,,50\nJEAN-32,ST-MANCH,1\n")
    r = omnistock("alerts", "--store", url, cwd=cwd)
    assert r.returncode == 0 and r.stdout.strip() == "no alerts"
    r = omnistock("import", "thresholds.csv", "--store", url, cwd=cwd)
    assert r.returncode == 0 and "2 threshold(s)" in r.stdout and "2 new" in r.stdout
    r = omnistock("alerts", "--store", url, cwd=cwd)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["TEE-BLK-M @ network: ATP 45 <= 50 (no demand history)"]


def test_counts_import(shop: tuple[Path, str]) -> None:
    cwd, url = shop
    (cwd / "count.csv").write_text("sku,location,qty\nTEE-BLK-M,ST-LONDON,2\n")
    r = omnistock("import", "count.csv", "--count", "--store", url, cwd=cwd)
    assert r.returncode == 0, r.stderr
    r = omnistock("available", "TEE-BLK-M", "--location", "ST-LONDON", "--store", url, cwd=cwd)
    assert r.stdout.strip() == "2"


def test_bad_input_exits_2_with_a_fix(shop: tuple[Path, str]) -> None:
    cwd, url = shop
    (cwd / "bad.csv").write_text("sku,location,qty\nX,ST-LONDON,lots\n")
    r = omnistock("import", "bad.csv", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "bad.csv:2" in r.stderr and "'lots'" in r.stderr
    (cwd / "where.csv").write_text("sku,location,qty\nX,ST-PARIS,1\n")
    r = omnistock("import", "where.csv", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "import the locations first" in r.stderr
    (cwd / "odd.csv").write_text("name,amount\na,1\n")
    r = omnistock("import", "odd.csv", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "sku,location,qty" in r.stderr
    r = omnistock("import", "nothere.csv", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = omnistock("available", "NOPE", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "UnknownSku" in r.stderr
    r = omnistock("explain", "TEE-BLK-M", "--channel", "tiktok", "--store", url, cwd=cwd)
    assert r.returncode == 2 and "tiktok" in r.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    r = omnistock("frobnicate", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = omnistock("available", cwd=tmp_path)
    assert r.returncode == 2 and "sku" in r.stderr
    r = omnistock(cwd=tmp_path)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = omnistock("history", "--limit", "ten", cwd=tmp_path)
    assert r.returncode == 2 and "invalid int value" in r.stderr


@pytest.mark.parametrize(
    "verb",
    [
        "simulate",
        "compare",
        "demo",
        "import",
        "available",
        "explain",
        "history",
        "check",
        "alerts",
        "bench",
    ],
)
def test_every_verb_has_help(verb: str, tmp_path: Path) -> None:
    r = omnistock(verb, "--help", cwd=tmp_path)
    assert r.returncode == 0 and "usage: omnistock" in r.stdout


def test_check_failure_exits_1(shop: tuple[Path, str]) -> None:
    """A journal tampered with behind omnistock's back: a hold with no expiry
    (a held reservation must have one) fails the reconciler."""
    cwd, url = shop
    db = sqlite3.connect(cwd / "shop.db")
    seq, ts = db.execute("SELECT max(seq), max(ts) FROM entries").fetchone()
    db.execute(
        "INSERT INTO entries (seq, ts, kind, sku, location, qty, ref, channel, key, "
        "data) VALUES (?, ?, 'held', 'TEE-BLK-M', 'ST-LONDON', 3, 'ghost#1', NULL, "
        "NULL, NULL)",
        (seq + 1, ts + 1),
    )
    db.commit()
    db.close()
    r = omnistock("check", "--store", url, cwd=cwd)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "check FAILED" in r.stdout and "ghost#1" in r.stdout


def test_bench(tmp_path: Path) -> None:
    r = omnistock("bench", "-n", "200", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "memory" in r.stdout and "sqlite" in r.stdout and "holds/s" in r.stdout
    assert omnistock("bench", "-n", "0", cwd=tmp_path).returncode == 2
