"""Session detection and session summaries over the store's samples (polars, vectorised).

A **session** is either a class from the journal's schedule (every sample of an athlete
between the class's start and end) or an automatically detected workout: a run of samples
with HR at or above resting + 20 % of the heart-rate reserve, gaps under 2 min bridged,
lasting at least 10 min. All samples of the athlete between the run's first and last
active sample belong to it.

Samples without skin contact (``contact = false``) are **no signal**, exactly like a
sample that never arrived: they are dropped before anything else, so they count nowhere
(detection, sample count, average and peak HR, zone seconds, kcal, TRIMP, points, HRR60,
RMSSD) — the same samples the HR curve hides. A lost minute inside a session is a gap, as
a drop-out is.

The summary (columns of :data:`gympulse.pipeline.analytics.tables.SESSION_SUMMARY`) applies the
pure functions of this package as polars expressions: zones (:mod:`.zones`), Banister and
Edwards TRIMP (:mod:`.load`), Keytel calories per sample (:mod:`.energy`), effort points
(:mod:`.points`), HRR60 (:mod:`.recovery`: from the end of exercise — a class's last sample,
a detected workout's last peak before its cool-down — to 60 s later, interpolated, only
with a sample within ±2 s, and only when plausible, else empty with a reason) and RMSSD
over the session's RR series after the Lipponen–Tarvainen correction (:mod:`.hrv`). Every
1 Hz sample counts as one second.

Athlete parameters come as a frame (:func:`athlete_frame`): ``athlete_id``, ``year``,
``hr_max``, ``hr_rest``, ``sex``, ``weight_kg``, ``age`` — a row per year of age, so a
session counts with its athlete's HRmax and age of the (UTC) year it started in, a sample
with those of its own year (``domain.age_year``; a row without a year holds in every
year). Missing profile values fall back to
HRmax 190 (or Tanaka from the age), resting HR 60, weight 75 kg, age 35 and the mean of
the male and female equations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gympulse.pipeline.analytics import energy, load, points, tables

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from gympulse.pipeline.domain import Athlete

AUTO_RESERVE_FRACTION = 0.20
AUTO_MIN_MS = 10 * 60_000
AUTO_GAP_MS = 2 * 60_000
CLASS_MIN_SAMPLES = 60
DEFAULT_HR_REST = 60.0
DEFAULT_WEIGHT_KG = 75.0
DEFAULT_AGE = 35.0


def rateable_from_ms(end_ms: int, class_end_ms: int | None) -> int:
    """When a session has ended, so that its RPE can be asked (Foster's session-RPE is the
    rating of the whole session, given after it): a class at its scheduled end (its last
    sample so far is only "10 minutes in"); a detected workout once no later sample could
    still extend it (its last active sample + the 2-minute gap that ends a run)."""
    if class_end_ms is not None:
        return class_end_ms
    return end_ms + AUTO_GAP_MS


def athlete_frame(athletes: Sequence[Athlete], years: Iterable[int]) -> pl.DataFrame:
    """The per-athlete parameters the summaries need, with documented defaults: one row
    per athlete and ``year`` of age (:func:`gympulse.pipeline.domain.age_year`, the UTC
    year of the moment measured), for every year the samples summarized may fall in."""
    import polars as pl

    rows = []
    for a in athletes:
        for year in sorted(set(years)):
            age = a.age(year)
            rows.append(
                {
                    "athlete_id": a.id,
                    "year": year,
                    "hr_max": a.effective_hr_max(year),
                    "hr_rest": float(a.hr_rest) if a.hr_rest else DEFAULT_HR_REST,
                    "sex": a.sex,
                    "weight_kg": float(a.weight_kg) if a.weight_kg else DEFAULT_WEIGHT_KG,
                    "age": float(age) if age is not None else DEFAULT_AGE,
                }
            )
    return pl.DataFrame(rows, schema=athlete_schema())


def _for_years(athletes: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame:
    """``athletes`` keyed by (athlete, year) for every year of ``samples``: a row without a
    year (a frame of fixed parameters, e.g. a measured HRmax) stands for each of them."""
    import polars as pl

    if "year" not in athletes.columns:
        athletes = athletes.with_columns(pl.lit(None, pl.Int32).alias("year"))
    undated = athletes.filter(pl.col("year").is_null())
    if undated.is_empty():
        return athletes
    years = samples.select(utc_year(pl.col("ts")).unique().alias("year"))
    every = undated.drop("year").join(years, how="cross").select(athletes.columns)
    return pl.concat([athletes.filter(pl.col("year").is_not_null()), every])


def utc_year(ts_ms: pl.Expr) -> pl.Expr:
    """:func:`gympulse.pipeline.domain.age_year` of an epoch-ms column: its UTC calendar
    year (tests/test_age_rule.py checks the two agree)."""
    import polars as pl

    return pl.from_epoch(ts_ms, time_unit="ms").dt.year().cast(pl.Int32)


def athlete_schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "athlete_id": pl.Int64(),
        "year": pl.Int32(),
        "hr_max": pl.Float64(),
        "hr_rest": pl.Float64(),
        "sex": pl.String(),
        "weight_kg": pl.Float64(),
        "age": pl.Float64(),
    }


def _sorted_samples(samples: pl.DataFrame, athletes: pl.DataFrame) -> pl.DataFrame:
    """The columns the summaries need, of samples of known athletes with skin contact
    (``contact`` not false: a sample without contact is no signal, like a missing one),
    sorted by athlete and time (filters and the sort are skipped when they would change
    nothing: the input is usually the store's output, already in that order)."""
    import numpy as np
    import polars as pl

    frame = samples.select("athlete_id", "ts", "bpm", "rr_ms", "contact")
    keep = pl.col("athlete_id").is_in(athletes["athlete_id"].implode()).fill_null(False)
    keep = keep & pl.col("contact").fill_null(True)
    if not frame.select(keep.all()).item():
        frame = frame.filter(keep)
    a = frame["athlete_id"].to_numpy()
    t = frame["ts"].to_numpy()
    ordered = bool(np.all((a[1:] > a[:-1]) | ((a[1:] == a[:-1]) & (t[1:] >= t[:-1]))))
    return frame if ordered else frame.sort("athlete_id", "ts")


def _assign(
    frame: pl.DataFrame, athletes: pl.DataFrame, classes: pl.DataFrame | None
) -> pl.DataFrame:
    import numpy as np
    import polars as pl

    n = frame.height
    aid = frame["athlete_id"].to_numpy()
    ts = frame["ts"].to_numpy()
    class_id: np.ndarray | None = None
    if classes is not None and not classes.is_empty() and n:
        cls = classes.sort("start_ms")
        starts = cls["start_ms"].to_numpy()
        ends = cls["end_ms"].to_numpy()
        ids = cls["class_id"].to_numpy()
        idx = np.searchsorted(starts, ts, side="right") - 1
        inside = (idx >= 0) & (ts < ends[np.maximum(idx, 0)])
        class_id = np.where(inside, ids[np.maximum(idx, 0)], -1)
        del idx, inside

    thresholds = athletes.select(
        "athlete_id",
        "year",
        pl.col("hr_rest") + AUTO_RESERVE_FRACTION * (pl.col("hr_max") - pl.col("hr_rest")),
    )
    thr_by_year = {(a, y): thr for a, y, thr in thresholds.iter_rows()}
    years = frame.select(utc_year(pl.col("ts")).alias("_year"))["_year"].to_numpy()  # its own
    # Rows are sorted by athlete: each athlete's rows start where a binary search says.
    athlete_ids = frame["athlete_id"].unique(maintain_order=True).to_list()
    bounds = np.append(np.searchsorted(aid, athlete_ids), n)
    bpm = frame["bpm"].to_numpy()
    contact = frame["contact"].fill_null(True).to_numpy()
    none = np.iinfo(np.int64).min
    sk = np.full(n, none, dtype=np.int64)
    for a, lo, hi in zip(athlete_ids, bounds[:-1], bounds[1:], strict=True):
        span = years[lo:hi]
        threshold = np.empty(hi - lo)
        for year in np.unique(span):  # one year, but for a night across New Year
            threshold[span == year] = thr_by_year[(a, int(year))]
        active = (bpm[lo:hi] >= threshold) & contact[lo:hi]
        if class_id is not None:
            active &= class_id[lo:hi] < 0
        rows = np.flatnonzero(active) + lo
        if not rows.size:
            continue
        t = ts[rows]
        breaks = np.flatnonzero(np.diff(t) >= AUTO_GAP_MS)
        firsts = np.append(0, breaks + 1)
        lasts = np.append(breaks, rows.size - 1)
        long_enough = t[lasts] - t[firsts] >= AUTO_MIN_MS
        for first, last in zip(rows[firsts[long_enough]], rows[lasts[long_enough]], strict=True):
            sk[first : last + 1] = ts[first]
    if class_id is not None:
        np.copyto(sk, -class_id, where=class_id >= 0)
    keep = sk != none
    out = frame.select("athlete_id", "ts", "bpm", "rr_ms").with_columns(
        pl.Series("class_id", class_id).replace(-1, None).cast(pl.Int64)
        if class_id is not None
        else pl.lit(None, pl.Int64).alias("class_id"),
        pl.Series("_sk", sk),
    )
    return out if keep.all() else out.filter(pl.Series(keep))


def summarize(
    samples: pl.DataFrame,
    athletes: pl.DataFrame,
    classes: pl.DataFrame | None = None,
    *,
    now_ms: int = 0,
    tz: str = "UTC",
) -> pl.DataFrame:
    """Session summaries (``session_summary`` rows, without rpe) of the sessions found in
    ``samples`` (a :data:`gympulse.pipeline.stores.base.SAMPLE_COLUMNS` frame). ``date`` is the day
    of the session's start in the site's time zone ``tz`` (an IANA name).

    Per-sample quantities (zone, Keytel kcal/min, points) depend only on the bpm and the
    athlete, so they are computed once per (session, bpm) from a bpm histogram of each
    session rather than once per sample."""
    import polars as pl

    from gympulse.pipeline.analytics.zones import zone_expr

    ordered = _sorted_samples(samples, athletes)
    athletes = _for_years(athletes, ordered)
    sessions = _assign(ordered, athletes, classes)
    if sessions.is_empty():
        return tables.conform(tables.SESSION_SUMMARY, pl.DataFrame())
    keys = ["athlete_id", "_sk"]
    # Runs of consecutive rows with the same session key: the unit of the RR series.
    sessions = sessions.with_columns(pl.struct(keys).rle_id().alias("_seg"))
    per_session = (
        sessions.lazy()
        .group_by(keys)
        .agg(
            pl.col("class_id").first(),
            pl.col("ts").min().alias("start_ms"),
            pl.col("ts").max().alias("end_ms"),
            pl.len().cast(pl.Int64).alias("n_samples"),
            pl.col("bpm").max().cast(pl.Int32).alias("hr_max"),
            pl.col("bpm").sort_by("ts").last().cast(pl.Float64).alias("_end_bpm"),
        )
        .collect()
    )
    # A session's parameters are those of its athlete in the year it started.
    session_year = per_session.select(*keys, utc_year(pl.col("start_ms")).alias("year"))
    histogram = (
        sessions.lazy()
        .group_by(*keys, "bpm")
        .agg(pl.len().cast(pl.Float64).alias("_n"))
        .join(session_year.lazy(), on=keys, how="inner")
        .join(athletes.lazy(), on=["athlete_id", "year"], how="inner")
        .collect()
    )
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
    n = pl.col("_n")
    zone = pl.col("_zone")
    weighted = (
        histogram.lazy()
        .with_columns(zone_expr(bpm, pl.col("hr_max")).alias("_zone"))
        .group_by(keys)
        .agg(
            ((bpm * n).sum() / n.sum()).alias("hr_avg"),
            pl.col("hr_max").first().alias("hr_max_ref"),
            pl.col("hr_rest").first().alias("hr_rest_ref"),
            pl.col("sex").first(),
            *[n.filter(zone == z).sum().cast(pl.Int64).alias(f"zone{z}_s") for z in range(6)],
            ((zone.cast(pl.Float64) * n).sum() / 60.0).alias("trimp_edwards"),
            ((kcal_min * n).sum() / 60.0).alias("kcal"),
            (
                (zone.replace_strict(list(range(6)), ppm, return_dtype=pl.Float64) * n).sum() / 60.0
            ).alias("points"),
        )
    )
    agg = per_session.lazy().join(weighted, on=keys, how="inner")
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
        local_date(pl.col("start_ms"), tz).alias("date"),
    )
    summary = agg.collect()
    summary = summary.join(_hrr60(ordered, summary), on=keys, how="left")
    summary = summary.join(_session_rmssd(sessions), on=keys, how="left")
    summary = summary.with_columns(pl.lit(now_ms, pl.Int64).alias("updated_ms"))
    return tables.conform(tables.SESSION_SUMMARY, summary).sort("athlete_id", "start_ms")


def local_date(ts_ms: pl.Expr, tz: str) -> pl.Expr:
    """The calendar day of an epoch-ms timestamp in the IANA time zone ``tz``."""
    import polars as pl

    utc = pl.from_epoch(ts_ms, time_unit="ms")
    if tz == "UTC":
        return utc.dt.date()
    return utc.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()


def _hrr60(ordered: pl.DataFrame, summary: pl.DataFrame) -> pl.DataFrame:
    """HRR60 per session (:mod:`.recovery`): ``exercise_end_ms`` (a class's last sample; a
    detected workout's end of exercise by :func:`.recovery.end_of_exercise`), ``hrr60`` =
    bpm there minus the bpm interpolated at + 60 s (±2 s rule), kept only when
    :func:`.recovery.checked_hrr60` finds it plausible, else null with ``hrr60_note``.
    ``ordered``: the samples with contact, sorted by athlete and time; a session's samples
    and the samples around each target time are found by binary search."""
    import numpy as np
    import polars as pl

    from gympulse.pipeline.analytics import recovery

    tol = int(recovery.TOLERANCE_S * 1000)
    after = int(recovery.RECOVERY_S * 1000)
    aid = ordered["athlete_id"].to_numpy()
    ts = ordered["ts"].to_numpy()
    bpm = ordered["bpm"].cast(pl.Float64).to_numpy()
    t_aid = summary["athlete_id"].to_numpy()
    lo = np.searchsorted(aid, t_aid, side="left")
    hi = np.searchsorted(aid, t_aid, side="right")
    auto = summary["_sk"].to_numpy() >= 0
    starts = summary["start_ms"].to_numpy()
    ends = summary["end_ms"].to_numpy()
    end_bpm = summary["_end_bpm"].to_numpy()
    rest = summary["hr_rest_ref"].to_numpy()
    hmax = summary["hr_max_ref"].to_numpy()
    out = np.full(summary.height, np.nan)
    ex_end = np.full(summary.height, -1, dtype=np.int64)
    notes: list[str | None] = [None] * summary.height
    for i in range(summary.height):
        a, b = int(lo[i]), int(hi[i])
        t_end, hr_end = int(ends[i]), float(end_bpm[i])
        if auto[i]:
            s0 = a + int(np.searchsorted(ts[a:b], starts[i], side="left"))
            s1 = a + int(np.searchsorted(ts[a:b], ends[i], side="right"))
            moderate = recovery.moderate_threshold(float(rest[i]), float(hmax[i]))
            end = recovery.end_of_exercise(ts[s0:s1], bpm[s0:s1], moderate, window=after)
            if end is None:
                notes[i] = recovery.LIGHT
                continue
            t_end, hr_end = int(ts[s0 + end[0]]), end[1]
        ex_end[i] = t_end
        t = t_end + after
        j = a + int(np.searchsorted(ts[a:b], t, side="right"))  # first sample after t
        t0 = ts[j - 1] if j > a else None
        t1 = ts[j] if j < b else None
        later: float | None = None
        if (t0 is not None and t - t0 <= tol) or (t1 is not None and t1 - t <= tol):
            if t0 is not None and t0 == t:
                later = float(bpm[j - 1])
            elif t0 is None:
                later = float(bpm[j])
            elif t1 is None:
                later = float(bpm[j - 1])
            else:
                later = float(bpm[j - 1] + (bpm[j] - bpm[j - 1]) * (t - t0) / (t1 - t0))
        value, notes[i] = recovery.checked_hrr60(hr_end, later, float(rest[i]))
        if value is not None:
            out[i] = value
    return summary.select("athlete_id", "_sk").with_columns(
        pl.Series("hrr60", out).fill_nan(None),
        pl.Series("hrr60_note", notes, dtype=pl.String),
        pl.Series("exercise_end_ms", ex_end).replace(-1, None),
    )


def rr_rmssd(rr: pl.Series | np.ndarray, group: np.ndarray | None = None) -> pl.DataFrame:
    """RMSSD, n_rr and n_corrected (see :func:`gympulse.pipeline.analytics.hrv.rmssd_by_group`) of
    an RR series after artifact correction, per contiguous ``group`` (one row per group in
    order of appearance, numbered by ``_g``)."""
    from gympulse.pipeline.analytics import hrv

    return hrv.rmssd_by_group(hrv.annotate_artifacts(rr, group))


def _session_rmssd(sessions: pl.DataFrame) -> pl.DataFrame:
    """Per session: RMSSD over its RR series. Each run of consecutive rows of a session
    (``_seg``; one run unless a class interrupts a detected workout) is corrected on its
    own; the runs' squared differences and counts add up to the session's."""
    import polars as pl

    beats = (
        sessions.select("_seg", pl.col("rr_ms").alias("rr"))
        .explode("rr")
        .filter(pl.col("rr").is_not_null() & (pl.col("rr") > 0))
    )
    stats = rr_rmssd(beats["rr"], beats["_seg"].to_numpy())
    seg_ids = beats["_seg"].unique(maintain_order=True)
    stats = stats.with_columns(pl.Series("_seg", seg_ids))
    seg_keys = sessions.select("_seg", "athlete_id", "_sk").unique("_seg")
    return (
        stats.join(seg_keys, on="_seg", how="inner")
        .group_by("athlete_id", "_sk")
        .agg(
            pl.col("n_rr").sum(),
            pl.col("n_corrected").sum(),
            pl.col("sumsq").sum(),
            (pl.col("n_rr") > 0).sum().alias("_runs"),
        )
        .with_columns(
            pl.when(pl.col("n_rr") - pl.col("_runs") >= 1)
            .then((pl.col("sumsq") / (pl.col("n_rr") - pl.col("_runs"))).sqrt())
            .alias("rmssd")
        )
        .select("athlete_id", "_sk", "n_rr", "n_corrected", "rmssd")
    )
