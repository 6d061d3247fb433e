"""``omnistock simulate`` run as a real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SMALL = [
    "--stores",
    "6",
    "--dcs",
    "2",
    "--skus",
    "40",
    "--ship-orders",
    "150",
    "--bopis-orders",
    "30",
    "--pos-sales",
    "150",
    "--returns",
    "10",
    "--counts",
    "20",
    "--no-progress",
]
WALL = ("wall_s", "events_per_s")


def omnistock(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnistock.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _kpis(path: Path) -> dict[str, Any]:
    k = json.loads(path.read_text())
    return {n: v for n, v in k.items() if n not in WALL}


def test_same_seed_same_kpis(tmp_path: Path) -> None:
    for run in ("a", "b"):
        r = omnistock(
            "--store",
            f"sqlite:///{tmp_path / run}.db",
            "simulate",
            "--fresh",
            "--seed",
            "11",
            *SMALL,
            "--json",
            f"{run}.json",
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
        assert "fill_rate.web" in r.stdout and "oversells" in r.stdout
        assert "check ok" in r.stdout
    a, b = _kpis(tmp_path / "a.json"), _kpis(tmp_path / "b.json")
    assert a == b
    assert a["oversells"] == 0 and a["check_ok"] is True
    assert a["ship_orders"] == 150 and a["bopis_orders"] == 30
    assert set(a["fill_rate"]) == {"web", "app", "marketplace", "pos"}
    assert a["command_errors"] == {}
    # Order changes and supply trouble play out too (issue 15).
    assert a["amended"] + a["partial_cancels"] > 0
    assert {"amend_refused", "po_late", "po_cancelled"} <= set(a)
    # Backorders wait for POs and transfers, and are reported (issue 15, item 2).
    bo = {"backordered_units", "backorder_converted_units", "backorder_resourced_units"}
    assert bo | {"backorder_short_units"} <= set(a)
    assert a["backorder_converted_units"] <= a["backordered_units"]
    # Launched SKUs are preordered against their PO: never more than it covers.
    assert a["preorders"] == 60 and 0 < a["preorders_taken"] <= a["preorders"]
    assert a["backordered_units"] >= a["preorders_taken"]
    assert a["preorders_shipped"] + a["backorder_ship_waits"] <= a["preorders_taken"]


def test_paid_pickups_never_collected_are_released_as_no_shows(tmp_path: Path) -> None:
    """Every pickup order paid online: none expires as a hold; each is
    collected or released by the ledger's clock as a paid no-show."""
    out = tmp_path / "k.json"
    r = omnistock(
        "simulate", "--seed", "5", *SMALL, "--noshow-rate", "0.4", "--bopis-paid-rate", "1",
        "--pickup-grace-hours", "2", "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "paid_noshow_orders" in r.stdout
    k = _kpis(out)
    assert k["bopis_noshow"] == 0
    assert k["paid_noshow_orders"] > 0
    assert k["paid_noshow_units"] >= k["paid_noshow_orders"]
    placed = k["bopis_orders"] - k["bopis_suggested"] - k["bopis_refused"]
    assert k["bopis_collected"] + k["paid_noshow_orders"] == placed
    assert k["check_ok"] is True and k["command_errors"] == {}


def test_other_seed_other_kpis(tmp_path: Path) -> None:
    for seed in ("1", "2"):
        r = omnistock(
            "simulate",
            "--store",
            f"sqlite:///{tmp_path / seed}.db",
            "--seed",
            seed,
            *SMALL,
            "--json",
            f"{seed}.json",
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
    assert _kpis(tmp_path / "1.json") != _kpis(tmp_path / "2.json")


class _Checker(HTMLParser):
    """Well-formedness for the tags the report uses, and what it contains."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: dict[str, int] = {}
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen[tag] = self.seen.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def test_report_is_valid_html_with_charts(tmp_path: Path) -> None:
    r = omnistock(
        "simulate",
        "--store",
        f"sqlite:///{tmp_path / 'r.db'}",
        *SMALL,
        "--report",
        "out.html",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "out.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    p = _Checker()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    for tag in ("html", "head", "title", "body", "table"):
        assert p.seen.get(tag), tag
    assert p.seen["svg"] >= 4  # ATP, fill rate, splits, map
    assert p.seen.get("polyline", 0) >= 1 and p.seen.get("circle", 0) >= 8
    for title in ("ATP over time", "fill rate per channel", "Locations sized by orders"):
        assert title in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in text and "https://" not in text


def test_reuses_store_without_fresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    for _ in range(2):
        r = omnistock("simulate", "--store", url, *SMALL, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = omnistock("check", "--store", url, cwd=tmp_path)
    assert r.returncode == 0 and "check ok" in r.stdout


def test_bad_sizes_exit_2(tmp_path: Path) -> None:
    r = omnistock("simulate", "--stores", "many", cwd=tmp_path)
    assert r.returncode == 2 and "not a whole number" in r.stderr
    r = omnistock("simulate", "--cancel-rate", "3", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "0 to 1" in r.stderr
    r = omnistock("simulate", "--policy", "missing.toml", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and "missing.toml" in r.stderr


def test_the_same_day_on_every_durable_store_has_the_same_kpis(
    tmp_path: Path, store_url: str
) -> None:
    """The simulated day (every command: allocations, BOPIS with transfers,
    rejections re-sourced, returns, counts, POS sales) is decided the same
    on every store: on PostgreSQL each command's guards are checked by the
    database, and none may fail for want of anything but stock."""
    if store_url == "memory://":
        return  # the command runs in a subprocess: a memory store dies with it
    runs = {}
    for name, url in (("sqlite", f"sqlite:///{tmp_path / 'ref.db'}"), ("store", store_url)):
        r = omnistock("--store", url, "simulate", "--fresh", "--seed", "5", *SMALL,
                      "--json", f"{name}.json", cwd=tmp_path)  # fmt: skip
        assert r.returncode == 0, r.stderr
        runs[name] = _kpis(tmp_path / f"{name}.json")
    assert runs["store"]["command_errors"] == {}
    assert runs["store"]["check_ok"] is True
    assert runs["store"] == runs["sqlite"]


def test_kits_lots_and_a_recall_are_played_and_reported(tmp_path: Path) -> None:
    """Gift boxes are ordered whole and shipped; fresh lots expire by the
    ledger's clock; the recalled lot is quarantined everywhere, and the
    recall KPIs agree with what the store holds afterwards (issue 16)."""
    from datetime import timedelta

    from omnistock import Inventory
    from omnistock.simulate.run import START

    url = f"sqlite:///{tmp_path / 'g.db'}"
    r = omnistock(
        "--store", url, "simulate", "--seed", "3", *SMALL, "--days", "2", "--kit-orders", "25",
        "--lotted-skus", "3", "--json", "g.json", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for name in ("kit_orders", "expired_units", "recalled_units", "recall_resourced_units"):
        assert name in r.stdout
    k = _kpis(tmp_path / "g.json")
    assert k["check_ok"] is True and k["command_errors"] == {} and k["oversells"] == 0
    assert k["kit_orders"] == 2 * 25
    assert 0 < k["kit_orders_filled"] <= k["kit_orders"]
    assert k["kit_orders_filled"] <= k["kit_units"] <= 2 * k["kit_orders_filled"]
    assert k["kit_shipped"] <= k["kit_orders_filled"]
    assert k["fresh_sold_units"] > 0 and k["expired_units"] > 0
    assert k["fresh_sold_units"] + k["expired_units"] <= k["fresh_received_units"]
    assert k["recalls"] == 1 and k["recalled_units"] > 0
    assert k["recall_resourced_units"] <= k["recall_shortage_units"]
    # Reopened at the end of the simulated days (the wall clock would expire
    # every lot): the DCs' long-life lots are still good then.
    end = START + timedelta(days=2, hours=12)
    with Inventory.open(url, clock=lambda: end) as inv:
        assert inv.kits() and all(len(c) == 3 for c in inv.kits().values())
        rows = [e for e in inv.history(kind="state-changed") if (e.data or {}).get("lot")]
        assert {(e.sku, e.data["lot"]) for e in rows if e.data} == {("FRESH-00001", "S1")}
        assert sum(e.qty for e in rows) == k["recalled_units"]
        # The whole lot is still on hand, in quarantine: nothing sold it since.
        held = [x for x in inv.lots("FRESH-00001") if x.lot == "S1"]
        assert sum(x.qty for x in held) == k["recalled_units"]
        assert len(held) == len(rows)  # every store that had the lot
        expired = inv.history(kind="lot-expired")
        assert sum(e.qty for e in expired) == k["expired_units"]
        assert inv.check().ok
