"""A self-contained HTML report of one or more simulation runs.

Charts are inline SVG drawn here: no script, no stylesheet or font is
loaded from anywhere, so the file opens offline and can be mailed around.
"""

from __future__ import annotations

import math
from html import escape

from .kpis import compare_rows, format_kpis
from .run import SimResult

__all__ = ["render_report"]

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
W, H, PAD = 640, 280, 48
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}.chart{display:inline-block;
margin-right:1em;vertical-align:top}h2{border-bottom:1px solid #ddd}
.ok{color:#2ca02c}.bad{color:#d62728}"""


def _svg(body: list[str], title: str, w: int = W, h: int = H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(
    x: float, y: float, s: str, size: int = 11, anchor: str = "start", extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f"{extra}>{escape(s)}</text>"
    )


def _axes(ymax: float, xlabel: str, ylabel: str, pct: bool = False) -> list[str]:
    out = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#444"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#444"/>',
        _text(W / 2, H - 8, xlabel, anchor="middle"),
        _text(12, H / 2, ylabel, anchor="middle", extra=f'transform="rotate(-90 12 {H / 2})"'),
    ]
    for i in range(5):
        v = ymax * i / 4
        y = H - PAD - (H - PAD - 10) * i / 4
        out.append(f'<line x1="{PAD - 4}" y1="{y:.1f}" x2="{W - 10}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(_text(PAD - 6, y + 4, f"{v:.0%}" if pct else f"{v:,.0f}", 10, "end"))
    return out


def atp_chart(atp: dict[str, list[tuple[float, int]]]) -> str:
    """ATP over simulated time for the top SKUs: one line each."""
    pts = [p for series in atp.values() for p in series]
    if not pts:
        return _svg([_text(20, 30, "no samples")], "ATP over time")
    xmax = max(x for x, _ in pts) or 1.0
    ymax = max(max(y for _, y in pts), 1) * 1.1
    body = _axes(ymax, "simulated hours", "network ATP (units)")
    for i, (sku, series) in enumerate(atp.items()):
        c = COLORS[i % len(COLORS)]
        coords = " ".join(
            f"{PAD + (W - 10 - PAD) * x / xmax:.1f},{H - PAD - (H - PAD - 10) * y / ymax:.1f}"
            for x, y in series
        )
        body.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.8" points="{coords}"/>')
        body.append(f'<rect x="{W - 140}" y="{14 + 14 * i}" width="10" height="10" fill="{c}"/>')
        body.append(_text(W - 125, 23 + 14 * i, sku, 10))
    for h in range(0, int(xmax) + 1, max(1, int(xmax) // 8)):
        x = PAD + (W - 10 - PAD) * h / xmax
        body.append(_text(x, H - PAD + 14, str(h), 10, "middle"))
    return _svg(body, "ATP over time for the top SKUs")


def bar_chart(values: dict[str, float], title: str, ylabel: str, pct: bool = True) -> str:
    """One bar per key (fill rate per channel, split histogram...)."""
    if not values:
        return _svg([_text(20, 30, "no data")], title)
    ymax = 1.0 if pct else max(max(values.values()), 1) * 1.1
    body = _axes(ymax, title, ylabel, pct)
    n = len(values)
    slot = (W - 10 - PAD) / n
    for i, (k, v) in enumerate(values.items()):
        bh = (H - PAD - 10) * v / ymax
        x = PAD + slot * i + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{H - PAD - bh:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bh:.1f}" fill="{COLORS[i % len(COLORS)]}"/>'
        )
        body.append(_text(x + slot * 0.35, H - PAD + 14, k, 10, "middle"))
        body.append(
            _text(
                x + slot * 0.35, H - PAD - bh - 4, f"{v:.1%}" if pct else f"{v:,.0f}", 10, "middle"
            )
        )
    return _svg(body, title)


def map_chart(res: SimResult) -> str:
    """Locations on an equirectangular map, circle area ~ orders served."""
    locs = [x for x in res.locations if x.point is not None]
    if not locs:
        return _svg([_text(20, 30, "no locations")], "locations")
    lats = [x.point.lat for x in locs if x.point is not None]
    lons = [x.point.lon for x in locs if x.point is not None]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    w, h = 520, 620
    span = max((max(lons) - min(lons)) * k, max(lats) - min(lats)) or 1.0
    scale = (min(w, h) - 80) / span
    most = max(res.served.values(), default=1) or 1
    body = []
    for loc in sorted(locs, key=lambda x: -res.served.get(x.id, 0)):
        assert loc.point is not None
        x = 40 + (loc.point.lon - min(lons)) * k * scale
        y = h - 40 - (loc.point.lat - min(lats)) * scale
        n = res.served.get(loc.id, 0)
        r = 2 + 16 * math.sqrt(n / most)
        c = COLORS[1] if loc.kind == "dc" else COLORS[0]
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{c}" '
            f'fill-opacity="0.45" stroke="{c}"><title>{escape(loc.id)} '
            f"({escape(res.cities.get(loc.id, ''))}): {n} orders</title></circle>"
        )
        if loc.kind == "dc" or n >= most * 0.35:
            body.append(_text(x + r + 2, y + 4, res.cities.get(loc.id, loc.id), 9))
    body.append(_text(10, 16, "DCs (red) and stores (blue); area ~ orders served", 11))
    return _svg(body, "Locations sized by orders served", w, h)


def _kpi_table(res: SimResult) -> str:
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in format_kpis(res.kpis)
    )
    return f"<table><tr><th>KPI</th><th>value</th></tr>{rows}</table>"


def _run_section(res: SimResult) -> str:
    k = res.kpis
    ok = '<span class="ok">ok</span>' if k["check_ok"] else '<span class="bad">FAILED</span>'
    split = {f"{n} loc": float(c) for n, c in res.splits.items()}
    charts = [
        atp_chart(res.atp),
        bar_chart(dict(k["fill_rate"]), "fill rate per channel", "units filled / asked"),
        bar_chart(
            split,
            f"locations per ship order (split rate {k['split_rate']:.1%})",
            "orders",
            pct=False,
        ),
        map_chart(res),
    ]
    return (
        f"<h2>Policy: {escape(res.policy)}</h2>"
        f"<p>Oversells: <b>{k['oversells']}</b>; check(): {ok} "
        f"({escape(str(k['check']))})</p>"
        + "".join(f'<div class="chart">{c}</div>' for c in charts)
        + _kpi_table(res)
    )


def render_report(results: list[SimResult], title: str = "omnistock simulation") -> str:
    """The HTML text of the report (one section per run; with several runs,
    a side-by-side KPI table with differences first)."""
    cfg = results[0].config
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>seed {cfg.seed}, {cfg.days} day(s), {cfg.dcs} DCs, {cfg.stores} stores, "
        f"{cfg.skus} SKUs (Zipf s={cfg.zipf}); per day {cfg.ship_orders} ship orders, "
        f"{cfg.bopis_orders} BOPIS orders, {cfg.pos_sales} POS sales.</p>",
    ]
    if len(results) > 1:
        names, cells, differing = compare_rows([r.kpis for r in results])
        head = "".join(f"<th>{escape(r.policy)}</th>" for r in results) + "".join(
            f"<th>&Delta; {escape(r.policy)}</th>" for r in results[1:]
        )
        body = "".join(
            "<tr><td>"
            + escape(n)
            + "</td>"
            + "".join(f"<td>{escape(c)}</td>" for c in row)
            + "</tr>"
            for n, row in zip(names, cells, strict=True)
        )
        parts.append(
            f"<h2>Side by side</h2><p>{differing} KPI(s) differ "
            "(wall-time figures excluded).</p>"
            f"<table><tr><th>KPI</th>{head}</tr>{body}</table>"
        )
    parts += [_run_section(r) for r in results]
    parts.append("</body></html>")
    return "\n".join(parts)
