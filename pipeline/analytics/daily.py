"""Daily metrics and recovery baselines from session summaries and morning readings.

- ``daily_metrics``: per athlete per day, load = Σ Banister TRIMP of the day's sessions,
  srpe_load = Σ session-RPE load, and :func:`gympulse.pipeline.analytics.load.performance` on the
  TRIMP load (history_days, CTL, ATL, TSB, ACWR EWMA and rolling, monotony, strain; null
  while building, :mod:`.load`). Days without
  training count as load 0 up to ``until`` so fitness and fatigue keep decaying.
- ``baselines`` (docs/design.md; Plews et al. 2013, *Training adaptation and heart rate
  variability in elite endurance athletes*, Sports Med 43:773): the morning ln RMSSD and
  resting HR per day; normal range = mean ± 1 SD of the daily values over the last 60
  days (at least 7 values), leaving out a day further than 15 bpm (resting HR) or 1.0 (ln
  RMSSD) from the 60-day median, so one outlier does not widen the range; 7-day rolling
  mean (at least 3 values); flags with a
  direction (Plews et al. 2013; Buchheit 2014, Front Physiol 5:73): ``flag_hrv`` when the
  ln RMSSD rolling mean falls *below* its range, ``flag_hr_rest`` when the resting-HR
  rolling mean rises *above* its range. The opposite directions are good signs, not flags
  (:mod:`gympulse.pipeline.analytics.readiness` names them). Plus ``flag_acwr`` when the week's
  load is more than 1.5 times the last four weeks' (ACWR EWMA 7/28 > 1.5: a fact
  about the load, not an injury risk — Impellizzeri et al. 2020/2021, see :mod:`.load`) and
  ``flag_form`` when form (TSB) < −30; neither is raised while the value is building.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from gympulse.pipeline.analytics import tables
from gympulse.pipeline.analytics.load import performance

if TYPE_CHECKING:
    import polars as pl

BASELINE_DAYS = 60
BASELINE_MIN_VALUES = 7
ROLLING_DAYS = 7
ROLLING_MIN_VALUES = 3
# A day this far from the 60-day median is not part of the normal range: 15 bpm of
# resting HR or 1.0 of ln RMSSD (e^1: a 2.7-fold RMSSD) is never a resting morning's
# day-to-day change (a few bpm, a few tenths: Plews et al. 2013; Buchheit 2014).
OUTLIER_FROM_MEDIAN = {"ln_rmssd": 1.0, "hr_rest": 15.0}
ACWR_FLAG = 1.5
FORM_FLAG = -30.0


def daily_loads(summaries: pl.DataFrame, tz: str | None = None) -> pl.DataFrame:
    """Per athlete per day: load (Σ TRIMP), srpe_load, sessions, minutes.

    ``tz`` (an IANA name, the site's time zone): a session counts for the local day of its
    ``start_ms`` there; None keeps the summaries' ``date`` column as it is."""
    import polars as pl

    from gympulse.pipeline.analytics.sessions import local_date

    day = (
        pl.col("date").cast(pl.Date)
        if tz is None
        else local_date(pl.col("start_ms"), tz).alias("date")
    )
    return (
        summaries.group_by("athlete_id", day)
        .agg(
            pl.col("trimp_banister").fill_null(0.0).sum().alias("load"),
            pl.col("srpe_load").fill_null(0.0).sum().cast(pl.Float64).alias("srpe_load"),
            pl.len().cast(pl.Int64).alias("sessions"),
            (pl.col("duration_s").sum() / 60.0).alias("minutes"),
        )
        .sort("athlete_id", "date")
    )


def daily_metrics(loads: pl.DataFrame, until: dt.date | None, now_ms: int) -> pl.DataFrame:
    """``daily_metrics`` rows for every athlete in ``loads`` from their first day to
    ``until`` (or their last day)."""
    import polars as pl

    if loads.is_empty():
        return tables.conform(tables.DAILY_METRICS, pl.DataFrame())
    frame = loads.select("athlete_id", "date", "load", "srpe_load", "sessions", "minutes")
    if until is not None:
        ends = frame.select(pl.col("athlete_id").unique()).with_columns(
            pl.lit(until).alias("date"),
            pl.lit(0.0).alias("load"),
            pl.lit(0.0).alias("srpe_load"),
            pl.lit(0, pl.Int64).alias("sessions"),
            pl.lit(0.0).alias("minutes"),
        )
        frame = (
            pl.concat([frame, ends.filter(pl.col("date") >= until)])
            .group_by("athlete_id", "date")
            .agg(
                pl.col("load").sum(),
                pl.col("srpe_load").sum(),
                pl.col("sessions").sum(),
                pl.col("minutes").sum(),
            )
        )
    out = performance(frame, by=["athlete_id"]).with_columns(
        pl.col("srpe_load").fill_null(0.0),
        pl.col("sessions").fill_null(0),
        pl.col("minutes").fill_null(0.0),
        pl.lit(now_ms, pl.Int64).alias("updated_ms"),
    )
    return tables.conform(tables.DAILY_METRICS, out)


def baselines(readings: pl.DataFrame, metrics: pl.DataFrame, now_ms: int) -> pl.DataFrame:
    """``baselines`` rows from ``morning_readings`` rows and ``daily_metrics`` rows."""
    import polars as pl

    day = (
        readings.group_by("athlete_id", pl.col("date").cast(pl.Date)).agg(
            pl.col("ln_rmssd").mean(), pl.col("hr_rest").mean()
        )
        if not readings.is_empty()
        else pl.DataFrame(
            schema={
                "athlete_id": pl.Int64,
                "date": pl.Date,
                "ln_rmssd": pl.Float64,
                "hr_rest": pl.Float64,
            }
        )
    )
    loads = (
        metrics.select("athlete_id", pl.col("date").cast(pl.Date), "acwr_ewma", "tsb")
        if not metrics.is_empty()
        else pl.DataFrame(
            schema={
                "athlete_id": pl.Int64,
                "date": pl.Date,
                "acwr_ewma": pl.Float64,
                "tsb": pl.Float64,
            }
        )
    )
    keys = pl.concat([day.select("athlete_id", "date"), loads.select("athlete_id", "date")])
    if keys.is_empty():
        return tables.conform(tables.BASELINES, pl.DataFrame())
    grid = (
        keys.group_by("athlete_id")
        .agg(pl.date_ranges(pl.col("date").min(), pl.col("date").max()).first().alias("date"))
        .explode("date")
    )
    frame = (
        grid.join(day, on=["athlete_id", "date"], how="left")
        .join(loads, on=["athlete_id", "date"], how="left")
        .sort("athlete_id", "date")
    )
    # One outlier must not move a normal range for two months: a day's value further than
    # OUTLIER_FROM_MEDIAN from the 60-day median is left out of the 60-day mean and SD
    # (the 7-day mean keeps every value).
    frame = frame.with_columns(
        [
            pl.col(v).rolling_median(BASELINE_DAYS, min_samples=BASELINE_MIN_VALUES)
            .over("athlete_id").alias(f"_{v}_med")
            for v in OUTLIER_FROM_MEDIAN
        ]
    ).with_columns(
        [
            pl.when(
                pl.col(f"_{v}_med").is_null()
                | ((pl.col(v) - pl.col(f"_{v}_med")).abs() <= limit)
            ).then(pl.col(v)).alias(f"_{v}_kept")
            for v, limit in OUTLIER_FROM_MEDIAN.items()
        ]
    )  # fmt: skip
    cols = []
    for v in ("ln_rmssd", "hr_rest"):
        c = pl.col(v)
        kept = pl.col(f"_{v}_kept")
        cols += [
            kept.rolling_mean(BASELINE_DAYS, min_samples=BASELINE_MIN_VALUES)
            .over("athlete_id")
            .alias(f"{v}_mean60"),
            kept.rolling_std(BASELINE_DAYS, min_samples=BASELINE_MIN_VALUES)
            .over("athlete_id")
            .alias(f"{v}_sd60"),
            c.rolling_mean(ROLLING_DAYS, min_samples=ROLLING_MIN_VALUES)
            .over("athlete_id")
            .alias(f"{v}_roll7"),
        ]
    frame = frame.with_columns(cols)

    def below(v: str) -> pl.Expr:
        mean, sd, roll = pl.col(f"{v}_mean60"), pl.col(f"{v}_sd60"), pl.col(f"{v}_roll7")
        return (roll < mean - sd).fill_null(False)

    def above(v: str) -> pl.Expr:
        mean, sd, roll = pl.col(f"{v}_mean60"), pl.col(f"{v}_sd60"), pl.col(f"{v}_roll7")
        return (roll > mean + sd).fill_null(False)

    frame = frame.with_columns(
        below("ln_rmssd").alias("flag_hrv"),
        above("hr_rest").alias("flag_hr_rest"),
        (pl.col("acwr_ewma") > ACWR_FLAG).fill_null(False).alias("flag_acwr"),
        (pl.col("tsb") < FORM_FLAG).fill_null(False).alias("flag_form"),
    ).with_columns(
        pl.concat_str(
            [
                pl.when(pl.col(f"flag_{n}")).then(pl.lit(n))
                for n in ("hrv", "hr_rest", "acwr", "form")
            ],
            separator=",",
            ignore_nulls=True,
        ).alias("flags"),
        pl.lit(now_ms, pl.Int64).alias("updated_ms"),
    )
    return tables.conform(tables.BASELINES, frame)
