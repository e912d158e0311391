"""The coach's "today": who needs attention today and why, ordered by need — the page
(``coach_today``) and the coaches' morning email (``coach_email``) both read
:func:`attention_today`, so they always name the same people for the same reasons.

Who is counted: every guest staying today (arrival ≤ today ≤ departure, site time; a guest
without stay dates counts as staying). Reasons, each with its weight (the need is their
sum; the same readiness rules as the squad, :mod:`gympulse.pipeline.analytics.readiness`):

- ``mood_low``: today's check-in answers mood 1 (weight 3) or 2 (weight 2);
- ``wellness_low``: today's check-in as a whole is low (total ≤ 12 of 25 or an answer of 1): 1;
- ``readiness_down``: morning HRV below the guest's usual range (7-day, 2; today's alone, 1)
  or resting heart rate above it (2);
- ``load_spike``: ACWR above 1.5 (1); ``hard_session``: the last session's RPE ≥ 8 (1);
  ``form_low``: form (TSB) below −30 (1);
- ``no_reading``: no morning reading counted today (1); ``no_checkin``: no check-in
  today (1) — missing data alone puts a guest below anyone with a concern of weight 2+.

Ordered by need (highest first), then by name; guests with no reason are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from gympulse.dashboards.access import run_db
from gympulse.dashboards.i18n import local_number, t
from gympulse.dashboards.status import squad_statuses
from gympulse.dashboards.web import AppContext
from gympulse.pipeline.analytics.readiness import CONCERN_POINTS, Status
from gympulse.pipeline.domain import Athlete
from gympulse.pipeline.journal import Wellness

MOOD_LOW = 2  # today's mood at or below this is a reason of its own


@dataclass(frozen=True, slots=True)
class Reason:
    key: str  # the catalogue's "today_<key>"
    weight: int
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attention:
    athlete_id: int
    name: str
    reasons: tuple[Reason, ...]

    @property
    def need(self) -> int:
        return sum(r.weight for r in self.reasons)

    def as_json(self) -> dict[str, Any]:
        return {
            "athlete_id": self.athlete_id,
            "name": self.name,
            "need": self.need,
            "reasons": [{"key": r.key, "weight": r.weight, **r.values} for r in self.reasons],
        }


def site_today(timezone: str) -> dt.date:
    zone = dt.UTC if timezone == "UTC" else ZoneInfo(timezone)
    return dt.datetime.now(zone).date()


def staying(a: Athlete, today: dt.date) -> bool:
    if a.arrival and dt.date.fromisoformat(a.arrival) > today:
        return False
    return not (a.departure and dt.date.fromisoformat(a.departure) < today)


def reasons_of(
    status: Status, wellness: Wellness | None, has_reading: bool, acwr: float | None
) -> list[Reason]:
    """Pure: the reasons (module docstring) from the day's status, check-in and reading."""
    out: list[Reason] = []
    if wellness is not None and wellness.mood <= MOOD_LOW:
        out.append(Reason("mood_low", 3 if wellness.mood <= 1 else 2, {"mood": wellness.mood}))
    concerns = set(status.reasons) & set(CONCERN_POINTS)
    if "wellness_low" in concerns and wellness is not None:
        out.append(
            Reason("wellness_low", CONCERN_POINTS["wellness_low"], {"total": wellness.total})
        )
    readiness = [r for r in ("hrv_below", "hrv_low_today", "hr_rest_above") if r in concerns]
    if readiness:
        out.append(
            Reason(
                "readiness_down",
                sum(CONCERN_POINTS[r] for r in readiness),
                {"signs": readiness},
            )
        )
    if "acwr_high" in concerns:
        out.append(Reason("load_spike", CONCERN_POINTS["acwr_high"], {"acwr": acwr}))
    if "hard_session" in concerns:
        rpe = status.details.get("last_rpe")
        out.append(Reason("hard_session", CONCERN_POINTS["hard_session"], {"rpe": rpe}))
    if "form_low" in concerns:
        out.append(Reason("form_low", CONCERN_POINTS["form_low"]))
    if not has_reading:
        out.append(Reason("no_reading", 1))
    if wellness is None:
        out.append(Reason("no_checkin", 1))
    return out


def order(items: list[Attention]) -> list[Attention]:
    """Most need first, then by name; nobody without a reason."""
    return sorted((i for i in items if i.reasons), key=lambda i: (-i.need, i.name.lower()))


async def attention_today(ctx: AppContext) -> list[Attention]:
    """Who needs attention today and why (module docstring), most need first."""
    today = site_today(ctx.settings.timezone)
    statuses = await squad_statuses(ctx)
    daily = await ctx.data.latest_per_athlete("daily_metrics")
    athletes, checkins, readers = await run_db(_journal_today, ctx, today)
    items = []
    for a in athletes:
        if not staying(a, today) or a.id not in statuses:
            continue
        acwr = daily.get(a.id, {}).get("acwr_ewma")
        reasons = reasons_of(
            statuses[a.id],
            checkins.get(a.id),
            a.id in readers,
            None if acwr is None else round(float(acwr), 2),
        )
        items.append(Attention(a.id, a.name, tuple(reasons)))
    return order(items)


def _journal_today(
    ctx: AppContext, today: dt.date
) -> tuple[list[Athlete], dict[int, Wellness], set[int]]:
    """(In a worker thread.) The athletes, today's check-ins and who took a reading today."""
    zone = dt.UTC if ctx.settings.timezone == "UTC" else ZoneInfo(ctx.settings.timezone)
    start = int(dt.datetime.combine(today, dt.time(), zone).timestamp() * 1000)
    end = int(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone).timestamp() * 1000)
    checkins = {w.athlete_id: w for w in ctx.journal.wellness() if w.date == today}
    readings = ctx.journal.morning_recordings(start_ms=start, end_ms=end, status="counted")
    return ctx.registry.athletes(), checkins, {r.athlete_id for r in readings}


def reason_text(lang: str, reason: Reason) -> str:
    """One reason in the coach's words, in ``lang``."""
    values = dict(reason.values)
    if reason.key == "readiness_down":
        values["signs"] = "; ".join(t(lang, f"today_sign_{s}") for s in reason.values["signs"])
    if reason.key == "load_spike":
        acwr = reason.values.get("acwr")
        values["acwr"] = "?" if acwr is None else local_number(lang, f"{acwr:.2f}")
    if reason.key == "hard_session":
        rpe = reason.values.get("rpe")
        values["rpe"] = "?" if rpe is None else f"{float(rpe):.0f}"
    return t(lang, f"today_{reason.key}", **values)
