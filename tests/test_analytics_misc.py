"""Zones, Karvonen, Tanaka, Keytel, Uth, HRR60 and effort points against the published
equations (expected values are arithmetic on the papers' constants)."""

from __future__ import annotations

import pytest

from gympulse.pipeline.analytics.energy import keytel_kcal_per_min
from gympulse.pipeline.analytics.fitness import vo2max_uth
from gympulse.pipeline.analytics.points import effort_points, points_per_minute
from gympulse.pipeline.analytics.recovery import hrr60
from gympulse.pipeline.analytics.zones import (
    hr_max_estimate,
    karvonen_bounds,
    zone,
    zone_from_bounds,
)


@pytest.mark.parametrize(
    ("bpm", "expected"),
    [
        (0, 0),
        (94, 0),
        (95, 1),
        (113, 1),
        (114, 2),
        (133, 3),
        (152, 4),
        (170, 4),
        (171, 5),
        (190, 5),
        (230, 5),
    ],
)
def test_zone_lower_bound_inclusive(bpm: int, expected: int) -> None:
    # HRmax 190: 50 % = 95, 60 % = 114, 70 % = 133, 80 % = 152, 90 % = 171 bpm.
    assert zone(bpm, 190) == expected


def test_karvonen_bounds_round_half_up() -> None:
    # Rest 61, max 190, reserve 129: 61 + 64.5 = 125.5 → 126; 61 + 77.4 = 138.4 → 138; ...
    assert karvonen_bounds(61, 190) == [126, 138, 151, 164, 177]
    assert zone_from_bounds(150, karvonen_bounds(61, 190)) == 2
    with pytest.raises(ValueError):
        karvonen_bounds(190, 190)


def test_tanaka() -> None:
    assert hr_max_estimate(40) == pytest.approx(180.0)  # 208 − 0.7·40


def test_keytel_2005_without_vo2max() -> None:
    # Men: (−55.0969 + 0.6309·150 + 0.1988·80 + 0.2017·30) kJ/min ÷ 4.184.
    men = (-55.0969 + 94.635 + 15.904 + 6.051) / 4.184
    assert keytel_kcal_per_min(150, 80, 30, "male") == pytest.approx(men)
    women = (-20.4022 + 0.4472 * 140 - 0.1263 * 60 + 0.074 * 25) / 4.184
    assert keytel_kcal_per_min(140, 60, 25, "female") == pytest.approx(women)
    assert keytel_kcal_per_min(40, 80, 30, "male") == 0.0  # negative clamped


def test_uth_2004() -> None:
    assert vo2max_uth(190, 50) == pytest.approx(58.14)  # 15.3 · 3.8


def test_hrr60_interpolates_and_needs_nearby_samples() -> None:
    t = [0.0, 1.0, 2.0, 59.0, 61.0, 62.0]
    bpm = [170.0, 168.0, 166.0, 140.0, 136.0, 135.0]
    # End at t=1 (168); t=61 → 136.
    assert hrr60(t, bpm, 1.0) == pytest.approx(32.0)
    # End at t=0.5 (169, interpolated); 60.5 lies between 59 (140) and 61 (136) → 137.
    assert hrr60(t, bpm, 0.5) == pytest.approx(169.0 - 137.0)
    # Nothing within ±2 s of end + 60 s.
    assert hrr60([0.0, 1.0, 70.0], [170.0, 168.0, 120.0], 1.0) is None
    assert hrr60([], [], 0.0) is None
    assert hrr60([0.0], [150.0], 0.0) is None


def test_effort_points_rise_with_zone() -> None:
    assert [points_per_minute(z) for z in range(6)] == sorted(
        points_per_minute(z) for z in range(6)
    )
    assert points_per_minute(5) > points_per_minute(1) > points_per_minute(0) == 0
    # The published MYZONE scheme: one point per minute per zone, capped at 4 in the top zone.
    assert [points_per_minute(z) for z in range(6)] == [0, 1, 2, 3, 4, 4]
    # 2 min in zone 3 and 1 min in zone 5 at HRmax 200.
    assert effort_points([150] * 120 + [195] * 60, 1.0, 200) == pytest.approx(
        2 * points_per_minute(3) + points_per_minute(5)
    )
