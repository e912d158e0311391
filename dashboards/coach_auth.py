"""The coach's login (``/coach/login``), logout and password change, and the one
dependency every coach route has (:func:`require_coach`: on the routers, so no handler
can forget it).

Login sets an ``HttpOnly; SameSite=Strict`` session cookie (random, stored hashed;
``Secure`` when the login came over HTTPS).
Every form carries a CSRF token bound to the session (the login form: to a random cookie).
Wrong passwords are throttled per client address and per account.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from gympulse.dashboards.access import SESSION_COOKIE, coach_session, run_db
from gympulse.dashboards.accounts import User, token_hash
from gympulse.dashboards.i18n import pick_language, t, tn
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import (
    AppContext,
    RowId,
    check_csrf,
    csrf_token,
    ctx_of,
    over_https,
)
from gympulse.pipeline.domain import Athlete

LOGIN_COOKIE = "gp_login"


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


def coach_of(request: Request, *, api: bool = False) -> Coach:
    """The coach :func:`require_coach` (a dependency of every coach router) let in."""
    coach: Coach = request.state.coach
    return coach


def coach_page(coach: Coach, template: str, *, title: str, **context: Any) -> HTMLResponse:
    """A coach page: template ``name`` (extends coach/base.html)."""
    return render(template, coach.lang, title=title, csrf=coach.csrf, **context)


# ---------------------------------------------------------------------- login


def _login_form(
    request: Request,
    *,
    error: str = "",
    status_code: int = 200,
    count: int | None = None,
    **values: object,
) -> HTMLResponse:
    """The login page, with the words of ``error`` (a plural entry's form for ``count``)."""
    lang = pick_language(request.headers.get("accept-language"))
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    token = csrf_token(ctx_of(request).secret, f"login:{nonce}")
    response = render(
        "coach/login.html",
        lang,
        title=t(lang, "login"),
        csrf=token,
        error=(tn(lang, error, count, **values) if count is not None else t(lang, error, **values))
        if error
        else "",
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=over_https(request),
        path="/coach",
        max_age=3600,
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
        refused = _login_form(
            request, error="login_throttled", status_code=429, count=seconds, s=seconds
        )
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
        secure=over_https(request),
        max_age=12 * 3600,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/coach")
    return response


@router.post("/coach/logout", response_class=RedirectResponse, status_code=303)
async def logout(
    request: Request, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = coach_of(request, api=True)
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
    coach = coach_of(request, api=True)
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


def athlete_or_404(ctx: AppContext, athlete_id: RowId) -> Athlete:
    """The athlete a coach URL names, or 404 (blocking: call through ``run_db``)."""
    athlete = ctx.registry.athlete(athlete_id)
    if athlete is None:
        raise HTTPException(status_code=404, detail="no such athlete")
    return athlete
