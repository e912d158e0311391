"""The coach's choice, per guest, of how long her guest links keep working after her stay
(issue 22 item 3): shown and changed on the athlete page, applied where every guest link is
checked (:func:`gympulse.dashboards.access.stay_ended`) — at once, on the next request and
within a second on an open stream.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from gympulse.dashboards.access import run_db, stay_link_end_ms
from gympulse.dashboards.coach_auth import athlete_or_404, coach_of, require_coach
from gympulse.dashboards.i18n import t
from gympulse.dashboards.web import AppContext, RowId
from gympulse.pipeline.domain import Athlete

__all__ = ["after_stay_row", "router"]

router = APIRouter(dependencies=[Depends(require_coach)])


def after_stay_row(ctx: AppContext, athlete: Athlete, lang: str, zone: dt.tzinfo) -> dict[str, Any]:
    """What the athlete page shows: the choice, its days and in words until when (blocking)."""
    keep_days = ctx.accounts.after_stay(athlete.id)
    choice = "link" if keep_days is None else ("ends" if keep_days == 0 else "days")
    end = stay_link_end_ms(athlete.departure, keep_days, zone)
    if keep_days is None:
        words = t(lang, "after_stay_now_link")
    elif end is None:
        words = t(lang, "after_stay_no_departure")
    else:
        # The last moment the link works: the end of that day, shown as the day itself.
        until = (dt.datetime.fromtimestamp(end / 1000, zone) - dt.timedelta(days=1)).date()
        if keep_days == 0:
            words = t(lang, "after_stay_now_ends", until=until.isoformat())
        else:
            words = t(lang, "after_stay_now_days", days=keep_days, until=until.isoformat())
    return {"choice": choice, "days": keep_days or 14, "words": words}


@router.post("/coach/athletes/{athlete_id}/after-stay", response_class=RedirectResponse)
async def set_after_stay(
    request: Request,
    athlete_id: RowId,
    choice: Annotated[Literal["link", "ends", "days"], Form()],
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """``choice``: "link" (each link until it expires), "ends" (with the departure day),
    "days" (``days`` days after it)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    if choice == "days" and days is None:
        raise HTTPException(status_code=422, detail="how many days after the departure?")
    keep_days = None if choice == "link" else (0 if choice == "ends" else days)
    await run_db(
        coach.ctx.accounts.set_after_stay, athlete_id, keep_days, f"coach:{coach.user.username}"
    )
    coach.ctx.guard.poke()  # open streams of an ended link stop now
    return RedirectResponse(f"/coach/athletes/{athlete_id}?saved=after-stay#after-stay", 303)
