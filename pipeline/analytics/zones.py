"""Heart-rate zones.

Five zones by percent of HRmax, lower bound inclusive (``docs/design.md``):
zone 1 = [50, 60) %, 2 = [60, 70), 3 = [70, 80), 4 = [80, 90), 5 = [90, 100] — a heart rate
above HRmax also counts as zone 5 — and zone 0 below 50 %. The percentages are the
"% HRmax" bands of the ACSM's Guidelines for Exercise Testing and Prescription and of the
usual gym board systems. Karvonen (heart-rate reserve) bounds are available as an option:
Karvonen, Kentala & Mustala (1957), Ann Med Exp Biol Fenn 35:307, target HR = HRrest +
p · (HRmax − HRrest). HRmax without a measurement: Tanaka, Monahan & Seals (2001),
J Am Coll Cardiol 37:153, HRmax = 208 − 0.7 · age.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

# The zone rule itself is domain (ingestion stamps stored samples with it, the stores and
# the live board use it): gympulse.pipeline.domain. Analytics take it from here, next to
# its variants.
from gympulse.pipeline.domain import ZONE_LOWER_PCT as ZONE_LOWER_PCT
from gympulse.pipeline.domain import zone as zone

if TYPE_CHECKING:
    import polars as pl


def karvonen_bounds(hr_rest: float, hr_max: float) -> list[int]:
    """Lower bounds (bpm) of zones 1..5 on the heart-rate reserve, rounded half up."""
    if hr_max <= hr_rest:
        raise ValueError(f"hr_max ({hr_max}) must exceed hr_rest ({hr_rest})")
    reserve = hr_max - hr_rest
    return [math.floor(hr_rest + pct / 100 * reserve + 0.5) for pct in ZONE_LOWER_PCT]


def zone_from_bounds(bpm: float, bounds: list[int]) -> int:
    """Zone 0–5 of ``bpm`` given the lower bounds of zones 1..5 (e.g. Karvonen bounds)."""
    return sum(1 for b in bounds if bpm >= b)


def hr_max_estimate(age: float) -> float:
    """Tanaka et al. 2001: 208 − 0.7 · age."""
    return 208.0 - 0.7 * age


def zone_expr(bpm: pl.Expr, hr_max: pl.Expr) -> pl.Expr:
    """:func:`zone` as a polars expression (Int8)."""
    import polars as pl

    z: pl.Expr = pl.lit(0, pl.Int8)
    for i, pct in enumerate(ZONE_LOWER_PCT, start=1):
        z = pl.when(bpm * 100 >= hr_max * pct).then(pl.lit(i, pl.Int8)).otherwise(z)
    return z
