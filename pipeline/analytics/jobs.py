"""``gympulse analyze``: incremental recompute of the derived tables over a Store.

What is recomputed (everything else is left as it was):

1. **Touched days.** The newest sample ts seen is the watermark (``analytics_state`` row
   with ``athlete_id = -1``). Each run reads the samples from the local day of
   (watermark − lookback, default 2 days) on, counts them per athlete per day and compares
   with the counts stored at the last run; a day whose count changed is *touched*. Late
   samples older than the lookback need ``--full`` (or a larger ``--lookback-hours``).
2. **Sessions** of the touched days (detected on the samples read, with 6 h of margin so a
   session across midnight is whole) are summarised; the athlete's stored
   ``session_summary`` rows of each touched day are deleted (``Store.delete_rows`` by
   ``athlete_id`` and ``date``) and the recomputed ones written, so a detected workout
   whose key changed (late samples replayed by a collector moved its start, split or
   merged it) never stays behind as a second row counted twice in the day's load. RPE
   from the journal is joined in; a rating of a session that disappeared is copied in the
   journal to the new session overlapping it most (:func:`_carry_rpe`). RPE changed since
   the last run updates its session row.
3. **Daily metrics and baselines** of every athlete with a touched day (or a changed RPE,
   morning tag or class) are recomputed from their session rows (cheap: one row per day)
   and written from the earliest touched day on — earlier days cannot change.
4. **Morning readings** tagged in the journal since the last run, or lying on a touched
   day, are recomputed; **wellness** reports changed since the last run are mirrored.

Days are calendar days of the site's time zone (``settings.timezone``, an IANA name, passed
as ``tz``): a class at 23:30 in Amsterdam counts for that Amsterdam day, and a day is 23 or
25 h long when the clocks change. Journal changes are found by ``updated_ms`` > the
journal watermark (``analytics_state`` row with ``athlete_id = -2``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gympulse.pipeline.analytics import daily, sessions, tables

if TYPE_CHECKING:
    import polars as pl

    from gympulse.pipeline.journal import Journal
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores.base import Store

DAY_MS = 86_400_000
MARGIN_MS = 6 * 3_600_000
DEFAULT_LOOKBACK_MS = 2 * DAY_MS
WATERMARK_ROW = -1
JOURNAL_ROW = -2


@dataclass(frozen=True, slots=True)
class AnalyzeReport:
    touched_days: int
    sessions: int
    daily_rows: int
    morning_readings: int
    wellness: int


def _zone(tz: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return dt.UTC if tz == "UTC" else ZoneInfo(tz)


def _date(ts: int, tz: str = "UTC") -> dt.date:
    """The local calendar day of an epoch-ms timestamp."""
    return dt.datetime.fromtimestamp(ts / 1000, tz=_zone(tz)).date()


def _day_start(day: dt.date, tz: str = "UTC") -> int:
    """Epoch ms of local midnight starting ``day``."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=_zone(tz)).timestamp() * 1000)


def _day_floor(ts: int, tz: str = "UTC") -> int:
    return _day_start(_date(ts, tz), tz)


async def read_table(
    store: Store, table: tables.Table, where: Mapping[str, object] | None = None
) -> pl.DataFrame:
    """A derived table read back with its schema (dates parsed, booleans restored)."""
    import polars as pl

    raw = await store.read_rows(table.name, where)
    if raw.is_empty():
        # No rows (conform of a frame without columns would make one row of nulls).
        return pl.DataFrame(schema=tables.polars_schema(table))
    fixes = []
    for name, type_name in table.columns.items():
        if name in raw.columns and type_name == "Date" and raw.schema[name] == pl.String:
            fixes.append(pl.col(name).str.to_date())
    return tables.conform(table, raw.with_columns(fixes) if fixes else raw)


async def analyze(
    store: Store,
    registry: Registry,
    journal: Journal,
    *,
    full: bool = False,
    now_ms: int | None = None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    tz: str = "UTC",
) -> AnalyzeReport:
    """Recompute what changed since the last run; ``tz``: the site's IANA time zone, where
    training days start and end."""
    import polars as pl

    started = time.time_ns() // 1_000_000
    now = started if now_ms is None else now_ms
    athletes = sessions.athlete_frame(registry.athletes(), _date(now).year)

    state = await read_table(store, tables.ANALYTICS_STATE)
    marks = dict(state.filter(pl.col("athlete_id") < 0).select("athlete_id", "max_ts").iter_rows())
    watermark: int | None = marks.get(WATERMARK_ROW)
    journal_mark: int = marks.get(JOURNAL_ROW) or -1
    if full:
        watermark, journal_mark = None, -1

    scan_start = 0 if watermark is None else _day_floor(watermark - lookback_ms, tz)
    scan_end = max(now, watermark or 0) + DAY_MS
    samples = await store.query_samples(max(0, scan_start - MARGIN_MS), scan_end)
    samples = samples.filter(pl.col("athlete_id").is_not_null())
    day = sessions.local_date(pl.col("ts"), tz)
    counts = (
        samples.filter(pl.col("ts") >= scan_start)
        .group_by("athlete_id", day.alias("date"))
        .agg(pl.len().cast(pl.Int64).alias("n_samples"), pl.col("ts").max().alias("max_ts"))
    )
    old = state.filter(pl.col("athlete_id") >= 0).select("athlete_id", "date", "n_samples")
    touched = (
        counts.join(old, on=["athlete_id", "date"], how="left", suffix="_old")
        .filter(
            pl.col("n_samples_old").is_null() | (pl.col("n_samples") != pl.col("n_samples_old"))
        )
        .select("athlete_id", "date", "n_samples", "max_ts")
    )

    # Journal changes since the last run.
    changed_classes = journal.classes(updated_since_ms=journal_mark)
    if changed_classes:
        class_days = {_date(c.start_ms, tz) for c in changed_classes}
        extra = counts.filter(pl.col("date").is_in(list(class_days)))
        touched = pl.concat([touched, extra.select(touched.columns)]).unique(["athlete_id", "date"])
    rpes = journal.session_rpes()
    rpe_frame = pl.DataFrame(
        [(r.athlete_id, r.session_id, r.rpe) for r in rpes],
        schema={"athlete_id": pl.Int64, "session_id": pl.String, "rpe": pl.Float64},
        orient="row",
    )
    changed_rpe = [r for r in rpes if r.updated_ms > journal_mark]

    # 2. Sessions of the touched days.
    n_sessions = 0
    first_touched: dict[int, dt.date] = {}
    for a, d in touched.select("athlete_id", "date").iter_rows():
        first_touched[a] = min(d, first_touched.get(a, d))
    if not touched.is_empty():
        schedule = journal.classes(start_ms=max(0, scan_start - MARGIN_MS), end_ms=scan_end)
        classes = pl.DataFrame(
            [(c.id, c.start_ms, c.end_ms) for c in schedule],
            schema={"class_id": pl.Int64, "start_ms": pl.Int64, "end_ms": pl.Int64},
            orient="row",
        )
        touched_ids = samples.join(touched.select("athlete_id"), on="athlete_id", how="semi")
        summary = sessions.summarize(touched_ids, athletes, classes, now_ms=now, tz=tz)
        end_day = sessions.local_date(pl.col("end_ms"), tz)
        keys = touched.select("athlete_id", "date").with_columns(pl.lit(True).alias("_hit"))
        summary = (
            summary.join(keys, on=["athlete_id", "date"], how="left")
            .join(
                keys.rename({"date": "_end_date", "_hit": "_hit_end"}),
                left_on=["athlete_id", end_day],
                right_on=["athlete_id", "_end_date"],
                how="left",
            )
            .filter(pl.col("_hit").fill_null(False) | pl.col("_hit_end").fill_null(False))
        )
        # The day's previous rows: a session whose key changed (late samples moved its
        # start, split or merged it) must not stay behind next to its recomputed self.
        previous = await _session_rows_of(store, touched.select("athlete_id", "date"))
        carried = _carry_rpe(previous, summary, rpe_frame)
        for a, sid, rpe in carried.iter_rows():
            journal.set_session_rpe(a, sid, rpe)
        rpe_frame = pl.concat([rpe_frame, carried])
        summary = _with_rpe(summary.drop("rpe", "srpe_load"), rpe_frame)
        summary = tables.conform(tables.SESSION_SUMMARY, summary)
        for a, d in (
            previous.select("athlete_id", "date").unique().sort("athlete_id", "date").rows()
        ):
            await store.delete_rows(tables.SESSION_SUMMARY.name, {"athlete_id": a, "date": d})
        await store.write_rows(tables.SESSION_SUMMARY.name, summary, tables.SESSION_SUMMARY.key)
        n_sessions = summary.height

    # RPE rated after its session was summarised.
    for r in changed_rpe:
        rows = await read_table(
            store, tables.SESSION_SUMMARY, {"athlete_id": r.athlete_id, "session_id": r.session_id}
        )
        if rows.is_empty():
            continue
        rows = _with_rpe(rows.drop("rpe", "srpe_load"), rpe_frame).with_columns(
            pl.lit(now, pl.Int64).alias("updated_ms")
        )
        rows = tables.conform(tables.SESSION_SUMMARY, rows)
        await store.write_rows(tables.SESSION_SUMMARY.name, rows, tables.SESSION_SUMMARY.key)
        d0 = rows["date"][0]
        first_touched[r.athlete_id] = min(d0, first_touched.get(r.athlete_id, d0))

    # 4a. Morning readings: newly tagged, or lying on a touched day.
    recordings = {m.id: m for m in journal.morning_recordings(updated_since_ms=journal_mark)}
    for a, d in touched.select("athlete_id", "date").iter_rows():
        start, end = _day_start(d, tz), _day_start(d + dt.timedelta(days=1), tz)
        for m in journal.morning_recordings(a, start_ms=start, end_ms=end):
            recordings[m.id] = m
    readings = []
    for m in recordings.values():
        if scan_start <= m.start_ms and m.end_ms <= scan_end:
            window = samples.filter(
                (pl.col("athlete_id") == m.athlete_id)
                & (pl.col("ts") >= m.start_ms)
                & (pl.col("ts") < m.end_ms)
            )
        else:
            window = await store.query_samples(m.start_ms, m.end_ms, athlete_ids=[m.athlete_id])
        readings.append(_morning_reading(window, m.id, m.athlete_id, m.start_ms, m.end_ms, now, tz))
        d0 = _date(m.start_ms, tz)
        first_touched[m.athlete_id] = min(d0, first_touched.get(m.athlete_id, d0))
    if readings:
        frame = tables.conform(tables.MORNING_READINGS, pl.DataFrame(readings))
        await store.write_rows(tables.MORNING_READINGS.name, frame, tables.MORNING_READINGS.key)

    # 3. Daily metrics and baselines of every athlete with something new.
    max_seen: int | None = samples.select(pl.col("ts").max()).item() if samples.height else None
    seen = [v for v in (watermark, max_seen) if v]
    newest = max(seen) if seen else None
    until = _date(newest, tz) if newest else None
    n_daily = 0
    for athlete_id, since in sorted(first_touched.items()):
        rows = await read_table(store, tables.SESSION_SUMMARY, {"athlete_id": athlete_id})
        metrics = daily.daily_metrics(daily.daily_loads(rows, tz), until, now)
        out = metrics.filter(pl.col("date") >= since)
        await store.write_rows(tables.DAILY_METRICS.name, out, tables.DAILY_METRICS.key)
        n_daily += out.height
        mr = await read_table(store, tables.MORNING_READINGS, {"athlete_id": athlete_id})
        base = daily.baselines(mr, metrics, now).filter(pl.col("date") >= since)
        await store.write_rows(tables.BASELINES.name, base, tables.BASELINES.key)

    # 4b. Wellness mirror.
    reports = journal.wellness(updated_since_ms=journal_mark)
    if reports:
        frame = pl.DataFrame(
            [
                {
                    "athlete_id": w.athlete_id,
                    "date": w.date,
                    "sleep": w.sleep,
                    "stress": w.stress,
                    "mood": w.mood,
                    "energy": w.energy,
                    "soreness": w.soreness,
                    "total": w.total,
                    "note": w.note,
                    "updated_ms": now,
                }
                for w in reports
            ]
        )
        frame = tables.conform(tables.WELLNESS, frame)
        await store.write_rows(tables.WELLNESS.name, frame, tables.WELLNESS.key)

    # Bookkeeping last, so a crash before here redoes the work next time.
    marks_frame = pl.DataFrame(
        {
            "athlete_id": [WATERMARK_ROW, JOURNAL_ROW],
            "date": [_date(now, tz), _date(now, tz)],
            "n_samples": [0, 0],
            "max_ts": [newest or 0, started - 1],
        }
    )
    state_rows = pl.concat(
        [
            tables.conform(tables.ANALYTICS_STATE, touched),
            tables.conform(tables.ANALYTICS_STATE, marks_frame),
        ]
    ).with_columns(pl.lit(now, pl.Int64).alias("updated_ms"))
    await store.write_rows(tables.ANALYTICS_STATE.name, state_rows, tables.ANALYTICS_STATE.key)
    return AnalyzeReport(touched.height, n_sessions, n_daily, len(readings), len(reports))


async def _session_rows_of(store: Store, days: pl.DataFrame) -> pl.DataFrame:
    """The stored ``session_summary`` rows of the (``athlete_id``, ``date``) pairs in
    ``days``: one read per athlete (a few rows per day), filtered to those days."""
    import polars as pl

    frames = [
        (await read_table(store, tables.SESSION_SUMMARY, {"athlete_id": a})).filter(
            pl.col("date").is_in(group["date"].implode())
        )
        for (a,), group in days.group_by("athlete_id", maintain_order=True)
    ]
    if not frames:
        return pl.DataFrame(schema=tables.polars_schema(tables.SESSION_SUMMARY))
    return pl.concat(frames)


def _carry_rpe(previous: pl.DataFrame, summary: pl.DataFrame, rpe: pl.DataFrame) -> pl.DataFrame:
    """Ratings to copy from sessions that disappeared to the new sessions that replace them.

    A journal RPE is keyed by ``session_id``, and a detected workout's id holds its start,
    which late samples can move. A rating of a session that is no longer in ``summary``
    goes to the new session of the same athlete that overlaps it most in time
    ([start_ms, end_ms], more than 0 ms) and has no rating of its own; one rating to one
    session (greedy by overlap), so a split workout keeps one rating, on its larger part,
    and a merge of two rated workouts keeps the rating of the one it overlaps most.
    Returns (``athlete_id``, ``session_id``, ``rpe``) rows for the new session ids."""
    import polars as pl

    keys = ["athlete_id", "session_id"]
    gone = previous.select(*keys, "start_ms", "end_ms").join(
        summary.select(keys), on=keys, how="anti"
    )
    rated_gone = gone.join(rpe, on=keys, how="inner")
    unrated_new = summary.select(*keys, "start_ms", "end_ms").join(rpe, on=keys, how="anti")
    pairs = (
        rated_gone.join(unrated_new, on="athlete_id", suffix="_new")
        .with_columns(
            (
                pl.min_horizontal("end_ms", "end_ms_new")
                - pl.max_horizontal("start_ms", "start_ms_new")
            ).alias("overlap")
        )
        .filter(pl.col("overlap") > 0)
        .sort("overlap", "session_id", "session_id_new", descending=[True, False, False])
    )
    used_old: set[tuple[int, str]] = set()
    used_new: set[tuple[int, str]] = set()
    out: list[tuple[int, str, float]] = []
    for row in pairs.iter_rows(named=True):
        old_key = (row["athlete_id"], row["session_id"])
        new_key = (row["athlete_id"], row["session_id_new"])
        if old_key in used_old or new_key in used_new:
            continue
        used_old.add(old_key)
        used_new.add(new_key)
        out.append((row["athlete_id"], row["session_id_new"], row["rpe"]))
    return pl.DataFrame(out, schema=rpe.schema, orient="row")


def _with_rpe(summary: pl.DataFrame, rpe: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return summary.join(rpe, on=["athlete_id", "session_id"], how="left").with_columns(
        (pl.col("rpe") * pl.col("duration_s") / 60.0).alias("srpe_load")
    )


def _morning_reading(
    window: pl.DataFrame,
    recording_id: int,
    athlete_id: int,
    start_ms: int,
    end_ms: int,
    now: int,
    tz: str = "UTC",
) -> dict[str, object]:
    import polars as pl

    window = window.filter(pl.col("contact").fill_null(True))  # no contact: no signal
    rr = window.sort("ts").select(pl.col("rr_ms").alias("rr")).explode("rr").drop_nulls()
    rr = rr.filter(pl.col("rr") > 0)
    rmssd: float | None = None
    n_rr = n_corrected = 0
    hr_rest: float | None = None
    if rr.height >= 3:
        stats = sessions.rr_rmssd(rr["rr"])
        n_rr = int(stats["n_rr"][0])
        n_corrected = int(stats["n_corrected"][0])
        rmssd = stats["rmssd"][0]
        hr_rest = 60000.0 / float(rr["rr"].mean())  # type: ignore[arg-type]
    elif window.height:
        hr_rest = float(window["bpm"].mean())  # type: ignore[arg-type]
    ln = math.log(rmssd) if rmssd is not None and rmssd > 0 else None
    return {
        "athlete_id": athlete_id,
        "recording_id": recording_id,
        "date": _date(start_ms, tz),
        "start_ms": start_ms,
        "end_ms": end_ms,
        "n_rr": n_rr,
        "n_corrected": n_corrected,
        "rmssd": rmssd,
        "ln_rmssd": ln,
        "hr_rest": hr_rest,
        "updated_ms": now,
    }
