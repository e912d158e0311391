"""Coach admin (``/coach/admin``): athletes, straps and their aliases, fast strap
assignment for a class (one form, one select per strap, one submit for 20 people), and the
class schedule.

Class times are entered and shown in the site's time zone (``settings.timezone``): a coach
in Stockholm types 09:30 for a 09:30 class, and the schedule shows 09:30 (with the zone).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import Coach, coach_of, coach_page, require_coach
from gympulse.dashboards.data import EXPORT_ORDER
from gympulse.dashboards.i18n import t
from gympulse.dashboards.web import RowId, ctx_of, public_base, site_zone
from gympulse.pipeline.registry import Athlete

router = APIRouter(dependencies=[Depends(require_coach)])  # every route: the coach only

Sex = Literal["male", "female", ""]


def _straps(coach: Coach, live: set[str]) -> list[str]:
    known = set(coach.ctx.registry.sensor_labels())
    known |= {a.sensor for a in coach.ctx.registry.assignments()}
    known |= live
    return sorted(known, key=lambda s: (len(s), s))


def local_time(ts_ms: int, zone: dt.tzinfo) -> str:
    """``2026-03-02 18:00`` in ``zone`` (the schedule's column says which zone)."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def local_to_ms(when: dt.datetime, zone: dt.tzinfo) -> int:
    """Epoch ms of a time entered on the form: naive means the site's zone (a time the
    spring-forward gap skips is read with the offset before the gap, as ``zoneinfo`` does);
    a time with an offset keeps it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return int(when.timestamp() * 1000)


EXPORTS = EXPORT_ORDER  # every CSV the coach may download (dashboards/data.py)


def _admin_data(
    coach: Coach, zone: dt.tzinfo, live: set[str]
) -> tuple[list[Athlete], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the admin page shows, read from SQLite (in a worker thread)."""
    reg = coach.ctx.registry
    athletes = reg.athletes()
    labels = reg.sensor_labels()
    resolver = reg.resolver()
    now = contract.now_ms()
    names = {a.id: a.name for a in athletes}
    straps = []
    for s in _straps(coach, live):
        current = resolver.athlete_at(s, now)
        straps.append(
            {
                "sensor": s,
                "label": labels.get(s, ""),
                "athlete_id": current,
                "athlete": names.get(current or -1, ""),
            }
        )
    classes = [
        {
            "id": c.id,
            "name": c.name,
            "start_input": local_time(c.start_ms, zone)[:16],
            "minutes": round((c.end_ms - c.start_ms) / 60_000),
            "start": local_time(c.start_ms, zone),
            "end": local_time(c.end_ms, zone),
        }
        for c in coach.ctx.journal.classes(start_ms=now - 7 * 86_400_000)
    ]
    return athletes, straps, classes


@router.get("/coach/admin", response_class=HTMLResponse, include_in_schema=False)
async def admin_page(request: Request) -> HTMLResponse:
    coach = coach_of(request)
    zone = site_zone(request)
    live = set(coach.ctx.hub.tiles)  # on the loop: the hub changes it there
    athletes, straps, classes = await run_db(_admin_data, coach, zone, live)
    return coach_page(
        coach,
        "coach/admin.html",
        title=t(coach.lang, "admin"),
        athletes=athletes,
        straps=straps,
        classes=classes,
        timezone=str(ctx_of(request).settings.timezone),
        exports=EXPORTS,
        board_links=await board_links(coach),
    )


async def board_links(coach: Coach) -> list[dict[str, object]]:
    """Board links (the gym's TV) for the admin page: revoke one, or make a new one."""
    return [
        {
            "id": b.id,
            "label": b.label,
            "created": dt.datetime.fromtimestamp(b.created_ms / 1000, dt.UTC).date().isoformat(),
            "active": b.revoked_ms is None,
        }
        for b in await run_db(coach.ctx.accounts.board_tokens)
    ]


@router.post("/coach/admin/board-links", response_class=HTMLResponse)
async def new_board_link(
    request: Request,
    label: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """A new board link for the live board; shown once."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    try:
        _, token = await run_db(coach.ctx.accounts.issue_board_token, label)
    except ValueError as err:
        raise HTTPException(status_code=422, detail=str(err)) from None
    url = f"{public_base(request)}/board/{token}"
    return coach_page(
        coach, "coach/new_board_link.html", title=t(coach.lang, "new_board_link"), url=url
    )


@router.post("/coach/admin/board-links/{token_id}/revoke", response_class=RedirectResponse)
async def revoke_board_link(
    request: Request, token_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    """Revoke a board link: the screens showing it stop within a second."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    if not await run_db(coach.ctx.accounts.revoke_board_token, token_id):
        raise HTTPException(status_code=404, detail="no such active board link")
    coach.ctx.guard.poke()
    return _back()


def _back() -> RedirectResponse:
    return RedirectResponse("/coach/admin", status_code=303)


@router.post("/coach/admin/athletes", response_class=RedirectResponse, status_code=303)
async def add_athlete(
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    birth_year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    sex: Annotated[Sex, Form()] = "",
    weight_kg: Annotated[float | None, Form(ge=20, le=300)] = None,
    hr_max: Annotated[int | None, Form(ge=100, le=240)] = None,
    hr_rest: Annotated[int | None, Form(ge=25, le=120)] = None,
    ftp_w: Annotated[int | None, Form(ge=30, le=2000)] = None,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Add an athlete profile (FTP: functional threshold power, for IF and TSS)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(
        coach.ctx.registry.add_athlete,
        name,
        birth_year=birth_year,
        sex=sex or None,
        weight_kg=weight_kg,
        hr_max=hr_max,
        hr_rest=hr_rest,
        ftp_w=ftp_w,
    )
    return _back()


@router.post("/coach/admin/straps", response_class=RedirectResponse, status_code=303)
async def set_strap(
    request: Request,
    sensor: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")],
    label: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Register a strap and give it an alias (what the board shows when unassigned)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(coach.ctx.registry.set_sensor_label, sensor, label)
    return _back()


@router.post("/coach/admin/assign", response_class=RedirectResponse, status_code=303)
async def assign(request: Request) -> RedirectResponse:
    """Assign many straps at once: form fields ``strap:<sensor>`` = athlete id (from now).
    Straps whose athlete did not change are left alone."""
    coach = coach_of(request, api=True)
    form = await request.form()
    coach.check(str(form.get("csrf", "")))
    reg = coach.ctx.registry
    athletes = {a.id for a in await run_db(reg.athletes)}
    now = contract.now_ms()
    resolver = await run_db(reg.resolver)
    for key, value in form.multi_items():
        if not key.startswith("strap:") or not isinstance(value, str) or not value:
            continue
        sensor = key.removeprefix("strap:")
        if not value.isdigit() or int(value) not in athletes:
            raise HTTPException(status_code=422, detail=f"unknown athlete for {sensor}")
        try:
            contract.check_level(sensor, "sensor")
        except contract.PayloadError as err:
            raise HTTPException(status_code=422, detail=str(err)) from err
        if resolver.athlete_at(sensor, now) != int(value):
            await run_db(reg.assign, sensor, int(value), now)
    return _back()


@router.post("/coach/admin/classes", response_class=RedirectResponse, status_code=303)
async def add_class(
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    start: Annotated[dt.datetime, Form()],
    minutes: Annotated[int, Form(ge=1, le=600)] = 45,
    weeks: Annotated[int, Form(ge=1, le=52)] = 1,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Add a class to the schedule: ``start`` in the site's time zone (settings
    ``timezone``) unless the time carries an offset; ``weeks`` > 1 repeats it weekly at
    the same local time (also across a daylight-saving change)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    zone = site_zone(request)
    for week in range(weeks):
        start_ms = local_to_ms(start + dt.timedelta(weeks=week), zone)
        end_ms = start_ms + minutes * 60_000
        await run_db(coach.ctx.journal.add_class, name, start_ms, end_ms, site=coach.ctx.site)
    return _back()


@router.post("/coach/admin/classes/{class_id}", response_class=RedirectResponse, status_code=303)
async def edit_class(
    request: Request,
    class_id: RowId,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    start: Annotated[dt.datetime, Form()],
    minutes: Annotated[int, Form(ge=1, le=600)] = 45,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Change a class's name, start (site time) or length."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    start_ms = local_to_ms(start, site_zone(request))
    found = await run_db(
        coach.ctx.journal.update_class, class_id, name, start_ms, start_ms + minutes * 60_000
    )
    if not found:
        raise HTTPException(status_code=404, detail="no such class")
    return _back()


@router.post(
    "/coach/admin/classes/{class_id}/delete", response_class=RedirectResponse, status_code=303
)
async def delete_class(
    request: Request, class_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    """Remove a class from the schedule (the form asks for confirmation first)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    if not await run_db(coach.ctx.journal.delete_class, class_id):
        raise HTTPException(status_code=404, detail="no such class")
    return _back()
