"""The live board's routes: the TV's board link, the board page, its snapshot, class,
summary and event stream, and the health check. The hub (:class:`LiveHub`) holds the
tiles; these routes only read it (the board link, a coach login or a trusted network is
the credential: :func:`access.board_viewer`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from gympulse import contract
from gympulse.dashboards import access, guest
from gympulse.dashboards.access import run_db
from gympulse.dashboards.board_privacy import board_summary, board_tile
from gympulse.dashboards.i18n import LIVE_KEYS, pick_language, t
from gympulse.dashboards.live import END_OF_STREAM
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, ctx_of, over_https
from gympulse.pipeline.journal import ScheduledClass
from gympulse.pipeline.stores.base import StoreUnavailable

SSE_KEEPALIVE_S = 15.0
SSE_COALESCE_MAX = 256  # events sent in one write to one viewer at most
BOARD_RECENT_MS = 3 * 3_600_000  # a board may show the summary of a class this recent
Board = Annotated[access.Viewer, Depends(access.board_viewer)]

router = APIRouter()


@router.get("/board/{token}", include_in_schema=False)
async def board_link(request: Request, token: str) -> Response:
    """A board link (the gym's TV): remembers the token in a cookie, opens the board."""
    ctx = ctx_of(request)
    if len(token) > 200 or not await run_db(ctx.accounts.board_token_valid, token):
        raise guest.GuestLinkNotFound
    response = RedirectResponse("/live", status_code=303)
    response.set_cookie(
        access.BOARD_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        max_age=400 * 86_400,
    )
    return response


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
async def live_page(request: Request, _: Board) -> HTMLResponse:
    settings = ctx_of(request).settings
    lang = pick_language(request.headers.get("accept-language"), settings.web.language)
    strings = {key: t(lang, key) for key in LIVE_KEYS}
    return render(
        "live.html",
        lang,
        title="live",
        scripts=("live.js",),
        strings=strings,
        privacy=settings.web.board_privacy,
    )


@router.get("/api/live/snapshot")
async def live_snapshot(request: Request, _: Board) -> list[dict[str, Any]]:
    """Every tile as it is now (board link, coach login or trusted network)."""
    ctx = ctx_of(request)
    privacy = ctx.settings.web.board_privacy
    return [board_tile(tile, privacy) for tile in ctx.hub.snapshot()]


@router.get("/api/live/class")
async def live_class(request: Request, _: Board) -> dict[str, Any]:
    """Server time; ``class``: the class running now, else the next one today, else
    the last one that ended today; ``next``: the next class to start today; ``ended``:
    the last class that ended today (its summary is shown until the next class
    starts). Days are those of the site's time zone."""
    ctx = ctx_of(request)
    now = contract.now_ms()
    running, upcoming, ended = board_classes(await run_db(_todays_classes, ctx, now), now)
    chosen = running or upcoming or ended
    per_minute = ctx.settings.web.points_per_class_minute
    return {
        "now_ms": now,
        "class": _class_json(chosen, per_minute),
        "next": _class_json(upcoming, per_minute),
        "ended": _class_json(ended, per_minute),
    }


@router.get("/api/live/summary")
async def live_summary(
    request: Request,
    viewer: Board,
    class_id: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> list[dict[str, Any]]:
    """Per participant of a class (``class_id``; default the latest class started
    today): minutes per zone, points, kcal and peak HR over the class's own window —
    only who trained in it — and HRR60 from the class's session summary once
    ``gympulse analyze`` has written it. With no class, totals since each strap was
    put on. A class of an earlier day needs the coach (the board shows today's)."""
    ctx = ctx_of(request)
    chosen = await run_db(_summary_class, ctx, class_id)
    if class_id is not None and viewer.kind != "coach":
        # The board's classes: today's (site time), or one that ended in the last
        # BOARD_RECENT_MS (a class just before midnight). Older ones: the coach's.
        now = contract.now_ms()
        today = {c.id for c in await run_db(_todays_classes, ctx, now)}
        recent = chosen is not None and chosen.end_ms >= now - BOARD_RECENT_MS
        if class_id not in today and not recent:
            raise HTTPException(status_code=403, detail="an earlier class needs the coach")
    rows = ctx.hub.summary(None if chosen is None else (chosen.start_ms, chosen.end_ms))
    for row in rows if ctx.settings.web.board_privacy == "full" else ():
        row["hrr60"] = None
        if chosen is None or row["athlete_id"] is None:
            continue
        try:
            session = await ctx.data.session(int(row["athlete_id"]), f"class-{chosen.id}")
        except StoreUnavailable:
            break  # the board works without the store: HRR60 stays "–"
        if session is not None and session.get("hrr60") is not None:
            row["hrr60"] = float(session["hrr60"])
    # The shared screen: no kcal, peak HR or HRR60 when the site keeps them private (each
    # guest's own page shows theirs in full: guest_summary).
    return board_summary(rows, ctx.settings.web.board_privacy)


@router.get("/api/live/stream", response_class=StreamingResponse)
async def live_stream(request: Request, viewer: Board) -> StreamingResponse:
    """Server-Sent Events: a ``tile`` event per change, after a snapshot of all tiles.
    Ends within a second or two when the board link is revoked or the coach logs out."""
    ctx = ctx_of(request)
    live = ctx.hub
    privacy = ctx.settings.web.board_privacy
    queue = live.subscribe(privacy=privacy)
    ctx.guard.watch(queue, viewer)

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            for tile in live.snapshot(spark=True):
                yield _tile_event(board_tile(tile, privacy))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
                except TimeoutError:
                    event = ": keep-alive\n\n"
                # What queued up meanwhile goes out in the same write: with hundreds of
                # viewers, one send per event is what makes the board fall behind.
                events = [event]
                while not queue.empty() and len(events) < SSE_COALESCE_MAX:
                    events.append(queue.get_nowait())
                if END_OF_STREAM in events:
                    yield "".join(events[: events.index(END_OF_STREAM)])
                    return  # the server is stopping
                yield "".join(events)
        finally:
            ctx.guard.forget(queue)
            live.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    live = ctx_of(request).hub
    connected = live.mqtt is not None and live.mqtt.connected.is_set()
    return {"ok": True, "mqtt_connected": connected, "tiles": len(live.tiles)}


def _todays_classes(ctx: AppContext, now: int) -> list[ScheduledClass]:
    start, end = local_day_bounds(now, ctx.settings.timezone)
    return ctx.journal.classes(start_ms=start, end_ms=end)


def _summary_class(ctx: AppContext, class_id: int | None) -> ScheduledClass | None:
    now = contract.now_ms()
    if class_id is None:
        started = [c for c in _todays_classes(ctx, now) if c.start_ms <= now]
        return started[-1] if started else None
    return next((c for c in ctx.journal.classes() if c.id == class_id), None)


def local_day_bounds(now_ms: int, timezone: str) -> tuple[int, int]:
    """[start, end) in epoch ms of the calendar day of ``now_ms`` in ``timezone``."""
    zone = dt.UTC if timezone == "UTC" else ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(now_ms / 1000, zone).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def board_classes(
    classes: list[ScheduledClass], now_ms: int
) -> tuple[ScheduledClass | None, ScheduledClass | None, ScheduledClass | None]:
    """Pure: (running, next, last ended) among ``classes`` at ``now_ms``; of overlapping
    running classes the one that started last."""
    running = [c for c in classes if c.start_ms <= now_ms < c.end_ms]
    upcoming = [c for c in classes if c.start_ms > now_ms]
    ended = [c for c in classes if c.end_ms <= now_ms]
    return (
        max(running, key=lambda c: c.start_ms, default=None),
        min(upcoming, key=lambda c: c.start_ms, default=None),
        max(ended, key=lambda c: c.end_ms, default=None),
    )


def _class_json(c: ScheduledClass | None, per_minute: float) -> dict[str, Any] | None:
    if c is None:
        return None
    # The class's points target: points_per_class_minute × its length in minutes.
    target = round((c.end_ms - c.start_ms) / 60_000 * per_minute)
    return {"id": c.id, "name": c.name, "start_ms": c.start_ms, "end_ms": c.end_ms,
            "target_points": target}  # fmt: skip


def _tile_event(tile: dict[str, Any]) -> str:
    return f"event: tile\ndata: {json.dumps(tile, separators=(',', ':'))}\n\n"
