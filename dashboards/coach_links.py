"""Guest links for the coach: a personal link (and its QR code) per guest, shown again,
extended or revoked (with confirmation); the list shows each link's last use."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
)
from markupsafe import Markup

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import (
    Coach,
    athlete_or_404,
    coach_of,
    coach_page,
    require_coach,
)
from gympulse.dashboards.i18n import t
from gympulse.dashboards.web import RowId, public_base
from gympulse.pipeline.domain import Athlete

router = APIRouter(dependencies=[Depends(require_coach)])
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- guest links


def guest_link_rows(coach: Coach, athlete_id: RowId) -> list[dict[str, Any]]:
    rows = []
    now = dt.datetime.now(dt.UTC)
    tz = ZoneInfo(coach.ctx.settings.timezone)
    used = coach.ctx.accounts.guest_last_used()
    showable = coach.ctx.accounts.showable_guest_links()
    for g in coach.ctx.accounts.guest_tokens(athlete_id):
        expires = dt.datetime.fromtimestamp(g.expires_ms / 1000, dt.UTC)
        state = "revoked" if g.revoked_ms else ("active" if expires > now else "expired")
        last = used.get(g.id)
        rows.append(
            {
                "id": g.id,
                "expires": expires.date().isoformat(),
                "state": state,
                "revoked": bool(g.revoked_ms),
                "showable": g.id in showable,
                "last_used": None
                if last is None
                else dt.datetime.fromtimestamp(last / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            }
        )
    return rows


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg: bytes = image.to_string(encoding="unicode").encode()
    out = svg.decode()
    return out[out.index("<svg") :]


@router.post("/coach/athletes/{athlete_id}/guest-links", response_class=RedirectResponse)
async def new_guest_link(
    request: Request,
    athlete_id: RowId,
    days: Annotated[int, Form(ge=1, le=3650)] = 7,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Issue a personal guest link valid for ``days``, then show it with its QR code on
    its own page (POST-redirect-GET: reloading that page shows the link again and issues
    no second one)."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() * 1000)
    token = await run_db(
        coach.ctx.accounts.issue_guest_token, athlete_id, expires, secret=coach.ctx.secret
    )
    grant = await run_db(coach.ctx.accounts.guest, token, record_use=False)
    if grant is None:  # cannot happen: it was stored a moment ago
        raise HTTPException(status_code=500, detail="the new link was not stored")
    return RedirectResponse(f"/coach/guest-links/{grant.id}?new=1", status_code=303)


def _show_link(
    request: Request, coach: Coach, a: Athlete, athlete_id: int, token: str, *, new: bool
) -> HTMLResponse:
    url = f"{public_base(request)}/me/{token}"
    return coach_page(
        coach,
        "coach/new_link.html",
        title=f"{t(coach.lang, 'new_link' if new else 'guest_link')}: {a.name}",
        url=url,
        qr=Markup(qr_svg(url)),  # drawn by the qrcode library: paths only, no text
        athlete_id=athlete_id,
    )


@router.get("/coach/guest-links/{token_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_guest_link(request: Request, token_id: RowId, new: int = 0) -> HTMLResponse:
    """An active guest link with its QR code: just made (``new=1``), or shown again."""
    coach = coach_of(request)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    grant = tokens.get(token_id)
    if grant is None or not grant.active(contract.now_ms()):
        raise HTTPException(status_code=404, detail="no such active link")
    token = await run_db(coach.ctx.accounts.guest_link_token, token_id, coach.ctx.secret)
    if token is None:
        raise HTTPException(status_code=404, detail="this link cannot be shown again")
    a = await run_db(athlete_or_404, coach.ctx, grant.athlete_id)
    response: HTMLResponse = _show_link(request, coach, a, grant.athlete_id, token, new=bool(new))
    return response


@router.post("/coach/guest-links/{token_id}/revoke", response_class=RedirectResponse)
async def revoke_guest_link(
    request: Request, token_id: RowId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    coach = coach_of(request, api=True)
    coach.check(csrf)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    if token_id not in tokens:
        raise HTTPException(status_code=404, detail="no such link")
    await run_db(coach.ctx.accounts.revoke_guest_token, token_id)
    coach.ctx.guard.poke()  # the link's open stream ends now
    return RedirectResponse(f"/coach/athletes/{tokens[token_id].athlete_id}", status_code=303)


@router.post("/coach/guest-links/{token_id}/extend", response_class=RedirectResponse)
async def extend_guest_link(
    request: Request,
    token_id: RowId,
    days: Annotated[int, Form(ge=1, le=3650)] = 30,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    coach = coach_of(request, api=True)
    coach.check(csrf)
    tokens = {g.id: g for g in await run_db(coach.ctx.accounts.guest_tokens)}
    if token_id not in tokens:
        raise HTTPException(status_code=404, detail="no such link")
    expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() * 1000)
    new_expiry = max(expires, tokens[token_id].expires_ms)
    await run_db(coach.ctx.accounts.extend_guest_token, token_id, new_expiry)
    return RedirectResponse(f"/coach/athletes/{tokens[token_id].athlete_id}", status_code=303)
