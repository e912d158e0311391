"""Guest pages (``/me/<token>``) and their JSON API (``/api/me/<token>/...``).

Every handler starts by resolving the token to exactly one athlete (unknown, revoked or
expired: 404, the same answer for all three so a token cannot be probed) and then only
ever queries with that athlete id: no parameter of a guest request names an athlete.
A session id from somebody else is simply not found among the guest's own sessions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from gympulse import contract
from gympulse.dashboards import charts
from gympulse.dashboards.access import StayEnded, Viewer, run_db, stay_ended
from gympulse.dashboards.accounts import GuestToken, token_hash
from gympulse.dashboards.consent_check import allows, ensure
from gympulse.dashboards.data import Row
from gympulse.dashboards.error_pages import notice
from gympulse.dashboards.i18n import pick_language, t
from gympulse.dashboards.live import END_OF_STREAM
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, check_csrf, csrf_token, ctx_of, site_zone
from gympulse.pipeline.analytics.fitness import vo2max_uth
from gympulse.pipeline.analytics.readiness import MOOD_VERY_LOW
from gympulse.pipeline.analytics.sessions import rateable_from_ms
from gympulse.pipeline.consent import Domain
from gympulse.pipeline.domain import Athlete
from gympulse.pipeline.journal import WELLNESS_ITEMS

SSE_KEEPALIVE_S = 15.0


class Guest:
    def __init__(self, ctx: AppContext, token: str, grant: GuestToken, athlete: Athlete) -> None:
        self.ctx = ctx
        self.token = token
        self.grant = grant
        self.athlete = athlete
        self.csrf = csrf_token(ctx.secret, f"guest:{token_hash(token)}")

    @property
    def base(self) -> str:
        return f"/me/{quote(self.token, safe='')}"


class GuestLinkNotFound(HTTPException):
    """Unknown, expired or revoked link (one answer for all three). The app answers a
    browser page with a small HTML page in the visitor's language, ``/api/...`` with JSON."""

    def __init__(self) -> None:
        super().__init__(status_code=404, detail="unknown or expired link")


def link_not_found(request: Request, exc: GuestLinkNotFound) -> Response:
    """The answer to :class:`GuestLinkNotFound`: HTML for a browser on a page, else JSON.
    The language comes from the browser only (never from the link's profile), so the page
    is the same for unknown, expired and revoked links."""
    return notice(
        request,
        404,
        exc.detail,
        title="link_invalid_title",
        message="link_expired",
        template="not_found.html",
    )


def stay_ended_page(request: Request, exc: StayEnded) -> Response:
    """The answer to :class:`StayEnded`: her stay has ended, ask the coach (HTML for a
    browser, JSON for the API), in the browser's language."""
    return notice(
        request,
        403,
        exc.detail,
        title="stay_ended_title",
        message="stay_ended",
        link="",
        link_text="",
    )


def _resolve(ctx: AppContext, token: str) -> tuple[GuestToken, Athlete] | StayEnded | None:
    grant = ctx.accounts.guest(token) if len(token) <= 200 else None
    athlete = ctx.registry.athlete(grant.athlete_id) if grant is not None else None
    if grant is None or athlete is None:
        return None
    if stay_ended(ctx, athlete.id):
        return StayEnded()  # the coach's after-stay choice (dashboards/access.py)
    return grant, athlete


async def resolve_guest(request: Request, token: str) -> Guest:
    """Dependency of every guest route (on the router): the link's one athlete, or 404
    (403 with a kind page once her stay has ended, if the coach chose so)."""
    ctx = ctx_of(request)
    found = await run_db(_resolve, ctx, token)
    if found is None:
        raise GuestLinkNotFound
    if isinstance(found, StayEnded):
        raise found
    guest = Guest(ctx, token, *found)
    request.state.guest = guest
    return guest


router = APIRouter(dependencies=[Depends(resolve_guest)])


def _guest(request: Request, token: str) -> Guest:
    """The guest :func:`resolve_guest` (a dependency of the router) let in."""
    guest: Guest = request.state.guest
    return guest


def _lang(request: Request, guest: Guest) -> str:
    return pick_language(request.headers.get("accept-language"), guest.grant.lang)


def _public_session(row: Row) -> dict[str, Any]:
    keys = (
        "session_id", "kind", "date", "start_ms", "end_ms", "duration_s", "hr_avg", "hr_max",
        "zone0_s", "zone1_s", "zone2_s", "zone3_s", "zone4_s", "zone5_s", "kcal", "points",
        "hrr60", "rmssd", "trimp_banister", "rpe",
    )  # fmt: skip
    return {k: row.get(k) for k in keys}


async def rateable_from(ctx: AppContext, row: Row) -> int:
    """When the session's RPE may be asked (:func:`rateable_from_ms`: a class once its
    scheduled end has passed, a detected workout two minutes after its last sample)."""
    class_end = None
    if row.get("class_id") is not None:
        scheduled = await run_db(ctx.journal.class_by_id, int(row["class_id"]))
        class_end = None if scheduled is None else scheduled.end_ms
    return rateable_from_ms(int(row["end_ms"]), class_end)


def _clock(request: Request, ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, site_zone(request)).strftime("%H:%M")


async def _rating(request: Request, guest: Guest, row: Row) -> dict[str, Any]:
    """The row with ``rate_at`` (HH:MM, site time) while its RPE may not be asked yet."""
    at = await rateable_from(guest.ctx, row)
    return row | {"rate_at": _clock(request, at) if at > contract.now_ms() else None}


# ---------------------------------------------------------------------- JSON API


@router.get("/api/me/{token}/sessions")
async def api_sessions(request: Request, token: str) -> list[dict[str, Any]]:
    """The guest's own sessions, newest first."""
    guest = _guest(request, token)
    return [_public_session(r) for r in await guest.ctx.data.sessions(guest.athlete.id)]


@router.get("/api/me/{token}/sessions/{session_id}")
async def api_session(request: Request, token: str, session_id: str) -> dict[str, Any]:
    """One of the guest's sessions with its heart-rate curve ([ts, bpm] pairs)."""
    guest = _guest(request, token)
    row = await guest.ctx.data.session(guest.athlete.id, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    samples = await guest.ctx.data.samples(
        guest.athlete.id, int(row["start_ms"]), int(row["end_ms"])
    )
    return _public_session(row) | {"hr": samples}


@router.get("/api/me/{token}/progress")
async def api_progress(request: Request, token: str) -> dict[str, Any]:
    """Trends over the stay: resting HR, HRV, HRR60, weekly zone minutes, VO2max estimate."""
    guest = _guest(request, token)
    return await progress(guest)


@router.get("/api/me/{token}/live")
async def api_live(request: Request, token: str) -> list[dict[str, Any]]:
    """The guest's own live tile(s) right now (empty outside class)."""
    guest = _guest(request, token)
    return guest.ctx.hub.snapshot(guest.athlete.id)


@router.get("/api/me/{token}/stream", response_class=StreamingResponse)
async def api_stream(request: Request, token: str) -> StreamingResponse:
    """Server-Sent Events of the guest's own tile only."""
    guest = _guest(request, token)
    hub = guest.ctx.hub
    athlete_id = guest.athlete.id
    queue = hub.subscribe(athlete_id)
    guest.ctx.guard.watch(queue, Viewer("guest", token))  # revoked or expired: ends

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            for tile in hub.snapshot(athlete_id):
                yield f"event: tile\ndata: {json.dumps(tile, separators=(',', ':'))}\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
                except TimeoutError:
                    event = ": keep-alive\n\n"
                if event == END_OF_STREAM:
                    return  # the server is stopping
                yield event
        finally:
            guest.ctx.guard.forget(queue)
            hub.unsubscribe(queue)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
    )


@router.post("/me/{token}/rpe", response_class=RedirectResponse, status_code=303)
async def post_rpe(
    request: Request,
    token: str,
    session_id: Annotated[str, Form(max_length=200)],
    rpe: Annotated[int, Form(ge=0, le=10)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Rate one of the guest's own sessions (CR-10, 0–10)."""
    guest = _guest(request, token)
    check_csrf(guest.ctx.secret, f"guest:{token_hash(token)}", csrf)
    row = await guest.ctx.data.session(guest.athlete.id, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    if await rateable_from(guest.ctx, row) > contract.now_ms():
        return notice(
            request,
            409,
            "the session has not ended yet",
            title="rpe_title",
            message="rpe_not_yet",
            link=guest.base,
        )
    await run_db(guest.ctx.journal.set_session_rpe, guest.athlete.id, session_id, float(rpe))
    # Back to where the question was asked, which now shows the answer.
    back = request.headers.get("referer", "")
    if "/sessions/" in back:
        return RedirectResponse(
            f"{guest.base}/sessions/{quote(session_id, safe='')}?saved=rpe", status_code=303
        )
    return RedirectResponse(f"{guest.base}?saved=rpe", status_code=303)


@router.post("/me/{token}/wellness", response_class=RedirectResponse, status_code=303)
async def post_wellness(
    request: Request,
    token: str,
    sleep: Annotated[int, Form(ge=1, le=5)],
    stress: Annotated[int, Form(ge=1, le=5)],
    mood: Annotated[int, Form(ge=1, le=5)],
    energy: Annotated[int, Form(ge=1, le=5)],
    soreness: Annotated[int, Form(ge=1, le=5)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Today's five-question morning check-in (1–5 each, 5 = best)."""
    guest = _guest(request, token)
    check_csrf(guest.ctx.secret, f"guest:{token_hash(token)}", csrf)
    await ensure(guest.ctx, guest.athlete.id, Domain.WELLNESS)
    await run_db(
        guest.ctx.journal.add_wellness,
        guest.athlete.id,
        _today(request),  # the site's day, as the week view shows it
        sleep=sleep,
        stress=stress,
        mood=mood,
        energy=energy,
        soreness=soreness,
    )
    # A very low mood gets a reply that acknowledges it and offers a coach (who sees the
    # guest first on the squad now: readiness.MOOD_VERY_LOW).
    saved = "care" if mood == MOOD_VERY_LOW else "wellness"
    return RedirectResponse(f"{guest.base}?saved={saved}", status_code=303)


# ---------------------------------------------------------------------- progress


def _first_last(values: list[float | None]) -> tuple[float, float] | None:
    present = [v for v in values if v is not None]
    return (present[0], present[-1]) if len(present) >= 2 else None


async def progress(guest: Guest) -> dict[str, Any]:
    data = guest.ctx.data
    athlete_id = guest.athlete.id
    base = await data.baselines(athlete_id)
    sessions = (await data.sessions(athlete_id))[::-1]  # oldest first
    weeks: dict[str, float] = {}
    for s in sessions:
        year, week, _ = dt.date.fromisoformat(str(s["date"])).isocalendar()
        key = f"{year}-W{week:02d}"
        weeks[key] = (
            weeks.get(key, 0.0) + sum(float(s.get(f"zone{z}_s") or 0) for z in (3, 4, 5)) / 60
        )
    hr_max = guest.athlete.hr_max_at(contract.now_ms())
    rest = [r.get("hr_rest_roll7") or r.get("hr_rest") for r in base]
    vo2 = [None if v is None else round(vo2max_uth(hr_max, float(v)), 1) for v in rest]
    return {
        "dates": [str(r["date"]) for r in base],
        "hr_rest": rest,
        "ln_rmssd": [r.get("ln_rmssd_roll7") or r.get("ln_rmssd") for r in base],
        "vo2max": vo2,
        "hrr60": [s.get("hrr60") for s in sessions],
        "weekly_zone_minutes": weeks,
    }


TREND_AFTER = 7  # morning readings before any trend is claimed (the baseline's minimum)


def _progress_words(lang: str, p: dict[str, Any]) -> list[str]:
    """Kind, careful words: nothing about a trend before TREND_AFTER readings (then what is
    still needed), never a fitness-drop headline, never VO2max jargon."""
    readings = sum(1 for v in p["hr_rest"] if v is not None)
    if readings < TREND_AFTER:
        if readings == 0 and not p["hrr60"]:
            return [t(lang, "trend_none")]
        return [t(lang, "trend_wait", need=TREND_AFTER, n=TREND_AFTER - readings)]
    words = []
    rest = _first_last(p["hr_rest"])
    if rest is not None:
        a, b = round(rest[0]), round(rest[1])
        key = "trend_rest_down" if b < a else "trend_rest_up"
        words.append(t(lang, key, a=a, b=b))
    hrv = _first_last(p["ln_rmssd"])
    if hrv is not None:
        key = "trend_hrv_up" if hrv[1] >= hrv[0] else "trend_hrv_down"
        words.append(t(lang, key))
    hrr = _first_last(p["hrr60"])
    if hrr is not None and hrr[1] >= hrr[0]:  # only the good news; a coach reads the rest
        words.append(t(lang, "trend_hrr", a=round(hrr[0]), b=round(hrr[1])))
    return words or [t(lang, "trend_none")]


# ---------------------------------------------------------------------- pages


def _zone_labels(lang: str) -> list[str]:
    return [t(lang, "zone_n", n=z) for z in range(6)]


def _page(guest: Guest, template: str, lang: str, *, title: str, **context: Any) -> HTMLResponse:
    return render(template, lang, title=title, base=guest.base, csrf=guest.csrf, **context)


PHONE_WIDTH = charts.PHONE_WIDTH


def _today(request: Request) -> dt.date:
    return dt.datetime.now(site_zone(request)).date()


def day_label(lang: str, iso_date: str) -> str:
    """A day as a person says it: "Mo 30 Nov", "ma 30 nov"."""
    day = dt.date.fromisoformat(iso_date)
    weekday = t(lang, "weekdays_short").split()[day.weekday()]
    return f"{weekday} {day.day} {t(lang, 'months_short').split()[day.month - 1]}"


def _with_ratings(sessions: list[Row], rated: dict[str, float]) -> list[Row]:
    """Sessions with the guest's own rating from the journal (so an answer shows at once,
    before the next ``analyze``)."""
    out = []
    for s in sessions:
        rpe = rated.get(str(s["session_id"]), s.get("rpe"))
        out.append(s | {"rpe": None if rpe is None else round(float(rpe))})
    return out


def _week(request: Request, lang: str, reports: list[Any]) -> dict[str, Any]:
    """The last 7 days of check-ins: day labels and, per question, the answers."""
    today = _today(request)
    days = [today - dt.timedelta(days=d) for d in range(6, -1, -1)]
    names = t(lang, "weekdays_short").split()
    by_day = {w.date: w for w in reports}
    return {
        "days": days,
        "labels": [names[d.weekday()] for d in days],
        "rows": {
            item: [getattr(by_day[d], item) if d in by_day else None for d in days]
            for item in WELLNESS_ITEMS
        },
        "today": by_day.get(today),
    }


@router.get("/me/{token}", response_class=HTMLResponse, include_in_schema=False)
async def me_page(request: Request, token: str, saved: str = "", edit: int = 0) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    journal = guest.ctx.journal
    rated = {r.session_id: r.rpe for r in await run_db(journal.session_rpes, guest.athlete.id)}
    listed = _with_ratings(await guest.ctx.data.sessions(guest.athlete.id), rated)
    names = await run_db(journal.class_names, [str(s["session_id"]) for s in listed])
    sessions = [
        s | {"day": day_label(lang, str(s["date"])), "class_name": names.get(str(s["session_id"]))}
        for s in listed
    ]
    last = sessions[0] if sessions else None
    last_zones = None
    if last is not None:
        last = await _rating(request, guest, last)
        last_zones = charts.zone_bars(
            [float(last.get(f"zone{z}_s") or 0) for z in range(6)],
            _zone_labels(lang),
            title=f"{t(lang, 'zone_minutes')} · {last['day']}",
        )
    week = _week(request, lang, await run_db(journal.wellness, guest.athlete.id))
    from gympulse.dashboards.guest_summary import latest_summary  # it imports this module

    return _page(
        guest,
        "guest/me.html",
        lang,
        title=t(lang, "your_sessions"),
        guest_name=guest.athlete.name.split()[0] if guest.athlete.name.split() else "",
        saved=saved,
        edit=bool(edit),
        stream=f"/api/me/{quote(token, safe='')}/stream",
        last=last,
        last_zones=last_zones,
        class_summary=await latest_summary(guest),
        sessions=sessions,
        wellness_items=WELLNESS_ITEMS,
        week=week,
        wellness_ok=await allows(guest.ctx, guest.athlete.id, Domain.WELLNESS),
        scripts=("me.js",),
    )


@router.get(
    "/me/{token}/sessions/{session_id}", response_class=HTMLResponse, include_in_schema=False
)
async def me_session_page(request: Request, token: str, session_id: str) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    row = await guest.ctx.data.session(guest.athlete.id, session_id)
    if row is None:
        raise GuestLinkNotFound  # somebody else's or no session: the same small 404 page
    rated = {
        r.session_id: r.rpe for r in await run_db(guest.ctx.journal.session_rpes, guest.athlete.id)
    }
    (row,) = _with_ratings([row], rated)
    row = await _rating(request, guest, row)
    hr = await guest.ctx.data.samples(guest.athlete.id, int(row["start_ms"]), int(row["end_ms"]))
    hr_max = float(row.get("hr_max_ref") or guest.athlete.hr_max_at(int(row["start_ms"])))
    return _page(
        guest,
        "guest/session.html",
        lang,
        title=f"{t(lang, 'session')} {row['date']}",
        row=row,
        session_id=session_id,
        power=await guest.ctx.data.session_power(guest.athlete.id, session_id),
        hr_chart=charts.hr_curve(hr, hr_max, title=t(lang, "hr_curve"), width=PHONE_WIDTH),
        zones_chart=charts.zone_bars(
            [float(row.get(f"zone{z}_s") or 0) for z in range(6)],
            _zone_labels(lang),
            title=t(lang, "zone_minutes"),
        ),
    )


@router.get("/me/{token}/progress", response_class=HTMLResponse, include_in_schema=False)
async def me_progress_page(request: Request, token: str) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    p = await progress(guest)
    shown = []
    if sum(1 for v in p["hr_rest"] if v is not None) >= TREND_AFTER:
        shown.append(
            charts.line_chart(
                [(t(lang, "resting_hr"), p["hr_rest"])],
                p["dates"],
                title=t(lang, "resting_hr"),
                min_span=20.0,  # a few beats of day-to-day noise stay small
                width=PHONE_WIDTH,
            )
        )
    weeks = charts.complete_weeks(p["weekly_zone_minutes"], _today(request))
    if len(weeks) >= 2:
        months = t(lang, "months_short").split()
        shown.append(
            charts.line_chart(
                [(t(lang, "minutes"), list(weeks.values()))],
                [charts.week_label(w, months) for w in weeks],
                title=t(lang, "weekly_zone_minutes"),
                width=PHONE_WIDTH,
            )
        )
    return _page(
        guest,
        "guest/progress.html",
        lang,
        title=t(lang, "progress"),
        words=_progress_words(lang, p),
        charts=shown,
    )
