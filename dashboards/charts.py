"""Small inline SVG charts, drawn on the server (no JavaScript, no CDN).

The geometry is computed here on plain data; the markup comes from the autoescaped
templates in ``templates/charts/``. Each function returns :class:`markupsafe.Markup`
that a page template embeds as it is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from gympulse.dashboards.templating import render_markup
from gympulse.pipeline.analytics.zones import zone

ZONE_COLOURS = ("#5f6b7a", "#9aa5b1", "#1e88e5", "#2e9d4f", "#f2a900", "#e53935")
PALETTE = ("#1e88e5", "#e53935", "#2e9d4f", "#f2a900", "#8e24aa")

PHONE_WIDTH = 360  # guest pages: drawn at a phone's width, so chart text stays ≥ 12 px

Band = tuple[Sequence[float | None], Sequence[float | None]]


@dataclass(frozen=True)
class Line:
    colour: str
    name: str
    runs: list[str]  # polyline point lists ("x,y x,y ...")
    dots: list[tuple[float, float]]  # single points between gaps
    legend_x: float


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> tuple[float, float]:
    span = hi - lo or 1.0
    k = (out_hi - out_lo) / span
    return k, out_lo - lo * k


def axis_ticks(lo: float, hi: float, at_least: int = 3) -> list[tuple[float, str]]:
    """Round values inside [lo, hi] (steps of 1, 2, 2.5 or 5 × 10^k, the widest that gives
    ``at_least`` of them) and their labels, all written to the step's decimals: "60",
    "0.25", never "-0" or "-8.88e-16" (each value is a whole multiple of the step)."""
    span = max(hi - lo, 1e-6 * max(abs(lo), abs(hi), 1.0))
    k0 = math.floor(math.log10(span))
    steps = sorted((m * 10.0**k for k in range(k0 - 2, k0 + 1) for m in (1, 2, 2.5, 5)),
                   reverse=True)  # fmt: skip

    def inside(step: float) -> range:
        return range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)

    step = next((st for st in steps if len(inside(st)) >= at_least), steps[-1])
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9))
    if round(step, decimals) != step:  # 2.5 × 10^k
        decimals += 1
    values = [round(k * step, decimals) + 0.0 for k in inside(step)]  # + 0.0: no "-0"
    return [(v, f"{v:.{decimals}f}") for v in values]


def week_label(week: str, months: Sequence[str]) -> str:
    """An ISO week key ("2026-W44") as the day its Monday falls on ("26 Oct")."""
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    return f"{monday.day} {months[monday.month - 1]}"


def complete_weeks(weeks: Mapping[str, float], today: dt.date) -> dict[str, float]:
    """Every week from the first in ``weeks`` to the last before the one ``today`` is in,
    oldest first: a week with nothing in it counts 0, the half-done current week waits
    (it would look like a drop)."""
    if not weeks:
        return {}
    year, number = min(weeks).split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    this_monday = today - dt.timedelta(days=today.weekday())
    out = {}
    while monday < this_monday:
        y, w, _ = monday.isocalendar()
        key = f"{y}-W{w:02d}"
        out[key] = float(weeks.get(key, 0.0))
        monday += dt.timedelta(days=7)
    return out


def _bounds(
    values: Sequence[float | None], extra: Sequence[float] = (), min_span: float = 0.0
) -> tuple[float, float]:
    present = [v for v in values if v is not None] + list(extra)
    if not present:
        return 0.0, 1.0
    lo, hi = min(present), max(present)
    if hi - lo < min_span:  # small noise stays small: never zoom in past min_span
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
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
    min_span: float = 0.0,
    width: int = 640,
    height: int = 180,
) -> Markup:
    """Lines over a shared x axis (``labels``), with an optional varying band (lo, hi per
    point, e.g. a 60-day normal range) or a fixed band (lo, hi). ``min_span``:
    the y axis never spans less than this, so day-to-day noise does not look dramatic."""
    left, right, bottom = 44, 8, 22
    # Several series get a legend row under the title; one series is named by the title.
    top = 40 if len(series) > 1 else 22
    all_values: list[float | None] = [v for _, vs in series for v in vs]
    extra: list[float] = []
    if band is not None:
        extra += [v for v in (*band[0], *band[1]) if v is not None]
    if fixed_band is not None:
        extra += list(fixed_band)
    y_lo, y_hi = _bounds(all_values, extra, min_span)
    n = max(len(labels), 2)
    kx, bx = _scale(0, n - 1, left, width - right)
    ky, by = _scale(y_lo, y_hi, height - bottom, top)

    def x(i: int) -> float:
        return kx * i + bx

    def y(v: float) -> float:
        return ky * v + by

    band_points = ""
    if band is not None:
        upper = [(x(i), y(v)) for i, v in enumerate(band[1]) if v is not None]
        lower = [(x(i), y(v)) for i, v in enumerate(band[0]) if v is not None]
        if upper and lower:
            band_points = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower[::-1])
    fixed = None
    if fixed_band is not None:
        y0, y1 = y(fixed_band[1]), y(fixed_band[0])
        fixed = (round(y0, 1), round(y1 - y0, 1))
    lines = []
    for k, (name, values) in enumerate(series):
        runs: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        lines.append(
            Line(
                colour=PALETTE[k % len(PALETTE)],
                name=name,
                runs=[" ".join(r) for r in runs if len(r) > 1],
                dots=[(float(r[0].split(",")[0]), float(r[0].split(",")[1])) for r in runs
                      if len(r) == 1],
                legend_x=left + 130 * k,
            )
        )  # fmt: skip
    ticks = [(round(y(v) + 4, 1), label) for v, label in axis_ticks(y_lo, y_hi)]
    return render_markup(
        "charts/line.svg",
        title=title,
        width=width,
        height=height,
        left=left,
        right=right,
        band_points=band_points,
        band_label=band_label,
        fixed=fixed,
        ticks=ticks,
        first_label=labels[0] if labels else None,
        last_label=labels[-1] if labels else None,
        lines=lines,
        legend=len(series) > 1,
    )


def hr_curve(
    points: Sequence[tuple[int, int]], hr_max: float, *, title: str, width: int = 720
) -> Markup:
    """A session's heart rate over time, each segment coloured by its zone."""
    height, left, right, top, bottom = 200, 40, 8, 22, 20
    if not points:
        return render_markup("charts/hr.svg", title=title, width=width, empty=True)
    t0, t1 = points[0][0], points[-1][0]
    b_lo, b_hi = _bounds([float(b) for _, b in points])
    kx, bx = _scale(t0, t1, left, width - right)
    ky, by = _scale(b_lo, b_hi, height - bottom, top)
    segments: list[tuple[int, str, str]] = []  # (zone, colour, points)
    run: list[str] = []
    run_zone = -1
    for (ts, bpm), nxt in zip(points, [*points[1:], None], strict=True):
        z = zone(bpm, hr_max)
        here = f"{kx * ts + bx:.1f},{ky * bpm + by:.1f}"
        if z != run_zone and run:
            run.append(here)
            segments.append((run_zone, ZONE_COLOURS[run_zone], " ".join(run)))
            run = []
        run_zone = z
        run.append(here)
        if nxt is None and len(run) > 1:
            segments.append((run_zone, ZONE_COLOURS[run_zone], " ".join(run)))
    ticks = [(round(ky * v + by + 4, 1), label) for v, label in axis_ticks(b_lo, b_hi)]
    return render_markup(
        "charts/hr.svg",
        title=title,
        width=width,
        height=height,
        left=left,
        right=right,
        empty=False,
        ticks=ticks,
        minutes=f"{(t1 - t0) / 60000:.0f}",
        segments=segments,
    )


def zone_bars(seconds: Sequence[float], labels: Sequence[str], *, title: str) -> Markup:
    """Horizontal bars of minutes per zone: ``seconds`` of zones 0–5 (zone 0, below 50 %
    HRmax, is often most of a calm session)."""
    width, row = 360, 22
    top = max(max(seconds, default=0.0), 1.0)
    bars = [
        {
            "y": 22 + i * row,
            "w": round(220 * s / top, 1),
            "label": label,
            "minutes": f"{s / 60:.0f}",
            "colour": ZONE_COLOURS[min(i, 5)],
        }
        for i, (s, label) in enumerate(zip(seconds, labels, strict=True))
    ]
    return render_markup(
        "charts/zones.svg",
        title=title,
        width=width,
        height=24 + row * len(seconds),
        row=row,
        bars=bars,
    )
