"""The coach view (``/coach``, login required): squad, athlete and session pages, admin,
guest links with QR codes, CSV export; and its JSON API (``/api/coach/...``).

Login sets an ``HttpOnly; SameSite=Strict`` session cookie (random, stored hashed).
Every form carries a CSRF token bound to the session (the login form: to a random cookie).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from markupsafe import Markup
from starlette.background import BackgroundTask

from gympulse.dashboards import charts, rights
from gympulse.dashboards.access import SESSION_COOKIE, coach_session, run_db
from gympulse.dashboards.accounts import User, token_hash
from gympulse.dashboards.data import EXPORTABLE, Row
from gympulse.dashboards.export_worker import samples_csv
from gympulse.dashboards.i18n import pick_language, t
from gympulse.dashboards.templating import render, render_markup
from gympulse.dashboards.web import AppContext, RowId, check_csrf, csrf_token, ctx_of
from gympulse.pipeline.domain import Athlete

LOGIN_COOKIE = "gp_login"
DAY_MS = 86_400_000


class NotLoggedIn(Exception):
    """Raised by HTML handlers; the app turns it into a redirect to the login page."""


class Coach:
    def __init__(self, ctx: AppContext, user: User, session: str, lang: str) -> None:
        self.ctx = ctx
        self.user = user
        self.session = session
        self.csrf = csrf_token(ctx.secret, f"coach:{token_hash(session)}")
        self.lang = lang

    def check(self, submitted: str) -> None:
        if not secrets.compare_digest(self.csrf.encode(), (submitted or "").encode()):
            raise HTTPException(status_code=403, detail="invalid or missing CSRF token")


async def require_coach(request: Request) -> Coach:
    """Dependency of every coach route (on the routers, so no handler can forget it): the
    logged-in coach, else a redirect to the login page (a page) or 403 (API, forms, CSV)."""
    found = await coach_session(request)
    if found is None:
        path = request.url.path
        download = path.endswith((".csv", ".zip"))
        page_path = path.startswith(("/coach", "/docs", "/redoc")) and not download
        if request.method == "GET" and page_path:
            raise NotLoggedIn
        raise HTTPException(status_code=403, detail="login required")
    user, session = found
    lang = pick_language(request.headers.get("accept-language"))
    coach = Coach(ctx_of(request), user, session, lang)
    request.state.coach = coach
    return coach


log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(require_coach)])
public_router = APIRouter()  # the login form: the only coach route without a login


def _coach(request: Request, *, api: bool = False) -> Coach:
    """The coach :func:`require_coach` (a dependency of every coach router) let in."""
    coach: Coach = request.state.coach
    return coach


def _nav(coach: Coach) -> str:
    """The coach's navigation bar as markup (for pages still built with web.page())."""
    return str(render_markup("coach/_nav.html", coach.lang, csrf=coach.csrf))


def _page(coach: Coach, template: str, *, title: str, **context: Any) -> HTMLResponse:
    """A coach page: template ``name`` (extends coach/base.html)."""
    return render(template, coach.lang, title=title, csrf=coach.csrf, **context)


# ---------------------------------------------------------------------- login


def _login_form(
    request: Request, *, error: str = "", status_code: int = 200, **values: object
) -> HTMLResponse:
    lang = pick_language(request.headers.get("accept-language"))
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    token = csrf_token(ctx_of(request).secret, f"login:{nonce}")
    response = render(
        "coach/login.html",
        lang,
        title=t(lang, "login"),
        csrf=token,
        error=t(lang, error, **values) if error else "",
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, httponly=True, samesite="strict", path="/coach", max_age=3600
    )
    return response


@public_router.get("/coach/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, failed: int = 0) -> HTMLResponse:
    return _login_form(request, error="login_failed" if failed else "")


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


@public_router.post("/coach/login", response_class=RedirectResponse, status_code=303)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Log in; sets the session cookie and redirects to the squad overview. Wrong
    passwords are throttled per client address and account (429 with the wait)."""
    ctx = ctx_of(request)
    check_csrf(ctx.secret, f"login:{request.cookies.get(LOGIN_COOKIE, '')}", csrf)
    address = _client(request)
    wait = ctx.throttle.wait_s(address)
    if wait > 0:
        seconds = math.ceil(wait)
        log.warning("coach login throttled: client=%s wait_s=%d", address, seconds)
        refused = _login_form(request, error="login_throttled", status_code=429, s=seconds)
        refused.headers["Retry-After"] = str(seconds)
        return refused
    async with ctx.password_checks:
        user, known = await run_db(ctx.accounts.authenticate_known, username, password)
    if user is None:
        failures, delay = ctx.throttle.failed(address, username)
        log.warning(
            "coach login failed: user=%s client=%s failures=%d next_wait_s=%d",
            repr(username[:64]) if known else "<unknown>",
            address,
            failures,
            math.ceil(delay),
        )
        return RedirectResponse("/coach/login?failed=1", status_code=303)
    ctx.throttle.succeeded(address)
    session = await run_db(ctx.accounts.start_session, user)
    log.info("coach login: user=%r client=%s", user.username, address)
    response = RedirectResponse("/coach", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/coach")
    return response


@router.post("/coach/logout", response_class=RedirectResponse, status_code=303)
async def logout(
    request: Request, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = _coach(request, api=True)
    coach.check(csrf)
    await run_db(coach.ctx.accounts.end_session, coach.session)
    coach.ctx.guard.poke()  # its open board streams end now
    response = RedirectResponse("/coach/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/coach/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    old: Annotated[str, Form(max_length=1000)],
    new: Annotated[str, Form(min_length=8, max_length=1000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change the logged-in coach's password; every other session of the account ends."""
    coach = _coach(request, api=True)
    coach.check(csrf)
    ctx = coach.ctx
    address = _client(request)
    if ctx.throttle.wait_s(address) > 0:
        raise HTTPException(status_code=429, detail="too many wrong passwords, wait")
    async with ctx.password_checks:
        changed = await run_db(ctx.accounts.change_password, coach.user, old, new, coach.session)
    if not changed:
        ctx.throttle.failed(address, coach.user.username)
        log.warning("password change refused (wrong password): user=%r", coach.user.username)
        raise HTTPException(status_code=403, detail="wrong password")
    log.info("password changed, other sessions ended: user=%r", coach.user.username)
    ctx.guard.poke()
    return RedirectResponse("/coach/admin?saved=password", status_code=303)


# ---------------------------------------------------------------------- squad


async def squad(ctx: AppContext) -> list[dict[str, Any]]:
    """One row per athlete, who needs attention first: today's form, ACWR, 7-day load, HRV
    and resting-HR status against the athlete's own 60-day normal range, and the daily
    status (:mod:`gympulse.pipeline.analytics.readiness`: readings with a direction, today's
    wellness, the last session's RPE) with its reasons."""
    from gympulse.dashboards.morning import sort_squad, squad_statuses, status_fields

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
                "acwr": d.get("acwr_ewma"),
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
    coach = _coach(request, api=True)
    return await squad(coach.ctx)


@router.get("/coach", response_class=HTMLResponse, include_in_schema=False)
async def squad_page(request: Request) -> HTMLResponse:
    coach = _coach(request)
    return _page(
        coach,
        "coach/squad.html",
        title=t(coach.lang, "squad"),
        rows=await squad(coach.ctx),
        wellness_items=WELLNESS_ITEMS,
    )


# ---------------------------------------------------------------------- athlete


def _athlete_or_404(ctx: AppContext, athlete_id: RowId) -> Any:
    athlete = ctx.registry.athlete(athlete_id)
    if athlete is None:
        raise HTTPException(status_code=404, detail="no such athlete")
    return athlete


@router.get("/api/coach/athletes/{athlete_id}")
async def api_athlete(request: Request, athlete_id: RowId) -> dict[str, Any]:
    """An athlete's profile, daily metrics, baselines and sessions."""
    coach = _coach(request, api=True)
    a = await run_db(_athlete_or_404, coach.ctx, athlete_id)
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
    coach = _coach(request, api=True)
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
    from gympulse.dashboards.morning import morning_curve

    coach = _coach(request)
    lang = coach.lang
    ctx = coach.ctx
    a = await run_db(_athlete_or_404, ctx, athlete_id)
    daily = await ctx.data.daily(athlete_id)
    base = await ctx.data.baselines(athlete_id)
    dates = [str(r["date"]) for r in daily]
    bdates = [str(r["date"]) for r in base]
    parts = [
        charts.line_chart(
            [
                (t(lang, "fitness"), [r.get("ctl") for r in daily]),
                (t(lang, "fatigue"), [r.get("atl") for r in daily]),
                (t(lang, "form"), [r.get("tsb") for r in daily]),
            ],
            dates,
            title=f"{t(lang, 'fitness')} / {t(lang, 'fatigue')} / {t(lang, 'form')}",
        ),
        charts.line_chart(
            [(t(lang, "acwr"), [r.get("acwr_ewma") for r in daily])],
            dates,
            title=t(lang, "acwr"),
            fixed_band=(0.8, 1.3),
            band_label=t(lang, "acwr_band"),
        ),
        charts.line_chart(
            [(t(lang, "ln_rmssd"), [r.get("ln_rmssd") for r in base])],
            bdates,
            title=t(lang, "ln_rmssd"),
            band=_band(base, "ln_rmssd"),
            band_label=t(lang, "normal_range"),
        ),
        charts.line_chart(
            [(t(lang, "resting_hr"), [r.get("hr_rest") for r in base])],
            bdates,
            title=t(lang, "resting_hr"),
            band=_band(base, "hr_rest"),
            band_label=t(lang, "normal_range"),
        ),
    ]
    sessions = await ctx.data.sessions(athlete_id)
    tz = ZoneInfo(request.app.state.settings.timezone)
    notes = [
        {
            "when": dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            "author": author,
            "text": text,
        }
        for _, ms, author, text in await run_db(ctx.journal.notes, athlete_id)
    ]
    return _page(
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
        links=await run_db(_guest_links, coach, athlete_id),
        readings=await reading_rows(ctx, athlete_id),
        morning=await morning_curve(ctx, a, morning, lang),
    )


WELLNESS_ITEMS = ("sleep", "stress", "mood", "energy", "soreness")


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
    coach = _coach(request, api=True)
    coach.check(csrf)
    await run_db(_athlete_or_404, coach.ctx, athlete_id)
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
    coach = _coach(request, api=True)
    coach.check(csrf)
    await run_db(_athlete_or_404, coach.ctx, athlete_id)
    await run_db(coach.ctx.journal.add_note, athlete_id, text.strip(), author=coach.user.username)
    return RedirectResponse(f"/coach/athletes/{athlete_id}#notes", status_code=303)


async def reading_rows(ctx: AppContext, athlete_id: int) -> list[dict[str, Any]]:
    from gympulse.dashboards import morning

    return await morning.reading_rows(ctx, athlete_id)


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
    coach = _coach(request)
    lang = coach.lang
    a = await run_db(_athlete_or_404, coach.ctx, athlete_id)
    row = await coach.ctx.data.session(athlete_id, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    hr = await coach.ctx.data.samples(athlete_id, int(row["start_ms"]), int(row["end_ms"]))
    hr_max = float(row.get("hr_max_ref") or a.effective_hr_max(dt.date.today().year))
    tz = ZoneInfo(request.app.state.settings.timezone)
    class_name = None
    sid = str(row["session_id"])
    if sid.startswith("class-") and sid[6:].isdigit():
        found = await run_db(coach.ctx.journal.class_by_id, int(sid[6:]))
        class_name = found.name if found is not None else None
    rated = {r.session_id: r.rpe for r in await run_db(coach.ctx.journal.session_rpes, athlete_id)}
    rpe = rated.get(sid, row.get("rpe"))
    return _page(
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
            [float(row.get(f"zone{z}_s") or 0) for z in range(1, 6)],
            [t(lang, "zone_n", n=z) for z in range(1, 6)],
            title=t(lang, "zone_minutes"),
        ),
    )


# ---------------------------------------------------------------------- guest links


def _guest_links(coach: Coach, athlete_id: RowId) -> list[dict[str, Any]]:
    rows = []
    now = dt.datetime.now(dt.UTC)
    tz = ZoneInfo(coach.ctx.settings.timezone)
    used = coach.ctx.accounts.guest_last_used()
    showable = coach.ctx.accounts.showable_guest_links()
    for g in coach.ctx.accounts.guest_tokens(athlete_id):
        expires = dt.datetime.fromtimestamp(g.expires_ms / 1000, dt.UTC)
        state = "revoked" if g.revoked_ms else ("active" if expires > now else "expired")
        last = used.get(g.id)
        rows.append(
            {
                "id": g.id,
                "expires": expires.date().isoformat(),
                "state": state,
                "revoked": bool(g.revoked_ms),
                "showable": g.id in showable,
                "last_used": None
                if last is None
                else dt.datetime.fromtimestamp(last / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            }
        )
    return rows


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg: bytes = image.to_string(encoding="unicode").encode()
    out = svg.decode()
    return out[out.index("<svg") :]


@router.post("/coach/athletes/{athlete_id}/guest-links", response_class=HTMLResponse)
async def new_guest_link(
    request: Request,
    athlete_id: RowId,
    days: Annotated[int, Form(ge=1, le=3650)] = 7,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Issue a personal guest link valid for ``days``; shows it once, with its QR code."""
    coach = _coach(request, api=True)
    coach.check(csrf)
    a = await run_db(_athlete_or_404, coach.ctx, athlete_id)
    expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() * 1000)
    token = await run_db(
        coach.ctx.accounts.issue_guest_token, athlete_id, expires, secret=coach.ctx.secret
    )
    return _show_link(request, coach, a, athlete_id, token)


def _show_link(
    request: Request, coach: Coach, a: Athlete, athlete_id: int, token: str
) -> HTMLResponse:
    # The address guests use (settings web.public_url), not whatever the coach's browser used.
    public = request.app.state.settings.web.public_url.rstrip("/")
    url = f"{public or str(request.base_url).rstrip('/')}/me/{token}"
    return _page(
        coach,
        "coach/new_link.html",
        title=f"{t(coach.lang, 'new_link')}: {a.name}",
        url=url,
        qr=Markup(qr_svg(url)),  # drawn by the qrcode library: paths only, no text
        athlete_id=athlete_id,
    )


@router.get("/coach/guest-links/{token_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_guest_link(request: Request, token_id: RowId) -> HTMLResponse:
    """An active guest link shown again, with its QR code."""
    coach = _coach(request)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    grant = tokens.get(token_id)
    if grant is None or not grant.active(int(dt.datetime.now(dt.UTC).timestamp() * 1000)):
        raise HTTPException(status_code=404, detail="no such active link")
    token = await run_db(coach.ctx.accounts.guest_link_token, token_id, coach.ctx.secret)
    if token is None:
        raise HTTPException(status_code=404, detail="this link cannot be shown again")
    a = await run_db(_athlete_or_404, coach.ctx, grant.athlete_id)
    response: HTMLResponse = _show_link(request, coach, a, grant.athlete_id, token)
    return response


@router.post("/coach/guest-links/{token_id}/revoke", response_class=RedirectResponse)
async def revoke_guest_link(
    request: Request, token_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = _coach(request, api=True)
    coach.check(csrf)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    if token_id not in tokens:
        raise HTTPException(status_code=404, detail="no such link")
    await run_db(coach.ctx.accounts.revoke_guest_token, token_id)
    coach.ctx.guard.poke()  # the link's open stream ends now
    return RedirectResponse(f"/coach/athletes/{tokens[token_id].athlete_id}", status_code=303)


@router.post("/coach/guest-links/{token_id}/extend", response_class=RedirectResponse)
async def extend_guest_link(
    request: Request,
    token_id: RowId,
    days: Annotated[int, Form(ge=1, le=3650)] = 30,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    coach = _coach(request, api=True)
    coach.check(csrf)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    if token_id not in tokens:
        raise HTTPException(status_code=404, detail="no such link")
    expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() * 1000)
    new_expiry = max(expires, tokens[token_id].expires_ms)
    await run_db(coach.ctx.accounts.extend_guest_token, token_id, new_expiry)
    return RedirectResponse(f"/coach/athletes/{tokens[token_id].athlete_id}", status_code=303)


# ---------------------------------------------------------------------- guests' rights


@router.get("/coach/athletes/{athlete_id}/export.zip", response_class=FileResponse)
async def export_athlete_zip(request: Request, athlete_id: RowId) -> FileResponse:
    """All of one person's data (profile, samples, sessions, readings, wellness, RPE,
    metrics) as JSON and CSV in one zip."""
    coach = _coach(request, api=True)
    await run_db(_athlete_or_404, coach.ctx, athlete_id)
    settings = request.app.state.settings
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="gympulse-export-"))
    out = tmp / f"athlete-{athlete_id}.zip"
    await rights.export_athlete(settings, athlete_id, out)
    log.warning("coach %r exported athlete %d", coach.user.username, athlete_id)
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.post("/coach/athletes/{athlete_id}/forget", response_class=HTMLResponse)
async def forget_athlete(
    request: Request,
    athlete_id: RowId,
    confirm: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Erase the person from every store; the form must repeat their name."""
    coach = _coach(request, api=True)
    coach.check(csrf)
    a = await run_db(_athlete_or_404, coach.ctx, athlete_id)
    if confirm.strip() != a.name:
        raise HTTPException(status_code=422, detail="type the athlete's name to confirm")
    await rights.forget_athlete(request.app.state.settings, athlete_id)
    coach.ctx.guard.poke()  # their guest links are gone: open streams end
    log.warning("coach %r erased athlete %d", coach.user.username, athlete_id)
    return render(
        "notice.html",
        coach.lang,
        title=t(coach.lang, "data_rights"),
        message=t(coach.lang, "forget_done"),
        link="/coach",
        link_text=t(coach.lang, "back"),
    )


# ---------------------------------------------------------------------- CSV export


@router.get("/coach/export/{table_name}.csv", response_class=StreamingResponse)
async def export_csv(request: Request, table_name: str) -> Response:
    """Any table as CSV (athletes, sensors, assignments, classes, wellness, session_rpe,
    samples and the analytics tables)."""
    coach = _coach(request, api=True)
    found: AsyncIterator[bytes] | None
    if table_name == "samples":
        # Millions of rows: read and written as CSV by a worker process, one store window
        # at a time, as the client consumes — memory stays flat, and the live board on this
        # event loop stays quick while a year streams out.
        found = samples_csv(request.app.state.settings)
    elif table_name in EXPORTABLE:
        found = await coach.ctx.data.export_csv(table_name)  # formatted in worker threads
    else:
        found = None
    if found is None:
        raise HTTPException(status_code=404, detail="no such table")
    return StreamingResponse(
        found,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table_name}.csv"'},
    )
