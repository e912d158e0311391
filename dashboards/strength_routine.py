"""A routine on the guest's phone (``/me/<token>/strength/routine?plan=<class>``): the
coach's class plan (exercises with target sets × reps at kg) with every set pre-filled —
the weight by the progression rule of :func:`gympulse.pipeline.analytics.strength.suggest`
from the guest's own last session of the lift — a warm-up set per lift that does not
count, and the rest timer after each set. A set is saved through the log's own
``POST /me/<token>/strength/sets`` (with ``routine``), which comes back here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.guest import Guest, _guest, _lang, _page, resolve_guest
from gympulse.dashboards.i18n import t
from gympulse.dashboards.strength import saved_words
from gympulse.dashboards.strength_view import day_bounds, kg_text, rest_after, set_text
from gympulse.dashboards.web import site_zone
from gympulse.pipeline.analytics import strength
from gympulse.pipeline.strength_log import StrengthSet, TemplateItem

router = APIRouter(dependencies=[Depends(resolve_guest)])


def _routine_data(guest: Guest, plan: str, tz: dt.tzinfo) -> dict[str, Any]:
    log = guest.ctx.strength
    items = log.template(plan)
    lo, hi = day_bounds(tz)
    return {
        "items": items,
        "exercises": log.exercises(),
        "lifts": {i.exercise: log.lift_sets(guest.athlete.id, i.exercise) for i in items},
        "today": log.sets(guest.athlete.id, start_ms=lo, end_ms=hi),
    }


def _suggestion_words(item: TemplateItem, s: strength.Suggestion, lang: str) -> str:
    if s.kg is None:
        return t(lang, "strength_suggest_none", reps=item.reps)
    kg = kg_text(s.kg, lang)
    if s.why == "up":
        last = kg_text(s.last_kg or 0.0, lang)
        return t(lang, "strength_suggest_up", reps=item.reps, last=last, kg=kg)
    if s.why == "repeat":
        return t(lang, "strength_suggest_repeat", reps=item.reps, kg=kg)
    return t(lang, "strength_suggest_plan", kg=kg)


def routine_lift(
    item: TemplateItem, name: str, lift: list[StrengthSet], lo_ms: int, lang: str, tz: dt.tzinfo
) -> dict[str, Any]:
    """One lift of the routine: today's sets so far and the rows still to do, pre-filled."""
    before = [s for s in lift if s.ts_ms < lo_ms]
    today = [s for s in lift if s.ts_ms >= lo_ms]
    last_day = strength.day_of(before[-1].ts_ms, tz) if before else None
    previous = [s.as_dict() for s in before if strength.day_of(s.ts_ms, tz) == last_day]
    suggestion = strength.suggest(item.sets, item.reps, item.kg, previous)
    done = [s for s in today if not s.warmup]
    warmup = strength.warmup_kg(suggestion.kg)
    rows = []
    for n in range(1, max(item.sets, len(done)) + 1):
        if n <= len(done):
            rows.append({"n": n, "done": set_text(done[n - 1].as_dict(), lang)})
        else:
            rows.append({"n": n, "done": None})
    return {
        "exercise": item.exercise,
        "name": name,
        "target": t(lang, "strength_routine_target", sets=item.sets, reps=item.reps),
        "words": _suggestion_words(item, suggestion, lang),
        "reps": item.reps,
        "kg": "" if suggestion.kg is None else kg_text(suggestion.kg),
        "warmups": [set_text(s.as_dict(), lang) for s in today if s.warmup],
        "warmup_reps": strength.WARMUP_REPS,
        "warmup_kg": "" if warmup is None else kg_text(warmup),
        "rows": rows,
        "next": len(done) + 1,
        "finished": len(done) >= item.sets,
    }


@router.get("/me/{token}/strength/routine", response_class=HTMLResponse, include_in_schema=False)
async def routine_page(
    request: Request, token: str, plan: str = "", saved: str = ""
) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    tz = site_zone(request)
    data = await run_db(_routine_data, guest, plan[:100], tz)
    if not data["items"]:
        page = _page(
            guest,
            "guest/strength_routine.html",
            lang,
            title=t(lang, "strength_routines"),
            plan="",
            lifts=[],
            missing=True,
            rest=None,
        )
        page.status_code = 404
        return page
    names = {e.key: e.name(lang) for e in data["exercises"]}
    main = {e.key for e in data["exercises"] if e.main}
    lo, _ = day_bounds(tz)
    lifts = [
        routine_lift(
            item, names.get(item.exercise, item.exercise), data["lifts"][item.exercise], lo,
            lang, tz,
        )
        for item in data["items"]
    ]  # fmt: skip
    return _page(
        guest,
        "guest/strength_routine.html",
        lang,
        title=plan,
        plan=plan,
        lifts=lifts,
        missing=False,
        saved=saved,
        saved_words=saved_words(data["lifts"][saved], lang, tz) if saved in data["lifts"] else "",
        rest=rest_after(data["today"], main, contract.now_ms(), lang),
        scripts=("strength.js",),
    )
