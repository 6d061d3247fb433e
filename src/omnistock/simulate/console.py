"""Command-line glue of ``simulate`` and ``compare``: flags, the progress
bar, the KPI tables and the outputs (``--json``, ``--report``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..fulfilment.policy import Policy
from ..storage import redact
from .demand import SimConfig
from .kpis import compare_rows, format_kpis
from .report import render_report
from .run import SimResult, simulate

__all__ = ["add_sim_arguments", "config_of", "run_compare", "run_simulate"]

HELP = {
    "seed": "random seed: the same seed gives the same events and KPIs",
    "days": "simulated days (see also --week)",
    "stores": "stores placed on the city table (they sell, ship and offer pickup)",
    "dcs": "distribution centres (they ship)",
    "skus": "catalogue size",
    "zipf": "Zipf exponent of SKU popularity",
    "ship_orders": "web/app/marketplace ship orders per day",
    "bopis_orders": "click-and-collect orders per day",
    "pos_sales": "walk-in POS baskets per day",
    "returns": "returns at stores per day",
    "counts": "cycle counts at stores per day",
    "store_capacity": "orders a store can pick for shipping per day",
    "marketplace_buffer": "units per SKU held back from the marketplace",
    "cover_days": "initial stock, in days of expected demand",
    "hold_minutes": "checkout hold before the order is committed",
    "pickup_hours": "pickup window of a BOPIS order (no-shows expire after it)",
    "pickup_grace_hours": "grace after the window before a paid BOPIS order is released",
    "bopis_paid_rate": "share of BOPIS orders paid online (committed at once)",
    "abandon_rate": "share of checkouts abandoned (their holds expire)",
    "cancel_rate": "share of committed orders cancelled",
    "amend_rate": "share of committed orders amended (a unit more or less, a SKU added)",
    "partial_cancel_rate": "share of committed orders with one unit cancelled",
    "noshow_rate": "share of BOPIS shoppers who never come",
    "po_late_rate": "share of purchase orders that are late (re-dated, then arrive)",
    "po_cancel_rate": "share of purchase orders cancelled by the supplier",
    "backorder_rate": "share of ship orders that may wait for a PO or transfer (backorder)",
    "reject_rate": "share of ship orders a store rejects a line of",
    "replenish_hours": "hours between replenishment runs",
    "sample_minutes": "minutes between ATP samples (report)",
    "top_skus": "SKUs whose ATP the report draws",
    "kits": "gift boxes (kits of three popular SKUs) in the catalogue",
    "kit_orders": "web orders for a gift box per day",
    "lotted_skus": "fresh items delivered to stores in daily lots that expire",
    "shelf_life_hours": "hours from a fresh lot's 06:00 delivery to its expiry",
    "recalls": "lots of fresh items recalled during the run",
    "launches": "new SKUs launched on preorder, waiting on a purchase order",
    "launch_orders": "preorders for the launches, in all",
}


def _number(kind: type, name: str) -> Callable[[str], Any]:
    def conv(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        if v < 0 or (name.endswith("_rate") and v > 1):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range ({'0 to 1' if name.endswith('_rate') else '>= 0'})"
            )
        return v

    return conv


def add_sim_arguments(p: argparse.ArgumentParser) -> None:
    """Every size of ``SimConfig`` as a flag, plus the outputs."""
    g = p.add_argument_group("simulation sizes")
    for f in dataclasses.fields(SimConfig):
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        g.add_argument(
            flag,
            dest=f.name,
            type=_number(type(default), f.name),
            default=default,
            metavar="N",
            help=f"{HELP.get(f.name, f.name)} (default {default})",
        )
    g.add_argument("--week", action="store_true", help="simulate 7 days (same as --days 7)")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="OUT.json", help="write the KPIs as JSON")
    o.add_argument(
        "--report", metavar="OUT.html", help="write a self-contained HTML report with charts"
    )
    o.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is off anyway when stderr is not a terminal)",
    )


def config_of(args: argparse.Namespace) -> SimConfig:
    """The ``SimConfig`` the flags describe."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)}
    if args.week:
        values["days"] = 7
    if values["days"] < 1:
        raise ValueError("--days must be at least 1")
    if values["stores"] < 1 or values["dcs"] < 1 or values["skus"] < 1:
        raise ValueError("--stores, --dcs and --skus must be at least 1")
    if values["replenish_hours"] <= 0 or values["sample_minutes"] < 1:
        raise ValueError("--replenish-hours must be > 0 and --sample-minutes >= 1")
    return SimConfig(**values)


def load_policy(path: str) -> Policy:
    """A policy from a TOML file (errors name the file)."""
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read policy file {path!r}: {exc.strerror}") from None
    try:
        return Policy.from_toml(text)
    except Exception as exc:
        raise ValueError(f"policy file {path!r}: {exc}") from None


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, refresh=True)

        yield update


def _show(enabled: bool) -> bool:
    return enabled and sys.stderr.isatty()


def _outputs(
    args: argparse.Namespace, results: list[SimResult], payload: Any, out: Console
) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        out.print(f"KPIs written to {args.json}")
    if args.report:
        title = "omnistock simulation" if len(results) == 1 else "omnistock policy comparison"
        Path(args.report).write_text(render_report(results, title), "utf-8")
        out.print(f"report written to {args.report}")


def run_simulate(args: argparse.Namespace, url: str) -> int:
    """``omnistock simulate``: exit 0 when check() passes and nothing was
    oversold, else 1."""
    cfg = config_of(args)
    policy = load_policy(args.policy) if args.policy else None
    name = Path(args.policy).stem if args.policy else "default"
    with _progress(_show(not args.no_progress), f"simulating {cfg.days} day(s)") as cb:
        res = simulate(cfg, url, policy, name, fresh=args.fresh, progress=cb)
    out = Console(highlight=False)
    t = Table(title=f"seed {cfg.seed}, policy {name}")
    t.add_column("KPI")
    t.add_column("value", justify="right")
    for k, v in format_kpis(res.kpis):
        t.add_row(k, v)
    out.print(t)
    out.print(f"store {redact(url)}: {res.kpis['check']}")
    _outputs(args, [res], res.kpis, out)
    return 0 if res.kpis["check_ok"] and res.kpis["oversells"] == 0 else 1


def run_compare(args: argparse.Namespace) -> int:
    """``omnistock compare``: the same events under each policy, side by side."""
    cfg = config_of(args)
    policies = [(Path(p).stem, load_policy(p)) for p in args.policies]
    names = [n for n, _ in policies]
    if len(set(names)) != len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    results = []
    with tempfile.TemporaryDirectory(prefix="omnistock-compare-") as tmp:
        where = Path(args.store_dir) if args.store_dir else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for i, ((_, pol), name) in enumerate(zip(policies, names, strict=True)):
            url = f"sqlite:///{where / f'compare-{i + 1}.db'}"
            with _progress(_show(not args.no_progress), f"policy {name}") as cb:
                results.append(simulate(cfg, url, pol, name, fresh=True, progress=cb))
    kpi_names, cells, differing = compare_rows([r.kpis for r in results])
    out = Console(highlight=False)
    t = Table(title=f"omnistock compare: seed {cfg.seed}, {cfg.days} day(s)")
    t.add_column("KPI")
    for n in names:
        t.add_column(n, justify="right")
    for n in names[1:]:
        t.add_column(f"Δ {n}", justify="right")
    for k, row in zip(kpi_names, cells, strict=True):
        t.add_row(k, *row)
    out.print(t)
    out.print(
        f"differences: {differing} KPI(s) differ from {names[0]} (wall-time figures excluded)"
    )
    payload = {"runs": {r.policy: r.kpis for r in results}, "differing": differing}
    _outputs(args, results, payload, out)
    ok = all(r.kpis["check_ok"] and r.kpis["oversells"] == 0 for r in results)
    return 0 if ok else 1
