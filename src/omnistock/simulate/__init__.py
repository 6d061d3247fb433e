"""``omnistock simulate`` and ``omnistock compare``: a realistic omnichannel
day (or week) run through the library, its KPIs and an HTML report.

    from omnistock.simulate import SimConfig, simulate, render_report
    result = simulate(SimConfig(seed=7), "sqlite:///sim.db", fresh=True)
    print(result.kpis["fill_rate"])
"""

from __future__ import annotations

from .demand import SimConfig
from .kpis import WALL_FIELDS, compare_rows, flatten, format_kpis
from .network import build_network, load_cities
from .report import render_report
from .run import SimResult, simulate

__all__ = [
    "WALL_FIELDS",
    "SimConfig",
    "SimResult",
    "build_network",
    "compare_rows",
    "flatten",
    "format_kpis",
    "load_cities",
    "render_report",
    "simulate",
]
