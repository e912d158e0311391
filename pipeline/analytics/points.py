"""Effort points: the one place that defines them.

Gym board systems reward time spent working with points per minute that rise with the
heart-rate zone. gympulse follows the published MYZONE Effort Points (MEPs) scheme: one
point per minute per zone, **capped at 4 per minute in the top zone** — working at 90 %+
earns no more than 80–89 %, so nobody is pushed to their maximum for points (which matters
for guests in recovery):

=====  =========  =================
zone   % HRmax    points per minute
=====  =========  =================
0      < 50       0
1      50–59      1
2      60–69      2
3      70–79      3
4      80–89      4
5      ≥ 90       4  (cap)
=====  =========  =================

A 1 Hz sample earns ``points_per_minute / 60`` points, so a session's points are
``Σ minutes in zone × points per minute``. The live board and the session summary use the
same table, so a guest sees the same number during and after class. The board shows a
per-class target (settings ``web.points_per_class_minute`` × the class's minutes; 2 per
minute by default, i.e. on average "moderate"), like OTbeat's splat-point target.
"""

from __future__ import annotations

from collections.abc import Sequence

from gympulse.pipeline.analytics.zones import zone

POINTS_PER_MINUTE: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 4.0)  # MYZONE: cap 4/min


def points_per_minute(zone_number: int) -> float:
    """Points per minute earned in ``zone_number`` (0–5)."""
    if not 0 <= zone_number < len(POINTS_PER_MINUTE):
        raise ValueError(f"zone must be 0..5, got {zone_number}")
    return POINTS_PER_MINUTE[zone_number]


def effort_points(bpm: Sequence[float], sample_seconds: float, hr_max: float) -> float:
    """Points of a series of heart rates, each held for ``sample_seconds``."""
    return sum(POINTS_PER_MINUTE[zone(b, hr_max)] for b in bpm) * sample_seconds / 60.0
