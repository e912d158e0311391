"""The domain: who an athlete is, which strap they wore when, and how hard they worked.

Plain data and pure rules, shared by ingestion (which stamps every stored sample with
:func:`effort_stamp`), the stores, the analytics and the live board, so all of them agree.
No I/O here: the registry (SQLite) persists athletes and assignments, this module only
defines them.

Zones: five zones by percent of HRmax, lower bound inclusive: zone 1 = [50, 60) %,
2 = [60, 70), 3 = [70, 80), 4 = [80, 90), 5 = [90, 100] (a heart rate above HRmax also
counts as zone 5), and zone 0 below 50 %. HRmax without a measurement: Tanaka, Monahan &
Seals (2001), J Am Coll Cardiol 37:153, HRmax = 208 − 0.7 · age; 190 with no birth year.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from dataclasses import dataclass

ZONE_LOWER_PCT = (50, 60, 70, 80, 90)  # lower bounds of zones 1..5, in % (HRmax or reserve)


def zone(bpm: float, hr_max: float) -> int:
    """Zone 0–5 of ``bpm`` by percent of ``hr_max``."""
    if hr_max <= 0:
        raise ValueError(f"hr_max must be positive, got {hr_max}")
    z = 0
    for i, pct in enumerate(ZONE_LOWER_PCT, start=1):
        # bpm / hr_max >= pct / 100, compared without a division so 114/190 is exactly 60 %.
        if bpm * 100 >= pct * hr_max:
            z = i
    return z


def effort_stamp(bpm: int, hr_max: float) -> tuple[int, int]:
    """(``pct_max``, ``zone``) of ``bpm`` for ``hr_max``: the percent rounded half up, the
    zone by the exact comparison of :func:`zone`."""
    return math.floor(bpm * 100 / hr_max + 0.5), zone(bpm, hr_max)


def sample_effort(
    bpm: int, hr_max: float | None, contact: bool | None
) -> tuple[int | None, int | None]:
    """What a stored sample is stamped with: :func:`effort_stamp`, or nothing when the
    athlete has no HRmax or the strap reported no skin contact (such a sample is no-signal
    time everywhere: analytics, the live board, Grafana's tiles)."""
    if hr_max is None or contact is False:
        return None, None
    return effort_stamp(bpm, hr_max)


@dataclass(frozen=True, slots=True)
class Athlete:
    id: int
    name: str
    birth_year: int | None
    sex: str | None
    weight_kg: float | None
    hr_max: int | None
    hr_rest: int | None
    display_name: str = ""
    arrival: str | None = None  # ISO date (site time), first day of the stay
    departure: str | None = None
    ftp_w: int | None = None  # functional threshold power (W): IF and TSS of power sessions

    @property
    def board_name(self) -> str:
        """The name for shared screens (the live board): the display name if the coach set
        one, else the first name and the initial of the last ("Anna de Vries" -> "Anna V.")."""
        return self.display_name or board_name(self.name)

    def age(self, year: int) -> int | None:
        """Age in ``year`` (birth year only: the age they turn that year); get the year from
        :func:`age_year` so every part counts it the same way."""
        return None if self.birth_year is None else year - self.birth_year

    def age_at(self, ts_ms: int) -> int | None:
        return self.age(age_year(ts_ms))

    def hr_max_at(self, ts_ms: int) -> float:
        """:meth:`effective_hr_max` at the moment ``ts_ms`` (:func:`age_year`)."""
        return self.effective_hr_max(age_year(ts_ms))

    def effective_hr_max(self, year: int) -> float:
        """Measured HRmax, else Tanaka 208 − 0.7·age, else 190 (no birth year known)."""
        if self.hr_max:
            return float(self.hr_max)
        age = self.age(year)
        return 208.0 - 0.7 * age if age is not None else 190.0


def age_year(ts_ms: int) -> int:
    """The one rule for which year a person's age (and so Tanaka HRmax and zones) is counted
    in: the UTC calendar year of the moment the heart rate was measured — a sample's ``ts``,
    a session's or reassigned interval's start, "now" on a live page. UTC, so ingestion,
    analytics and every page agree without knowing the site's time zone (they differ from
    the local year for at most a few hours around New Year)."""
    return _year_of_day(ts_ms // 86_400_000)


@functools.lru_cache(maxsize=64)
def _year_of_day(day: int) -> int:
    """The calendar year of day number ``day`` since the epoch (cached: ingestion asks per
    sample)."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).year


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    sensor: str
    athlete_id: int
    start_ms: int
    end_ms: int | None


_PARTICLES = {"van", "de", "der", "den", "ter", "te", "von", "da", "di", "du", "le", "la", "'t"}


def board_name(full: str) -> str:
    """First name and the initial of the last name: "Anna de Vries" -> "Anna V.",
    "Sem" -> "Sem". Name particles (van, de, ...) are skipped for the initial."""
    words = full.split()
    if len(words) < 2:
        return full.strip()
    rest = [w for w in words[1:] if w.lower() not in _PARTICLES] or words[1:]
    return f"{words[0]} {rest[-1][0].upper()}."


def strap_label(sensor: str) -> str:
    """The name shown for an unassigned strap: "strap-12" -> "strap 12"."""
    return sensor.replace("-", " ")


class ErasedWindows:
    """Where erased people wore a strap: (sensor, start_ms, end_ms) spans a late replay of
    their samples must not be stored in again."""

    def __init__(self, windows: list[tuple[str, int, int]]) -> None:
        merged: dict[str, list[list[int]]] = {}
        for sensor, start, end in sorted(windows):
            spans = merged.setdefault(sensor, [])
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        self._starts = {s: [a for a, _ in spans] for s, spans in merged.items()}
        self._ends = {s: [b for _, b in spans] for s, spans in merged.items()}

    def __bool__(self) -> bool:
        return bool(self._starts)

    def covers(self, sensor: str, ts: int) -> bool:
        starts = self._starts.get(sensor)
        if starts is None:
            return False
        i = bisect.bisect_right(starts, ts) - 1
        return i >= 0 and ts < self._ends[sensor][i]


class Resolver:
    """An immutable snapshot: which athlete wore ``sensor`` at ``ts``."""

    def __init__(self, assignments: list[Assignment]) -> None:
        self._by_sensor: dict[str, tuple[list[int], list[Assignment]]] = {}
        for a in sorted(assignments, key=lambda a: (a.sensor, a.start_ms)):
            starts, rows = self._by_sensor.setdefault(a.sensor, ([], []))
            starts.append(a.start_ms)
            rows.append(a)

    def athlete_at(self, sensor: str, ts: int) -> int | None:
        entry = self._by_sensor.get(sensor)
        if entry is None:
            return None
        starts, rows = entry
        i = bisect.bisect_right(starts, ts) - 1
        # The latest assignment that started at or before ts and has not ended.
        while i >= 0:
            a = rows[i]
            if a.end_ms is None or ts < a.end_ms:
                return a.athlete_id
            i -= 1
        return None
