"""Training load: TRIMP, session-RPE, and the daily performance model.

- Banister TRIMP as in Morton, Fitz-Clarke & Banister (1990), *Modeling human performance
  in running*, J Appl Physiol 69(3):1171–1177: minutes · x · a · e^(b·x) with
  x = (HRavg − HRrest) / (HRmax − HRrest); men a = 0.64, b = 1.92; women a = 0.86,
  b = 1.67; 0 when HRavg ≤ HRrest. x is not capped at 1: an average above HRmax means the
  athlete's HRmax is set too low, and the load then grows as the formula says. With the
  sex unknown, the mean of the two variants is used.
- Edwards TRIMP (Edwards 1993, *The Heart Rate Monitor Book*): Σ minutes in zone × zone
  (zones 1–5 of :mod:`gympulse.pipeline.analytics.zones`).
- Session-RPE load (Foster et al. 2001, *A new approach to monitoring exercise training*,
  J Strength Cond Res 15(1):109–115): CR-10 rating × minutes.

Which load drives the daily model: ``daily_metrics.load`` is the day's Banister TRIMP
(objective, available for every session with a strap). Strength work is poorly captured
by heart rate, so ``daily_metrics.srpe_load`` carries the day's session-RPE load alongside;
:func:`performance` runs on any ``load`` column, so a coach view can show the model on
either (call it with ``load = srpe_load``). The two are on different scales (a hard hour
is ~150 TRIMP but ~480 AU of sRPE), so they are never summed. Power is a third unit of
the same sessions: ``session_power.tss`` (:mod:`.power`, with the athlete's FTP) and its
daily sum :func:`gympulse.pipeline.analytics.power.daily_tss` are kept beside TRIMP the
same way — a spin class has a TRIMP from the strap *and* a TSS from the bike, and adding the
two would count that class twice.

:func:`performance` — one seeding rule for every average of the daily load, and a number
only once its window holds enough days:

- **Averages** (fitness CTL, fatigue ATL, and ACWR's acute and chronic EWMAs) are
  exponentially weighted means of the days seen so far, with no seed: the weights
  (1 − k)^i of the available days are renormalised to sum to 1 (polars ``ewm_mean(adjust=
  True)``). CTL and ATL use GoldenCheetah's Performance Manager coefficient
  (``src/Metrics/PMCData.cpp``) k = 1 − e^(−1/τ), τ = 42 days (CTL) and 7 days (ATL); the
  ACWR EWMAs Williams, West, Cross & Stokes (2017, *Better way to determine the acute:chronic
  workload ratio?*, Br J Sports Med 51:209) λ = 2/(N+1), N = 7 and 28. A zero seed (as
  GoldenCheetah) claims a newcomer did nothing before their first day — so every new guest
  looked "fatigued" (CTL 0.2 of the load, ATL 0.8 after ten days); a seed with the first
  day's load (as the ACWR had) claims they trained like that every day before — a day-1
  ACWR of 1.00. The renormalised mean claims nothing about the days before: a constant load
  L gives CTL = ATL = L, TSB 0 and ACWR 1 from the first day on; after a long history it
  equals GoldenCheetah's (the seed's weight (1 − k)^(t+1) vanishes: 1e-4 after a year).
- **Form** TSB_t = CTL_{t−1} − ATL_{t−1}; the pages show the EWMA ACWR (acute / chronic
  mean); beside it the coupled rolling ACWR = mean load of the last
  7 days / mean load of the last 28 (Hulin et al. 2014).
- **Building** (``history_days``: the athlete's days so far, 1 on their first): a value is
  null until its window holds enough days — ATL from day 7, both ACWRs from day 28, CTL from
  day 42 and TSB from day 43 (it uses yesterday's CTL). Pages say "building (N of M days)".
- ACWR is a ratio of two loads, nothing more: it is not an injury predictor and has no
  "sweet spot" (Impellizzeri et al. 2020, *Training load and its role in injury prevention,
  part 2*, J Athl Train 55:893; Impellizzeri et al. 2021, *What role do chronic workloads
  play in the ACWR? Time to dismiss ACWR and its underlying theory*, Sports Med 51:581;
  the coupled ratio shares its acute week with the chronic month, Lolli et al. 2019, Br J
  Sports Med 53:921).

Monotony = 7-day mean / 7-day population SD (undefined when the SD is 0), strain = 7-day
load × monotony (Foster 1998, *Monitoring training in athletes with reference to
overtraining syndrome*, Med Sci Sports Exerc 30:1164).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gympulse.pipeline.analytics.zones import zone

if TYPE_CHECKING:
    import polars as pl

MORTON = {"male": (0.64, 1.92), "female": (0.86, 1.67)}
CTL_DAYS = 42.0
ATL_DAYS = 7.0
ACWR_ACUTE = 7
ACWR_CHRONIC = 28
# Days of history before a value is shown (module docstring, "Building").
SHOWN_FROM = {"atl": 7, "acwr_ewma": ACWR_CHRONIC, "acwr_rolling": ACWR_CHRONIC, "ctl": 42}
PERFORMANCE_COLUMNS = (
    "history_days",
    "ctl",
    "atl",
    "tsb",
    "acwr_ewma",
    "acwr_rolling",
    "monotony",
    "strain",
)


def banister_trimp(
    minutes: float, hr_avg: float, hr_rest: float, hr_max: float, sex: str | None
) -> float:
    """Banister TRIMP of a session from its average HR (Morton et al. 1990)."""
    if hr_max <= hr_rest:
        raise ValueError(f"hr_max ({hr_max}) must exceed hr_rest ({hr_rest})")
    if sex is None:
        return (
            banister_trimp(minutes, hr_avg, hr_rest, hr_max, "male")
            + banister_trimp(minutes, hr_avg, hr_rest, hr_max, "female")
        ) / 2.0
    try:
        a, b = MORTON[sex]
    except KeyError:
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}") from None
    if minutes <= 0 or hr_avg <= hr_rest:
        return 0.0
    x = (hr_avg - hr_rest) / (hr_max - hr_rest)
    return minutes * x * a * math.exp(b * x)


def edwards_trimp(bpm: Sequence[float], sample_seconds: float, hr_max: float) -> float:
    """Edwards TRIMP: Σ over samples of zone × sample duration in minutes."""
    return sum(zone(b, hr_max) for b in bpm) * sample_seconds / 60.0


def srpe_load(rpe: float, minutes: float) -> float:
    """Foster 2001 session-RPE load: CR-10 rating (0–10) × minutes (arbitrary units)."""
    if not 0 <= rpe <= 10:
        raise ValueError(f"rpe must be on the CR-10 scale 0..10, got {rpe}")
    if minutes < 0:
        raise ValueError(f"minutes must be >= 0, got {minutes}")
    return rpe * minutes


def _weighted_mean(load: pl.Expr, k: float, by: list[str]) -> pl.Expr:
    """The exponentially weighted mean of the days so far, weights (1 − k)^i renormalised
    over the available days (no seed)."""
    y = load.ewm_mean(alpha=k, adjust=True)
    return y.over(by) if by else y


def performance(daily: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Add history_days, ctl, atl, tsb, acwr_ewma, acwr_rolling, monotony and strain to
    ``daily`` (module docstring: one seeding rule, null while building).

    ``daily`` has a ``date`` (Date) and a ``load`` column, plus the ``by`` group columns
    (e.g. ``athlete_id``). Days missing between a group's first and last date are added
    with load 0 (null loads count as 0), so the result has one row per day, sorted.
    Undefined values (a ratio over a chronic load of 0, monotony with SD 0, the rolling
    ratio before day 28) are null.
    """
    import polars as pl

    group = list(by)
    if daily.is_empty():
        return daily.with_columns([pl.lit(None, pl.Float64).alias(c) for c in PERFORMANCE_COLUMNS])
    frame = daily.with_columns(pl.col("date").cast(pl.Date), pl.col("load").cast(pl.Float64))
    if group:
        spans = frame.group_by(group).agg(
            pl.date_ranges(pl.col("date").min(), pl.col("date").max()).first().alias("date")
        )
    else:
        spans = frame.select(
            pl.date_ranges(pl.col("date").min(), pl.col("date").max()).alias("date")
        )
    grid = spans.explode("date")
    extra = [c for c in frame.columns if c not in (*group, "date", "load")]
    summed = frame.group_by([*group, "date"]).agg(
        pl.col("load").fill_null(0.0).sum(), *[pl.col(c).first() for c in extra]
    )
    frame = (
        grid.join(summed, on=[*group, "date"], how="left")
        .with_columns(pl.col("load").fill_null(0.0))
        .sort([*group, "date"])
    )

    def w(e: pl.Expr) -> pl.Expr:
        return e.over(group) if group else e

    load = pl.col("load")
    index = w(pl.int_range(pl.len()))
    frame = frame.with_columns(
        (index + 1).cast(pl.Int64).alias("history_days"),
        _weighted_mean(load, 1.0 - math.exp(-1.0 / CTL_DAYS), group).alias("ctl"),
        _weighted_mean(load, 1.0 - math.exp(-1.0 / ATL_DAYS), group).alias("atl"),
        _weighted_mean(load, 2.0 / (ACWR_ACUTE + 1), group).alias("_acute"),
        _weighted_mean(load, 2.0 / (ACWR_CHRONIC + 1), group).alias("_chronic"),
        w(load.rolling_mean(ACWR_ACUTE, min_samples=ACWR_ACUTE)).alias("_acute_r"),
        w(load.rolling_mean(ACWR_CHRONIC, min_samples=ACWR_CHRONIC)).alias("_chronic_r"),
        w(load.rolling_mean(7, min_samples=7)).alias("_wmean"),
        w(load.rolling_std(7, min_samples=7, ddof=0)).alias("_wsd"),
        w(load.rolling_sum(7, min_samples=7)).alias("_wsum"),
    )

    def ratio(num: str, den: str) -> pl.Expr:
        # A tiny positive SD from float cancellation on a constant week is an SD of 0.
        eps = 1e-9 * (1.0 + pl.col(num).abs())
        return pl.when(pl.col(den) > eps).then(pl.col(num) / pl.col(den))

    frame = frame.with_columns(
        ratio("_acute", "_chronic").alias("acwr_ewma"),
        ratio("_acute_r", "_chronic_r").alias("acwr_rolling"),
        ratio("_wmean", "_wsd").alias("monotony"),
    ).with_columns(
        (pl.col("_wsum") * pl.col("monotony")).alias("strain"),
        *[
            pl.when(pl.col("history_days") >= days).then(pl.col(c)).alias(c)
            for c, days in SHOWN_FROM.items()
        ],
    )
    frame = frame.with_columns(
        w((pl.col("ctl") - pl.col("atl")).shift(1)).alias("tsb")  # null until CTL is shown
    )
    return frame.drop("_acute", "_chronic", "_acute_r", "_chronic_r", "_wmean", "_wsd", "_wsum")
