"""Errors a person can reach in a browser, as a page in their language.

A form post or a page that fails (a mistyped name in the erasure confirmation, an expired
form, a link that no longer exists, a bug) answers with a short page that says what
happened and what to do, with the same status code; the JSON API (``/api/...``) and
scripts (no ``text/html`` in ``Accept``) keep FastAPI's JSON answers."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from gympulse.dashboards.i18n import pick_language, t
from gympulse.dashboards.templating import render

log = logging.getLogger(__name__)

# What a handler said -> the words for a person (the rest get their status code's words).
DETAIL_KEYS = {
    "type the athlete's name to confirm": "error_erase_name",
    "invalid or missing CSRF token": "error_csrf",
}
STATUS_KEYS = {403: "error_403", 404: "error_404", 405: "error_405", 409: "error_409",
               413: "error_413", 422: "error_422", 429: "error_429"}  # fmt: skip


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the JSON API, not a script's fetch)."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def notice(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str,
    message: str,
    link: str | None = None,
    link_text: str = "back",
    headers: dict[str, str] | None = None,
    template: str = "notice.html",
) -> Response:
    """The one answer to an error: JSON ``{"detail": detail}`` for the API and scripts, else
    ``template`` in the visitor's language with the words of ``title`` and ``message`` (i18n
    keys) and a way on (``link``, default: back to where they came from)."""
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    if not wants_page(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=all_headers)
    lang = pick_language(request.headers.get("accept-language"))
    return render(
        template,
        lang,
        title=t(lang, title),
        message=t(lang, message),
        link=back_to(request) if link is None else link,
        link_text=t(lang, link_text) if link_text else "",
        status_code=status,
        headers=all_headers,
    )


def error_page(request: Request, status: int, detail: object) -> Response:
    key = DETAIL_KEYS.get(str(detail)) or STATUS_KEYS.get(status) or "error_500"
    return notice(request, status, str(detail), title="error_title", message=key)


def back_to(request: Request) -> str:
    """Where "Back" leads (pages send no Referer: ``Referrer-Policy: no-referrer``): from a
    form post, the page the form is on (its action is that page's path + one step, as
    every form here); else the start of the person's part of the site."""
    parts = [p for p in request.url.path.split("/") if p]
    if request.method == "POST" and len(parts) > 1:
        return "/" + "/".join(quote(p) for p in parts[:-1])
    if len(parts) >= 2 and parts[0] == "me":
        return f"/me/{quote(parts[1])}"
    return "/coach" if parts[:1] == ["coach"] else "/"


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not wants_page(request) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    return error_page(request, exc.status_code, exc.detail)


async def on_invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_page(request):
        return await request_validation_exception_handler(request, exc)
    return error_page(request, 422, "")


async def on_bug(request: Request, exc: Exception) -> Response:
    """An unexpected exception (logged with its traceback): a calm page, or JSON."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if not wants_page(request):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return error_page(request, 500, "")


async def on_database_busy(request: Request, exc: Exception) -> Response:
    """Another process holds the SQLite write lock longer than the web's short busy
    timeout: a quick "try again" (503), never a frozen server; other database errors are
    bugs."""
    if "locked" not in str(exc) and "busy" not in str(exc):
        return await on_bug(request, exc)
    log.warning("database busy (%s): %s %s", exc, request.method, request.url.path)
    return notice(
        request,
        503,
        "database busy, try again shortly",
        title="busy_title",
        message="busy",
        link="",
        link_text="",
        headers={"Retry-After": "2"},
    )


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    """The time-series store does not answer (InfluxDB restarting): 503, try again."""
    return notice(
        request,
        503,
        "time-series store unavailable, try again shortly",
        title="busy_title",
        message="busy",
        link="",
        link_text="",
        headers={"Retry-After": "10"},
    )
