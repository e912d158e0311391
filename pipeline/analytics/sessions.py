"""Session detection and session summaries over the store's samples (polars, vectorised).

A **session** is either a class from the journal's schedule (every sample of an athlete
between the class's start and end) or an automatically detected workout: a run of samples
with contact (``contact`` not false) and HR at or above resting + 20 % of the heart-rate
reserve, gaps under 2 min bridged, lasting at least 10 min. All samples of the athlete
between the run's first and last active sample belong to it.

The summary (columns of :data:`pipeline.analytics.tables.SESSION_SUMMARY`) applies the
pure functions of this package as polars expressions: zones (:mod:`.zones`), Banister and
Edwards TRIMP (:mod:`.load`), Keytel calories per sample (:mod:`.energy`), effort points
(:mod:`.points`), HRR60 (:mod:`.recovery`: interpolated at end + 60 s, only with a sample
within ±2 s) and RMSSD over the session's RR series after the Lipponen–Tarvainen
correction (:mod:`.hrv`). Every 1 Hz sample counts as one second.

Athlete parameters come as a frame (:func:`athlete_frame`): ``athlete_id``, ``hr_max``,
``hr_rest``, ``sex``, ``weight_kg``, ``age``. Missing profile values fall back to
HRmax 190 (or Tanaka from the age), resting HR 60, weight 75 kg, age 35 and the mean of
the male and female equations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.analytics import energy, hrv, load, points, tables

if TYPE_CHECKING:
    import polars as pl

    from pipeline.registry import Athlete

AUTO_RESERVE_FRACTION = 0.20
AUTO_MIN_MS = 10 * 60_000
AUTO_GAP_MS = 2 * 60_000
CLASS_MIN_SAMPLES = 60
DEFAULT_HR_REST = 60.0
DEFAULT_WEIGHT_KG = 75.0
DEFAULT_AGE = 35.0


def athlete_frame(athletes: Sequence[Athlete], year: int) -> pl.DataFrame:
    """The per-athlete parameters the summaries need, with documented defaults."""
    import polars as pl

    rows = []
    for a in athletes:
        age = a.age(year)
        rows.append(
            {
                "athlete_id": a.id,
                "hr_max": a.effective_hr_max(year),
                "hr_rest": float(a.hr_rest) if a.hr_rest else DEFAULT_HR_REST,
                "sex": a.sex,
                "weight_kg": float(a.weight_kg) if a.weight_kg else DEFAULT_WEIGHT_KG,
                "age": float(age) if age is not None else DEFAULT_AGE,
            }
        )
    return pl.DataFrame(rows, schema=athlete_schema())


def athlete_schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "athlete_id": pl.Int64(),
        "hr_max": pl.Float64(),
        "hr_rest": pl.Float64(),
        "sex": pl.String(),
        "weight_kg": pl.Float64(),
        "age": pl.Float64(),
    }


def assign_sessions(
    samples: pl.DataFrame, athletes: pl.DataFrame, classes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Samples (with athlete parameters joined) that belong to a session, sorted by
    athlete and time, with ``class_id`` and an integer session key ``_sk`` added (the
    run's first ts for a detected workout, −class_id for a class).

    ``classes``: ``class_id``, ``start_ms``, ``end_ms`` (the journal's schedule; classes
    must not overlap)."""
    import numpy as np
    import polars as pl

    frame = (
        samples.lazy()
        .filter(pl.col("athlete_id").is_not_null())
        .select("athlete_id", "ts", "bpm", "rr_ms", "contact")
        .join(athletes.lazy(), on="athlete_id", how="inner")
        .sort("athlete_id", "ts")
        .collect()
    )
    class_id = np.full(frame.height, -1, dtype=np.int64)
    if classes is not None and not classes.is_empty() and frame.height:
        cls = classes.sort("start_ms")
        starts = cls["start_ms"].to_numpy()
        ends = cls["end_ms"].to_numpy()
        ids = cls["class_id"].to_numpy()
        ts = frame["ts"].to_numpy()
        idx = np.searchsorted(starts, ts, side="right") - 1
        inside = (idx >= 0) & (ts < ends[np.maximum(idx, 0)])
        class_id = np.where(inside, ids[np.maximum(idx, 0)], -1)
    frame = frame.with_columns(pl.Series("class_id", class_id).replace(-1, None).cast(pl.Int64))

    threshold = pl.col("hr_rest") + AUTO_RESERVE_FRACTION * (pl.col("hr_max") - pl.col("hr_rest"))
    lf = frame.lazy()
    runs = (
        lf.filter(
            pl.col("class_id").is_null()
            & pl.col("contact").fill_null(True)
            & (pl.col("bpm") >= threshold)
        )
        .select("athlete_id", "ts")
        .with_columns(
            (
                (pl.col("ts") - pl.col("ts").shift(1)).over("athlete_id").fill_null(AUTO_GAP_MS)
                >= AUTO_GAP_MS
            )
            .cum_sum()
            .over("athlete_id")
            .alias("_run")
        )
        .group_by("athlete_id", "_run")
        .agg(pl.col("ts").min().alias("_start"), pl.col("ts").max().alias("_end"))
        .filter(pl.col("_end") - pl.col("_start") >= AUTO_MIN_MS)
        .select("athlete_id", "_start", "_end")
        .sort("athlete_id", "_start")
    )
    return (
        lf.join_asof(
            runs,
            left_on="ts",
            right_on="_start",
            by="athlete_id",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            pl.when(pl.col("class_id").is_not_null())
            .then(-pl.col("class_id"))
            .when(pl.col("ts") <= pl.col("_end"))
            .then(pl.col("_start"))
            .alias("_sk")
        )
        .filter(pl.col("_sk").is_not_null())
        .drop("_start", "_end")
        .collect()
    )


def summarize(
    samples: pl.DataFrame,
    athletes: pl.DataFrame,
    classes: pl.DataFrame | None = None,
    *,
    now_ms: int = 0,
) -> pl.DataFrame:
    """Session summaries (``session_summary`` rows, without rpe) of the sessions found in
    ``samples`` (a :data:`pipeline.stores.base.SAMPLE_COLUMNS` frame)."""
    import polars as pl

    from pipeline.analytics.zones import zone_expr

    sessions = assign_sessions(samples, athletes, classes)
    if sessions.is_empty():
        return tables.conform(tables.SESSION_SUMMARY, pl.DataFrame())
    keys = ["athlete_id", "_sk"]
    kcal_coef = [pl.lit(c) for c in energy.keytel_coefficients_kcal("male")]
    kcal_coef_f = [pl.lit(c) for c in energy.keytel_coefficients_kcal("female")]
    bpm = pl.col("bpm").cast(pl.Float64)

    def keytel(coef: list[pl.Expr]) -> pl.Expr:
        return coef[0] + coef[1] * bpm + coef[2] * pl.col("weight_kg") + coef[3] * pl.col("age")

    kcal_min = (
        pl.when(pl.col("sex") == "male")
        .then(keytel(kcal_coef))
        .when(pl.col("sex") == "female")
        .then(keytel(kcal_coef_f))
        .otherwise((keytel(kcal_coef) + keytel(kcal_coef_f)) / 2)
        .clip(lower_bound=0.0)
    )
    ppm = pl.Series(points.POINTS_PER_MINUTE)
    lz = sessions.lazy().with_columns(zone_expr(bpm, pl.col("hr_max")).alias("_zone"))
    lz = lz.with_columns(
        pl.col("_zone").replace_strict(list(range(6)), ppm, return_dtype=pl.Float64).alias("_ppm")
    )
    agg = lz.group_by(keys).agg(
        pl.col("class_id").first(),
        pl.col("ts").min().alias("start_ms"),
        pl.col("ts").max().alias("end_ms"),
        pl.len().cast(pl.Int64).alias("n_samples"),
        bpm.mean().alias("hr_avg"),
        pl.col("bpm").max().cast(pl.Int32).alias("hr_max"),
        pl.col("bpm").sort_by("ts").last().cast(pl.Float64).alias("_end_bpm"),
        pl.col("hr_max").first().alias("hr_max_ref"),
        pl.col("hr_rest").first().alias("hr_rest_ref"),
        pl.col("sex").first(),
        *[(pl.col("_zone") == z).sum().cast(pl.Int64).alias(f"zone{z}_s") for z in range(6)],
        (pl.col("_zone").cast(pl.Float64).sum() / 60.0).alias("trimp_edwards"),
        (kcal_min.sum() / 60.0).alias("kcal"),
        (pl.col("_ppm").sum() / 60.0).alias("points"),
    )
    agg = agg.with_columns(
        pl.when(pl.col("_sk") < 0).then(pl.lit("class")).otherwise(pl.lit("auto")).alias("kind"),
        pl.when(pl.col("_sk") < 0)
        .then(pl.format("class-{}", pl.col("class_id")))
        .otherwise(pl.format("auto-{}-{}", pl.col("athlete_id"), pl.col("_sk")))
        .alias("session_id"),
    ).filter((pl.col("kind") == "auto") | (pl.col("n_samples") >= CLASS_MIN_SAMPLES))
    x = (pl.col("hr_avg") - pl.col("hr_rest_ref")) / (pl.col("hr_max_ref") - pl.col("hr_rest_ref"))
    minutes = (pl.col("end_ms") - pl.col("start_ms")) / 60_000.0
    male, female = load.MORTON["male"], load.MORTON["female"]

    def morton(a: float, b: float) -> pl.Expr:
        return minutes * x * a * (b * x).exp()

    banister = (
        pl.when(pl.col("hr_avg") <= pl.col("hr_rest_ref"))
        .then(0.0)
        .when(pl.col("sex") == "male")
        .then(morton(*male))
        .when(pl.col("sex") == "female")
        .then(morton(*female))
        .otherwise((morton(*male) + morton(*female)) / 2)
    )
    agg = agg.with_columns(
        banister.alias("trimp_banister"),
        ((pl.col("end_ms") - pl.col("start_ms")) / 1000.0)
        .round()
        .cast(pl.Int64)
        .alias("duration_s"),
        pl.from_epoch("start_ms", time_unit="ms").dt.date().alias("date"),
    )
    summary = agg.collect()
    summary = summary.join(_hrr60(samples, summary), on=keys, how="left")
    summary = summary.join(_session_rmssd(sessions), on=keys, how="left")
    summary = summary.with_columns(pl.lit(now_ms, pl.Int64).alias("updated_ms"))
    return tables.conform(tables.SESSION_SUMMARY, summary).sort("athlete_id", "start_ms")


def _hrr60(samples: pl.DataFrame, summary: pl.DataFrame) -> pl.DataFrame:
    """HRR60 per session: end bpm minus the bpm interpolated at end + 60 s (±2 s rule)."""
    import polars as pl

    from pipeline.analytics.recovery import RECOVERY_S, TOLERANCE_S

    tol = int(TOLERANCE_S * 1000)
    pts = (
        samples.lazy()
        .filter(pl.col("athlete_id").is_not_null())
        .select("athlete_id", "ts", pl.col("bpm").cast(pl.Float64))
        .sort("ts")
    )
    targets = (
        summary.lazy()
        .select(
            "athlete_id",
            "_sk",
            "_end_bpm",
            (pl.col("end_ms") + int(RECOVERY_S * 1000)).alias("_t"),
        )
        .sort("_t")
    )
    before = pts.rename({"ts": "_t0", "bpm": "_b0"})
    after = pts.rename({"ts": "_t1", "bpm": "_b1"})
    joined = targets.join_asof(
        before,
        left_on="_t",
        right_on="_t0",
        by="athlete_id",
        strategy="backward",
        check_sortedness=False,
    ).join_asof(
        after,
        left_on="_t",
        right_on="_t1",
        by="athlete_id",
        strategy="forward",
        check_sortedness=False,
    )
    near = ((pl.col("_t") - pl.col("_t0")) <= tol) | ((pl.col("_t1") - pl.col("_t")) <= tol)
    interp = (
        pl.when(pl.col("_t0") == pl.col("_t"))
        .then(pl.col("_b0"))
        .when(pl.col("_t0").is_null())
        .then(pl.col("_b1"))
        .when(pl.col("_t1").is_null())
        .then(pl.col("_b0"))
        .otherwise(
            pl.col("_b0")
            + (pl.col("_b1") - pl.col("_b0"))
            * (pl.col("_t") - pl.col("_t0"))
            / (pl.col("_t1") - pl.col("_t0"))
        )
    )
    return (
        joined.with_columns(
            pl.when(near.fill_null(False)).then(pl.col("_end_bpm") - interp).alias("hrr60")
        )
        .select("athlete_id", "_sk", "hrr60")
        .collect()
    )


def rr_rmssd(rr_rows: pl.LazyFrame, keys: list[str]) -> pl.DataFrame:
    """RMSSD, n_rr and n_corrected per ``keys`` group of a frame with one ``rr`` per row
    (in time order), after artifact correction (:mod:`.hrv`)."""
    import polars as pl

    annotated = hrv.annotate_artifacts(rr_rows, "rr", keys)
    counts = annotated.group_by(keys).agg(
        (pl.col("_kind") != hrv.OK).sum().cast(pl.Int64).alias("n_corrected")
    )
    fixed = hrv.corrected_rows(annotated, "rr", keys)
    stats = fixed.group_by(keys, maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n_rr"),
        (pl.col("rr").diff().pow(2).mean().sqrt()).alias("rmssd"),
    )
    return stats.join(counts, on=keys, how="left").collect()


def _session_rmssd(sessions: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    keys = ["athlete_id", "_sk"]
    rr_rows = (
        sessions.lazy()
        .select(*keys, pl.col("rr_ms").alias("rr"))
        .explode("rr")
        .filter(pl.col("rr").is_not_null() & (pl.col("rr") > 0))
    )
    return rr_rmssd(rr_rows, keys)
