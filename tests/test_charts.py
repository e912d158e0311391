"""The server-drawn charts: round axis labels (never "-8.88e-16" or "412 / 412 / 414"),
weeks named by their Monday, the current half-done week left out, the session curve's axis
within its data, and zone 0 among the zone bars — on the pure chart functions and on the
guest's real progress page (the app in process on a seeded history)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re

from gympulse.dashboards import charts
from tests.support.web import Seeded, app_client, guest_token, weekly_sessions

TICK = re.compile(r'<text[^>]*class="tick y"[^>]*>([^<]*)</text>')  # the y axis
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _ticks(svg: str) -> list[str]:
    return TICK.findall(svg)


def _round_and_even(labels: list[str]) -> None:
    assert len(labels) >= 3, labels
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", x) and x not in ("-0", "-0.0") for x in labels)
    values = [float(x) for x in labels]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1 and steps.pop() > 0, labels  # one step, going up
    assert len(set(labels)) == len(labels), labels


def test_axis_labels_around_zero_are_round() -> None:
    # A change in ln RMSSD around zero (the values that drew "-8.88e-16").
    svg = charts.line_chart([("change", [-0.1, 0.0, 0.1, 0.05])], list("abcd"), title="t")
    labels = _ticks(svg)
    _round_and_even(labels)
    assert "0.0" in labels or "0.00" in labels or "0" in labels


def test_a_lift_that_barely_moves_has_distinct_labels() -> None:
    svg = charts.line_chart([("squat", [411.6, 412.4, 413.8])], list("abc"), title="t")
    _round_and_even(_ticks(svg))


def test_the_session_curve_axis_stays_within_its_data() -> None:
    points = [(i * 1000, bpm) for i, bpm in enumerate([58, 90, 120, 150, 165, 140, 110])]
    labels = [float(x) for x in _ticks(charts.hr_curve(points, 190, title="t"))]
    assert len(labels) >= 3
    assert max(labels) <= 165 and min(labels) >= 50  # not 58–173 for a peak of 165


def test_zone_bars_include_zone_0() -> None:
    seconds = [36 * 60.0, 4 * 60.0, 2 * 60.0, 60.0, 60.0, 0.0]  # a calm session
    svg = charts.zone_bars(seconds, [f"zone {z}" for z in range(6)], title="t")
    assert "zone 0" in svg and "36 min" in svg
    assert svg.count("<rect") == 6
    assert charts.ZONE_COLOURS[0] in svg


def test_weeks_are_named_by_their_monday_and_the_current_one_waits() -> None:
    assert charts.week_label("2026-W44", MONTHS) == "26 Oct"
    assert charts.week_label("2026-W01", MONTHS) == "29 Dec"  # ISO week 1 began in 2025
    weeks = {"2026-W46": 60.0, "2026-W48": 75.0, "2026-W49": 10.0}
    assert charts.complete_weeks(weeks, dt.date(2026, 12, 3)) == {
        "2026-W46": 60.0,
        "2026-W47": 0.0,  # a week without training is a week of 0
        "2026-W48": 75.0,
    }  # Thursday 3 December is in week 49: half done, not a drop
    assert charts.complete_weeks({"2025-W52": 5.0}, dt.date(2026, 1, 14)) == {
        "2025-W52": 5.0, "2026-W01": 0.0, "2026-W02": 0.0,
    }  # fmt: skip


def test_the_guest_progress_page_has_readable_weeks(seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    asyncio.run(weekly_sessions(seeded.db, alice, 3))
    token = guest_token(seeded.db, alice)
    with app_client(seeded.db) as client:
        page = client.get(f"/me/{token}/progress", headers={"Accept-Language": "nl"}).text
    assert "-W" not in page  # no "2026-W44"
    assert not re.search(r"\de-\d", page)  # no "-8.88e-16"
    drawn = 0
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        labels = _ticks(svg)
        if labels:
            _round_and_even(labels)
            drawn += 1
    assert drawn >= 1  # the weeks were drawn (three finished weeks at least)
