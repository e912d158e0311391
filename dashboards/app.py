"""The built-in web app (FastAPI): live board now; coach and guest views build on it.

Everything it serves ships inside the package (no CDN, no build step), so it works on a gym
network without internet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from dashboards.live import LiveHub
from gympulse import __version__
from gympulse.settings import Settings
from pipeline.registry import Registry

SSE_KEEPALIVE_S = 15.0
STATIC_DIR = resources.files("dashboards") / "static"


def _page(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def create_app(settings: Settings, registry: Registry, hub: LiveHub | None = None) -> FastAPI:
    """The ASGI app. Without a ``hub`` the app makes and runs its own during its lifespan."""
    own_hub = hub is None
    live = hub if hub is not None else LiveHub(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own_hub:
            await live.start()
        try:
            yield
        finally:
            if own_hub:
                await live.stop()

    app = FastAPI(title="gympulse", version=__version__, lifespan=lifespan)
    app.state.hub = live
    app.state.settings = settings
    app.state.registry = registry
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/live")

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    async def live_page() -> HTMLResponse:
        return HTMLResponse(_page("live.html"))

    @app.get("/api/live/snapshot")
    async def live_snapshot() -> list[dict[str, Any]]:
        """Every tile as it is now."""
        return live.snapshot()

    @app.get("/api/live/stream", response_class=StreamingResponse)
    async def live_stream(request: Request) -> StreamingResponse:
        """Server-Sent Events: a ``tile`` event per change, after a snapshot of all tiles."""
        queue = live.subscribe()

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                for tile in live.snapshot():
                    yield _tile_event(tile)
                while True:
                    try:
                        yield await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
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
    import json

    return f"event: tile\ndata: {json.dumps(tile, separators=(',', ':'))}\n\n"
