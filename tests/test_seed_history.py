"""The demo's seeded history: the simulator's retreat (pure, deterministic) and its
writing through the ingestion path into a fresh database, then analyzed."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import zoneinfo
from pathlib import Path

from gympulse.cli import build_parser
from gympulse.collectors.commands import roster
from gympulse.collectors.history import LIFT_PLANS, RETREAT_WEEK, retreat_history, window_samples
from gympulse.collectors.simulator import make_profiles
from gympulse.pipeline.seed import seed_history
from gympulse.settings import Settings, StoreSettings

TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=TZ)  # a Friday afternoon


def test_the_history_is_deterministic_and_shaped_like_a_retreat() -> None:
    profiles = make_profiles(12, 1)
    one = retreat_history(profiles, now=NOW, seed=3)
    assert one == retreat_history(profiles, now=NOW, seed=3)
    assert one != retreat_history(profiles, now=NOW, seed=4)
    arrivals = sorted({s.arrival for s in one.stays})
    assert len(arrivals) == 12  # staggered
    assert arrivals[0] >= NOW.date() - dt.timedelta(days=42) and arrivals[-1] <= NOW.date()
    assert all(s.departure > NOW.date() for s in one.stays)
    assert [s.trend for s in one.stays[:2]] == ["improving", "declining"]
    # Six weeks of the weekly schedule, every class over before now, named and recurring.
    assert len(one.classes) == 6 * len(RETREAT_WEEK)
    assert all(c.end_ms <= NOW.timestamp() * 1000 for c in one.classes)
    assert {c.name for c in one.classes} == {w.name for w in RETREAT_WEEK}
    # Nobody trains or reads before arriving.
    arrival_of = {s.profile.sensor: s.arrival for s in one.stays}
    for w in one.windows:
        day = dt.datetime.fromtimestamp(w.start_ms / 1000, TZ).date()
        assert day >= arrival_of[w.sensor]
    assert one.wellness and one.rpe


def test_the_improving_guest_recovers_and_the_declining_one_does_not() -> None:
    history = retreat_history(make_profiles(12, 1), now=NOW, seed=1)

    def resting(sensor: str) -> list[float]:
        """Mean bpm of each morning reading's last two minutes, oldest first."""
        out = []
        for w in history.windows:
            if w.sensor == sensor and w.morning:
                bpm = [s.bpm for s in window_samples(w, 1)[-120:]]
                out.append(sum(bpm) / len(bpm))
        return out

    improving, declining = history.stays[0].profile.sensor, history.stays[1].profile.sensor
    up = resting(improving)
    down = resting(declining)
    assert sum(up[-5:]) / 5 < sum(up[:5]) / 5 - 3  # resting HR falls
    assert sum(down[-5:]) / 5 > sum(down[:5]) / 5 + 3  # resting HR climbs
    wellness = {
        sensor: [w.mood for w in history.wellness if w.sensor == sensor]
        for sensor in (improving, declining)
    }
    assert sum(wellness[improving][-5:]) > sum(wellness[improving][:5])
    assert sum(wellness[declining][-5:]) < sum(wellness[declining][:5])


def test_the_strength_circuits_are_lifted_and_the_improving_guest_gets_stronger() -> None:
    history = retreat_history(make_profiles(12, 1), now=NOW, seed=1)
    attended = {
        (s, c.start_ms) for c in history.classes if c.name in LIFT_PLANS for s in c.attendees
    }
    assert attended
    by_session: dict[tuple[str, int], list[str]] = {}
    for lift in history.lifts:  # every set in a circuit its lifter attended, within it
        within = [k for k in attended if k[0] == lift.sensor and 0 < lift.ts_ms - k[1] < 2_700_000]
        (key,) = within
        by_session.setdefault(key, []).append(lift.exercise)
    assert set(by_session) == attended  # and everybody who came lifted
    name_of = {c.start_ms: c.name for c in history.classes}
    for (_, start), exercises in by_session.items():
        plan = LIFT_PLANS[name_of[start]]
        assert exercises == [plan[0].exercise] + [x.exercise for x in plan for _ in range(x.sets)]
    warmups = [x for x in history.lifts if x.warmup]
    assert len(warmups) == len(attended)
    assert all(x.kg % 2.5 == 0 and x.kg >= 20 for x in history.lifts)

    def work_kg(sensor: str, exercise: str) -> list[float]:
        return [x.kg for x in history.lifts
                if x.sensor == sensor and x.exercise == exercise and not x.warmup]  # fmt: skip

    improving, declining = history.stays[0].profile.sensor, history.stays[1].profile.sensor
    squats = work_kg(improving, "squat")
    assert len(squats) >= 3 * 3 and squats == sorted(squats) and squats[-1] >= squats[0] + 5
    held = work_kg(declining, "squat") + work_kg(declining, "deadlift")
    assert held and max(work_kg(declining, "squat")) <= work_kg(declining, "squat")[0] + 7.5
    # Her last circuit, late in her stay: the last set of each lift falls short.
    plan_reps = {x.exercise: x.reps for plan in LIFT_PLANS.values() for x in plan}
    last = [x for x in history.lifts if x.sensor == declining and not x.warmup][-6:]
    assert [x.reps < plan_reps[x.exercise] for x in last] == [False, False, True] * 2


def test_seeding_writes_through_the_ingest_path_and_analyzes(tmp_path: Path) -> None:
    db = tmp_path / "seed.db"
    settings = Settings(store=StoreSettings(path=str(db)), timezone="Europe/Amsterdam")
    profiles = make_profiles(3, 1)
    report = asyncio.run(seed_history(settings, profiles, seed=2, weeks=2))
    assert report.quarantined == 0 and report.samples > 10_000
    with sqlite3.connect(db) as conn:
        # Stamped by the ingestion's decode: the athlete on every sample, %HRmax and zone on
        # every sample with skin contact (without contact there is no signal to zone).
        unstamped = conn.execute(
            "SELECT count(*) FROM samples WHERE athlete_id IS NULL"
            " OR (zone IS NULL AND contact = 1)"
        ).fetchone()[0]
        assert unstamped == 0
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == report.samples
        stays = conn.execute("SELECT arrival, departure FROM athletes").fetchall()
        assert all(a and d and a < d for a, d in stays)
        # Analyzed: class sessions with their RPE, morning readings, baselines, wellness.
        sessions = conn.execute(
            "SELECT count(*), count(rpe) FROM session_summary WHERE session_id LIKE 'class-%'"
        ).fetchone()
        assert sessions[0] > 0 and sessions[1] > 0
        readings = conn.execute("SELECT count(*) FROM morning_readings").fetchone()[0]
        assert readings == report.readings
        assert conn.execute("SELECT count(*) FROM baselines").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM wellness").fetchone()[0] == report.wellness
        # The strength circuits' lifts and the coach's class plans they follow.
        lifted = conn.execute("SELECT count(*), sum(warmup) FROM strength_sets").fetchone()
        assert lifted[0] == report.lifts > 0 and 0 < lifted[1] < lifted[0]
        plans = conn.execute("SELECT DISTINCT class_name FROM strength_templates").fetchall()
        assert {p for (p,) in plans} == set(LIFT_PLANS)


def test_simulate_keeps_the_same_people_whatever_the_seed() -> None:
    """``gympulse simulate --seed N`` changes the noise, never the roster."""
    parser = build_parser()
    settings = Settings()
    runs = [parser.parse_args(["simulate", "--seed", str(n)]) for n in (1, 7, 42)]
    rosters = [roster(settings, r.participants) for r in runs]
    assert rosters[0] == rosters[1] == rosters[2] == make_profiles(12, settings.simulator.seed)
