"""Each guest's own summary of a class, for their phone (issue 21, "New").

The numbers are the ones the live board's class summary shows (:meth:`LiveHub.summary
<gympulse.dashboards.live.LiveHub.summary>` over the class's window: minutes per zone,
points, peak HR), and HRR60 from the class's session summary once ``gympulse analyze`` has
written it (session ``class-<id>``). When the web app no longer holds the class's minutes
(restarted, or the class is older than the live hub keeps), the session summary's own
zones, points and peak stand in. Only the guest's own rows are ever read: the hub's rows
are filtered by the guest's athlete id, the session by (athlete id, session id).

The words are a coach's: every session is worth something, a light one never reads as
less (a retreat for people recovering from burnout, depression or addiction); a hard one
gets a word about rest. :func:`effort` is pure and tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gympulse.dashboards.data import Row
from gympulse.dashboards.live import LiveHub
from gympulse.pipeline.journal import ScheduledClass

Effort = Literal["brief", "gentle", "steady", "strong"]

# What "strong" and "steady" take (minutes in zones 3-5, or in zones 4-5).
STRONG_HARD_MINUTES = 10.0  # zones 4 and 5
STRONG_SHARE = 0.5  # of the class's active minutes in zones 3-5
STEADY_MINUTES = 5.0  # zones 3-5
BRIEF_MINUTES = 3.0  # fewer active minutes than this: "thanks for coming"


@dataclass(frozen=True, slots=True)
class ClassSummary:
    class_id: int
    class_name: str
    start_ms: int
    end_ms: int
    zone_minutes: tuple[float, ...]  # zones 0..5
    points: float
    peak_bpm: int | None
    kcal: float | None
    hrr60: float | None

    @property
    def minutes(self) -> float:
        return sum(self.zone_minutes)

    @property
    def effort(self) -> Effort:
        return effort(self.zone_minutes)


def effort(zone_minutes: tuple[float, ...] | list[float]) -> Effort:
    """The kind of session the minutes describe (never a grade)."""
    active = sum(zone_minutes[1:])
    working = sum(zone_minutes[3:])
    hard = sum(zone_minutes[4:])
    if active < BRIEF_MINUTES:
        return "brief"
    if hard >= STRONG_HARD_MINUTES or working >= STRONG_SHARE * active:
        return "strong"
    if working >= STEADY_MINUTES:
        return "steady"
    return "gentle"


def session_id(cls: ScheduledClass) -> str:
    """The session summary's id of a class (``pipeline/analytics/sessions.py``)."""
    return f"class-{cls.id}"


def from_live(
    hub: LiveHub, athlete_id: int, cls: ScheduledClass
) -> tuple[list[float], float, int | None, float | None] | None:
    """The guest's totals over the class's window as the board shows them (a strap handed
    on mid-class gives the wearer several rows: they are added up), or None when the hub
    holds none of their minutes in it."""
    rows = [r for r in hub.summary((cls.start_ms, cls.end_ms)) if r["athlete_id"] == athlete_id]
    if not rows:
        return None
    zones = [0.0] * 6
    points = 0.0
    peak: int | None = None
    kcal: float | None = None
    for r in rows:
        zones = [a + float(b) for a, b in zip(zones, r["zone_minutes"], strict=True)]
        points += float(r["points"])
        if r["peak_bpm"] is not None:
            peak = max(peak or 0, int(r["peak_bpm"]))
        if r["kcal"] is not None:
            kcal = (kcal or 0.0) + float(r["kcal"])
    return [round(z, 1) for z in zones], round(points, 1), peak, kcal


def build(
    cls: ScheduledClass,
    live: tuple[list[float], float, int | None, float | None] | None,
    session: Row | None,
) -> ClassSummary | None:
    """The summary from the board's numbers (``live``) and the class's session summary
    (``session``: HRR60, and everything else when the board has nothing); None when the
    guest did not train in the class."""
    hrr60 = None if session is None or session.get("hrr60") is None else float(session["hrr60"])
    if live is not None:
        zones, points, peak, kcal = live
    elif session is not None:
        zones = [round(float(session.get(f"zone{z}_s") or 0) / 60, 1) for z in range(6)]
        points = float(session.get("points") or 0)
        peak = None if session.get("hr_max") is None else int(session["hr_max"])
        kcal = None if session.get("kcal") is None else float(session["kcal"])
    else:
        return None
    return ClassSummary(
        cls.id, cls.name, cls.start_ms, cls.end_ms, tuple(zones), points, peak, kcal, hrr60
    )
