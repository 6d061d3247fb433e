"""The public constructors are typed: mypy refuses a call the converters
would refuse at run time, and accepts the calls the docs show.

One mypy run over one snippet; a line marked ``# error`` must be reported,
every other line must pass. A cold mypy run takes about 15 s (it reads the
whole package and numpy's stubs), so the test is ``slow``; its cache lives in
pytest's cache when the cache plugin is on, which makes a rerun take ~1 s.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

SNIPPET = """
import numpy as np
from omnistock import Channel, HoldBatch, Line, Location, Order, OrderBatch, Point, Policy

Location("s1", kind="dc", point=(51.5, -0.1), priority=2, daily_capacity=None)
Location("s2", point=Point(51.5, -0.1), sells=False, returns_to="s1")
Location("s3", kind="shop")  # error
Location("s4", sells="yes")  # error
Location("s5", point=(51.5,))  # error
Location(5)  # error
Line("A", 2, "s1")
Line("A", 2, None)
Line("A", "2")  # error
Order("o1", channel="web", lines=[Line("A", 1), ("B", 2), ("C", 3, "s1")])
Order("o2", lines=[("A", 1)], method="pickup", pickup_at="s1", allow_partial=True)
Order("o3", lines=[("A", 1)], ship_to=(51.5, -0.1), allow_split=False)
Order("o4", method="post")  # error
Order("o5", lines=[("A", "1")])  # error
Order("o6", lines="A1")  # error
Order("o7", ship_to="London")  # error
Channel("web", locations=["s1", "s2"], buffer=1, minimum=0, cap=None)
Channel("app", buffer=1.5)  # error
Point(51.5, -0.1)
Point("51.5", -0.1)  # error
HoldBatch(["o1"], ["A"], ["s1"], np.array([1], dtype=np.int64), channel="web")
HoldBatch(["o1", "o2"], ["A", "B", "C"], ["s1", "s1", "s2"], [1, 2, 1], start=[0, 2, 3])
HoldBatch(["o1"], ["A"], ["s1"], np.ones(1))  # error
HoldBatch(["o1"], ["A"], ["s1"], [1], channel=7)  # error
OrderBatch(["o1"], ["A"], [1], [51.5], [float("nan")], allow_split=False)
OrderBatch(["o1"], ["A"], np.arange(1, 2), np.zeros(1), np.zeros(1))
OrderBatch(["o1"], ["A"], [1.0], [51.5], [-0.1])  # error
Policy(filters=["capability", "radius"], preferences=["closest"], radius_km=50)
Policy(bopis_fallback=["suggest"], transfer_hours=4, suggestions=2, candidates=None)
Policy(filters=["capability", "nearby"])  # error
Policy(preferences=["cheapest"])  # error
Policy(radius_km="50")  # error
"""


@pytest.mark.slow
def test_constructors_refuse_wrong_types(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cache = getattr(request.config, "cache", None)
    cache_dir = tmp_path / "cache" if cache is None else cache.mkdir("mypy-typed-signatures")
    src = tmp_path / "snippet.py"
    src.write_text(textwrap.dedent(SNIPPET))
    lines = src.read_text().splitlines()
    expected = {i for i, line in enumerate(lines, 1) if line.endswith("# error")}
    out, err, _ = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--config-file=",
            f"--cache-dir={cache_dir}",
            str(src),
        ]
    )
    assert not err, err
    found = {int(m.group(1)) for m in re.finditer(r"snippet\.py:(\d+): error:", out, re.MULTILINE)}
    assert found == expected, out
