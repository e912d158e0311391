"""FIT uploads on the web (issue 22 item 2): a coach adds a FIT file for a guest on her
athlete page (``POST /coach/athletes/<id>/fit``), a guest adds her own on her page
(``GET``/``POST /me/<token>/fit``).

Both take the one import of ``gympulse import``
(:func:`gympulse.pipeline.fit_ingest.import_fit`): decoded in a worker thread, the file's
sensor worn by the person for the file's time, the samples through the ingestion path
(validation, quarantine, the idempotent write on (sensor, ts)), so the same file again
stores nothing new and says so. A broken or foreign file gets one kind message in the
person's language and stores nothing.

The body is a multipart form of one file and the CSRF field, bounded while it is read:
:class:`~gympulse.dashboards.body_limit.BodyLimit` gives these two routes (only) a bound of
``ingest.fit_max_mb`` plus the form's few lines (:func:`body_bound`) and refuses a larger
body with :func:`too_large_page` before or while reading it; the file itself is then read
up to ``fit_max_mb`` + 1 byte, and a file over the limit is refused by the import.

Nothing is read before the route knows who may send it: the guest's link (404), her
consent to her heart rate being kept (:data:`Domain.LIVE`: the kind consent page), the
coach's login; the CSRF field is checked before the file is looked at.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from gympulse.dashboards.access import run_db
from gympulse.dashboards.accounts import token_hash
from gympulse.dashboards.coach_auth import athlete_or_404, coach_of, coach_page, require_coach
from gympulse.dashboards.consent_check import ensure
from gympulse.dashboards.error_pages import wants_page
from gympulse.dashboards.guest import _guest, _lang, resolve_guest
from gympulse.dashboards.i18n import pick_language, t
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, RowId, check_csrf, site_zone
from gympulse.pipeline.consent import Domain
from gympulse.pipeline.fit_import import FitRefused
from gympulse.pipeline.fit_ingest import Imported, import_fit
from gympulse.settings import Settings

__all__ = ["FIT_PATH", "body_bound", "coach_router", "guest_router", "too_large_page"]

guest_router = APIRouter(dependencies=[Depends(resolve_guest)])
coach_router = APIRouter(dependencies=[Depends(require_coach)])

# The two upload routes, for the body limit (dashboards/app.py) and the Caddyfile's matcher.
FIT_PATH = re.compile(r"/coach/athletes/[0-9]{1,16}/fit|/me/[^/]{1,200}/fit")
FORM_SLACK = 16 * 1024  # the multipart boundaries, part headers and the CSRF field


def file_limit(settings: Settings) -> int:
    return settings.ingest.fit_max_mb * 1024 * 1024


def body_bound(settings: Settings) -> int:
    """The largest upload body taken: the largest file plus the form around it."""
    return file_limit(settings) + FORM_SLACK


def too_large_page(settings: Settings) -> Any:
    """The body limit's answer on the upload routes: one short page in the visitor's
    language (the browser's; the limit answers before any route resolves a person)."""
    mb = settings.ingest.fit_max_mb

    def refusal(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        accept = dict(headers).get(b"accept-language", b"").decode("latin-1")
        lang = pick_language(accept)
        page = render(
            "notice.html",
            lang,
            title=t(lang, "fit_refused_title"),
            message=t(lang, "fit_refused_too-large", mb=mb),
            link=None,
            link_text="",
        )
        return b"text/html; charset=utf-8", bytes(page.body)

    return refusal


async def _read_form(request: Request, limit: int) -> tuple[str, bytes | None]:
    """The CSRF field and the file's bytes (None: no file chosen). The body limit bounds
    what is read; the file is read up to ``limit`` + 1 bytes (over: the import refuses)."""
    try:
        form = await request.form(max_files=1, max_fields=2, max_part_size=1024)
    except (AssertionError, HTTPException) as err:  # not multipart, or a malformed one
        raise HTTPException(status_code=400, detail="a form with one FIT file is expected") from err
    try:
        csrf = form.get("csrf")
        upload = form.get("file")
        data = None
        if isinstance(upload, UploadFile):
            data = await upload.read(limit + 1)
        return (csrf if isinstance(csrf, str) else ""), (data or None)
    finally:
        await form.close()


def _day(ms: int, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def _duration(ms: int) -> str:
    """ "38 min", "1 h 05 min" (the same in English and Dutch)."""
    minutes = max(1, round(ms / 60_000))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _result(done: Imported, zone: dt.tzinfo) -> dict[str, Any]:
    return {
        "imported": True,
        "sensor": done.sensor,
        "start_ms": done.start_ms,
        "end_ms": done.end_ms,
        "start": _day(done.start_ms, zone),
        "duration": _duration(done.end_ms - done.start_ms),
        "samples": done.samples,
        "rr": done.rr,
        "machine": done.machine,
        "stored": done.stored,
        "refused": done.refused,
    }


async def _import(
    request: Request, ctx: AppContext, athlete_id: int, data: bytes
) -> dict[str, Any] | str:
    """The import's result, or the reason it was refused (nothing stored)."""
    from gympulse.dashboards.morning import _ingest_service  # the app's one service

    service, lock = _ingest_service(ctx)
    try:
        done = await import_fit(
            service,
            ctx.registry,
            athlete_id,
            data,
            max_bytes=file_limit(ctx.settings),
            lock=lock,
        )
    except FitRefused as err:
        return err.reason
    except ConnectionError as err:
        raise HTTPException(status_code=503, detail="store unavailable, try again") from err
    return _result(done, site_zone(request))


def _answer(
    request: Request,
    outcome: dict[str, Any] | str,
    page: Any,
) -> Response:
    """JSON for a script (and the tests' many callers), else the page ``page`` makes."""
    if isinstance(outcome, str):
        status = 413 if outcome == "too-large" else 422
        if not wants_page(request):
            return JSONResponse({"imported": False, "reason": outcome}, status_code=status)
        return page(outcome, status)  # type: ignore[no-any-return]
    if not wants_page(request):
        return JSONResponse(outcome)
    return page(outcome, 200)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the guest


@guest_router.get("/me/{token}/fit", response_class=HTMLResponse, include_in_schema=False)
async def guest_fit_page(request: Request, token: str) -> HTMLResponse:
    guest = _guest(request, token)
    lang = _lang(request, guest)
    return render(
        "guest/fit.html",
        lang,
        title=t(lang, "fit_title"),
        base=guest.base,
        csrf=guest.csrf,
        mb=guest.ctx.settings.ingest.fit_max_mb,
        outcome=None,
        reason=None,
    )


@guest_router.post("/me/{token}/fit", include_in_schema=False)
async def guest_fit_upload(request: Request, token: str) -> Response:
    """Her own FIT file (multipart: ``file``, ``csrf``) into her own samples."""
    guest = _guest(request, token)
    ctx = guest.ctx
    await ensure(ctx, guest.athlete.id, Domain.LIVE)  # before one byte of the file is read
    csrf, data = await _read_form(request, file_limit(ctx.settings))
    check_csrf(ctx.secret, f"guest:{token_hash(token)}", csrf)
    outcome = "missing" if data is None else await _import(request, ctx, guest.athlete.id, data)
    lang = _lang(request, guest)

    def page(result: dict[str, Any] | str, status: int) -> HTMLResponse:
        refused = isinstance(result, str)
        return render(
            "guest/fit.html",
            lang,
            title=t(lang, "fit_refused_title") if refused else t(lang, "fit_done_title"),
            base=guest.base,
            csrf=guest.csrf,
            mb=ctx.settings.ingest.fit_max_mb,
            outcome=None if refused else result,
            reason=result if refused else None,
            status_code=status,
        )

    return _answer(request, outcome, page)


# ---------------------------------------------------------------------- the coach


@coach_router.post("/coach/athletes/{athlete_id}/fit", include_in_schema=False)
async def coach_fit_upload(request: Request, athlete_id: RowId) -> Response:
    """A FIT file for the athlete (multipart: ``file``, ``csrf``). Her heart rate is kept
    only with her consent: without it the kind consent page, nothing read."""
    coach = coach_of(request)
    ctx = coach.ctx
    athlete = await run_db(athlete_or_404, ctx, athlete_id)
    await ensure(ctx, athlete_id, Domain.LIVE)
    csrf, data = await _read_form(request, file_limit(ctx.settings))
    coach.check(csrf)
    outcome = "missing" if data is None else await _import(request, ctx, athlete_id, data)

    def page(result: dict[str, Any] | str, status: int) -> HTMLResponse:
        refused = isinstance(result, str)
        return coach_page(
            coach,
            "coach/fit.html",
            title=(
                t(coach.lang, "fit_refused_title") if refused else t(coach.lang, "fit_done_title")
            ),
            athlete=athlete,
            mb=ctx.settings.ingest.fit_max_mb,
            outcome=None if refused else result,
            reason=result if refused else None,
            status_code=status,
        )

    return _answer(request, outcome, page)
