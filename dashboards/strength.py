"""The strength-training log on the guest's phone (``/me/<token>/strength``).

A guest picks an exercise (large buttons; the coach's plan for today's class first, if
there is one), sees their last numbers of that lift filled in, and saves a set with one
tap (or adjusts reps / kg first; RPE is optional). Their progress page shows, kindly, the
estimated 1RM of each main lift over time, records, and the weekly volume. Like every
guest route, the token resolves to exactly one athlete and nothing else is ever queried.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gympulse import contract
from gympulse.dashboards import charts
from gympulse.dashboards.access import run_db
from gympulse.dashboards.accounts import token_hash
from gympulse.dashboards.consent_check import ensure
from gympulse.dashboards.guest import (
    Guest,
    _guest,
    _lang,
    _page,
    _today,
    day_label,
    resolve_guest,
)
from gympulse.dashboards.i18n import t
from gympulse.dashboards.strength_view import (
    day_bounds,
    history_rows,
    kg_text,
    rest_after,
    set_text,
)
from gympulse.dashboards.web import check_csrf, site_zone
from gympulse.pipeline.analytics import strength
from gympulse.pipeline.consent import Domain
from gympulse.pipeline.strength_log import MAX_KG, MAX_REPS, StrengthSet

router = APIRouter(dependencies=[Depends(resolve_guest)])

_kg = kg_text


def _todays_plan(guest: Guest, tz: dt.tzinfo) -> tuple[str, list[str]] | None:
    """(class name, exercises) of the coach's template for a class today, if any."""
    lo, hi = day_bounds(tz)
    for c in guest.ctx.journal.classes(start_ms=lo, end_ms=hi):
        items = guest.ctx.strength.template(c.name) if c.name else []
        if items:
            return c.name, [i.exercise for i in items]
    return None


def _log_context(guest: Guest, exercise: str, tz: dt.tzinfo) -> dict[str, Any]:
    log = guest.ctx.strength
    lo, hi = day_bounds(tz)
    return {
        "exercises": log.exercises(),
        "plan": _todays_plan(guest, tz),
        "plans": log.plans(),
        "last": log.last_set(guest.athlete.id, exercise) if exercise else None,
        "lift": log.lift_sets(guest.athlete.id, exercise) if exercise else [],
        "today": log.sets(guest.athlete.id, start_ms=lo, end_ms=hi),
    }


def _with_hr(sets: list[StrengthSet], sessions: list[dict[str, Any]]) -> bool:
    """Whether the sets lie inside one of the guest's heart-rate sessions."""
    return any(
        int(s.get("start_ms") or 0) <= st.ts_ms <= int(s.get("end_ms") or 0)
        for st in sets
        for s in sessions
    )


def saved_words(lift: list[StrengthSet], lang: str, tz: dt.tzinfo) -> str:
    """What the page says of the set just saved: a record (from the second session of the
    lift on), or, in the lift's first session, that it is the starting point."""
    work = [s for s in lift if not s.warmup]
    if not work:
        return ""
    newest = max(work, key=lambda s: (s.ts_ms, s.id))
    found = [r for r in strength.records([s.as_dict() for s in work], tz) if r["id"] == newest.id]
    if found:
        return t(lang, "strength_new_record", kg=_kg(round(float(found[0]["e1rm"]), 1), lang))
    first_day = strength.day_of(work[0].ts_ms, tz)
    if strength.day_of(newest.ts_ms, tz) == first_day:
        return t(lang, "strength_baseline")
    return ""


@router.get("/me/{token}/strength", response_class=HTMLResponse, include_in_schema=False)
async def strength_page(
    request: Request, token: str, exercise: str = "", saved: str = ""
) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    tz = site_zone(request)
    ctx = await run_db(_log_context, guest, exercise, tz)
    names = {e.key: e.name(lang) for e in ctx["exercises"]}
    if exercise and exercise not in names:
        raise HTTPException(status_code=404, detail="no such exercise")
    order = list(names)
    if ctx["plan"] is not None:  # the class's plan first, in the coach's order
        planned = [k for k in ctx["plan"][1] if k in names]
        order = planned + [k for k in order if k not in planned]
    today: list[StrengthSet] = ctx["today"]
    sessions = await guest.ctx.data.sessions(guest.athlete.id) if today else []
    last: StrengthSet | None = ctx["last"]
    main = {e.key for e in ctx["exercises"] if e.main}
    plans: list[str] = ctx["plans"]
    if ctx["plan"] is not None and ctx["plan"][0] in plans:  # today's class first
        plans = [ctx["plan"][0]] + [p for p in plans if p != ctx["plan"][0]]
    return _page(
        guest,
        "guest/strength.html",
        lang,
        title=t(lang, "strength"),
        exercise=exercise,
        exercise_name=names.get(exercise, ""),
        buttons=[(k, names[k]) for k in order],
        plan_name=None if ctx["plan"] is None else ctx["plan"][0],
        routines=[(p, quote(p, safe="")) for p in plans],
        last=last,
        reps=last.reps if last else 5,
        kg=_kg(last.kg) if last else "",
        kg_shown=_kg(last.kg, lang) if last else "",
        saved=saved,
        saved_words=saved_words(ctx["lift"], lang, tz) if saved else "",
        today=[(names.get(s.exercise, s.exercise), set_text(s.as_dict(), lang)) for s in today],
        volume=_kg(strength.volume_load(s.as_dict() for s in today), lang),
        with_hr=_with_hr(today, sessions),
        rest=rest_after(today, main, contract.now_ms(), lang),
        scripts=("strength.js",),
    )


@router.get(
    "/me/{token}/strength/history/{exercise}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def history_page(request: Request, token: str, exercise: str) -> HTMLResponse:
    """Every session of one lift of the guest's own: each set, the best e1RM, records."""
    guest = _guest(request, token)
    lang = _lang(request, guest)
    log = guest.ctx.strength
    names = {e.key: e.name(lang) for e in await run_db(log.exercises)}
    if exercise not in names:
        raise HTTPException(status_code=404, detail="no such exercise")
    sets = [s.as_dict() for s in await run_db(log.lift_sets, guest.athlete.id, exercise)]
    return _page(
        guest,
        "guest/strength_history.html",
        lang,
        title=t(lang, "strength_history_of", lift=names[exercise]),
        exercise=exercise,
        sessions=history_rows(sets, exercise, lang, site_zone(request)),
    )


@router.post("/me/{token}/strength/sets", response_class=RedirectResponse, status_code=303)
async def post_set(
    request: Request,
    token: str,
    exercise: Annotated[str, Form(min_length=1, max_length=64)],
    reps: Annotated[int, Form(ge=1, le=MAX_REPS)],
    kg: Annotated[float, Form(ge=0, le=MAX_KG)],
    rpe: Annotated[str, Form(max_length=4)] = "",
    rir: Annotated[str, Form(max_length=2)] = "",
    warmup: Annotated[bool, Form()] = False,
    routine: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Log one set of the guest's own (RPE 1–10 and RIR 0–10, both optional; a warm-up is
    kept but never counted). From a routine, back to the routine."""
    guest = _guest(request, token)
    check_csrf(guest.ctx.secret, f"guest:{token_hash(token)}", csrf)
    await ensure(guest.ctx, guest.athlete.id, Domain.STRENGTH)
    rating = _optional_number(rpe, 1, 10, "rpe")
    reserve = _optional_number(rir, 0, 10, "rir")
    log = guest.ctx.strength
    if exercise not in {e.key for e in await run_db(log.exercises)}:
        raise HTTPException(status_code=404, detail="no such exercise")
    now = contract.now_ms()
    await run_db(
        lambda: log.add_set(
            guest.athlete.id,
            now,
            exercise,
            reps,
            kg,
            rpe=rating,
            rir=None if reserve is None else int(reserve),
            warmup=warmup,
        )
    )
    if routine:
        target = f"{guest.base}/strength/routine?plan={quote(routine, safe='')}&saved={exercise}"
        return RedirectResponse(target, status_code=303)
    return RedirectResponse(f"{guest.base}/strength?exercise={exercise}&saved=1", status_code=303)


@router.post("/me/{token}/strength/undo", response_class=RedirectResponse, status_code=303)
async def undo_set(
    request: Request,
    token: str,
    exercise: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Remove the guest's own most recent set of today (a mistyped number)."""
    guest = _guest(request, token)
    check_csrf(guest.ctx.secret, f"guest:{token_hash(token)}", csrf)
    log = guest.ctx.strength
    lo, hi = day_bounds(site_zone(request))
    today = await run_db(lambda: log.sets(guest.athlete.id, start_ms=lo, end_ms=hi))
    if today:
        await run_db(log.delete_set, guest.athlete.id, today[-1].id)
    query = f"?exercise={exercise}" if re.fullmatch(r"[a-z0-9-]{1,64}", exercise) else ""
    return RedirectResponse(f"{guest.base}/strength{query}", status_code=303)


def _optional_number(text: str, lo: float, hi: float, name: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise HTTPException(status_code=422, detail=f"{name} must be {lo:g}-{hi:g}") from None
    if not lo <= value <= hi:
        raise HTTPException(status_code=422, detail=f"{name} must be {lo:g}-{hi:g}")
    return value


def strength_progress(
    sets: list[dict[str, Any]],
    exercises: list[strength.Exercise],
    lang: str,
    tz: dt.tzinfo = dt.UTC,
) -> dict[str, Any]:
    """Kind words, e1RM series per main lift and weekly volume of the guest's sets."""
    words: list[str] = []
    lines: list[tuple[str, list[tuple[str, float]]]] = []
    for e in exercises:
        if not e.main:
            continue
        days = strength.best_e1rm_per_day(sets, e.key, tz)
        if not days:
            continue
        lines.append((e.name(lang), days))
        if len(days) >= 2:
            a, b = days[0][1], days[-1][1]
            key = "strength_trend_up" if b > a + 0.01 else "strength_trend_steady"
            words.append(
                t(lang, key, lift=e.name(lang), a=_kg(round(a, 1), lang), b=_kg(round(b, 1), lang))
            )
    names = {e.key: e.name(lang) for e in exercises}
    for r in strength.records(sets, tz)[-3:]:
        day = day_label(lang, strength.day_of(int(r["ts_ms"]), tz))
        words.append(
            t(
                lang,
                "strength_record",
                lift=names.get(str(r["exercise"]), str(r["exercise"])),
                kg=_kg(round(float(r["e1rm"]), 1), lang),
                day=day,
            )
        )
    muscles = {e.key: e.muscle for e in exercises}
    weekly = strength.weekly_muscle_volume(sets, muscles, tz)
    return {"words": words or [t(lang, "strength_none")], "lines": lines, "weekly": weekly}


@router.get("/me/{token}/strength/progress", response_class=HTMLResponse, include_in_schema=False)
async def strength_progress_page(request: Request, token: str) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    log = guest.ctx.strength
    sets = [s.as_dict() for s in await run_db(log.sets, guest.athlete.id)]
    p = strength_progress(sets, await run_db(log.exercises), lang, site_zone(request))
    shown = []
    for name, days in p["lines"]:
        if len(days) < 2:
            continue  # one day is a number (in the words above), not a line yet
        shown.append(
            charts.line_chart(
                [(name, [v for _, v in days])],
                [d for d, _ in days],
                title=f"{name} · {t(lang, 'strength_e1rm')}",
                min_span=10.0,  # kg: a kilo up or down is not a cliff
                width=charts.PHONE_WIDTH,
            )
        )
    weekly = {w: float(sum(v.values())) for w, v in p["weekly"].items()}
    weeks = charts.complete_weeks(weekly, _today(request))
    if len(weeks) >= 2:
        months = t(lang, "months_short").split()
        shown.append(
            charts.line_chart(
                [(t(lang, "strength_volume", kg=""), list(weeks.values()))],
                [charts.week_label(w, months) for w in weeks],
                title=t(lang, "strength_weekly_volume"),
                width=charts.PHONE_WIDTH,
            )
        )
    return _page(
        guest,
        "guest/progress.html",
        lang,
        title=t(lang, "strength_progress"),
        words=p["words"],
        charts=shown,
    )
