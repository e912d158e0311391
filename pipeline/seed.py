"""A realistic history for a fresh site (``gympulse demo``): the simulator's retreat
(:func:`gympulse.collectors.history.retreat_history`) written the way real data arrives.

Samples go through the ingestion's own path — contract decode and validation, athlete
stamping from the registry (:func:`gympulse.pipeline.ingest.decode_message`) and the
store's idempotent write — never raw SQL; classes, morning readings, wellness and RPE go
through the journal; then the analytics run once, so every page has data at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import sqlite3
import time
import zoneinfo
from dataclasses import dataclass

from gympulse import contract
from gympulse.collectors import simulator
from gympulse.collectors.history import LIFT_PLANS, Window, retreat_history, window_samples
from gympulse.mqtt import Received
from gympulse.pipeline.analytics.jobs import analyze
from gympulse.pipeline.consent import Policy, record_all
from gympulse.pipeline.ingest import Snapshot, decode_message
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.sqlite_db import transaction
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.strength_log import StrengthLog, TemplateItem
from gympulse.settings import Settings

log = logging.getLogger(__name__)

SAMPLES_PER_MESSAGE = 300  # a batch message stays well under the 64 KiB payload limit
SAMPLES_PER_WRITE = 50_000


@dataclass(frozen=True)
class SeedReport:
    athletes: dict[str, int]  # sensor -> athlete id
    samples: int
    quarantined: int
    classes: int
    readings: int
    wellness: int
    rpe: int
    lifts: int
    seconds: float


def _consent_all(conn: sqlite3.Connection, *, athlete_id: int, since_ms: int) -> None:
    record_all(conn, athlete_id, "demo", since_ms=since_ms)


def _day_start_ms(day: dt.date, tz: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tz).timestamp() * 1000)


def _decode_window(
    window: Window, seed: int, topic: str, snapshot: Snapshot, retention_days: int
) -> tuple[list[StoredSample], int]:
    """One window's samples as batch messages through the ingestion's decode: (stored
    samples, quarantined ones). CPU only: runs in a worker thread."""
    samples = window_samples(window, seed)
    now = contract.now_ms()
    stored: list[StoredSample] = []
    bad = 0
    for i in range(0, len(samples), SAMPLES_PER_MESSAGE):
        payload = contract.encode_samples(samples[i : i + SAMPLES_PER_MESSAGE])
        msg = Received(topic, payload, qos=1, retain=False, mid=0, connection=0)
        good, rejected = decode_message(
            msg, snapshot, retention_days=retention_days, received_ms=now
        )
        stored.extend(s for s in good if isinstance(s, StoredSample))
        bad += len(rejected)
    return stored, bad


async def seed_history(
    settings: Settings,
    profiles: list[simulator.Profile],
    *,
    seed: int = 1,
    weeks: int = 6,
    now: dt.datetime | None = None,
) -> SeedReport:
    """Seed ``profiles`` as a retreat's guests with six weeks of history into the registry,
    journal and store of ``settings``, then analyze. Meant for a fresh database."""
    started = time.perf_counter()
    tz = zoneinfo.ZoneInfo(settings.timezone)
    now = now or dt.datetime.now(tz)
    history = retreat_history(profiles, now=now, seed=seed, weeks=weeks)
    path = settings.store.path
    registry = Registry(path)
    journal = Journal(path)
    strength = StrengthLog(path)
    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    try:
        ids: dict[str, int] = {}
        for stay in history.stays:
            p = stay.profile
            ids[p.sensor] = registry.add_athlete(
                p.name,
                birth_year=p.birth_year,
                sex=p.sex,
                weight_kg=p.weight_kg,
                hr_max=p.hr_max,
                hr_rest=p.hr_rest,
                arrival=stay.arrival.isoformat(),
                departure=stay.departure.isoformat(),
            )
            registry.assign(p.sensor, ids[p.sensor], _day_start_ms(stay.arrival, tz))
            # Made-up guests consent to everything, from their history's first day (the
            # analytics count a sample only under consent at its time, docs/privacy.md).
            since = int((now - dt.timedelta(weeks=weeks + 1)).timestamp() * 1000)
            registry.run(functools.partial(_consent_all, athlete_id=ids[p.sensor], since_ms=since))

        def schedule(conn: sqlite3.Connection) -> list[int]:
            with transaction(conn):  # one commit for the schedule and the readings
                class_ids = [
                    journal.add_class(c.name, c.start_ms, c.end_ms, site=settings.site)
                    for c in history.classes
                ]
                for window in history.windows:
                    if window.morning:
                        end_ms = window.start_ms + window.seconds * 1000
                        # A guest's own reading from the phone (the morning readings' API);
                        # the analytics compute it with the rest below.
                        journal.add_reading(
                            ids[window.sensor],
                            window.start_ms,
                            end_ms,
                            method="guest",
                            sensor=window.sensor,
                        )
            return class_ids

        class_ids = await journal.arun(schedule)
        snapshot = Snapshot.of(registry)
        topic = contract.batch_topic(settings.site, settings.simulator.collector)
        retention = settings.ingest.retention_days
        batch = WriteBatch()
        n_samples = n_bad = 0
        for window in history.windows:
            stored, bad = await asyncio.to_thread(
                _decode_window, window, seed, topic, snapshot, retention
            )
            batch.samples.extend(stored)
            n_bad += bad
            if len(batch.samples) >= SAMPLES_PER_WRITE:
                n_samples += (await store.write(batch)).stored
                batch = WriteBatch()
        if batch.samples:
            n_samples += (await store.write(batch)).stored

        def self_reports(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                for w in history.wellness:
                    journal.add_wellness(
                        ids[w.sensor],
                        w.date,
                        sleep=w.sleep,
                        stress=w.stress,
                        mood=w.mood,
                        energy=w.energy,
                        soreness=w.soreness,
                    )
                for r in history.rpe:
                    session = f"class-{class_ids[r.class_index]}"
                    journal.set_session_rpe(ids[r.sensor], session, r.rpe)

        await journal.arun(self_reports)

        def lifts(conn: sqlite3.Connection) -> None:
            with transaction(conn):  # the coach's class plans, then what the guests logged
                for name, plan in LIFT_PLANS.items():
                    items = [TemplateItem(x.exercise, x.sets, x.reps, None) for x in plan]
                    strength.set_template(name, items)
                for s in history.lifts:
                    strength.add_set(
                        ids[s.sensor], s.ts_ms, s.exercise, s.reps, s.kg, warmup=s.warmup
                    )

        await strength.arun(lifts)
        await analyze(
            store, registry, journal, tz=settings.timezone, policy=Policy.of(settings.consent)
        )
    finally:
        await store.close()
        strength.close()
        journal.close()
        registry.close()
    return SeedReport(
        athletes=ids,
        samples=n_samples,
        quarantined=n_bad,
        classes=len(history.classes),
        readings=sum(1 for w in history.windows if w.morning),
        wellness=len(history.wellness),
        rpe=len(history.rpe),
        lifts=len(history.lifts),
        seconds=time.perf_counter() - started,
    )
