"""What ``gympulse analyze`` recomputes, decided from plain data (no store, no polars).

:mod:`.jobs` reads the inputs (watermarks, the per-day sample counts it finds and the ones
stored at the last run, the journal's changes, the last ``daily_metrics`` day of every
athlete, today's date), asks the functions here what to do, and does it. Everything here
is a pure function of its arguments, tested without a store in
``tests/test_analytics_plan.py``.

The rules:

- **Scan window** (:func:`scan_window`): from local midnight of (watermark − lookback) —
  the whole history on a first or ``--full`` run — to max(now, watermark) + 1 day.
- **Chunks** (:func:`chunks`): the window is processed in blocks of ``chunk_days`` whole
  local days, each read from the store on its own (plus :data:`MARGIN_MS` on both sides,
  so a session across midnight or across a block edge is whole). Peak memory is one
  block's samples, whatever the length of the history.
- **Rules version** (:func:`needs_full`): ``RULES_VERSION`` is raised whenever a change of
  the analytics changes what stored rows would hold (2: samples without contact are no
  signal, HRR60 from the end of exercise and only when plausible). A store whose rows were
  written under an older version is recomputed in full once, so an upgrade never leaves
  old numbers (a negative HRR60, a cool-down counted as exercise) on the pages.
- **Touched days** (:func:`touched_days`): an (athlete, day) whose sample count differs
  from the count stored at the last run, or that has samples on the day of a class changed
  in the journal since the last run.
- **Daily rows** (:func:`daily_since`): every athlete gets a ``daily_metrics`` (and
  ``baselines``) row for every day from their first session up to today, with no gaps:
  an athlete is rewritten from the earliest of their touched days, the days of RPE ratings
  and morning recordings changed since the last run, and the day after their last stored
  row when that is before today (a resting athlete's load is 0 and fitness and fatigue
  keep decaying day by day). An athlete whose rows reach today and who has nothing new is
  left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DAY_MS = 86_400_000
MARGIN_MS = 6 * 3_600_000
DEFAULT_LOOKBACK_MS = 2 * DAY_MS
DEFAULT_CHUNK_DAYS = 7

RULES_VERSION = 3  # 3: one seeding rule for the load averages, null while building

AthleteDay = tuple[int, dt.date]


def zone(tz: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return dt.UTC if tz == "UTC" else ZoneInfo(tz)


def local_date(ts: int, tz: str = "UTC") -> dt.date:
    """The local calendar day of an epoch-ms timestamp."""
    return dt.datetime.fromtimestamp(ts / 1000, tz=zone(tz)).date()


def day_start(day: dt.date, tz: str = "UTC") -> int:
    """Epoch ms of local midnight starting ``day``."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=zone(tz)).timestamp() * 1000)


def day_floor(ts: int, tz: str = "UTC") -> int:
    return day_start(local_date(ts, tz), tz)


@dataclass(frozen=True, slots=True)
class Window:
    """Samples with ``start <= ts < end`` are counted (epoch ms, local midnights)."""

    start: int
    end: int


def scan_window(
    watermark: int | None, *, now: int, lookback_ms: int, tz: str, oldest: int | None = None
) -> Window:
    """The days to re-count: from (watermark − lookback) on, or from the oldest sample
    (``oldest``, else the epoch) when there is no watermark (first or ``--full`` run)."""
    if watermark is None:
        start = day_floor(oldest, tz) if oldest is not None else 0
    else:
        start = day_floor(watermark - lookback_ms, tz)
    end = day_floor(max(now, watermark or 0), tz)
    return Window(start, day_start(local_date(end, tz) + dt.timedelta(days=1), tz))


def chunks(window: Window, tz: str, chunk_days: int = DEFAULT_CHUNK_DAYS) -> list[Window]:
    """``window`` cut into blocks of ``chunk_days`` local days (the last may be shorter)."""
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {chunk_days}")
    out: list[Window] = []
    start = window.start
    while start < window.end:
        day = local_date(start, tz) + dt.timedelta(days=chunk_days)
        end = min(day_start(day, tz), window.end)
        out.append(Window(start, end))
        start = end
    return out


def needs_full(full: bool, stored_version: int | None, has_watermark: bool) -> bool:
    """Recompute everything: asked for, or rows written under older rules (a store
    analysed before but without a version row counts as version 1)."""
    if full:
        return True
    if not has_watermark:
        return False  # a first run reads everything anyway
    return (stored_version or 1) < RULES_VERSION


def touched_days(
    counts: Mapping[AthleteDay, int],
    stored: Mapping[AthleteDay, int],
    changed_class_days: Iterable[dt.date] = (),
) -> list[AthleteDay]:
    """Sorted (athlete, day) pairs to recompute: a count that is new or differs from the
    stored one, or samples on the day of a changed class."""
    class_days = set(changed_class_days)
    return sorted(key for key, n in counts.items() if stored.get(key) != n or key[1] in class_days)


def daily_since(
    touched: Iterable[AthleteDay],
    changed: Iterable[AthleteDay],
    last_daily: Mapping[int, dt.date],
    today: dt.date,
) -> dict[int, dt.date]:
    """Per athlete, the first day whose ``daily_metrics`` and ``baselines`` rows are
    (re)written — rows are written from there up to ``today``.

    ``touched``: touched days; ``changed``: days of RPE ratings, morning recordings (and
    anything else entered) changed since the last run; ``last_daily``: each athlete's last
    stored ``daily_metrics`` day."""
    since: dict[int, dt.date] = {}
    for athlete, day in (*touched, *changed):
        since[athlete] = min(day, since.get(athlete, day))
    for athlete, last in last_daily.items():
        if last < today:
            day = last + dt.timedelta(days=1)
            since[athlete] = min(day, since.get(athlete, day))
    return dict(sorted(since.items()))


def morning_to_compute(
    recordings: Iterable[tuple[int, int, dt.date]],
    touched: Iterable[AthleteDay],
    changed_ids: Iterable[int],
    done: Iterable[int] = (),
) -> list[int]:
    """Ids of the morning recordings (``(id, athlete, local day of its start)``) to
    recompute: tagged or changed since the last run, or lying on a touched day; each once
    (``done``: already computed in an earlier chunk)."""
    hit, changed, skip = set(touched), set(changed_ids), set(done)
    return sorted(
        rid
        for rid, athlete, day in recordings
        if rid not in skip and (rid in changed or (athlete, day) in hit)
    )


def daily_until(today: dt.date, newest_sample_day: dt.date | None) -> dt.date:
    """The last day of daily rows: today, or the day of the newest sample when a clock
    ahead of ours put one in the future (samples up to 24 h ahead are accepted)."""
    if newest_sample_day is None:
        return today
    return max(today, newest_sample_day)
