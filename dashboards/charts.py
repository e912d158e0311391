"""Small inline SVG charts, drawn on the server (no JavaScript, no CDN).

Each function returns SVG markup with every text escaped; the pages embed it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from gympulse.pipeline.analytics.zones import zone

ZONE_COLOURS = ("#5f6b7a", "#9aa5b1", "#1e88e5", "#2e9d4f", "#f2a900", "#e53935")
PALETTE = ("#1e88e5", "#e53935", "#2e9d4f", "#f2a900", "#8e24aa")

Band = tuple[Sequence[float | None], Sequence[float | None]]


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> tuple[float, float]:
    span = hi - lo or 1.0
    k = (out_hi - out_lo) / span
    return k, out_lo - lo * k


def _bounds(values: Sequence[float | None], extra: Sequence[float] = ()) -> tuple[float, float]:
    present = [v for v in values if v is not None] + list(extra)
    if not present:
        return 0.0, 1.0
    lo, hi = min(present), max(present)
    pad = (hi - lo) * 0.08 or 1.0
    return lo - pad, hi + pad


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    labels: Sequence[str],
    *,
    title: str,
    band: Band | None = None,
    band_label: str = "",
    fixed_band: tuple[float, float] | None = None,
    width: int = 640,
    height: int = 180,
) -> str:
    """Lines over a shared x axis (``labels``), with an optional varying band (lo, hi per
    point, e.g. a 60-day normal range) or a fixed band (e.g. ACWR 0.8–1.3)."""
    left, right, bottom = 44, 8, 22
    # Several series get a legend row under the title; one series is named by the title.
    top = 40 if len(series) > 1 else 22
    all_values: list[float | None] = [v for _, vs in series for v in vs]
    extra: list[float] = []
    if band is not None:
        extra += [v for v in (*band[0], *band[1]) if v is not None]
    if fixed_band is not None:
        extra += list(fixed_band)
    y_lo, y_hi = _bounds(all_values, extra)
    n = max(len(labels), 2)
    kx, bx = _scale(0, n - 1, left, width - right)
    ky, by = _scale(y_lo, y_hi, height - bottom, top)

    def x(i: int) -> float:
        return kx * i + bx

    def y(v: float) -> float:
        return ky * v + by

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="14" class="title">{escape(title)}</text>',
    ]
    if fixed_band is not None:
        y0, y1 = y(fixed_band[1]), y(fixed_band[0])
        parts.append(
            f'<rect class="band" x="{left}" y="{y0:.1f}" width="{width - left - right}"'
            f' height="{y1 - y0:.1f}"><title>{escape(band_label)}</title></rect>'
        )
    if band is not None:
        upper = [(x(i), y(v)) for i, v in enumerate(band[1]) if v is not None]
        lower = [(x(i), y(v)) for i, v in enumerate(band[0]) if v is not None]
        if upper and lower:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower[::-1])
            parts.append(
                f'<polygon class="band" points="{pts}"><title>{escape(band_label)}</title>'
                "</polygon>"
            )
    for tick in (y_lo, (y_lo + y_hi) / 2, y_hi):
        parts.append(
            f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" class="tick" text-anchor="end">'
            f"{tick:.3g}</text>"
        )
    if labels:
        parts.append(f'<text x="{left}" y="{height - 6}" class="tick">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{width - right}" y="{height - 6}" class="tick" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    for k, (name, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>')
            elif run:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2"'
                    f' points="{" ".join(run)}"/>'
                )
        if len(series) > 1:
            parts.append(
                f'<text x="{left + 130 * k}" y="32" fill="{colour}"'
                f' class="legend">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def hr_curve(
    points: Sequence[tuple[int, int]], hr_max: float, *, title: str, width: int = 720
) -> str:
    """A session's heart rate over time, each segment coloured by its zone."""
    height, left, right, top, bottom = 200, 40, 8, 22, 20
    if not points:
        return (
            f'<svg class="chart" viewBox="0 0 {width} 40">'
            f'<text x="4" y="24">{escape(title)}: —</text></svg>'
        )
    t0, t1 = points[0][0], points[-1][0]
    b_lo, b_hi = _bounds([float(b) for _, b in points])
    kx, bx = _scale(t0, t1, left, width - right)
    ky, by = _scale(b_lo, b_hi, height - bottom, top)
    parts = [
        f'<svg class="chart hr" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="14" class="title">{escape(title)}</text>',
    ]
    for tick in (b_lo, (b_lo + b_hi) / 2, b_hi):
        parts.append(
            f'<text x="{left - 4}" y="{ky * tick + by + 4:.1f}" class="tick"'
            f' text-anchor="end">{tick:.0f}</text>'
        )
    minutes = (t1 - t0) / 60000
    parts.append(
        f'<text x="{width - right}" y="{height - 4}" class="tick" text-anchor="end">'
        f"{minutes:.0f} min</text>"
    )
    run: list[str] = []
    run_zone = -1
    for (ts, bpm), nxt in zip(points, [*points[1:], None], strict=True):
        z = zone(bpm, hr_max)
        here = f"{kx * ts + bx:.1f},{ky * bpm + by:.1f}"
        if z != run_zone and run:
            run.append(here)
            parts.append(
                f'<polyline fill="none" stroke="{ZONE_COLOURS[run_zone]}" stroke-width="2"'
                f' data-zone="{run_zone}" points="{" ".join(run)}"/>'
            )
            run = []
        run_zone = z
        run.append(here)
        if nxt is None and len(run) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{ZONE_COLOURS[run_zone]}" stroke-width="2"'
                f' data-zone="{run_zone}" points="{" ".join(run)}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def zone_bars(seconds: Sequence[float], labels: Sequence[str], *, title: str) -> str:
    """Horizontal bars of minutes per zone (zones 1–5)."""
    width, row = 360, 22
    height = 24 + row * len(seconds)
    top = max(max(seconds, default=0.0), 1.0)
    parts = [
        f'<svg class="chart zones" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="title">{escape(title)}</text>',
    ]
    for i, (s, label) in enumerate(zip(seconds, labels, strict=True)):
        yy = 22 + i * row
        w = 220 * s / top
        parts.append(f'<text x="0" y="{yy + 14}" class="tick">{escape(label)}</text>')
        parts.append(
            f'<rect x="70" y="{yy + 2}" width="{w:.1f}" height="{row - 6}"'
            f' fill="{ZONE_COLOURS[min(i + 1, 5)]}"/>'
        )
        parts.append(f'<text x="{75 + w:.1f}" y="{yy + 14}" class="tick">{s / 60:.0f} min</text>')
    parts.append("</svg>")
    return "".join(parts)
