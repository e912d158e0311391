"""Morning readings: take one (computed at once from the stored samples), list, confirm,
delete, and propose automatic ones — the one API behind the guest page, the coach's
morning station, the coach's corrections, the CLI (``gympulse reading ...``) and seeding
scripts.

Taking a reading (:func:`take_reading`): the samples of the window are read from the
store (the strap's when ``sensor`` is given — a strap picked on the page may have been
assigned only seconds ago — else the athlete's), the quality rule of
:mod:`gympulse.pipeline.analytics.morning` accepts or refuses them, and an accepted reading is
written to the journal with its values, to the store's ``morning_readings`` table, and the
athlete's ``baselines`` rows are recomputed — so the guest's status is current without
waiting for ``gympulse analyze``. A refused reading stores nothing and says why.

For a seeding or site script, :func:`record_reading` is a plain (blocking) function:
``record_reading(settings, athlete_id, start_ms, end_ms, method="cli")``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import TYPE_CHECKING

from gympulse.contract import now_ms
from gympulse.pipeline.analytics.morning import (
    AutoRule,
    QualityRules,
    ReadingValues,
    Refusal,
    RestRules,
    compute_reading,
    rest_refusal,
    resting_reference,
    resting_windows,
)
from gympulse.pipeline.journal import Journal, MorningRecording

if TYPE_CHECKING:
    import polars as pl

    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores.base import Store
    from gympulse.settings import MorningSettings, Settings

DAY_MS = 86_400_000
BASELINE_LOOKBACK_MS = 60 * DAY_MS
LAST_SAMPLE_SLACK_MS = 2_500  # "the last samples are in": one within this of the end


def rules_of(settings: MorningSettings) -> QualityRules:
    return QualityRules(
        min_beats=settings.min_beats,
        min_coverage=settings.min_coverage,
        max_corrected_pct=settings.max_corrected_pct,
        max_no_contact_pct=settings.max_no_contact_pct,
    )


def rest_rules_of(settings: MorningSettings) -> RestRules:
    return RestRules(
        margin_bpm=settings.rest_margin_bpm,
        max_hr_bpm=settings.rest_max_hr_bpm,
        max_drift_bpm=settings.rest_max_drift_bpm,
        after_training_s=settings.rest_after_training_s,
    )


def auto_rule_of(settings: MorningSettings) -> AutoRule:
    return AutoRule(
        from_hour=settings.auto_from_hour,
        until_hour=settings.auto_until_hour,
        min_s=settings.auto_min_s,
        max_s=settings.auto_max_s,
        tolerance_bpm=settings.auto_tolerance_bpm,
    )


def _local_date(ts: int, tz: str) -> dt.date:
    from zoneinfo import ZoneInfo

    zone = dt.UTC if tz == "UTC" else ZoneInfo(tz)
    return dt.datetime.fromtimestamp(ts / 1000, zone).date()


async def window_samples(
    store: Store, athlete_id: int, start_ms: int, end_ms: int, sensor: str | None = None
) -> pl.DataFrame:
    """The samples of the window: the strap's when ``sensor`` is given, else the athlete's."""
    if sensor is not None:
        return await store.query_samples(start_ms, end_ms, sensors=[sensor])
    import polars as pl

    frame = await store.query_samples(start_ms, end_ms, athlete_ids=[athlete_id])
    return frame.filter(pl.col("athlete_id") == athlete_id)


async def _wait_for_tail(
    store: Store, athlete_id: int, end_ms: int, sensor: str | None, wait_s: float
) -> None:
    """Wait (at most ``wait_s``) until a sample within the last seconds of the window is
    stored: ingestion writes a sample a fraction of a second after the strap sent it."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        tail_start = end_ms - LAST_SAMPLE_SLACK_MS
        tail = await window_samples(store, athlete_id, tail_start, end_ms, sensor)
        if not tail.is_empty():
            return
        await asyncio.sleep(0.25)


def _row(reading: MorningRecording, tz: str, now: int) -> dict[str, object]:
    return {
        "athlete_id": reading.athlete_id,
        "recording_id": reading.id,
        "date": _local_date(reading.start_ms, tz),
        "start_ms": reading.start_ms,
        "end_ms": reading.end_ms,
        "n_rr": reading.n_rr,
        "n_corrected": reading.n_corrected,
        "rmssd": reading.rmssd,
        "ln_rmssd": reading.ln_rmssd,
        "hr_rest": reading.hr_rest,
        "updated_ms": now,
    }


async def _count(store: Store, reading: MorningRecording, tz: str) -> None:
    """Write a counted reading to the store and refresh the athlete's baselines."""
    import polars as pl

    from gympulse.pipeline.analytics import tables

    now = now_ms()
    frame = tables.conform(tables.MORNING_READINGS, pl.DataFrame([_row(reading, tz, now)]))
    await store.write_rows(tables.MORNING_READINGS.name, frame, tables.MORNING_READINGS.key)
    await refresh_baselines(store, reading.athlete_id, tz, now)


async def recent_resting_hr(store: Store, athlete_id: int, before_ms: int) -> list[float]:
    """Resting HR of the athlete's counted readings of the 60 days before ``before_ms``."""
    from gympulse.pipeline.analytics import tables
    from gympulse.pipeline.analytics.jobs import read_table

    rows = await read_table(store, tables.MORNING_READINGS, {"athlete_id": athlete_id})
    return [
        float(r["hr_rest"])
        for r in rows.iter_rows(named=True)
        if r["hr_rest"] is not None
        and before_ms - BASELINE_LOOKBACK_MS <= r["start_ms"] < before_ms
    ]


async def refresh_baselines(store: Store, athlete_id: int, tz: str, now_ms: int) -> None:
    """Recompute the athlete's ``baselines`` rows from their ``morning_readings`` and
    ``daily_metrics`` rows (one athlete: a few hundred rows at most)."""
    from gympulse.pipeline.analytics import daily, tables
    from gympulse.pipeline.analytics.jobs import read_table

    where = {"athlete_id": athlete_id}
    readings = await read_table(store, tables.MORNING_READINGS, where)
    metrics = await read_table(store, tables.DAILY_METRICS, where)
    base = daily.baselines(readings, metrics, now_ms)
    await store.delete_rows(tables.BASELINES.name, where)
    await store.write_rows(tables.BASELINES.name, base, tables.BASELINES.key)


async def take_reading(
    store: Store,
    journal: Journal,
    athlete_id: int,
    start_ms: int,
    end_ms: int,
    *,
    method: str,
    sensor: str | None = None,
    status: str = "counted",
    rules: QualityRules | None = None,
    rest: RestRules | None = None,
    profile_hr_rest: float | None = None,
    tz: str = "UTC",
    wait_s: float = 0.0,
) -> MorningRecording | Refusal:
    """Compute the reading of [start_ms, end_ms) from the stored samples and keep it, or
    return why it is refused (nothing is stored then): the quality rule, then the rest rule
    (:func:`rest_refusal`, against the person's recent counted readings, else
    ``profile_hr_rest``). ``wait_s``: how long to wait for the window's last samples to
    reach the store (a reading that just ended)."""
    if end_ms <= start_ms:
        raise ValueError("end_ms must be after start_ms")
    if wait_s > 0:
        await _wait_for_tail(store, athlete_id, end_ms, sensor, wait_s)
    window = await window_samples(store, athlete_id, start_ms, end_ms, sensor)
    result = await asyncio.to_thread(compute_reading, window, start_ms, end_ms, rules)
    if isinstance(result, Refusal):
        return result
    rest = rest or RestRules()
    reference = resting_reference(
        await recent_resting_hr(store, athlete_id, start_ms), profile_hr_rest, rest
    )
    before = await window_samples(
        store, athlete_id, start_ms - rest.after_training_s * 1000, start_ms
    )
    refusal = await asyncio.to_thread(
        rest_refusal, window, start_ms, end_ms, result, reference, before, rest
    )
    if refusal is not None:
        return refusal
    return await keep_reading(
        store, journal, athlete_id, start_ms, end_ms, result,
        method=method, sensor=sensor, status=status, tz=tz,
    )  # fmt: skip


async def keep_reading(
    store: Store,
    journal: Journal,
    athlete_id: int,
    start_ms: int,
    end_ms: int,
    values: ReadingValues,
    *,
    method: str,
    sensor: str | None = None,
    status: str = "counted",
    tz: str = "UTC",
) -> MorningRecording:
    """Keep an accepted reading: journal row, and when counted the store row and baselines."""
    reading_id = await asyncio.to_thread(
        journal.add_reading,
        athlete_id, start_ms, end_ms, method=method, status=status, sensor=sensor,
        n_rr=values.n_rr, n_corrected=values.n_corrected, rmssd=values.rmssd,
        ln_rmssd=values.ln_rmssd, hr_rest=values.hr_rest,
    )  # fmt: skip
    reading = await asyncio.to_thread(journal.reading, reading_id)
    assert reading is not None
    if status == "counted":
        await _count(store, reading, tz)
    return reading


async def confirm_reading(
    store: Store, journal: Journal, reading_id: int, tz: str = "UTC"
) -> MorningRecording | None:
    """Count a proposed (automatic) reading; None when there is no such reading."""
    reading = await asyncio.to_thread(journal.reading, reading_id)
    if reading is None:
        return None
    if reading.status != "counted":
        await asyncio.to_thread(journal.set_reading_status, reading_id, "counted")
        reading = await asyncio.to_thread(journal.reading, reading_id)
        assert reading is not None
        await _count(store, reading, tz)
    return reading


async def delete_reading(
    store: Store, journal: Journal, reading_id: int, tz: str = "UTC"
) -> MorningRecording | None:
    """Delete a reading everywhere (journal, store) and refresh the athlete's baselines."""
    from gympulse.pipeline.analytics import tables

    reading = await asyncio.to_thread(journal.delete_reading, reading_id)
    if reading is None:
        return None
    await store.delete_rows(
        tables.MORNING_READINGS.name,
        {"athlete_id": reading.athlete_id, "recording_id": reading.id},
    )
    await refresh_baselines(store, reading.athlete_id, tz, now_ms())
    return reading


def morning_spans(start_ms: int, end_ms: int, rule: AutoRule, tz: str) -> list[tuple[int, int]]:
    """[from_hour, until_hour) of every local day overlapping [start_ms, end_ms), clipped."""
    from zoneinfo import ZoneInfo

    zone = dt.UTC if tz == "UTC" else ZoneInfo(tz)
    day = _local_date(start_ms, tz)
    last = _local_date(end_ms, tz)
    spans = []
    while day <= last:
        lo = int(dt.datetime.combine(day, dt.time(rule.from_hour), zone).timestamp() * 1000)
        hi = int(
            (
                dt.datetime.combine(day, dt.time(0), zone) + dt.timedelta(hours=rule.until_hour)
            ).timestamp()
            * 1000
        )
        lo, hi = max(lo, start_ms), min(hi, end_ms)
        if lo < hi:
            spans.append((lo, hi))
        day += dt.timedelta(days=1)
    return spans


async def propose_automatic(
    store: Store,
    registry: Registry,
    journal: Journal,
    *,
    start_ms: int,
    end_ms: int,
    settings: MorningSettings,
    tz: str = "UTC",
) -> list[MorningRecording]:
    """Find resting windows in [start_ms, end_ms) (automatic fallback, see
    :mod:`gympulse.pipeline.analytics.morning`) for every athlete on days without a reading,
    and keep them as ``auto`` readings: ``proposed``, or ``counted`` when
    ``settings.trust_automatic``. Returns the new readings."""
    import polars as pl

    from gympulse.pipeline.analytics import tables
    from gympulse.pipeline.analytics.jobs import read_table

    rule, rules = auto_rule_of(settings), rules_of(settings)
    status = "counted" if settings.trust_automatic else "proposed"
    # Only the morning hours of each local day are read (a site's straps may stream all day).
    frames = [
        await store.query_samples(lo, hi) for lo, hi in morning_spans(start_ms, end_ms, rule, tz)
    ]
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return []
    samples = pl.concat(frames).filter(pl.col("athlete_id").is_not_null())
    if samples.is_empty():
        return []
    classes = [(c.start_ms, c.end_ms) for c in journal.classes(start_ms=start_ms, end_ms=end_ms)]
    made: list[MorningRecording] = []
    for athlete in registry.athletes():
        mine = samples.filter(pl.col("athlete_id") == athlete.id)
        if mine.is_empty():
            continue
        past = [
            r.hr_rest
            for r in journal.morning_recordings(
                athlete.id, start_ms=end_ms - BASELINE_LOOKBACK_MS, end_ms=end_ms,
                status="counted",
            )
            if r.hr_rest is not None
        ]  # fmt: skip
        resting = sum(past) / len(past) if past else athlete.hr_rest
        if not resting:
            continue
        # A morning of training only (far above rest) has no window: skip the search.
        if mine.filter(pl.col("bpm") <= resting + 3 * rule.tolerance_bpm).is_empty():
            continue
        sessions = await read_table(store, tables.SESSION_SUMMARY, {"athlete_id": athlete.id})
        busy = classes + [
            (int(s), int(e))
            for s, e in sessions.select("start_ms", "end_ms").iter_rows()
            if s is not None and e is not None
        ]
        taken = {
            _local_date(r.start_ms, tz)
            for r in journal.morning_recordings(
                athlete.id, start_ms=start_ms - DAY_MS, end_ms=end_ms + DAY_MS
            )
        }
        for w_start, w_end in resting_windows(mine, float(resting), busy, tz=tz, rule=rule):
            if _local_date(w_start, tz) in taken:
                continue
            values = compute_reading(mine, w_start, w_end, rules)
            if isinstance(values, Refusal):
                continue
            kept = await keep_reading(
                store, journal, athlete.id, w_start, w_end, values,
                method="auto", status=status, tz=tz,
            )  # fmt: skip
            made.append(kept)
            taken.add(_local_date(w_start, tz))
    return made


def record_reading(
    settings: Settings,
    athlete_id: int,
    start_ms: int,
    end_ms: int,
    *,
    method: str = "cli",
    sensor: str | None = None,
) -> MorningRecording | Refusal:
    """A plain blocking call for scripts (seeding demo history, site scripts): take the
    reading of [start_ms, end_ms) from the samples already stored, with the site's settings."""
    from gympulse.pipeline.stores import make_store

    async def run() -> MorningRecording | Refusal:
        store = make_store(settings.store, zone=settings.timezone)
        journal = Journal(settings.store.path)
        await store.open()
        try:
            return await take_reading(
                store, journal, athlete_id, start_ms, end_ms, method=method, sensor=sensor,
                rules=rules_of(settings.morning), tz=settings.timezone,
            )  # fmt: skip
        finally:
            await store.close()
            journal.close()

    return asyncio.run(run())


async def readings_of(store: Store, journal: Journal, athlete_id: int) -> list[MorningRecording]:
    """The athlete's readings, oldest first, with their values: those kept by
    :func:`keep_reading` carry them; a recording only tagged (``Journal.tag_morning``, as
    older scripts do) gets them from the store's ``morning_readings`` row ``analyze`` wrote."""
    from dataclasses import replace

    from gympulse.pipeline.analytics import tables
    from gympulse.pipeline.analytics.jobs import read_table

    found = await asyncio.to_thread(journal.morning_recordings, athlete_id)
    if all(r.ln_rmssd is not None for r in found):
        return found
    rows = await read_table(store, tables.MORNING_READINGS, {"athlete_id": athlete_id})
    computed = {int(r["recording_id"]): r for r in rows.to_dicts()}
    out = []
    for r in found:
        row = computed.get(r.id)
        if r.ln_rmssd is None and row is not None:
            r = replace(
                r, n_rr=row["n_rr"], n_corrected=row["n_corrected"], rmssd=row["rmssd"],
                ln_rmssd=row["ln_rmssd"], hr_rest=row["hr_rest"],
            )  # fmt: skip
        out.append(r)
    return out
