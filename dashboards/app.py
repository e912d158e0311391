"""The built-in web app (FastAPI): live board, coach view, guest pages.

Everything it serves ships inside the package (no CDN, no build step), so it works on a gym
network without internet.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from gympulse import __version__, contract
from gympulse.dashboards import admin, coach, guest
from gympulse.dashboards.i18n import pick_language
from gympulse.dashboards.live import END_OF_STREAM, LiveHub
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, security_headers
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.settings import Settings

SSE_KEEPALIVE_S = 15.0
STATIC_DIR = resources.files("gympulse.dashboards") / "static"


def create_app(settings: Settings, registry: Registry, hub: LiveHub | None = None) -> FastAPI:
    """The ASGI app. Without a ``hub`` the app makes and runs its own during its lifespan."""
    own_hub = hub is None
    live = hub if hub is not None else LiveHub(settings, registry)
    secret = settings.web.secret_key.encode() or secrets.token_bytes(32)
    store = make_store(settings.store)
    ctx = AppContext(hub=live, registry=registry, store=store, secret=secret, site=settings.site)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The SQLite connections live as long as the app (its owner closes them with
        # app.state.ctx.close()): a lifespan may run more than once on one app in tests.
        # The time-series store (SQLite or InfluxDB) is opened for each lifespan.
        await ctx.data.open_store()
        try:
            if own_hub:
                await live.start()
            try:
                yield
            finally:
                if own_hub:
                    await live.stop()
        finally:
            await ctx.data.close_store()

    app = FastAPI(title="gympulse", version=__version__, lifespan=lifespan)
    app.state.hub = live
    app.state.settings = settings
    app.state.registry = registry
    app.state.ctx = ctx
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(coach.router)
    app.include_router(admin.router)
    app.include_router(guest.router)

    @app.exception_handler(coach.NotLoggedIn)
    async def to_login(request: Request, exc: coach.NotLoggedIn) -> RedirectResponse:
        return RedirectResponse("/coach/login", status_code=303)

    app.exception_handler(guest.GuestLinkNotFound)(guest.link_not_found)

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

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    async def live_page(request: Request) -> HTMLResponse:
        lang = pick_language(request.headers.get("accept-language"))
        return render("live.html", lang, title="live", scripts=("live.js",))

    @app.get("/api/live/snapshot")
    async def live_snapshot() -> list[dict[str, Any]]:
        """Every tile as it is now."""
        return live.snapshot()

    @app.get("/api/live/class")
    async def live_class() -> dict[str, Any]:
        """The class running now (or the next one today): name, start and end, server time."""
        now = contract.now_ms()
        today_end = now - now % 86_400_000 + 86_400_000
        upcoming = ctx.journal.classes(start_ms=now - 120_000, end_ms=today_end)
        current = next((c for c in upcoming if c.start_ms <= now), None)
        chosen = current or (upcoming[0] if upcoming else None)
        return {
            "now_ms": now,
            "class": None
            if chosen is None
            else {"id": chosen.id, "name": chosen.name, "start_ms": chosen.start_ms,
                  "end_ms": chosen.end_ms},
        }  # fmt: skip

    @app.get("/api/live/summary")
    async def live_summary(
        class_id: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    ) -> list[dict[str, Any]]:
        """Per participant since their strap went on: minutes per zone, points, kcal,
        peak HR; and HRR60 from the class's session summary once ``gympulse analyze`` has
        written it (``class_id``: that class, default the latest class started today)."""
        rows = live.summary()
        chosen = _summary_class(class_id)
        for row in rows:
            row["hrr60"] = None
            if chosen is None or row["athlete_id"] is None:
                continue
            try:
                session = await ctx.data.session(int(row["athlete_id"]), f"class-{chosen}")
            except StoreUnavailable:
                break  # the board works without the store: HRR60 stays "–"
            if session is not None and session.get("hrr60") is not None:
                row["hrr60"] = float(session["hrr60"])
        return rows

    def _summary_class(class_id: int | None) -> int | None:
        if class_id is not None:
            return class_id
        now = contract.now_ms()
        today = now - now % 86_400_000
        started = ctx.journal.classes(start_ms=today, end_ms=now + 1)
        return started[-1].id if started else None

    @app.get("/api/live/stream", response_class=StreamingResponse)
    async def live_stream(request: Request) -> StreamingResponse:
        """Server-Sent Events: a ``tile`` event per change, after a snapshot of all tiles."""
        queue = live.subscribe()

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


def _tile_event(tile: dict[str, Any]) -> str:
    return f"event: tile\ndata: {json.dumps(tile, separators=(',', ':'))}\n\n"
