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


def error_page(request: Request, status: int, detail: object) -> Response:
    lang = pick_language(request.headers.get("accept-language"))
    key = DETAIL_KEYS.get(str(detail)) or STATUS_KEYS.get(status) or "error_500"
    return render(
        "notice.html",
        lang,
        title=t(lang, "error_title"),
        message=t(lang, key),
        link=back_to(request),
        link_text=t(lang, "back"),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


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
