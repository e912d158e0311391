"""What the guest's and the coach's strength pages show of the log, in a page's language:
the rest after the last set, a lift's history session by session, a set written out.
Pure: sets and words in, plain rows out (the rules themselves are in
:mod:`gympulse.pipeline.analytics.strength`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from gympulse.dashboards.guest import day_label
from gympulse.dashboards.i18n import local_number, t
from gympulse.pipeline.analytics import strength
from gympulse.pipeline.strength_log import StrengthSet

# A rest that ended longer ago than this is not shown any more (the guest has moved on).
REST_SHOWN_AFTER_S = 600


def kg_text(value: float, lang: str = "") -> str:
    """Kilograms as a form value ("42.5"), or written in ``lang`` ("42,5" in Dutch)."""
    return local_number(lang, f"{value:g}")


def day_bounds(tz: dt.tzinfo, day: dt.date | None = None) -> tuple[int, int]:
    """[start, end) in ms of ``day`` (today) in the site's time zone: one session."""
    day = day or dt.datetime.now(tz).date()
    lo = dt.datetime.combine(day, dt.time(), tz)
    hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


def rest_after(
    today: Sequence[StrengthSet], main: set[str], now_ms: int, lang: str
) -> dict[str, Any] | None:
    """The rest timer after today's last set: its start is the set's stored time (the
    server's clock), so a reload or a phone woken from a locked screen counts on from the
    same moment. None without a set today or long after the rest ended."""
    if not today:
        return None
    last = today[-1]
    seconds = strength.rest_seconds(warmup=last.warmup, main=last.exercise in main)
    left_s = (last.ts_ms + seconds * 1000 - now_ms + 999) // 1000
    if left_s < -REST_SHOWN_AFTER_S:
        return None
    return {
        "set_id": last.id,
        "start_ms": last.ts_ms,
        "seconds": seconds,
        "now_ms": now_ms,
        "left": clock_text(left_s) if left_s > 0 else "",
        "over": t(lang, "strength_rest_over"),
    }


def clock_text(seconds: int) -> str:
    """ "2:05" for 125 s."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def set_text(s: Mapping[str, Any], lang: str) -> str:
    """ "5 × 42,5 kg", a warm-up marked as one."""
    text = f"{s['reps']} × {kg_text(float(s['kg']), lang)} kg"
    if s.get("warmup"):
        text += f" ({t(lang, 'strength_warmup_mark')})"
    return text


def history_rows(
    sets: Sequence[Mapping[str, Any]], exercise: str, lang: str, tz: dt.tzinfo
) -> list[dict[str, Any]]:
    """A lift's sessions, newest first: the day, every set, the best e1RM, the volume and
    whether it held a record (the oldest is marked as the starting point)."""
    sessions = strength.lift_history(sets, exercise, tz)
    rows = []
    for i, session in enumerate(sessions):
        best = session.best_e1rm
        rows.append(
            {
                "day": day_label(lang, session.day),
                "iso": session.day,
                "sets": [
                    {"text": set_text(s, lang), "warmup": bool(s.get("warmup"))}
                    for s in session.sets
                ],
                "best": None
                if best is None
                else t(lang, "strength_best_e1rm", kg=kg_text(round(best, 1), lang)),
                "volume": t(lang, "strength_session_volume", kg=kg_text(session.volume, lang)),
                "record": session.record,
                "first": i == len(sessions) - 1,
            }
        )
    return rows
