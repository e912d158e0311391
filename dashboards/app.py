"""The built-in web app (FastAPI): live board, coach view, guest pages.

Everything it serves ships inside the package (no CDN, no build step), so it works on a gym
network without internet.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from gympulse import __version__
from gympulse.dashboards import (
    access,
    admin,
    after_stay,
    audit,
    board,
    coach,
    coach_auth,
    coach_exports,
    coach_links,
    coach_strength,
    coach_today,
    consent_check,
    consent_web,
    error_pages,
    fit_upload,
    guest,
    guest_summary,
    morning,
    morning_coach,
    strength,
    strength_routine,
)
from gympulse.dashboards.body_limit import BodyLimit
from gympulse.dashboards.live import LiveHub
from gympulse.dashboards.web import AppContext, security_headers
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.settings import Settings

log = logging.getLogger(__name__)
# The credentials as dependencies (module level: annotations are resolved by name).
CoachLogin = Annotated[coach_auth.Coach, Depends(coach_auth.require_coach)]
STATIC_DIR = resources.files("gympulse.dashboards") / "static"


def create_app(settings: Settings, registry: Registry, hub: LiveHub | None = None) -> FastAPI:
    """The ASGI app. Without a ``hub`` the app makes and runs its own during its lifespan."""
    own_hub = hub is None
    live = hub if hub is not None else LiveHub(settings, registry)
    secret = settings.web.secret_key.encode() or secrets.token_bytes(32)
    store = make_store(settings.store, zone=settings.timezone)
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
    app.state.ctx = ctx
    app.middleware("http")(security_headers)
    # Outermost: a body is counted as it is read; the FIT uploads have a bound of their own.
    app.add_middleware(
        BodyLimit,
        wider=[
            (
                fit_upload.FIT_PATH,
                fit_upload.body_bound(settings),
                fit_upload.too_large_page(settings),
            )
        ],
    )
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        """Browsers and tools that ask for /favicon.ico get the page icon (no 404 per page)."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.include_router(coach_auth.public_router)
    app.include_router(morning.guest_router)
    app.include_router(morning.coach_router)
    # Coach reads of one athlete's data go into the access log (dashboards/audit.py).
    viewed = [Depends(audit.coach_view)]
    app.include_router(morning_coach.coach_router, dependencies=viewed)
    app.include_router(coach_auth.router)
    app.include_router(coach.router, dependencies=viewed)
    app.include_router(coach_today.router)
    app.include_router(coach_links.router)
    app.include_router(coach_exports.router)
    app.include_router(consent_web.guest_router)
    app.include_router(consent_web.coach_router)
    app.include_router(admin.router)
    app.include_router(guest.router)
    app.include_router(guest_summary.router)
    app.include_router(strength.router)
    app.include_router(strength_routine.router)
    app.include_router(coach_strength.router, dependencies=viewed)
    app.include_router(fit_upload.guest_router)
    app.include_router(fit_upload.coach_router)
    app.include_router(after_stay.router)

    @app.exception_handler(coach_auth.NotLoggedIn)
    async def to_login(request: Request, exc: coach_auth.NotLoggedIn) -> RedirectResponse:
        return RedirectResponse("/coach/login", status_code=303)

    app.exception_handler(guest.GuestLinkNotFound)(guest.link_not_found)
    app.exception_handler(access.StayEnded)(guest.stay_ended_page)
    app.exception_handler(consent_check.NoConsent)(consent_check.no_consent)
    # Every other error a person can reach: a page in their language (JSON for the API).
    app.add_exception_handler(StarletteHTTPException, error_pages.on_http_error)
    app.add_exception_handler(RequestValidationError, error_pages.on_invalid_request)
    app.add_exception_handler(Exception, error_pages.on_bug)

    @app.exception_handler(access.BoardLocked)
    async def board_locked(request: Request, exc: access.BoardLocked) -> Response:
        return error_pages.notice(
            request,
            403,
            exc.detail,
            title="board_locked_title",
            message="board_locked",
            link="/coach/login",
            link_text="login",
        )

    app.add_exception_handler(sqlite3.OperationalError, error_pages.on_database_busy)
    app.add_exception_handler(StoreUnavailable, error_pages.on_store_unavailable)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/live")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: CoachLogin) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_: CoachLogin) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="gympulse API")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(_: CoachLogin) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="gympulse API")

    app.include_router(board.router)
    return app
