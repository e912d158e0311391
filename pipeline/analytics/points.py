"""Effort points: the one place that defines them.

Gym board systems reward time spent working hard with points per minute that rise with
the heart-rate zone (e.g. MYZONE's MEPs, Orangetheory's splat points). gympulse's scale:

=====  =========  =================
zone   % HRmax    points per minute
=====  =========  =================
0      < 50       0
1      50–59      1
2      60–69      2
3      70–79      3
4      80–89      4
5      ≥ 90       5
=====  =========  =================

A 1 Hz sample earns ``points_per_minute / 60`` points, so a session's points are
``Σ minutes in zone × points per minute``. The live board and the session summary use the
same table, so a guest sees the same number during and after class.
"""

from __future__ import annotations

from collections.abc import Sequence

from gympulse.pipeline.analytics.zones import zone

POINTS_PER_MINUTE: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


def points_per_minute(zone_number: int) -> float:
    """Points per minute earned in ``zone_number`` (0–5)."""
    if not 0 <= zone_number < len(POINTS_PER_MINUTE):
        raise ValueError(f"zone must be 0..5, got {zone_number}")
    return POINTS_PER_MINUTE[zone_number]


def effort_points(bpm: Sequence[float], sample_seconds: float, hr_max: float) -> float:
    """Points of a series of heart rates, each held for ``sample_seconds``."""
    return sum(POINTS_PER_MINUTE[zone(b, hr_max)] for b in bpm) * sample_seconds / 60.0
