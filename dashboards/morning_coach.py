"""The coach's corrections of morning readings on the athlete page: the list of readings
(time, duration, ln RMSSD, resting HR, corrected beats, how taken), marking a window of the
HR curve as a reading, confirming an automatic proposal, deleting a reading; and the
morning HR curve the athlete page draws for it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from gympulse.dashboards import charts
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import (
    athlete_or_404,
    coach_of,
    require_coach,
)
from gympulse.dashboards.i18n import t
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, RowId
from gympulse.pipeline import readings
from gympulse.pipeline.analytics.morning import Refusal
from gympulse.pipeline.registry import Athlete

log = logging.getLogger(__name__)
coach_router = APIRouter(dependencies=[Depends(require_coach)])  # every route: the coach only


# ---------------------------------------------------------------------- coach corrections


async def reading_rows(ctx: AppContext, athlete_id: int) -> list[dict[str, Any]]:
    """The athlete's readings, newest first, for the athlete page and its API."""
    from zoneinfo import ZoneInfo

    found = await readings.readings_of(ctx.store, ctx.journal, athlete_id)
    tz = ctx.settings.timezone
    zone = dt.UTC if tz == "UTC" else ZoneInfo(tz)
    return [
        {
            "id": r.id,
            "start_ms": r.start_ms,
            "end_ms": r.end_ms,
            "time": dt.datetime.fromtimestamp(r.start_ms / 1000, zone).strftime("%Y-%m-%d %H:%M"),
            "minutes": r.duration_s / 60,
            "ln_rmssd": r.ln_rmssd,
            "hr_rest": r.hr_rest,
            "n_corrected": r.n_corrected,
            "n_rr": r.n_rr,
            "method": r.method,
            "status": r.status,
            "sensor": r.sensor,
        }
        for r in reversed(found)
    ]


def _local_ms(ctx: AppContext, value: str) -> int:
    from zoneinfo import ZoneInfo

    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise HTTPException(status_code=422, detail=f"not a time: {value!r}") from err
    if parsed.tzinfo is None:
        tz = ctx.settings.timezone
        parsed = parsed.replace(tzinfo=dt.UTC if tz == "UTC" else ZoneInfo(tz))
    return int(parsed.timestamp() * 1000)


@coach_router.get("/api/coach/athletes/{athlete_id}/readings")
async def api_readings(request: Request, athlete_id: RowId) -> list[dict[str, Any]]:
    """The athlete's morning readings, newest first (automatic proposals included)."""
    coach = coach_of(request, api=True)
    athlete_or_404(coach.ctx, athlete_id)
    return await reading_rows(coach.ctx, athlete_id)


@coach_router.post("/coach/athletes/{athlete_id}/readings", response_model=None)
async def mark_reading(
    request: Request,
    athlete_id: RowId,
    start: Annotated[str, Form(max_length=40)],
    end: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Mark a window of the athlete's HR curve (site time) as a morning reading."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    ctx = coach.ctx
    athlete_or_404(ctx, athlete_id)
    start_ms, end_ms = _local_ms(ctx, start), _local_ms(ctx, end)
    if end_ms <= start_ms:
        raise HTTPException(status_code=422, detail="the window must end after it starts")
    profile = await run_db(ctx.registry.athlete, athlete_id)
    outcome = await readings.take_reading(
        ctx.store, ctx.journal, athlete_id, start_ms, end_ms, method="coach",
        rules=readings.rules_of(ctx.settings.morning),
        rest=readings.rest_rules_of(ctx.settings.morning),
        profile_hr_rest=None if profile is None else profile.hr_rest, tz=ctx.settings.timezone,
    )  # fmt: skip
    if isinstance(outcome, Refusal):
        return render(
            "not_found.html",
            coach.lang,
            title=t(coach.lang, "readings"),
            message=t(coach.lang, "reading_refused", reason=f"{outcome.reason} ({outcome.detail})"),
            status_code=422,
        )
    return RedirectResponse(f"/coach/athletes/{athlete_id}#readings", status_code=303)


@coach_router.post("/coach/readings/{reading_id}/delete", response_class=RedirectResponse)
async def delete_reading(
    request: Request, reading_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = coach_of(request, api=True)
    coach.check(csrf)
    ctx = coach.ctx
    gone = await readings.delete_reading(ctx.store, ctx.journal, reading_id, ctx.settings.timezone)
    if gone is None:
        raise HTTPException(status_code=404, detail="no such reading")
    return RedirectResponse(f"/coach/athletes/{gone.athlete_id}#readings", status_code=303)


@coach_router.post("/coach/readings/{reading_id}/confirm", response_class=RedirectResponse)
async def confirm_reading(
    request: Request, reading_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = coach_of(request, api=True)
    coach.check(csrf)
    ctx = coach.ctx
    done = await readings.confirm_reading(ctx.store, ctx.journal, reading_id, ctx.settings.timezone)
    if done is None:
        raise HTTPException(status_code=404, detail="no such reading")
    return RedirectResponse(f"/coach/athletes/{done.athlete_id}#readings", status_code=303)


async def morning_curve(
    ctx: AppContext, athlete: Athlete, day: str, lang: str
) -> dict[str, Any] | None:
    """The athlete's heart rate of ``day`` (ISO date) between the automatic rule's hours,
    with the quietest window as the default for marking a reading; None without a day."""
    from zoneinfo import ZoneInfo

    from gympulse.pipeline.analytics.morning import resting_windows

    if not day:
        return None
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        return None
    cfg = ctx.settings.morning
    tz = ctx.settings.timezone
    zone = dt.UTC if tz == "UTC" else ZoneInfo(tz)
    midnight = dt.datetime.combine(date, dt.time(0), zone)
    lo = int((midnight + dt.timedelta(hours=cfg.auto_from_hour)).timestamp() * 1000)
    hi = int((midnight + dt.timedelta(hours=cfg.auto_until_hour)).timestamp() * 1000)
    points = await ctx.data.samples(athlete.id, lo, hi)
    chart = charts.hr_curve(points, athlete.hr_max_at(lo), title=f"{t(lang, 'hr_curve')} · {day}")
    start, end = lo, lo + cfg.duration_s * 1000
    if points:
        import polars as pl

        frame = pl.DataFrame(
            {"ts": [p[0] for p in points], "bpm": [p[1] for p in points],
             "contact": [True] * len(points)}
        )  # fmt: skip
        resting = min(b for _, b in points) + cfg.auto_tolerance_bpm
        found = resting_windows(frame, float(athlete.hr_rest or resting), tz=tz,
                                rule=readings.auto_rule_of(cfg))  # fmt: skip
        if found:
            start, end = found[0]
        else:
            start, end = points[0][0], min(points[-1][0], points[0][0] + cfg.duration_s * 1000)

    def local(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%dT%H:%M:%S")

    return {"day": day, "chart": chart, "start": local(start), "end": local(end)}
