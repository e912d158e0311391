"""Morning readings on the web: the guest's "Morning reading" page (a strap of the site, or
the guest's own strap over Web Bluetooth at home), the coach's morning station
(``/coach/morning``), the coach's corrections on the athlete page, and the daily status
(:mod:`gympulse.pipeline.analytics.readiness`) for the squad and the guest.

A reading started on a page is kept on the server (:class:`Pending`: who, which strap,
when it started, how); when the page's countdown ends it asks the server to finish it, and
the server takes the reading of [start, now) from the stored samples at once
(:func:`gympulse.pipeline.readings.take_reading`) and answers with the result, or with the
reason it was refused, which the page turns into a kind request to repeat.

Web Bluetooth: the page decodes the strap's 0x2A37 notifications itself (``hrm.js``) and
posts contract samples to ``/api/me/<token>/samples``; the server puts them on the topic
of the guest's own web strap (``web-a<athlete id>``, assigned to the guest) and hands them
to the ingestion service's :meth:`~gympulse.pipeline.ingest.IngestService.ingest` — the same
validation, quarantine and idempotent write as samples from MQTT.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import msgspec
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gympulse import contract
from gympulse.dashboards import charts
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import (
    Coach,
    athlete_or_404,
    coach_of,
    coach_page,
    require_coach,
)
from gympulse.dashboards.guest import Guest, _guest, _lang, resolve_guest
from gympulse.dashboards.i18n import t

# The daily status lives in dashboards/status.py; the coach pages still import it from here.
from gympulse.dashboards.status import (
    guest_status,
    status_words,
    trend_chart,
)
from gympulse.dashboards.status import (
    sort_squad as sort_squad,
)
from gympulse.dashboards.status import (
    squad_statuses as squad_statuses,
)
from gympulse.dashboards.status import (
    status_fields as status_fields,
)
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, RowId, check_csrf
from gympulse.mqtt import Received
from gympulse.pipeline import readings
from gympulse.pipeline.analytics.morning import Refusal
from gympulse.pipeline.journal import MorningRecording
from gympulse.pipeline.registry import Athlete, strap_label

log = logging.getLogger(__name__)
# Every guest route resolves its link (404 for an unknown, expired or revoked one), every
# coach route needs a login: the dependencies sit on the routers, no handler can forget them.
guest_router = APIRouter(dependencies=[Depends(resolve_guest)])
coach_router = APIRouter(dependencies=[Depends(require_coach)])

WEB_COLLECTOR = "web"
MAX_PENDING = 500
PENDING_TTL_MS = 30 * 60_000
MAX_SAMPLES_BODY = 64 * 1024


# ---------------------------------------------------------------------- pending readings


@dataclass(frozen=True, slots=True)
class Pending:
    id: str
    athlete_id: int
    sensor: str | None
    start_ms: int
    duration_s: int
    method: str
    owner: str  # "guest:<athlete id>" or "coach"


def _pending(request: Request) -> dict[str, Pending]:
    found: dict[str, Pending] | None = getattr(request.app.state, "morning_pending", None)
    if found is None:
        found = {}
        request.app.state.morning_pending = found
    now = contract.now_ms()
    for key in [k for k, p in found.items() if now - p.start_ms > PENDING_TTL_MS]:
        del found[key]
    return found


def _start(
    request: Request, athlete_id: int, sensor: str | None, method: str, owner: str
) -> Pending:
    pending = _pending(request)
    if len(pending) >= MAX_PENDING:
        raise HTTPException(status_code=429, detail="too many readings running")
    ctx: AppContext = request.app.state.ctx
    p = Pending(
        secrets.token_urlsafe(12),
        athlete_id,
        sensor,
        contract.now_ms(),
        ctx.settings.morning.duration_s,
        method,
        owner,
    )
    pending[p.id] = p
    return p


def _take(request: Request, pending_id: str, owner: str) -> Pending:
    p = _pending(request).pop(pending_id, None)
    if p is None or p.owner != owner:
        raise HTTPException(status_code=404, detail="no such reading running")
    return p


def _result(lang: str, outcome: MorningRecording | Refusal) -> dict[str, Any]:
    if isinstance(outcome, Refusal):
        return {
            "ok": False,
            "reason": outcome.reason,
            "detail": outcome.detail,
            "message": t(lang, f"refused_{outcome.reason}"),
        }
    hrv = None if outcome.ln_rmssd is None else round(outcome.ln_rmssd, 2)
    hr = None if outcome.hr_rest is None else round(outcome.hr_rest)
    return {
        "ok": True,
        "id": outcome.id,
        "ln_rmssd": outcome.ln_rmssd,
        "rmssd": outcome.rmssd,
        "hr_rest": outcome.hr_rest,
        "n_rr": outcome.n_rr,
        "n_corrected": outcome.n_corrected,
        "message": t(lang, "morning_done"),
        "values": t(lang, "morning_values", hrv=f"{hrv:.2f}" if hrv is not None else "—", hr=hr),
    }


async def _finish(request: Request, p: Pending, lang: str) -> dict[str, Any]:
    ctx: AppContext = request.app.state.ctx
    cfg = ctx.settings.morning
    started = time.monotonic()
    outcome = await readings.take_reading(
        ctx.store, ctx.journal, p.athlete_id, p.start_ms, contract.now_ms(),
        method=p.method, sensor=p.sensor, rules=readings.rules_of(cfg),
        tz=ctx.settings.timezone, wait_s=cfg.wait_for_samples_s,
    )  # fmt: skip
    result = _result(lang, outcome)
    if p.owner.startswith("guest:") and result["ok"]:
        status, _ = await guest_status(ctx, p.athlete_id)
        result["words"] = status_words(lang, status)
        result["level"] = status.level
    result["server_s"] = round(time.monotonic() - started, 3)
    log.info(
        "morning reading of athlete %d (%s): %s", p.athlete_id, p.method, result.get("reason", "ok")
    )
    return result


async def _live_straps(ctx: AppContext) -> list[dict[str, Any]]:
    """Straps sending right now (live or without contact), newest state of each (the
    tiles read on the loop, the labels in a worker thread)."""
    now = contract.now_ms()
    stale = ctx.settings.web.stale_after_s * 1000
    out = []
    for tile in ctx.hub.tiles.values():
        if tile.state == "no-signal" or now - tile.received_ms > stale:
            continue
        if tile.sensor.startswith("web-"):
            continue
        out.append(tile)
    labels = await run_db(ctx.registry.sensor_labels)
    return [
        {
            "sensor": tile.sensor,
            "label": labels.get(tile.sensor) or strap_label(tile.sensor),
            "state": tile.state,
            "bpm": tile.bpm if tile.state == "live" else None,
            "athlete_id": tile.athlete_id,
            "name": tile.name if tile.athlete_id is not None else "",
        }
        for tile in sorted(out, key=lambda t: _natural(t.sensor))
    ]


def _natural(text: str) -> list[Any]:
    """ "strap-2" before "strap-10"."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _assigned_strap(ctx: AppContext, athlete_id: int) -> str | None:
    now = contract.now_ms()
    current = [
        a
        for a in ctx.registry.assignments()
        if a.athlete_id == athlete_id
        and a.start_ms <= now
        and (a.end_ms is None or now < a.end_ms)
        and not a.sensor.startswith("web-")
    ]
    return max(current, key=lambda a: a.start_ms).sensor if current else None


def _wear(ctx: AppContext, sensor: str, athlete_id: int) -> None:
    """Make sure ``athlete_id`` wears ``sensor`` from now on (a strap picked on a page); a
    guest's own web strap is theirs for good (from time 0: samples a phone kept while
    offline are theirs too)."""
    now = contract.now_ms()
    if ctx.registry.resolver().athlete_at(sensor, now) != athlete_id:
        ctx.registry.assign(sensor, athlete_id, 0 if sensor == web_sensor(athlete_id) else now)


def web_sensor(athlete_id: int) -> str:
    """The sensor id of a guest's own strap over Web Bluetooth."""
    return f"web-a{athlete_id}"


# ---------------------------------------------------------------------- guest


class StartBody(msgspec.Struct, forbid_unknown_fields=True):
    sensor: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    bluetooth: bool = False


class StationStart(msgspec.Struct, forbid_unknown_fields=True):
    sensor: Annotated[str, msgspec.Meta(max_length=64)]
    athlete_id: Annotated[int, msgspec.Meta(ge=0, le=2**53)]


T = TypeVar("T")


async def _json_body(request: Request, kind: type[T]) -> T:
    """The request's JSON body as ``kind`` (422 when it is not)."""
    body = await request.body()
    if len(body) > 4096:
        raise HTTPException(status_code=413, detail="body too large")
    try:
        return msgspec.json.decode(body or b"{}", type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise HTTPException(status_code=422, detail=str(err)) from None


def _guest_csrf(request: Request, guest: Guest) -> None:
    check_csrf(
        guest.ctx.secret,
        f"guest:{_token_hash(guest.token)}",
        request.headers.get("x-csrf-token"),
    )


def _token_hash(token: str) -> str:
    from gympulse.dashboards.accounts import token_hash

    return token_hash(token)


@guest_router.get("/me/{token}/morning", response_class=HTMLResponse, include_in_schema=False)
async def guest_morning_page(request: Request, token: str) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    ctx = guest.ctx
    status, base = await guest_status(ctx, guest.athlete.id)
    api = f"/api/me/{quote(token, safe='')}"
    return render(
        "guest/morning.html",
        lang,
        title=t(lang, "morning_reading"),
        base=guest.base,
        csrf=guest.csrf,
        api=api,
        duration_s=ctx.settings.morning.duration_s,
        words=status_words(lang, status),
        level=status.level,
        readings=status.readings,
        chart=trend_chart(lang, base, status) if base else None,
        scripts=("hrm.js", "morning.js"),
    )


@guest_router.get("/api/me/{token}/morning")
async def api_guest_morning(request: Request, token: str) -> dict[str, Any]:
    """The guest's status in words, the straps to choose from, and their own strap."""
    guest = _guest(request, token)
    lang = _lang(request, guest)
    ctx = guest.ctx
    status, _ = await guest_status(ctx, guest.athlete.id)
    assigned = await run_db(_assigned_strap, ctx, guest.athlete.id)
    straps = [
        {"sensor": s["sensor"], "label": s["label"], "state": s["state"]}
        for s in await _live_straps(ctx)
        if s["athlete_id"] in (None, guest.athlete.id)
    ]
    labels = await run_db(ctx.registry.sensor_labels)
    return {
        "status": status.level,
        "readings": status.readings,
        "words": status_words(lang, status),
        "assigned": None
        if assigned is None
        else {"sensor": assigned, "label": labels.get(assigned) or strap_label(assigned)},
        "straps": straps,
        "duration_s": ctx.settings.morning.duration_s,
        "web_sensor": web_sensor(guest.athlete.id),
    }


@guest_router.post("/api/me/{token}/morning/start")
async def api_guest_start(request: Request, token: str) -> dict[str, Any]:
    """Start a reading on a strap (the guest's own, or one that is live and free), or on
    the guest's own strap over Web Bluetooth. JSON ``{"sensor": ...}`` or
    ``{"bluetooth": true}``; header ``X-CSRF-Token``."""
    guest = _guest(request, token)
    _guest_csrf(request, guest)
    body = await _json_body(request, StartBody)
    ctx = guest.ctx
    athlete_id = guest.athlete.id
    sensor: str | None
    if body.bluetooth:
        sensor, method = web_sensor(athlete_id), "bluetooth"
        await run_db(_wear, ctx, sensor, athlete_id)
    else:
        assigned = await run_db(_assigned_strap, ctx, athlete_id)
        sensor = body.sensor or assigned
        if sensor is None:
            raise HTTPException(status_code=422, detail="choose a strap")
        live = await _live_straps(ctx)
        allowed = {s["sensor"] for s in live if s["athlete_id"] in (None, athlete_id)}
        if sensor != assigned and sensor not in allowed:
            raise HTTPException(status_code=409, detail="that strap is not free")
        await run_db(_wear, ctx, sensor, athlete_id)
        method = "guest"
    p = _start(request, athlete_id, sensor, method, f"guest:{athlete_id}")
    return {"id": p.id, "sensor": sensor, "start_ms": p.start_ms, "duration_s": p.duration_s}


@guest_router.post("/api/me/{token}/morning/{pending_id}/finish")
async def api_guest_finish(request: Request, token: str, pending_id: str) -> dict[str, Any]:
    """End the reading now: computed at once, or refused with a kind message."""
    guest = _guest(request, token)
    _guest_csrf(request, guest)
    p = _take(request, pending_id, f"guest:{guest.athlete.id}")
    return await _finish(request, p, _lang(request, guest))


@guest_router.post("/api/me/{token}/morning/{pending_id}/cancel")
async def api_guest_cancel(request: Request, token: str, pending_id: str) -> dict[str, Any]:
    guest = _guest(request, token)
    _guest_csrf(request, guest)
    _take(request, pending_id, f"guest:{guest.athlete.id}")
    return {"cancelled": True}


def _ingest_service(request: Request) -> Any:
    from gympulse.pipeline.ingest import IngestService

    ctx: AppContext = request.app.state.ctx
    service = getattr(request.app.state, "web_ingest", None)
    if service is None:
        service = IngestService(ctx.settings, ctx.store, ctx.registry)
        request.app.state.web_ingest = service
    return service


@guest_router.post("/api/me/{token}/samples")
async def api_guest_samples(request: Request, token: str) -> dict[str, Any]:
    """Samples of the guest's own strap (Web Bluetooth): a contract hr payload (one sample
    or an array) for the guest's web strap. They take the ingestion path of MQTT messages:
    validated, bad ones quarantined with their bytes, stored idempotently on (sensor, ts)."""
    guest = _guest(request, token)
    _guest_csrf(request, guest)
    body = await request.body()
    if len(body) > MAX_SAMPLES_BODY:
        raise HTTPException(status_code=413, detail="too many samples in one post")
    ctx = guest.ctx
    sensor = web_sensor(guest.athlete.id)
    await run_db(_wear, ctx, sensor, guest.athlete.id)
    topic = contract.hr_topic(ctx.settings.site, WEB_COLLECTOR, sensor)
    service = _ingest_service(request)
    before_stored, before_bad = service.stats.stored, sum(service.stats.quarantined.values())
    message = Received(topic, body, 1, False, 0, 0)
    if not await service.ingest([message]):
        raise HTTPException(status_code=503, detail="store unavailable, try again")
    return {
        "stored": service.stats.stored - before_stored,
        "quarantined": sum(service.stats.quarantined.values()) - before_bad,
    }


# ---------------------------------------------------------------------- coach station


def _coach_csrf(request: Request, coach: Coach) -> None:
    coach.check(request.headers.get("x-csrf-token") or "")


@coach_router.get("/coach/morning", response_class=HTMLResponse, include_in_schema=False)
async def station_page(request: Request) -> HTMLResponse:
    coach = coach_of(request)
    return coach_page(
        coach,
        "coach/morning.html",
        title=t(coach.lang, "morning_station"),
        athletes=[{"id": a.id, "name": a.name} for a in coach.ctx.registry.athletes()],
        duration_s=coach.ctx.settings.morning.duration_s,
        scripts=("station.js",),
    )


@coach_router.get("/api/coach/morning/straps")
async def api_station_straps(request: Request) -> list[dict[str, Any]]:
    """The straps sending right now, with who wears them."""
    coach = coach_of(request, api=True)
    return await _live_straps(coach.ctx)


@coach_router.post("/api/coach/morning/start")
async def api_station_start(request: Request) -> dict[str, Any]:
    """Start a reading of ``athlete_id`` on ``sensor`` (the strap is given to them): JSON
    ``{"sensor": ..., "athlete_id": ...}``; header ``X-CSRF-Token``."""
    coach = coach_of(request, api=True)
    _coach_csrf(request, coach)
    body = await _json_body(request, StationStart)
    athlete_or_404(coach.ctx, body.athlete_id)
    await run_db(_wear, coach.ctx, body.sensor, body.athlete_id)
    p = _start(request, body.athlete_id, body.sensor, "station", "coach")
    return {"id": p.id, "sensor": body.sensor, "start_ms": p.start_ms, "duration_s": p.duration_s}


@coach_router.post("/api/coach/morning/{pending_id}/finish")
async def api_station_finish(request: Request, pending_id: str) -> dict[str, Any]:
    coach = coach_of(request, api=True)
    _coach_csrf(request, coach)
    p = _take(request, pending_id, "coach")
    return await _finish(request, p, coach.lang)


@coach_router.post("/api/coach/morning/{pending_id}/cancel")
async def api_station_cancel(request: Request, pending_id: str) -> dict[str, Any]:
    coach = coach_of(request, api=True)
    _coach_csrf(request, coach)
    _take(request, pending_id, "coach")
    return {"cancelled": True}


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
    outcome = await readings.take_reading(
        ctx.store, ctx.journal, athlete_id, start_ms, end_ms, method="coach",
        rules=readings.rules_of(ctx.settings.morning), tz=ctx.settings.timezone,
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
    chart = charts.hr_curve(
        points, athlete.effective_hr_max(date.year), title=f"{t(lang, 'hr_curve')} · {day}"
    )
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
