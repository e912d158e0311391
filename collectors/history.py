"""A retreat's history, simulated: weeks of guests with staggered stays, a weekly class
schedule, morning readings, wellness check-ins, session RPE and the lifts of the strength
circuits (progressive loading, a warm-up set first) — one guest improving, one
declining — for ``gympulse demo``'s seeded history (:mod:`gympulse.pipeline.seed` writes it
the way real data arrives). The heart rate of every window comes from the participant model
of :mod:`gympulse.collectors.simulator`. Deterministic for a given seed; pure, no I/O."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace
from typing import Literal

from gympulse.collectors.simulator import Profile, at_rest, class_target, simulate
from gympulse.contract import HrSample


@dataclass(frozen=True, slots=True)
class WeeklyClass:
    """A class on the weekly schedule: ``weekday`` 0 = Monday, ``start`` in site time."""

    name: str
    weekday: int
    start: dt.time
    minutes: int
    intensity: float  # scales the interval plan: 1 = the full class, 0.5 = gentle


RETREAT_WEEK = (
    WeeklyClass("Morning circuit", 0, dt.time(10, 0), 45, 1.0),
    WeeklyClass("Yoga flow", 1, dt.time(9, 30), 45, 0.45),
    WeeklyClass("Intervals", 2, dt.time(10, 0), 40, 1.05),
    WeeklyClass("Forest walk", 3, dt.time(10, 0), 60, 0.5),
    WeeklyClass("Circuit", 4, dt.time(10, 0), 45, 0.95),
)
Trend = Literal["steady", "improving", "declining"]
AFTER_CLASS_STRAP_ON = 0.85  # share of class windows with the strap on after the class
SEATED_AFTER_CLASS = 0.08  # sitting after a class: fraction of the heart-rate reserve
INTERVALS_START_S = 480  # class_target: 8 min warm-up, then 8 × 3 min of intervals
INTERVALS_S = 8 * 180
INTERVALS_END_S = INTERVALS_START_S + INTERVALS_S


@dataclass(frozen=True, slots=True)
class Stay:
    profile: Profile
    arrival: dt.date
    departure: dt.date
    trend: Trend


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of one strap's samples: a class attended or a morning reading."""

    sensor: str
    start_ms: int
    seconds: int
    profile: Profile  # that day's physiology (the guest's trend applied)
    intensity: float  # 0: at rest (morning reading)
    morning: bool
    # A class window's last seconds after the class ended: the guest sits down with the
    # strap on (0: the strap came off as the class ended).
    after_s: int = 0


@dataclass(frozen=True, slots=True)
class HistoryClass:
    name: str
    start_ms: int
    end_ms: int
    attendees: tuple[str, ...]  # sensors


@dataclass(frozen=True, slots=True)
class WellnessAnswer:
    sensor: str
    date: dt.date
    sleep: int
    stress: int
    mood: int
    energy: int
    soreness: int


@dataclass(frozen=True, slots=True)
class RpeAnswer:
    sensor: str
    class_index: int  # into History.classes
    rpe: int


@dataclass(frozen=True, slots=True)
class LiftSet:
    """One set a guest logged in a strength circuit (kg on the bar, warm-ups marked)."""

    sensor: str
    ts_ms: int
    exercise: str  # a key of the strength catalogue (pipeline/analytics/strength.py)
    reps: int
    kg: float
    warmup: bool


@dataclass(frozen=True, slots=True)
class PlanLine:
    """A line of a class's strength plan: ``sets`` × ``reps`` of ``exercise``, starting at
    ``start_ratio`` × body weight (scaled by fitness), 2.5 kg more as the guest progresses."""

    exercise: str
    sets: int
    reps: int
    start_ratio: float


# The two circuits of the retreat week carry barbell work (the coach's class plans).
LIFT_PLANS: dict[str, tuple[PlanLine, ...]] = {
    "Morning circuit": (PlanLine("squat", 3, 8, 0.55), PlanLine("bench", 3, 8, 0.4)),
    "Circuit": (PlanLine("deadlift", 3, 5, 0.75), PlanLine("row", 3, 8, 0.4)),
}
STEP_KG = 2.5  # the smallest jump: two 1.25 kg plates
SET_EVERY_MS = 180_000  # a set and its rest


@dataclass
class History:
    stays: list[Stay]
    classes: list[HistoryClass]
    windows: list[Window]
    wellness: list[WellnessAnswer]
    rpe: list[RpeAnswer]
    lifts: list[LiftSet] = field(default_factory=list)


def _plates(kg: float) -> float:
    """Down to what the plates make (a multiple of :data:`STEP_KG`), at least the bar."""
    return max(20.0, STEP_KG * int(kg / STEP_KG + 1e-9))


def _lifts(classes: list[HistoryClass], stays: list[Stay], rng: random.Random) -> list[LiftSet]:
    """The sets of every strength circuit, guest by guest: the same work weight for a plan's
    sets, one warm-up set at about half of it before the first; the improving guest adds
    2.5 kg every session, the steady ones every other session, the declining one stops
    after three and, two weeks into her stay, misses reps on her last set."""
    by_sensor = {s.profile.sensor: s for s in stays}
    done: dict[tuple[str, str], int] = {}  # (sensor, exercise) -> sessions so far
    out: list[LiftSet] = []
    for c in classes:
        plan = LIFT_PLANS.get(c.name)
        if not plan:
            continue
        day = dt.datetime.fromtimestamp(c.start_ms / 1000, dt.UTC).date()
        for sensor in c.attendees:
            stay = by_sensor[sensor]
            p = stay.profile
            strength = (0.7 + 0.6 * p.fitness) * (1.0 if p.sex == "male" else 0.8)
            span = max(1, (stay.departure - stay.arrival).days)
            late = (day - stay.arrival).days / span > 0.25
            ts = c.start_ms + 10 * 60_000  # after the warm-up of the class
            for line in plan:
                n = done.get((sensor, line.exercise), 0)
                done[(sensor, line.exercise)] = n + 1
                steps = {"improving": n, "steady": n // 2}.get(stay.trend, min(n, 3))
                kg = _plates(p.weight_kg * line.start_ratio * strength + STEP_KG * steps)
                if line is plan[0]:
                    out.append(LiftSet(sensor, ts, line.exercise, 5, _plates(kg / 2), True))
                    ts += SET_EVERY_MS
                for k in range(line.sets):
                    reps = line.reps
                    if stay.trend == "declining" and late and k == line.sets - 1:
                        reps -= rng.randint(1, 2)  # the last set falls short
                    out.append(LiftSet(sensor, ts, line.exercise, reps, kg, False))
                    ts += SET_EVERY_MS
    return out


# Days before today each guest arrived (staggered over six weeks; the newest today, so a
# site also shows a guest without data); everybody stays eight weeks.
ARRIVALS_DAYS_AGO = (41, 40, 37, 33, 30, 26, 22, 19, 15, 11, 6, 0)
STAY_DAYS = 56


def _trend_shift(trend: Trend, progress: float) -> tuple[float, float]:
    """(resting HR change in bpm, fitness change) at ``progress`` (0..1) through the stay
    so far: the improving guest's resting HR falls and HRV rises; the declining guest is
    steady for the first half, then resting HR climbs and HRV falls."""
    if trend == "improving":
        return -7.0 * progress, 0.35 * progress
    if trend == "declining":
        q = max(0.0, (progress - 0.5) / 0.5)
        return 8.0 * q, -0.45 * q
    return 0.0, 0.0


def _clamp(v: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(v)))


def retreat_history(
    profiles: list[Profile],
    *,
    now: dt.datetime,
    seed: int = 1,
    weeks: int = 6,
    schedule: tuple[WeeklyClass, ...] = RETREAT_WEEK,
) -> History:
    """A retreat's last ``weeks`` weeks for ``profiles`` (pure; deterministic for ``seed``):
    staggered stays, the weekly schedule with who attended, a morning reading most days,
    wellness check-ins and session RPE. Guest 0 improves over the stay, guest 1 declines.
    ``now`` is aware, in the site's time zone: classes and readings only up to it."""
    rng = random.Random(seed)
    tz = now.tzinfo
    assert tz is not None, "now must carry the site's time zone"
    today = now.date()
    steady: list[Trend] = ["steady"] * max(0, len(profiles) - 2)
    trends: list[Trend] = ["improving", "declining", *steady]
    stays = []
    for i, p in enumerate(profiles):
        ago = ARRIVALS_DAYS_AGO[i % len(ARRIVALS_DAYS_AGO)]
        arrival = today - dt.timedelta(days=ago)
        stays.append(Stay(p, arrival, arrival + dt.timedelta(days=STAY_DAYS), trends[i]))
    classes: list[HistoryClass] = []
    windows: list[Window] = []
    wellness: list[WellnessAnswer] = []
    rpe: list[RpeAnswer] = []
    first = today - dt.timedelta(days=weeks * 7 - 1)
    now_ms = int(now.timestamp() * 1000)
    day = first
    while day <= today:
        present = [s for s in stays if s.arrival <= day <= s.departure]
        day_of: dict[str, Profile] = {}
        progress_of: dict[str, float] = {}
        for stay in present:
            span = max(1, (today - stay.arrival).days)
            progress = (day - stay.arrival).days / span
            d_rest, d_fit = _trend_shift(stay.trend, progress)
            p = stay.profile
            day_of[p.sensor] = replace(
                p,
                hr_rest=round(p.hr_rest + d_rest + rng.gauss(0, 1.2)),
                fitness=min(1.0, max(0.0, p.fitness + d_fit + rng.gauss(0, 0.04))),
            )
            progress_of[p.sensor] = progress
        # Morning: a reading (most days) and the check-in.
        for stay in present:
            sensor = stay.profile.sensor
            trend, progress = stay.trend, progress_of[sensor]
            wake = dt.datetime.combine(day, dt.time(7, 0), tz) + dt.timedelta(
                minutes=rng.randint(0, 50)
            )
            start_ms = int(wake.timestamp() * 1000)
            if rng.random() < 0.9 and start_ms + 240_000 <= now_ms:
                windows.append(Window(sensor, start_ms, 240, day_of[sensor], 0.0, True))
            if rng.random() < 0.85 and start_ms <= now_ms:
                mood = 3.4
                if trend == "improving":
                    mood = 2.8 + 1.8 * progress
                elif trend == "declining":
                    mood = 3.8 - 2.2 * max(0.0, (progress - 0.5) / 0.5)
                values = [_clamp(mood + rng.gauss(0, 0.6), 1, 5) for _ in range(5)]
                wellness.append(WellnessAnswer(sensor, day, *values))
        # The day's class.
        for wc in schedule:
            if wc.weekday != day.weekday():
                continue
            start = dt.datetime.combine(day, wc.start, tz)
            start_ms = int(start.timestamp() * 1000)
            end_ms = start_ms + wc.minutes * 60_000
            if end_ms > now_ms:
                continue  # not over yet: the live demo shows today's class
            attendees = []
            for stay in present:
                sensor = stay.profile.sensor
                q = max(0.0, (progress_of[sensor] - 0.5) / 0.5)
                attend = 0.85 - (0.4 * q if stay.trend == "declining" else 0.0)
                if rng.random() >= attend:
                    continue
                attendees.append(sensor)
                late = rng.randint(0, 90)
                # Most guests keep the strap on while they sit down and drink after the
                # class (2.5-4 min): their heart-rate recovery is measured from its end.
                after = rng.randint(150, 240) if rng.random() < AFTER_CLASS_STRAP_ON else 0
                windows.append(
                    Window(
                        sensor,
                        start_ms + late * 1000,
                        wc.minutes * 60 - late + after,
                        day_of[sensor],
                        wc.intensity,
                        False,
                        after,
                    )
                )
                if rng.random() < 0.8:
                    effort = 2 + 5 * wc.intensity + rng.gauss(0, 0.8)
                    if stay.trend == "improving":
                        effort -= 1.5 * progress_of[sensor]
                    elif stay.trend == "declining":
                        effort += 2.5 * q
                    rpe.append(RpeAnswer(sensor, len(classes), _clamp(effort, 0, 10)))
            classes.append(HistoryClass(wc.name, start_ms, end_ms, tuple(attendees)))
        day += dt.timedelta(days=1)
    # The lifts from a generator of their own: the heart-rate history stays as it was.
    lifts = _lifts(classes, stays, random.Random(f"lifts-{seed}"))
    return History(stays, classes, windows, wellness, rpe, lifts)


def window_samples(window: Window, seed: int) -> list[HrSample]:
    """The samples a strap sends during ``window`` (the simulator's beat model). A class
    window is the warm-up, then the intervals up to the class's end (the class stops on its
    last effort), then ``after_s`` seconds sitting: the heart rate falls toward a seated
    level a little above the morning's resting one."""
    class_s = window.seconds - window.after_s

    def plan(t_s: float, offset_s: float) -> float:
        if t_s >= class_s:
            return SEATED_AFTER_CLASS
        if t_s >= INTERVALS_END_S:
            t_s = INTERVALS_START_S + (t_s - INTERVALS_START_S) % INTERVALS_S
        return class_target(t_s) * window.intensity

    samples: list[HrSample] = []
    for events in simulate(
        [window.profile],
        start_ms=window.start_ms,
        seconds=window.seconds,
        seed=seed ^ window.start_ms,
        seq_base=window.start_ms,
        contact_loss_rate=0.0 if window.morning else 0.001,
        dropout_rate=0.0 if window.morning else 0.0005,
        plan=at_rest if window.morning else plan,
        join_offsets=False,
    ):
        samples.extend(e.sample for e in events if e.sample is not None)
    return samples
