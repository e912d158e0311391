"""The derived tables the analytics write to the store: names, keys and column schemas.

This module is the contract for everyone who reads analytics results (the InfluxDB store
and Grafana dashboards, the web app). It imports nothing heavy: column types are written
as polars type names (``"Int64"``, ``"Float64"``, ``"String"``, ``"Date"``, ``"Boolean"``);
:func:`polars_schema` turns them into a polars schema on demand.

Conventions for every table:

- ``athlete_id`` is the registry's athlete id; ``date`` is the calendar day in the site's
  time zone (``settings.timezone``; ``YYYY-MM-DD``; a polars ``Date``, stored as TEXT by the
  SQLite store).
- Times are UTC epoch milliseconds (``*_ms``); durations are seconds (``*_s``).
- Nullable columns are marked ``| None`` in the column notes; a null means "not
  computable" (no RR intervals, no sample 60 s after the end, SD 0, ...), never 0.
- Rows are upserted by ``key`` (``Store.write_rows``), so re-running ``gympulse analyze``
  replaces rows and never duplicates them.

Entered data (wellness self-reports, RPE, morning-recording tags, the class schedule)
lives in :mod:`gympulse.pipeline.journal` (SQLite, next to the registry); ``analyze`` mirrors the
wellness reports into the store's ``wellness`` table so dashboards can show them next to
HRV and resting HR without a second data source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]  # column -> polars type name, in storage order
    doc: str


SESSION_SUMMARY = Table(
    name="session_summary",
    key=("athlete_id", "session_id"),
    columns={
        "athlete_id": "Int64",
        "session_id": "String",  # "auto-{athlete_id}-{start_ms}" or "class-{class_id}"
        "kind": "String",  # "auto" (detected workout) | "class" (from the schedule)
        "class_id": "Int64",  # | None: journal class id for kind == "class"
        "date": "Date",  # local day (settings.timezone) of start_ms
        "start_ms": "Int64",  # first sample of the session
        "end_ms": "Int64",  # last sample of the session
        "duration_s": "Int64",  # (end_ms - start_ms) / 1000, rounded
        "n_samples": "Int64",
        "hr_avg": "Float64",  # mean bpm of the samples
        "hr_max": "Int32",  # highest bpm
        "hr_max_ref": "Float64",  # the athlete's HRmax used (measured, else Tanaka)
        "hr_rest_ref": "Float64",  # the athlete's resting HR used
        "zone0_s": "Int64",  # seconds below 50 % HRmax (one sample = 1 s)
        "zone1_s": "Int64",  # [50, 60) % HRmax
        "zone2_s": "Int64",  # [60, 70)
        "zone3_s": "Int64",  # [70, 80)
        "zone4_s": "Int64",  # [80, 90)
        "zone5_s": "Int64",  # >= 90 % (above HRmax counts as zone 5)
        "trimp_banister": "Float64",  # Morton/Banister 1990 from the session average HR
        "trimp_edwards": "Float64",  # Σ minutes in zone × zone (1..5)
        "kcal": "Float64",  # Keytel 2005 (no VO2max), summed per sample
        "points": "Float64",  # effort points (gympulse.pipeline.analytics.points)
        "hrr60": "Float64",  # | None: bpm drop 60 s after exercise_end_ms (plausible only)
        "hrr60_note": "String",  # | None: why hrr60 is empty (analytics.recovery.REASONS)
        "exercise_end_ms": "Int64",  # | None: end of exercise (recovery.end_of_exercise)
        "rmssd": "Float64",  # | None: ms, over the session's corrected RR series
        "n_rr": "Int64",  # RR intervals after correction
        "n_corrected": "Int64",  # RR intervals the artifact correction changed
        "rpe": "Float64",  # | None: CR-10 rating from the journal
        "srpe_load": "Float64",  # | None: rpe × minutes (Foster 2001)
        "updated_ms": "Int64",  # when analyze wrote this row
    },
    doc="One row per athlete per session (class or detected workout).",
)

DAILY_METRICS = Table(
    name="daily_metrics",
    key=("athlete_id", "date"),
    columns={
        "athlete_id": "Int64",
        "date": "Date",  # every day from the athlete's first session on (no gaps)
        "load": "Float64",  # Σ Banister TRIMP of the day's sessions (0 on rest days)
        "srpe_load": "Float64",  # Σ session-RPE load of the day (0 when none rated)
        "sessions": "Int64",
        "minutes": "Float64",
        "history_days": "Int64",  # the athlete's days so far (1 on the first)
        "ctl": "Float64",  # | None: fitness, τ = 42 d, from day 42 (load.py: one seeding rule)
        "atl": "Float64",  # | None: fatigue, τ = 7 d, from day 7
        "tsb": "Float64",  # | None: form = CTL(t-1) − ATL(t-1), from day 43
        "acwr_ewma": "Float64",  # | None: EWMA 7/28 (Williams 2017), from day 28
        "acwr_rolling": "Float64",  # | None: coupled rolling 7/28, from day 28
        "monotony": "Float64",  # | None: 7-day mean / population SD (Foster 1998)
        "strain": "Float64",  # | None: 7-day load × monotony
        "updated_ms": "Int64",
    },
    doc="Training load per athlete per day on Banister TRIMP; srpe_load shown alongside.",
)

MORNING_READINGS = Table(
    name="morning_readings",
    key=("athlete_id", "recording_id"),
    columns={
        "athlete_id": "Int64",
        "recording_id": "Int64",  # journal morning_recordings.id
        "date": "Date",
        "start_ms": "Int64",
        "end_ms": "Int64",
        "n_rr": "Int64",
        "n_corrected": "Int64",
        "rmssd": "Float64",  # | None
        "ln_rmssd": "Float64",  # | None: natural log of rmssd
        "hr_rest": "Float64",  # | None: 60000 / mean RR (else mean bpm)
        "updated_ms": "Int64",
    },
    doc="One row per counted morning reading (1–5 min seated or lying).",
)

BASELINES = Table(
    name="baselines",
    key=("athlete_id", "date"),
    columns={
        "athlete_id": "Int64",
        "date": "Date",
        "ln_rmssd": "Float64",  # | None: the day's morning value (mean if several)
        "ln_rmssd_mean60": "Float64",  # | None: 60-day mean of the daily values
        "ln_rmssd_sd60": "Float64",  # | None: 60-day SD (ddof 1)
        "ln_rmssd_roll7": "Float64",  # | None: 7-day rolling mean
        "hr_rest": "Float64",  # | None
        "hr_rest_mean60": "Float64",
        "hr_rest_sd60": "Float64",
        "hr_rest_roll7": "Float64",
        "flag_hrv": "Boolean",  # ln_rmssd_roll7 below mean60 − sd60 (a concern)
        "flag_hr_rest": "Boolean",  # hr_rest_roll7 above mean60 + sd60 (a concern)
        "flag_acwr": "Boolean",  # acwr_ewma > 1.5: this week's load 1.5× the month's
        "flag_form": "Boolean",  # tsb < −30
        "flags": "String",  # comma-separated names of the raised flags, "" when none
        "updated_ms": "Int64",
    },
    doc="Recovery baselines and attention flags per athlete per day.",
)

WELLNESS = Table(
    name="wellness",
    key=("athlete_id", "date"),
    columns={
        "athlete_id": "Int64",
        "date": "Date",
        "sleep": "Int64",  # 1–5 each, 5 = best (sleep quality, low stress, good mood,
        "stress": "Int64",  # high energy, no soreness), as in common athlete-monitoring
        "mood": "Int64",  # questionnaires (e.g. McLean et al. 2010)
        "energy": "Int64",
        "soreness": "Int64",
        "total": "Int64",  # sum of the five, 5–25
        "note": "String",
        "updated_ms": "Int64",
    },
    doc="Mirror of the journal's wellness self-reports, one per athlete per day.",
)

ANALYTICS_STATE = Table(
    name="analytics_state",
    key=("athlete_id", "date"),
    columns={
        "athlete_id": "Int64",  # -1 watermark, -2 journal watermark, -3 rules version
        "date": "Date",
        "n_samples": "Int64",  # samples of that athlete/day seen at the last analyze
        "max_ts": "Int64",  # newest sample ts seen (the watermark on the -1 row)
        "updated_ms": "Int64",
    },
    doc="Bookkeeping of gympulse analyze (watermark, per-day sample counts). Not for display.",
)

SESSION_POWER = Table(
    name="session_power",
    key=("athlete_id", "session_id"),
    columns={
        "athlete_id": "Int64",
        "session_id": "String",  # the session_summary row it belongs to
        "date": "Date",
        "start_ms": "Int64",
        "seconds": "Int64",  # length of the 1 Hz power series (the session)
        "avg_power_w": "Float64",
        "np_w": "Float64",  # | None: normalized power (sessions of 30 s or more)
        "work_kj": "Float64",
        "ftp_w": "Int64",  # | None: the athlete's FTP used
        "intensity_factor": "Float64",  # | None: NP / FTP
        "tss": "Float64",  # | None: training stress score (one hour at FTP = 100)
    },
    doc="Power of a session from the athlete's machines (analytics.power); only sessions"
    " with power samples have a row.",
)

TABLES: tuple[Table, ...] = (
    SESSION_SUMMARY,
    SESSION_POWER,
    DAILY_METRICS,
    MORNING_READINGS,
    BASELINES,
    WELLNESS,
    ANALYTICS_STATE,
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def polars_schema(table: Table) -> dict[str, pl.DataType]:
    """The table's columns as a polars schema (imports polars)."""
    import polars as pl

    return {name: getattr(pl, type_name)() for name, type_name in table.columns.items()}


def conform(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the table's columns, in order and cast to their types;
    missing columns become nulls. A frame without columns gives no rows (not one row of
    nulls, which a select of literals would make)."""
    import polars as pl

    schema = polars_schema(table)
    if not frame.columns:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [
            (pl.col(n) if n in frame.columns else pl.lit(None)).cast(t).alias(n)
            for n, t in schema.items()
        ]
    )
