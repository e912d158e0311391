"""The coach's side of the strength log (``/coach/strength``): the squad's strength
progress next to the session-RPE load, logging a set for a guest, adding exercises to the
catalogue and writing a class's plan (the template the guests' phones show first)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.audit import log_shown
from gympulse.dashboards.coach_auth import coach_of, coach_page, require_coach
from gympulse.dashboards.consent_check import ensure
from gympulse.dashboards.i18n import t
from gympulse.dashboards.strength_view import history_rows
from gympulse.dashboards.web import site_zone
from gympulse.pipeline.analytics import strength
from gympulse.pipeline.consent import Domain
from gympulse.pipeline.strength_log import MAX_KG, MAX_PLAN_SETS, MAX_REPS, TemplateItem

router = APIRouter(dependencies=[Depends(require_coach)])

WEEK_MS = 7 * 86_400_000
_PLAN_LINE = re.compile(
    r"^\s*([a-z0-9-]+)\s+(\d{1,2})\s*[x×]\s*(\d{1,3})(?:\s+(\d+(?:\.\d+)?))?\s*$"
)


def parse_plan(text: str) -> list[TemplateItem]:
    """``squat 3x5 60`` per line -> template items; ValueError naming a bad line."""
    items = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _PLAN_LINE.match(line.lower())
        if m is None:
            raise ValueError(f"cannot read {line.strip()!r}: write e.g. 'squat 3x5 60'")
        key, sets, reps, kg = m.groups()
        item = TemplateItem(key, int(sets), int(reps), None if kg is None else float(kg))
        if not (1 <= item.sets <= MAX_PLAN_SETS and 1 <= item.reps <= MAX_REPS):
            raise ValueError(f"{line.strip()!r}: 1 to {MAX_PLAN_SETS} sets of 1 to {MAX_REPS} reps")
        if item.kg is not None and not 0 <= item.kg <= MAX_KG:
            raise ValueError(f"{line.strip()!r}: at most {MAX_KG} kg")
        items.append(item)
    return items


def squad_strength(
    athletes: list[tuple[int, str]],
    sets_of: dict[int, list[dict[str, Any]]],
    main: list[strength.Exercise],
    srpe: dict[int, float],
    now_ms: int,
) -> list[dict[str, Any]]:
    """Per athlete: sets and volume of the last 7 days, each main lift's latest best e1RM
    with its change since the first, records, and the 7-day session-RPE load."""
    rows = []
    for athlete_id, name in athletes:
        sets = sets_of.get(athlete_id, [])
        week = [s for s in sets if s["ts_ms"] >= now_ms - WEEK_MS]
        cells = []
        for e in main:
            days = strength.best_e1rm_per_day(sets, e.key)
            if not days:
                cells.append((e.key, "–"))
            elif len(days) == 1:
                cells.append((e.key, f"{days[-1][1]:.1f}"))
            else:
                cells.append((e.key, f"{days[-1][1]:.1f} ({days[-1][1] - days[0][1]:+.1f})"))
        rows.append(
            {
                "athlete_id": athlete_id,
                "name": name,
                "sets_7d": len(week),
                "volume_7d": strength.volume_load(week),
                "lifts": cells,
                "records": len(strength.records(sets)),
                "srpe_7d": srpe.get(athlete_id),
            }
        )
    return rows


@router.get("/coach/strength", response_class=HTMLResponse, include_in_schema=False)
async def strength_page(request: Request) -> HTMLResponse:
    coach = coach_of(request)
    ctx = coach.ctx
    athletes = await run_db(ctx.registry.athletes)
    exercises = await run_db(ctx.strength.exercises)
    main = [e for e in exercises if e.main]
    sets_of = {a.id: [s.as_dict() for s in await run_db(ctx.strength.sets, a.id)] for a in athletes}
    srpe = await ctx.data.load_7d("srpe_load")
    now = contract.now_ms()
    await log_shown(request, coach, (a.id for a in athletes))  # everyone's row
    return coach_page(
        coach,
        "coach/strength.html",
        title=t(coach.lang, "strength_squad"),
        rows=squad_strength([(a.id, a.name) for a in athletes], sets_of, main, srpe, now),
        lifts=[e.name(coach.lang) for e in main],
        athletes=athletes,
        exercises=exercises,
    )


@router.get(
    "/coach/strength/athletes/{athlete_id}", response_class=HTMLResponse, include_in_schema=False
)
async def lift_history_page(request: Request, athlete_id: int, exercise: str = "") -> HTMLResponse:
    """One guest's history of one lift: every session, each set (warm-ups marked), the best
    e1RM and the records — what the coach looks at before changing a plan."""
    coach = coach_of(request)
    ctx = coach.ctx
    athlete = await run_db(ctx.registry.athlete, athlete_id)
    if athlete is None:
        raise HTTPException(status_code=404, detail="no such athlete")
    exercises = await run_db(ctx.strength.exercises)
    names = {e.key: e.name(coach.lang) for e in exercises}
    exercise = exercise or exercises[0].key
    if exercise not in names:
        raise HTTPException(status_code=404, detail="no such exercise")
    sets = [s.as_dict() for s in await run_db(ctx.strength.lift_sets, athlete_id, exercise)]
    tz = site_zone(request)
    return coach_page(
        coach,
        "coach/strength_history.html",
        title=t(coach.lang, "strength_coach_history", name=athlete.name, lift=names[exercise]),
        athlete=athlete,
        exercise=exercise,
        exercises=[(k, v) for k, v in names.items()],
        sessions=history_rows(sets, exercise, coach.lang, tz),
    )


def _rpe(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise HTTPException(status_code=422, detail="rpe must be 1-10") from None
    if not 1 <= value <= 10:
        raise HTTPException(status_code=422, detail="rpe must be 1-10")
    return value


def _back() -> RedirectResponse:
    return RedirectResponse("/coach/strength", status_code=303)


@router.post("/coach/strength/sets", response_class=RedirectResponse, status_code=303)
async def log_set(
    request: Request,
    athlete_id: Annotated[int, Form(ge=1)],
    exercise: Annotated[str, Form(min_length=1, max_length=64)],
    reps: Annotated[int, Form(ge=1, le=MAX_REPS)],
    kg: Annotated[float, Form(ge=0, le=MAX_KG)],
    rpe: Annotated[str, Form(max_length=4)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """The coach logs a set for a guest (``logged_by`` = coach; RPE 1–10 optional)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    rating = _rpe(rpe)
    ctx = coach.ctx
    if await run_db(ctx.registry.athlete, athlete_id) is None:
        raise HTTPException(status_code=404, detail="no such athlete")
    await ensure(ctx, athlete_id, Domain.STRENGTH)
    if exercise not in {e.key for e in await run_db(ctx.strength.exercises)}:
        raise HTTPException(status_code=404, detail="no such exercise")
    now = contract.now_ms()
    await run_db(
        lambda: ctx.strength.add_set(
            athlete_id, now, exercise, reps, kg, rpe=rating, logged_by="coach"
        )
    )
    return _back()


@router.post("/coach/strength/exercises", response_class=RedirectResponse, status_code=303)
async def add_exercise(
    request: Request,
    key: Annotated[str, Form(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")],
    name_en: Annotated[str, Form(min_length=1, max_length=64)],
    name_nl: Annotated[str, Form(min_length=1, max_length=64)],
    muscle: Annotated[str, Form(min_length=1, max_length=32)],
    main: Annotated[bool, Form()] = False,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Extend the catalogue (a key that exists already is refused: 409)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    log = coach.ctx.strength
    if key in {e.key for e in await run_db(log.exercises)}:
        raise HTTPException(status_code=409, detail="an exercise with this key exists")
    new = strength.Exercise(key, name_en, name_nl, muscle.strip().lower(), main)
    await run_db(log.add_exercise, new)
    return _back()


@router.post("/coach/strength/templates", response_class=RedirectResponse, status_code=303)
async def set_template(
    request: Request,
    class_name: Annotated[str, Form(min_length=1, max_length=100)],
    plan: Annotated[str, Form(min_length=1, max_length=2000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """A class's plan: the exercises its guests see first on their phones."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    log = coach.ctx.strength
    try:
        items = parse_plan(plan)
    except ValueError as err:
        raise HTTPException(status_code=422, detail=str(err)) from None
    known = {e.key for e in await run_db(log.exercises)}
    unknown = sorted({i.exercise for i in items} - known)
    if unknown:
        raise HTTPException(status_code=422, detail=f"unknown exercises: {unknown}")
    await run_db(log.set_template, class_name.strip(), items)
    return _back()
