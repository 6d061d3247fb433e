"""``omnistock compare`` run as a real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SMALL = [
    "--stores",
    "6",
    "--dcs",
    "2",
    "--skus",
    "40",
    "--ship-orders",
    "120",
    "--bopis-orders",
    "20",
    "--pos-sales",
    "100",
    "--returns",
    "5",
    "--counts",
    "10",
    "--no-progress",
]
CLOSEST = 'preferences = ["fewest_splits", "closest", "priority"]\n'
CHEAPEST = (
    'preferences = ["lowest_cost", "priority"]\nper_parcel = 4.0\nper_km = 0.01\n'
    'bopis_fallback = ["suggest"]\n'
)


def omnistock(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnistock.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_identical_policies_zero_differences(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(CLOSEST)
    (tmp_path / "b.toml").write_text(CLOSEST)
    r = omnistock(
        "compare",
        "a.toml",
        "b.toml",
        *SMALL,
        "--json",
        "c.json",
        "--report",
        "c.html",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "differences: 0 KPI(s) differ" in r.stdout
    out = json.loads((tmp_path / "c.json").read_text())
    assert out["differing"] == 0
    assert set(out["runs"]) == {"a", "b"}
    html = (tmp_path / "c.html").read_text()
    assert "Side by side" in html and html.count("<svg") >= 8


def test_different_policies_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "closest.toml").write_text(CLOSEST)
    (tmp_path / "cheapest.toml").write_text(CHEAPEST)
    r = omnistock(
        "compare", "closest.toml", "cheapest.toml", *SMALL, "--json", "c.json", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "Δ cheapest" in r.stdout
    out = json.loads((tmp_path / "c.json").read_text())
    assert all(run["oversells"] == 0 and run["check_ok"] for run in out["runs"].values())
    assert out["runs"]["closest"]["ship_orders"] == out["runs"]["cheapest"]["ship_orders"]


def test_compare_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(CLOSEST)
    r = omnistock("compare", "a.toml", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "at least two policy files" in r.stderr
    (tmp_path / "bad.toml").write_text('preferences = ["fastest"]\n')
    r = omnistock("compare", "a.toml", "bad.toml", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "bad.toml" in r.stderr and "fastest" in r.stderr
    r = omnistock("compare", cwd=tmp_path)
    assert r.returncode == 2 and "POLICY.toml" in r.stderr
