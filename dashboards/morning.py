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

import asyncio
import logging
import math
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import (
    athlete_or_404,
    coach_of,
    coach_page,
    require_coach,
)
from gympulse.dashboards.consent_check import NoConsent, allows, ensure
from gympulse.dashboards.guest import _guest, _lang, resolve_guest
from gympulse.dashboards.i18n import sensor_label, t
from gympulse.dashboards.morning_pending import (
    MAX_SAMPLES_BODY,
    WEB_COLLECTOR,
    StartBody,
    StationStart,
    assigned_strap,
    check_coach_csrf,
    check_guest_csrf,
    finish_pending,
    json_body,
    live_straps,
    start_pending,
    take_pending,
    wear_strap,
    web_sensor,
)
from gympulse.dashboards.sample_rate import count_samples
from gympulse.dashboards.status import guest_status, status_words, trend_chart
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext
from gympulse.mqtt import Received
from gympulse.pipeline.consent import Domain

log = logging.getLogger(__name__)
# Every guest route resolves its link (404 for an unknown, expired or revoked one), every
# coach route needs a login: the dependencies sit on the routers, no handler can forget them.
guest_router = APIRouter(dependencies=[Depends(resolve_guest)])
coach_router = APIRouter(dependencies=[Depends(require_coach)])


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
    assigned = await assigned_strap(ctx, guest.athlete.id)
    straps = [
        {"sensor": s["sensor"], "label": s["label"], "state": s["state"]}
        for s in await live_straps(ctx, lang)
        if s["athlete_id"] in (None, guest.athlete.id)
    ]
    labels = await run_db(ctx.registry.sensor_labels)
    return {
        "status": status.level,
        "readings": status.readings,
        "words": status_words(lang, status),
        "assigned": None
        if assigned is None
        else {"sensor": assigned, "label": sensor_label(lang, assigned, labels)},
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
    check_guest_csrf(request, guest)
    body = await json_body(request, StartBody)
    ctx = guest.ctx
    athlete_id = guest.athlete.id
    await ensure(ctx, athlete_id, Domain.MORNING)
    sensor: str | None
    if body.bluetooth:
        sensor, method = web_sensor(athlete_id), "bluetooth"
        await run_db(wear_strap, ctx, sensor, athlete_id)
    else:
        assigned = await assigned_strap(ctx, athlete_id)
        sensor = body.sensor or assigned
        if sensor is None:
            raise HTTPException(status_code=422, detail="choose a strap")
        live = await live_straps(ctx)
        allowed = {s["sensor"] for s in live if s["athlete_id"] in (None, athlete_id)}
        if sensor != assigned and sensor not in allowed:
            raise HTTPException(status_code=409, detail="that strap is not free")
        await run_db(wear_strap, ctx, sensor, athlete_id)
        method = "guest"
    p = start_pending(request, athlete_id, sensor, method, f"guest:{athlete_id}")
    return {"id": p.id, "sensor": sensor, "start_ms": p.start_ms, "duration_s": p.duration_s}


@guest_router.post("/api/me/{token}/morning/{pending_id}/finish")
async def api_guest_finish(request: Request, token: str, pending_id: str) -> dict[str, Any]:
    """End the reading now: computed at once, or refused with a kind message."""
    guest = _guest(request, token)
    check_guest_csrf(request, guest)
    p = take_pending(request, pending_id, f"guest:{guest.athlete.id}")
    return await finish_pending(request, p, _lang(request, guest))


@guest_router.post("/api/me/{token}/morning/{pending_id}/cancel")
async def api_guest_cancel(request: Request, token: str, pending_id: str) -> dict[str, Any]:
    guest = _guest(request, token)
    check_guest_csrf(request, guest)
    take_pending(request, pending_id, f"guest:{guest.athlete.id}")
    return {"cancelled": True}


def _ingest_service(ctx: AppContext) -> tuple[Any, asyncio.Lock]:
    """The app's one ingestion service for Web Bluetooth samples, made on first use (in
    the running loop, which the lock belongs to)."""
    from gympulse.pipeline.ingest import IngestService

    if ctx.web_ingest is None or ctx.web_ingest_lock is None:
        ctx.web_ingest = IngestService(ctx.settings, ctx.store, ctx.registry)
        ctx.web_ingest_lock = asyncio.Lock()
    return ctx.web_ingest, ctx.web_ingest_lock


@guest_router.post("/api/me/{token}/samples")
async def api_guest_samples(request: Request, token: str) -> dict[str, Any]:
    """Samples of the guest's own strap (Web Bluetooth): a contract hr payload (one sample
    or an array) for the guest's web strap. They take the ingestion path of MQTT messages:
    validated, bad ones quarantined with their bytes, stored idempotently on (sensor, ts)."""
    guest = _guest(request, token)
    check_guest_csrf(request, guest)
    body = await request.body()
    if len(body) > MAX_SAMPLES_BODY:
        raise HTTPException(status_code=413, detail="too many samples in one post")
    wait_s = guest.ctx.sample_rate.take(guest.athlete.id, count_samples(body))
    if wait_s > 0:
        raise HTTPException(
            status_code=429,
            detail="more samples than a strap sends: keep them and try again later",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    ctx = guest.ctx
    if not (
        await allows(ctx, guest.athlete.id, Domain.LIVE)
        or await allows(ctx, guest.athlete.id, Domain.MORNING)
    ):  # her heart rate is stored with either consent (pipeline/ingest.py)
        raise NoConsent(Domain.LIVE)
    sensor = web_sensor(guest.athlete.id)
    await run_db(wear_strap, ctx, sensor, guest.athlete.id)
    topic = contract.hr_topic(ctx.settings.site, WEB_COLLECTOR, sensor)
    service, lock = _ingest_service(ctx)
    message = Received(topic, body, 1, False, 0, 0)
    # The answer counts this post's samples: one post at a time reads the service's
    # counters around its ingest (30 guests posting at once got each other's counts).
    async with lock:
        before_stored, before_bad = service.stats.stored, sum(service.stats.quarantined.values())
        if not await service.ingest([message]):
            raise HTTPException(status_code=503, detail="store unavailable, try again")
        return {
            "stored": service.stats.stored - before_stored,
            "quarantined": sum(service.stats.quarantined.values()) - before_bad,
        }


# ---------------------------------------------------------------------- coach station


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
    return await live_straps(coach.ctx, coach.lang)


@coach_router.post("/api/coach/morning/start")
async def api_station_start(request: Request) -> dict[str, Any]:
    """Start a reading of ``athlete_id`` on ``sensor`` (the strap is given to them): JSON
    ``{"sensor": ..., "athlete_id": ...}``; header ``X-CSRF-Token``."""
    coach = coach_of(request, api=True)
    check_coach_csrf(request, coach)
    body = await json_body(request, StationStart)
    athlete_or_404(coach.ctx, body.athlete_id)
    await ensure(coach.ctx, body.athlete_id, Domain.MORNING)
    await run_db(wear_strap, coach.ctx, body.sensor, body.athlete_id)
    p = start_pending(request, body.athlete_id, body.sensor, "station", "coach")
    return {"id": p.id, "sensor": body.sensor, "start_ms": p.start_ms, "duration_s": p.duration_s}


@coach_router.post("/api/coach/morning/{pending_id}/finish")
async def api_station_finish(request: Request, pending_id: str) -> dict[str, Any]:
    coach = coach_of(request, api=True)
    check_coach_csrf(request, coach)
    p = take_pending(request, pending_id, "coach")
    return await finish_pending(request, p, coach.lang)


@coach_router.post("/api/coach/morning/{pending_id}/cancel")
async def api_station_cancel(request: Request, pending_id: str) -> dict[str, Any]:
    coach = coach_of(request, api=True)
    check_coach_csrf(request, coach)
    take_pending(request, pending_id, "coach")
    return {"cancelled": True}
