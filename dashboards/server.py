"""Running the web app inside an existing event loop (one loop per process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn

from gympulse.dashboards.app import create_app
from gympulse.dashboards.live import LiveHub
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings

SHUTDOWN_GRACE_S = 3  # seconds in-flight requests get when the server stops


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_web(
    settings: Settings,
    stop: asyncio.Event,
    *,
    host: str,
    port: int,
    hub: LiveHub | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Run the web app on the current loop until ``stop`` is set."""
    registry = Registry(settings.store.path)
    app = create_app(settings, registry, hub)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        # X-Forwarded-For/-Proto only from the configured reverse proxies (uvicorn's own
        # default believes anything from 127.0.0.1: a login throttle and the board's
        # trusted networks would be one header away).
        proxy_headers=bool(settings.web.trusted_proxies),
        forwarded_allow_ips=list(settings.web.trusted_proxies),
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has only a flag
            await asyncio.sleep(0.05)
        if task.done():
            task.result()  # raises why it could not start (port in use, ...)
            raise RuntimeError(f"web server on {host}:{port} stopped at start-up")
        if started is not None:
            started.set()
        stop_wait = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
    finally:
        # Open Server-Sent Event streams never finish by themselves: end them first, or
        # uvicorn's graceful shutdown would wait for them (then by a bounded timeout).
        app.state.ctx.hub.end_streams()
        server.should_exit = True
        await task
        app.state.ctx.close()
        registry.close()
