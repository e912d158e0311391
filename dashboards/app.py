"""The built-in web app (FastAPI): live board, coach view, guest pages.

Everything it serves ships inside the package (no CDN, no build step), so it works on a gym
network without internet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles

from gympulse import __version__, contract
from gympulse.dashboards import (
    access,
    admin,
    coach,
    coach_auth,
    coach_exports,
    coach_links,
    coach_strength,
    guest,
    morning,
    morning_coach,
    strength,
)
from gympulse.dashboards.access import run_db
from gympulse.dashboards.i18n import LIVE_KEYS, pick_language, t
from gympulse.dashboards.live import END_OF_STREAM, LiveHub
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, security_headers
from gympulse.pipeline.journal import ScheduledClass
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.settings import Settings

log = logging.getLogger(__name__)
SSE_KEEPALIVE_S = 15.0
BOARD_RECENT_MS = 3 * 3_600_000  # a board may show the summary of a class this recent
# The credentials as dependencies (module level: annotations are resolved by name).
Board = Annotated[access.Viewer, Depends(access.board_viewer)]
CoachLogin = Annotated[coach_auth.Coach, Depends(coach_auth.require_coach)]
STATIC_DIR = resources.files("gympulse.dashboards") / "static"


def create_app(settings: Settings, registry: Registry, hub: LiveHub | None = None) -> FastAPI:
    """The ASGI app. Without a ``hub`` the app makes and runs its own during its lifespan."""
    own_hub = hub is None
    live = hub if hub is not None else LiveHub(settings, registry)
    secret = settings.web.secret_key.encode() or secrets.token_bytes(32)
    store = make_store(settings.store)
    ctx = AppContext(
        hub=live, registry=registry, store=store, secret=secret, site=settings.site,
        settings=settings,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The SQLite connections live as long as the app (its owner closes them with
        # app.state.ctx.close()): a lifespan may run more than once on one app in tests.
        # The time-series store (SQLite or InfluxDB) is opened for each lifespan.
        await ctx.data.open_store()
        ctx.guard.start()
        try:
            if own_hub:
                await live.start()
            try:
                yield
            finally:
                if own_hub:
                    await live.stop()
        finally:
            await ctx.guard.stop()
            await ctx.data.close_store()

    # The API docs show every route and its fields: for the coach only (routes below).
    app = FastAPI(
        title="gympulse",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = live
    app.state.settings = settings
    app.state.registry = registry
    app.state.ctx = ctx
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(coach_auth.public_router)
    app.include_router(morning.guest_router)
    app.include_router(morning.coach_router)
    app.include_router(morning_coach.coach_router)
    app.include_router(coach_auth.router)
    app.include_router(coach.router)
    app.include_router(coach_links.router)
    app.include_router(coach_exports.router)
    app.include_router(admin.router)
    app.include_router(guest.router)
    app.include_router(strength.router)
    app.include_router(coach_strength.router)

    @app.exception_handler(coach_auth.NotLoggedIn)
    async def to_login(request: Request, exc: coach_auth.NotLoggedIn) -> RedirectResponse:
        return RedirectResponse("/coach/login", status_code=303)

    app.exception_handler(guest.GuestLinkNotFound)(guest.link_not_found)

    @app.exception_handler(access.BoardLocked)
    async def board_locked(request: Request, exc: access.BoardLocked) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return JSONResponse({"detail": exc.detail}, status_code=403)
        lang = pick_language(request.headers.get("accept-language"))
        return render(
            "notice.html",
            lang,
            title=t(lang, "board_locked_title"),
            message=t(lang, "board_locked"),
            link="/coach/login",
            link_text=t(lang, "login"),
            status_code=403,
        )

    @app.exception_handler(sqlite3.OperationalError)
    async def database_busy(request: Request, exc: sqlite3.OperationalError) -> Response:
        """Another process holds the SQLite write lock longer than the web's short busy
        timeout: a quick "try again" (503), never a frozen server."""
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        log.warning("database busy (%s): %s %s", exc, request.method, request.url.path)
        headers = {"Retry-After": "2"}
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "database busy, try again shortly"}, status_code=503, headers=headers
            )
        lang = pick_language(request.headers.get("accept-language"))
        return render(
            "notice.html",
            lang,
            title=t(lang, "busy_title"),
            message=t(lang, "busy"),
            link="",
            link_text="",
            status_code=503,
            headers=headers,
        )

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": "time-series store unavailable, try again shortly"},
            status_code=503,
            headers={"Retry-After": "10"},
        )

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/live")

    @app.get("/board/{token}", include_in_schema=False)
    async def board_link(request: Request, token: str) -> Response:
        """A board link (the gym's TV): remembers the token in a cookie, opens the board."""
        if len(token) > 200 or not await run_db(ctx.accounts.board_token_valid, token):
            raise guest.GuestLinkNotFound
        response = RedirectResponse("/live", status_code=303)
        response.set_cookie(
            access.BOARD_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=400 * 86_400,
        )
        return response

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: CoachLogin) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_: CoachLogin) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="gympulse API")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(_: CoachLogin) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="gympulse API")

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    async def live_page(request: Request, _: Board) -> HTMLResponse:
        lang = pick_language(request.headers.get("accept-language"), settings.web.language)
        strings = {key: t(lang, key) for key in LIVE_KEYS}
        return render("live.html", lang, title="live", scripts=("live.js",), strings=strings)

    @app.get("/api/live/snapshot")
    async def live_snapshot(_: Board) -> list[dict[str, Any]]:
        """Every tile as it is now (board link, coach login or trusted network)."""
        return live.snapshot()

    @app.get("/api/live/class")
    async def live_class(_: Board) -> dict[str, Any]:
        """Server time; ``class``: the class running now, else the next one today, else
        the last one that ended today; ``next``: the next class to start today; ``ended``:
        the last class that ended today (its summary is shown until the next class
        starts). Days are those of the site's time zone."""
        now = contract.now_ms()
        running, upcoming, ended = board_classes(await run_db(_todays_classes, now), now)
        chosen = running or upcoming or ended
        per_minute = settings.web.points_per_class_minute
        return {
            "now_ms": now,
            "class": _class_json(chosen, per_minute),
            "next": _class_json(upcoming, per_minute),
            "ended": _class_json(ended, per_minute),
        }

    @app.get("/api/live/summary")
    async def live_summary(
        viewer: Board,
        class_id: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    ) -> list[dict[str, Any]]:
        """Per participant of a class (``class_id``; default the latest class started
        today): minutes per zone, points, kcal and peak HR over the class's own window —
        only who trained in it — and HRR60 from the class's session summary once
        ``gympulse analyze`` has written it. With no class, totals since each strap was
        put on. A class of an earlier day needs the coach (the board shows today's)."""
        chosen = await run_db(_summary_class, class_id)
        if class_id is not None and viewer.kind != "coach":
            # The board's classes: today's (site time), or one that ended in the last
            # BOARD_RECENT_MS (a class just before midnight). Older ones: the coach's.
            now = contract.now_ms()
            today = {c.id for c in await run_db(_todays_classes, now)}
            recent = chosen is not None and chosen.end_ms >= now - BOARD_RECENT_MS
            if class_id not in today and not recent:
                raise HTTPException(status_code=403, detail="an earlier class needs the coach")
        rows = live.summary(None if chosen is None else (chosen.start_ms, chosen.end_ms))
        for row in rows:
            row["hrr60"] = None
            if chosen is None or row["athlete_id"] is None:
                continue
            try:
                session = await ctx.data.session(int(row["athlete_id"]), f"class-{chosen.id}")
            except StoreUnavailable:
                break  # the board works without the store: HRR60 stays "–"
            if session is not None and session.get("hrr60") is not None:
                row["hrr60"] = float(session["hrr60"])
        return rows

    def _todays_classes(now: int) -> list[ScheduledClass]:
        start, end = local_day_bounds(now, settings.timezone)
        return ctx.journal.classes(start_ms=start, end_ms=end)

    def _summary_class(class_id: int | None) -> ScheduledClass | None:
        now = contract.now_ms()
        if class_id is None:
            started = [c for c in _todays_classes(now) if c.start_ms <= now]
            return started[-1] if started else None
        return next((c for c in ctx.journal.classes() if c.id == class_id), None)

    @app.get("/api/live/stream", response_class=StreamingResponse)
    async def live_stream(viewer: Board) -> StreamingResponse:
        """Server-Sent Events: a ``tile`` event per change, after a snapshot of all tiles.
        Ends within a second or two when the board link is revoked or the coach logs out."""
        queue = live.subscribe()
        ctx.guard.watch(queue, viewer)

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                for tile in live.snapshot(spark=True):
                    yield _tile_event(tile)
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
                    except TimeoutError:
                        event = ": keep-alive\n\n"
                    if event == END_OF_STREAM:
                        return  # the server is stopping
                    yield event
            finally:
                ctx.guard.forget(queue)
                live.unsubscribe(queue)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        connected = live.mqtt is not None and live.mqtt.connected.is_set()
        return {"ok": True, "mqtt_connected": connected, "tiles": len(live.tiles)}

    return app


def local_day_bounds(now_ms: int, timezone: str) -> tuple[int, int]:
    """[start, end) in epoch ms of the calendar day of ``now_ms`` in ``timezone``."""
    import datetime as dt
    from zoneinfo import ZoneInfo

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
