"""``gympulse analyze``: incremental recompute of the derived tables over a Store.

*What* to recompute is decided by the pure functions of :mod:`.plan` from plain data
(watermarks, per-day sample counts, journal changes, the last daily row of each athlete,
today); this module is the thin part that reads those inputs from the store and the
journal, runs the polars analytics and writes the results. In order:

1. **Inputs.** The bookkeeping rows (``analytics_state``): the newest sample ts seen (the
   watermark, row ``athlete_id = -1``), the journal watermark (row ``-2``: journal rows
   with ``updated_ms`` above it changed since the last run) and the sample count of every
   athlete-day at the last run. The journal's changed classes, RPE ratings and morning
   recordings.
2. **Scan, chunk by chunk** (:func:`.plan.scan_window`, :func:`.plan.chunks`): the samples
   from the local day of (watermark − lookback, default 2 days) on — the whole history on
   the first or a ``--full`` run — are read in blocks of whole local days (default 7), each
   with 6 h of margin on both sides so a session across midnight or a block edge is whole.
   Memory holds one block at a time. In each block:

   a. the samples are counted per athlete per day; a day whose count changed, or that
      has samples on the day of a changed class, is *touched* (:func:`.plan.touched_days`);
   b. the sessions of the touched days are summarised; the athlete's stored
      ``session_summary`` rows of each touched day are deleted (``Store.delete_rows`` by
      ``athlete_id`` and ``date``) and the recomputed ones written, so a detected workout
      whose key changed (late samples replayed by a collector moved its start, split or
      merged it) never stays behind as a second row counted twice in the day's load. RPE
      from the journal is joined in; a rating of a session that disappeared is copied in
      the journal to the new session overlapping it most (:func:`_carry_rpe`). The same
      sessions' power (``session_power``: average and normalized power, work, IF and TSS
      with the athlete's FTP; :mod:`.power`) is computed from the athletes' machine
      samples and rewritten the same way;
   c. the morning readings lying on a touched day, or tagged since the last run, are
      recomputed (:func:`.plan.morning_to_compute`).

   Late samples older than the lookback need ``--full`` (or a larger ``--lookback-hours``).
3. **RPE** rated after its session was summarised updates that session's row.
4. **Daily metrics and baselines** (:func:`.plan.daily_since`): every athlete gets a row
   for every day from their first session up to today, with no gaps — rewritten from the
   earliest touched or changed day, or from the day after their last row when that is
   before today (rest days: load 0, fitness and fatigue decaying). They are recomputed
   from the athlete's session rows (one row per session: cheap).
5. **Wellness** reports changed since the last run are mirrored.
6. **Bookkeeping** last (the counts of the touched days, the two watermarks and the rules
   version, row ``-3``: rows written under older rules are recomputed in full once,
   :func:`.plan.needs_full`), so a crash before it redoes the work next time.

Days are calendar days of the site's time zone (``settings.timezone``, an IANA name, passed
as ``tz``): a class at 23:30 in Amsterdam counts for that Amsterdam day, and a day is 23 or
25 h long when the clocks change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from gympulse import contract
from gympulse.pipeline.analytics import consented, daily, plan, power, sessions, tables
from gympulse.pipeline.analytics.plan import DAY_MS, DEFAULT_CHUNK_DAYS, MARGIN_MS
from gympulse.pipeline.domain import age_year

if TYPE_CHECKING:
    import polars as pl

    from gympulse.pipeline.consent import Period, Policy
    from gympulse.pipeline.journal import Journal, MorningRecording
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores.base import Store

DEFAULT_LOOKBACK_MS = plan.DEFAULT_LOOKBACK_MS
WATERMARK_ROW = -1
JOURNAL_ROW = -2
VERSION_ROW = -3
__all__ = [
    "DAY_MS",
    "DEFAULT_CHUNK_DAYS",
    "DEFAULT_LOOKBACK_MS",
    "MARGIN_MS",
    "AnalyzeReport",
    "analyze",
    "read_table",
]


@dataclass(frozen=True, slots=True)
class AnalyzeReport:
    touched_days: int
    sessions: int
    daily_rows: int
    morning_readings: int
    wellness: int
    chunks: int = 1
    automatic_readings: int = 0  # proposed by the automatic fallback (gympulse analyze)


_date = plan.local_date
_day_start = plan.day_start


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


@dataclass(slots=True)
class _Run:
    """What a run has done so far (for the report and the bookkeeping)."""

    touched: list[plan.AthleteDay]
    state: list[pl.DataFrame]
    session_ids: set[tuple[int, str]]
    readings: list[dict[str, object]]
    done_recordings: set[int]
    newest: int | None = None
    ftp: dict[int, int | None] = field(default_factory=dict)  # athlete -> FTP (W)
    # Spans of consent per athlete (consented.within); None: the site has no consent rules.
    live: dict[int, list[Period]] | None = None
    morning: dict[int, list[Period]] | None = None


async def analyze(
    store: Store,
    registry: Registry,
    journal: Journal,
    *,
    full: bool = False,
    now_ms: int | None = None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    tz: str = "UTC",
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    policy: Policy | None = None,
) -> AnalyzeReport:
    """Recompute what changed since the last run; ``tz``: the site's IANA time zone, where
    training days start and end; ``chunk_days``: local days of samples held in memory at
    once; ``policy``: the site's consent rules (:mod:`consented`; None: none)."""
    import polars as pl

    from gympulse.pipeline.consent import Domain, consent_periods, holders_of

    # The journal watermark is this run's start in wall-clock ms (rows with updated_ms from
    # it on are read again next run). Let the clock pass the millisecond of any journal
    # write made just before this call, so such a row is not taken as new next time too.
    called_ms = contract.now_ms()
    await asyncio.sleep(0.0011)
    started = max(contract.now_ms(), called_ms + 1)
    now = started if now_ms is None else now_ms
    today = _date(now, tz)

    # 1. Inputs.
    state = await read_table(store, tables.ANALYTICS_STATE)
    marks = dict(state.filter(pl.col("athlete_id") < 0).select("athlete_id", "max_ts").iter_rows())
    watermark: int | None = marks.get(WATERMARK_ROW) or None  # 0: no sample seen yet
    journal_mark: int = marks.get(JOURNAL_ROW) or -1
    stored_counts: dict[plan.AthleteDay, int] = {
        (a, d): n
        for a, d, n in state.filter(pl.col("athlete_id") >= 0)
        .select("athlete_id", "date", "n_samples")
        .iter_rows()
    }
    if plan.needs_full(full, marks.get(VERSION_ROW), watermark is not None):
        # Everything: from the oldest sample, every day with samples touched.
        watermark, journal_mark, stored_counts = None, -1, {}
    oldest: int | None = None
    if watermark is None:
        span = await store.sample_time_range()
        oldest = span[0] if span is not None else now
    window = plan.scan_window(watermark, now=now, lookback_ms=lookback_ms, tz=tz, oldest=oldest)
    # Every year of age the scanned samples may fall in (a session counts in its own year).
    years = range(age_year(window.start), age_year(max(window.end - 1, window.start)) + 1)
    athletes = sessions.athlete_frame(registry.athletes(), years)
    class_days = {_date(c.start_ms, tz) for c in journal.classes(updated_since_ms=journal_mark)}
    rpes = journal.session_rpes()
    rpe_frame = pl.DataFrame(
        [(r.athlete_id, r.session_id, r.rpe) for r in rpes],
        schema={"athlete_id": pl.Int64, "session_id": pl.String, "rpe": pl.Float64},
        orient="row",
    )
    changed_rpe = [r for r in rpes if r.updated_ms > journal_mark]
    changed_recordings = {
        # Only counted readings (an automatic proposal counts once confirmed).
        m.id: m
        for m in journal.morning_recordings(updated_since_ms=journal_mark, status="counted")
    }

    # 2. Scan, chunk by chunk.
    run = _Run([], [], set(), [], set())
    run.ftp = {a.id: a.ftp_w for a in registry.athletes()}
    if policy is not None:
        run.live, run.morning = await asyncio.to_thread(
            registry.run,
            lambda conn: (
                consent_periods(conn, Domain.LIVE, policy),
                consent_periods(conn, Domain.MORNING, policy),
            ),
        )
    blocks = plan.chunks(window, tz, chunk_days)
    for block in blocks:
        rpe_frame = await _chunk(
            store, journal, block, athletes, stored_counts, class_days, rpe_frame,
            changed_recordings, run, now, tz,
        )  # fmt: skip
    # Recordings tagged since the last run outside the scanned days: read on their own.
    for m in changed_recordings.values():
        if m.id not in run.done_recordings:
            window_samples = await store.query_samples(
                m.start_ms, m.end_ms, athlete_ids=[m.athlete_id]
            )
            window_samples = consented.within(window_samples, run.morning)
            run.readings.append(_morning_reading(window_samples, m, now, tz))
    if run.readings:
        frame = tables.conform(tables.MORNING_READINGS, pl.DataFrame(run.readings))
        await store.write_rows(tables.MORNING_READINGS.name, frame, tables.MORNING_READINGS.key)
    changed: list[plan.AthleteDay] = [
        (cast(int, r["athlete_id"]), cast(dt.date, r["date"])) for r in run.readings
    ]

    # 3. RPE rated after its session was summarised.
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
        changed.append((r.athlete_id, rows["date"][0]))

    # 4. Daily metrics and baselines: every athlete, every day up to today.
    seen = [v for v in (watermark, run.newest) if v]
    newest = max(seen) if seen else None
    until = plan.daily_until(today, _date(newest, tz) if newest else None)
    stored_daily = await read_table(store, tables.DAILY_METRICS)
    last_daily: dict[int, dt.date] = dict(
        stored_daily.group_by("athlete_id").agg(pl.col("date").max()).iter_rows()
    )
    del stored_daily
    n_daily = 0
    for athlete_id, since in plan.daily_since(run.touched, changed, last_daily, today).items():
        rows = await read_table(store, tables.SESSION_SUMMARY, {"athlete_id": athlete_id})
        metrics = daily.daily_metrics(daily.daily_loads(rows, tz), until, now)
        out = metrics.filter(pl.col("date") >= since)
        await store.write_rows(tables.DAILY_METRICS.name, out, tables.DAILY_METRICS.key)
        n_daily += out.height
        mr = await read_table(store, tables.MORNING_READINGS, {"athlete_id": athlete_id})
        base = daily.baselines(mr, metrics, now).filter(pl.col("date") >= since)
        await store.write_rows(tables.BASELINES.name, base, tables.BASELINES.key)

    # 5. Wellness mirror.
    reports = journal.wellness(updated_since_ms=journal_mark)
    if policy is not None:  # only of those who consent to wellness now
        holders = await asyncio.to_thread(
            registry.run, lambda conn: holders_of(conn, Domain.WELLNESS, policy)
        )
        reports = [w for w in reports if holders is None or w.athlete_id in holders]
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

    # 6. Bookkeeping last, so a crash before here redoes the work next time.
    marks_frame = pl.DataFrame(
        {
            "athlete_id": [WATERMARK_ROW, JOURNAL_ROW, VERSION_ROW],
            "date": [today, today, today],
            "n_samples": [0, 0, 0],
            "max_ts": [newest or 0, started - 1, plan.RULES_VERSION],
        }
    )
    state_rows = pl.concat(
        [
            *(tables.conform(tables.ANALYTICS_STATE, f) for f in run.state),
            tables.conform(tables.ANALYTICS_STATE, marks_frame),
        ]
    ).with_columns(pl.lit(now, pl.Int64).alias("updated_ms"))
    await store.write_rows(tables.ANALYTICS_STATE.name, state_rows, tables.ANALYTICS_STATE.key)
    return AnalyzeReport(
        len(run.touched), len(run.session_ids), n_daily, len(run.readings), len(reports),
        len(blocks),
    )  # fmt: skip


async def _write_session_power(
    store: Store,
    summary: pl.DataFrame,
    previous: pl.DataFrame,
    lo: int,
    hi: int,
    ftp: Mapping[int, int | None],
) -> None:
    """The power of the sessions just summarized, from the athletes' machines: the days'
    previous rows go (a session key can move, as for session_summary), the new ones are
    written; sessions without power samples get no row."""
    machine = await store.query_machine(lo, hi)
    for a, d in previous.select("athlete_id", "date").unique().sort("athlete_id", "date").rows():
        await store.delete_rows(tables.SESSION_POWER.name, {"athlete_id": a, "date": d})
    rows = power.session_power(summary, machine, ftp)
    if rows.height:
        rows = tables.conform(tables.SESSION_POWER, rows)
        await store.write_rows(tables.SESSION_POWER.name, rows, tables.SESSION_POWER.key)


async def _chunk(
    store: Store,
    journal: Journal,
    block: plan.Window,
    athletes: pl.DataFrame,
    stored_counts: Mapping[plan.AthleteDay, int],
    class_days: set[dt.date],
    rpe_frame: pl.DataFrame,
    changed_recordings: Mapping[int, MorningRecording],
    run: _Run,
    now: int,
    tz: str,
) -> pl.DataFrame:
    """Step 2 for one block of days; returns the RPE frame with carried ratings added."""
    import polars as pl

    lo, hi = max(0, block.start - MARGIN_MS), block.end + MARGIN_MS
    samples = await store.query_samples(lo, hi)
    samples = samples.filter(pl.col("athlete_id").is_not_null())
    if samples.height:
        top = int(samples.filter(pl.col("ts") < block.end)["ts"].max() or 0)  # type: ignore[arg-type]
        run.newest = max(run.newest or 0, top) or None

    # a. Touched days.
    counts = (
        samples.filter((pl.col("ts") >= block.start) & (pl.col("ts") < block.end))
        .group_by("athlete_id", sessions.local_date(pl.col("ts"), tz).alias("date"))
        .agg(pl.len().cast(pl.Int64).alias("n_samples"), pl.col("ts").max().alias("max_ts"))
    )
    touched = plan.touched_days(
        {(a, d): n for a, d, n in counts.select("athlete_id", "date", "n_samples").iter_rows()},
        stored_counts,
        class_days,
    )
    run.touched += touched
    keys = pl.DataFrame(
        touched, schema={"athlete_id": pl.Int64, "date": pl.Date}, orient="row"
    ).with_columns(pl.lit(True).alias("_hit"))
    run.state.append(counts.join(keys, on=["athlete_id", "date"], how="semi"))

    # b. Sessions of the touched days.
    if touched:
        schedule = journal.classes(start_ms=lo, end_ms=hi)
        classes = pl.DataFrame(
            [(c.id, c.start_ms, c.end_ms) for c in schedule],
            schema={"class_id": pl.Int64, "start_ms": pl.Int64, "end_ms": pl.Int64},
            orient="row",
        )
        # Sessions only from samples under live-class consent (consented.within).
        live = consented.within(samples, run.live)
        touched_ids = live.join(keys.select("athlete_id").unique(), on="athlete_id", how="semi")
        summary = sessions.summarize(touched_ids, athletes, classes, now_ms=now, tz=tz)
        end_day = sessions.local_date(pl.col("end_ms"), tz)
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
        previous = await _session_rows_of(store, keys.select("athlete_id", "date"))
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
        run.session_ids.update(summary.select("athlete_id", "session_id").iter_rows())
        await _write_session_power(store, summary, previous, lo, hi, run.ftp)

    # c. Morning readings on the touched days, or tagged since the last run.
    recordings = {
        m.id: m
        for m in journal.morning_recordings(
            start_ms=block.start, end_ms=block.end, status="counted"
        )
    }
    todo = plan.morning_to_compute(
        [(m.id, m.athlete_id, _date(m.start_ms, tz)) for m in recordings.values()],
        touched,
        changed_recordings,
        run.done_recordings,
    )
    for rid in todo:
        m = recordings[rid]
        if lo <= m.start_ms and m.end_ms <= hi:
            window = samples.filter(
                (pl.col("athlete_id") == m.athlete_id)
                & (pl.col("ts") >= m.start_ms)
                & (pl.col("ts") < m.end_ms)
            )
        else:
            window = await store.query_samples(m.start_ms, m.end_ms, athlete_ids=[m.athlete_id])
        window = consented.within(window, run.morning)  # only under morning consent
        run.readings.append(_morning_reading(window, m, now, tz))
        run.done_recordings.add(rid)
    return rpe_frame


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
    window: pl.DataFrame, m: MorningRecording, now: int, tz: str = "UTC"
) -> dict[str, object]:
    """A ``morning_readings`` row of recording ``m`` from its samples ``window``: the values
    of :func:`gympulse.pipeline.analytics.morning.rr_reading`, as when it was taken (no
    quality rule here: a reading in the journal was accepted then)."""
    import polars as pl

    from gympulse.pipeline.analytics.morning import rr_reading, window_rr

    window = window.filter(pl.col("contact").fill_null(True))  # no contact: no signal
    result = rr_reading(window_rr(window)) if window.height else None
    hr_rest = result.hr_rest if result is not None else None
    if hr_rest is None and window.height:
        hr_rest = float(window["bpm"].mean())  # type: ignore[arg-type]
    n_rr = result.n_rr if result is not None else 0
    n_corrected = result.n_corrected if result is not None else 0
    rmssd = result.rmssd if result is not None else None
    ln = result.ln_rmssd if result is not None else None
    return {
        "athlete_id": m.athlete_id,
        "recording_id": m.id,
        "date": _date(m.start_ms, tz),
        "start_ms": m.start_ms,
        "end_ms": m.end_ms,
        "n_rr": n_rr,
        "n_corrected": n_corrected,
        "rmssd": rmssd,
        "ln_rmssd": ln,
        "hr_rest": hr_rest,
        "updated_ms": now,
    }
