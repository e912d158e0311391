"""The coach view (``/coach``, login required): the squad, athlete and session pages, the
profile and notes forms; and their JSON API (``/api/coach/...``). Login, guest links and
exports live in ``coach_auth``, ``coach_links`` and ``coach_exports``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
)

from gympulse.dashboards import charts
from gympulse.dashboards.access import run_db
from gympulse.dashboards.audit import log_shown
from gympulse.dashboards.coach_auth import athlete_or_404, coach_of, coach_page, require_coach
from gympulse.dashboards.coach_links import guest_link_rows
from gympulse.dashboards.data import Row
from gympulse.dashboards.i18n import t
from gympulse.dashboards.web import AppContext, RowId, site_zone
from gympulse.pipeline.domain import Athlete

router = APIRouter(dependencies=[Depends(require_coach)])
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- squad


async def squad(ctx: AppContext) -> list[dict[str, Any]]:
    """One row per athlete, who needs attention first: today's form, ACWR, 7-day load, HRV
    and resting-HR status against the athlete's own 60-day normal range, and the daily
    status (:mod:`gympulse.pipeline.analytics.readiness`: readings with a direction, today's
    wellness, the last session's RPE) with its reasons."""
    from gympulse.dashboards.status import sort_squad, squad_statuses, status_fields

    statuses = await squad_statuses(ctx)
    daily = await ctx.data.latest_per_athlete("daily_metrics")
    base = await ctx.data.latest_per_athlete("baselines")
    load7 = await ctx.data.load_7d()
    athletes = await run_db(ctx.registry.athletes)
    retreat = await _retreat_fields(ctx, athletes)
    rows: list[dict[str, Any]] = []
    for a in athletes:
        d = daily.get(a.id, {})
        b = base.get(a.id, {})
        flags = [f for f in str(b.get("flags") or "").split(",") if f]
        rows.append(
            {
                "athlete_id": a.id,
                "name": a.name,
                "date": d.get("date"),
                "tsb": d.get("tsb"),
                "ctl": d.get("ctl"),
                "atl": d.get("atl"),
                "acwr": d.get("acwr_ewma"),  # a ratio of loads: the week against the month
                "history_days": d.get("history_days"),  # "building N of M" before a value
                "load_7d": load7.get(a.id),
                "hrv_flag": None if "flag_hrv" not in b else bool(b["flag_hrv"]),
                "hr_rest_flag": None if "flag_hr_rest" not in b else bool(b["flag_hr_rest"]),
                "flags": flags,
                **status_fields(statuses[a.id]),
                **retreat[a.id],
            }
        )
    sort_squad(rows, statuses)
    return rows


async def _retreat_fields(ctx: AppContext, athletes: list[Athlete]) -> dict[int, dict[str, Any]]:
    """Per athlete, what a retreat's coach looks at first: day of the stay, classes
    attended in the last 7 days (of those held while they were here), the last session's
    RPE and today's check-in."""
    tz = ZoneInfo(ctx.settings.timezone)
    today = dt.datetime.now(tz).date()
    week_start = today - dt.timedelta(days=6)
    start_ms = int(dt.datetime.combine(week_start, dt.time(0), tz).timestamp() * 1000)
    now_ms = int(dt.datetime.now(tz).timestamp() * 1000)
    held = await run_db(ctx.journal.classes, start_ms=start_ms, end_ms=now_ms)
    held = [c for c in held if c.end_ms <= now_ms]
    rpes = await run_db(ctx.journal.session_rpes)
    reports = await run_db(ctx.journal.wellness)
    rated = {(r.athlete_id, r.session_id): r.rpe for r in rpes}
    today_wellness = {w.athlete_id: w for w in reports if w.date == today}
    out: dict[int, dict[str, Any]] = {}
    for a in athletes:
        sessions = await ctx.data.sessions(a.id)
        recent = {
            str(s["session_id"])
            for s in sessions
            if str(s["session_id"]).startswith("class-") and str(s["date"]) >= str(week_start)
        }
        arrival = dt.date.fromisoformat(a.arrival) if a.arrival else None
        eligible = [
            c
            for c in held
            if arrival is None or dt.datetime.fromtimestamp(c.start_ms / 1000, tz).date() >= arrival
        ]
        last = sessions[0] if sessions else None
        rpe = None
        if last is not None:
            rpe = rated.get((a.id, str(last["session_id"])), last.get("rpe"))
        w = today_wellness.get(a.id)
        out[a.id] = {
            "stay": stay_day(a, today),
            "attended": sum(1 for c in eligible if f"class-{c.id}" in recent),
            "held": len(eligible),
            "last_rpe": None if rpe is None else round(float(rpe)),
            "wellness_today": None
            if w is None
            else {"total": w.total, **{k: getattr(w, k) for k in WELLNESS_ITEMS}},
        }
    return out


@router.get("/api/coach/squad")
async def api_squad(request: Request) -> list[dict[str, Any]]:
    """The squad overview, sorted by attention flags."""
    coach = coach_of(request, api=True)
    rows = await squad(coach.ctx)
    await log_shown(request, coach, (r["athlete_id"] for r in rows))
    return rows


@router.get("/coach", response_class=HTMLResponse, include_in_schema=False)
async def squad_page(request: Request) -> HTMLResponse:
    coach = coach_of(request)
    rows = await squad(coach.ctx)
    await log_shown(request, coach, (r["athlete_id"] for r in rows))
    return coach_page(
        coach,
        "coach/squad.html",
        title=t(coach.lang, "squad"),
        rows=rows,
        wellness_items=WELLNESS_ITEMS,
    )


# ---------------------------------------------------------------------- athlete


@router.get("/api/coach/athletes/{athlete_id}")
async def api_athlete(request: Request, athlete_id: RowId) -> dict[str, Any]:
    """An athlete's profile, daily metrics, baselines and sessions."""
    coach = coach_of(request, api=True)
    a = await run_db(athlete_or_404, coach.ctx, athlete_id)
    data = coach.ctx.data
    baselines = await data.baselines(athlete_id)
    return {
        "athlete": {
            "id": a.id,
            "name": a.name,
            "birth_year": a.birth_year,
            "sex": a.sex,
            "weight_kg": a.weight_kg,
            "hr_max": a.hr_max,
            "hr_rest": a.hr_rest,
        },
        "daily": await data.daily(athlete_id),
        "baselines": baselines,
        "sessions": await data.sessions(athlete_id),
        "wellness": await run_db(wellness_and_recovery, coach.ctx, athlete_id, baselines),
        "readings": await reading_rows(coach.ctx, athlete_id),
    }


@router.get("/api/coach/athletes/{athlete_id}/sessions/{session_id}")
async def api_session(request: Request, athlete_id: RowId, session_id: str) -> dict[str, Any]:
    """One session summary and its heart-rate curve."""
    coach = coach_of(request, api=True)
    row = await coach.ctx.data.session(athlete_id, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    return row | {
        "hr": await coach.ctx.data.samples(athlete_id, int(row["start_ms"]), int(row["end_ms"]))
    }


def _band(rows: list[Row], name: str) -> charts.Band:
    lo: list[float | None] = []
    hi: list[float | None] = []
    for r in rows:
        mean, sd = r.get(f"{name}_mean60"), r.get(f"{name}_sd60")
        ok = mean is not None and sd is not None
        lo.append(float(mean) - float(sd) if ok else None)  # type: ignore[arg-type]
        hi.append(float(mean) + float(sd) if ok else None)  # type: ignore[arg-type]
    return lo, hi


@router.get("/coach/athletes/{athlete_id}", response_class=HTMLResponse, include_in_schema=False)
async def athlete_page(
    request: Request,
    athlete_id: RowId,
    morning: Annotated[str, Query(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
) -> HTMLResponse:
    """The athlete's trends, sessions, check-ins, readings and links; ``morning``: a date
    whose 04:00–11:00 heart-rate curve is shown to mark a window of it as a reading."""
    from gympulse.dashboards.after_stay import after_stay_row
    from gympulse.dashboards.consent_web import coach_consent_rows
    from gympulse.dashboards.morning_coach import morning_curve

    coach = coach_of(request)
    lang = coach.lang
    ctx = coach.ctx
    a = await run_db(athlete_or_404, ctx, athlete_id)
    daily = await ctx.data.daily(athlete_id)
    base = await ctx.data.baselines(athlete_id)
    dates = [str(r["date"]) for r in daily]
    bdates = [str(r["date"]) for r in base]
    days = int(daily[-1].get("history_days") or len(daily)) if daily else 0
    # Every chart with its words: what each line means, in plain language (and "building"
    # while its window does not hold enough days yet).
    parts = [
        (
            charts.line_chart(
                [
                    (t(lang, "fitness"), [r.get("ctl") for r in daily]),
                    (t(lang, "fatigue"), [r.get("atl") for r in daily]),
                    (t(lang, "form"), [r.get("tsb") for r in daily]),
                ],
                dates,
                title=f"{t(lang, 'fitness')} / {t(lang, 'fatigue')} / {t(lang, 'form')}",
            ),
            [
                t(lang, "def_ctl"),
                t(lang, "def_atl"),
                t(lang, "def_tsb"),
                *_building(lang, days, "ctl"),
            ],
        ),
        (
            charts.line_chart(
                [(t(lang, "acwr"), [r.get("acwr_ewma") for r in daily])],
                dates,
                title=t(lang, "acwr_title"),
            ),
            [
                t(lang, "def_acwr"),
                t(lang, "def_acwr_limits"),
                *_building(lang, days, "acwr_ewma"),
            ],
        ),
        (
            charts.line_chart(
                [(t(lang, "ln_rmssd"), [r.get("ln_rmssd") for r in base])],
                bdates,
                title=t(lang, "ln_rmssd"),
                band=_band(base, "ln_rmssd"),
                band_label=t(lang, "normal_range"),
            ),
            [t(lang, "def_ln_rmssd"), t(lang, "def_normal_range")],
        ),
        (
            charts.line_chart(
                [(t(lang, "resting_hr"), [r.get("hr_rest") for r in base])],
                bdates,
                title=t(lang, "resting_hr"),
                band=_band(base, "hr_rest"),
                band_label=t(lang, "normal_range"),
            ),
            [t(lang, "def_hr_rest"), t(lang, "def_normal_range")],
        ),
    ]
    sessions = await ctx.data.sessions(athlete_id)
    tz = site_zone(request)
    notes = [
        {
            "when": dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            "author": author,
            "text": text,
        }
        for _, ms, author, text in await run_db(ctx.journal.notes, athlete_id)
    ]
    return coach_page(
        coach,
        "coach/athlete.html",
        title=a.name,
        athlete=a,
        # A new athlete: "no data yet" instead of empty charts.
        charts=parts if (sessions or daily or base) else [],
        no_data=not (sessions or daily or base),
        stay=stay_day(a, dt.datetime.now(tz).date()),
        notes=notes,
        saved=request.query_params.get("saved", ""),
        sessions=sessions,
        wellness=await run_db(wellness_and_recovery, ctx, athlete_id, base),
        wellness_items=WELLNESS_ITEMS,
        links=await run_db(guest_link_rows, coach, athlete_id),
        readings=await reading_rows(ctx, athlete_id),
        consent=await coach_consent_rows(ctx, athlete_id, lang, tz),
        morning=await morning_curve(ctx, a, morning, lang),
        after_stay=await run_db(after_stay_row, ctx, a, lang, tz),
        fit_mb=ctx.settings.ingest.fit_max_mb,
    )


WELLNESS_ITEMS = ("sleep", "stress", "mood", "energy", "soreness")


def _building(lang: str, days: int, column: str) -> list[str]:
    """ "Building: N of M days" while the athlete's history is shorter than the value's
    window (:data:`gympulse.pipeline.analytics.load.SHOWN_FROM`)."""
    from gympulse.pipeline.analytics.load import SHOWN_FROM

    need = SHOWN_FROM[column]
    return [t(lang, "load_building_long", n=days, of=need)] if days < need else []


def stay_day(a: Athlete, today: dt.date) -> dict[str, Any] | None:
    """Day of the stay (1 = arrival day) and its length, or None without stay dates."""
    if not a.arrival:
        return None
    arrival = dt.date.fromisoformat(a.arrival)
    departure = dt.date.fromisoformat(a.departure) if a.departure else None
    return {
        "day": (today - arrival).days + 1,
        "of": None if departure is None else (departure - arrival).days + 1,
        "arrival": a.arrival,
        "departure": a.departure,
    }


def _date_or_none(value: str) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as err:
        raise HTTPException(status_code=422, detail=f"not a date: {value}") from err


@router.post("/coach/athletes/{athlete_id}/profile", response_class=RedirectResponse)
async def edit_profile(
    request: Request,
    athlete_id: RowId,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    display_name: Annotated[str, Form(max_length=40)] = "",
    birth_year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    weight_kg: Annotated[float | None, Form(ge=20, le=300)] = None,
    hr_max: Annotated[int | None, Form(ge=100, le=240)] = None,
    hr_rest: Annotated[int | None, Form(ge=25, le=120)] = None,
    arrival: Annotated[str, Form(max_length=10)] = "",
    departure: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Edit an athlete's profile: name, board name, HRmax, resting HR, birth year,
    weight and stay dates."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    await run_db(
        coach.ctx.registry.update_athlete,
        athlete_id,
        name=name.strip(),
        display_name=display_name.strip(),
        birth_year=birth_year,
        weight_kg=weight_kg,
        hr_max=hr_max,
        hr_rest=hr_rest,
        arrival=_date_or_none(arrival),
        departure=_date_or_none(departure),
    )
    return RedirectResponse(f"/coach/athletes/{athlete_id}?saved=profile", status_code=303)


@router.post("/coach/athletes/{athlete_id}/notes", response_class=RedirectResponse)
async def add_note(
    request: Request,
    athlete_id: RowId,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """A dated note about the athlete (coaches only)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    await run_db(coach.ctx.journal.add_note, athlete_id, text.strip(), author=coach.user.username)
    return RedirectResponse(f"/coach/athletes/{athlete_id}#notes", status_code=303)


async def reading_rows(ctx: AppContext, athlete_id: int) -> list[dict[str, Any]]:
    from gympulse.dashboards import morning_coach

    return await morning_coach.reading_rows(ctx, athlete_id)


def wellness_and_recovery(
    ctx: AppContext, athlete_id: int, baselines: list[Row], days: int = 14
) -> list[Row]:
    """The athlete's self-reports of the last ``days`` days that have a report or a morning
    reading, next to that day's ln RMSSD and resting HR (newest first)."""
    reports = {w.date.isoformat(): w for w in ctx.journal.wellness(athlete_id)}
    recovery = {str(b.get("date")): b for b in baselines}
    dates = sorted(set(reports) | set(recovery), reverse=True)[:days]
    rows: list[Row] = []
    for day in dates:
        w = reports.get(day)
        b = recovery.get(day, {})
        row: Row = {"date": day, "ln_rmssd": b.get("ln_rmssd"), "hr_rest": b.get("hr_rest")}
        for item in WELLNESS_ITEMS:
            row[item] = getattr(w, item) if w is not None else None
        rows.append(row)
    return rows


@router.get(
    "/coach/athletes/{athlete_id}/sessions/{session_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def session_page(request: Request, athlete_id: RowId, session_id: str) -> HTMLResponse:
    coach = coach_of(request)
    lang = coach.lang
    a = await run_db(athlete_or_404, coach.ctx, athlete_id)
    row = await coach.ctx.data.session(athlete_id, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    hr = await coach.ctx.data.samples(athlete_id, int(row["start_ms"]), int(row["end_ms"]))
    hr_max = float(row.get("hr_max_ref") or a.hr_max_at(int(row["start_ms"])))
    tz = site_zone(request)
    sid = str(row["session_id"])
    class_name = (await run_db(coach.ctx.journal.class_names, [sid])).get(sid)
    rated = {r.session_id: r.rpe for r in await run_db(coach.ctx.journal.session_rpes, athlete_id)}
    rpe = rated.get(sid, row.get("rpe"))
    return coach_page(
        coach,
        "coach/session.html",
        title=f"{a.name} · {class_name or t(lang, 'session')} · {row['date']}",
        row=row,
        class_name=class_name,
        start=dt.datetime.fromtimestamp(int(row["start_ms"]) / 1000, tz).strftime("%Y-%m-%d %H:%M"),
        duration_min=round((row.get("duration_s") or 0) / 60),
        rpe=None if rpe is None else round(float(rpe), 1),
        power=await coach.ctx.data.session_power(athlete_id, session_id),
        hr_chart=charts.hr_curve(hr, hr_max, title=t(lang, "hr_curve")),
        zones_chart=charts.zone_bars(
            [float(row.get(f"zone{z}_s") or 0) for z in range(6)],
            [t(lang, "zone_n", n=z) for z in range(6)],
            title=t(lang, "zone_minutes"),
        ),
    )
