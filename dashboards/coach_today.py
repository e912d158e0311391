"""The coach's "today" page (``/coach/today``) and its JSON (``/api/coach/today``): who
needs attention today and why, most need first (:mod:`gympulse.dashboards.today`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gympulse.dashboards.audit import log_shown
from gympulse.dashboards.coach_auth import coach_of, coach_page, require_coach
from gympulse.dashboards.guest import day_label
from gympulse.dashboards.i18n import t
from gympulse.dashboards.today import attention_today, reason_text, site_today

router = APIRouter(dependencies=[Depends(require_coach)])


@router.get("/api/coach/today")
async def api_today(request: Request) -> list[dict[str, Any]]:
    """Who needs attention today: per guest staying, the need (sum of the reasons'
    weights) and the reasons, most need first; guests with no reason are left out."""
    coach = coach_of(request, api=True)
    items = await attention_today(coach.ctx)
    await log_shown(request, coach, (a.athlete_id for a in items))
    return [a.as_json() for a in items]


@router.get("/coach/today", response_class=HTMLResponse, include_in_schema=False)
async def today_page(request: Request) -> HTMLResponse:
    coach = coach_of(request)
    lang = coach.lang
    items = await attention_today(coach.ctx)
    await log_shown(request, coach, (a.athlete_id for a in items))
    day = day_label(lang, site_today(coach.ctx.settings.timezone).isoformat())
    return coach_page(
        coach,
        "coach/today.html",
        title=t(lang, "today_heading"),
        day=day,
        items=[
            {
                "athlete_id": a.athlete_id,
                "name": a.name,
                "need": a.need,
                "reasons": [reason_text(lang, r) for r in a.reasons],
            }
            for a in items
        ],
    )
