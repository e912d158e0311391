"""Consent pages: the guest's own (``/me/<token>/consent``), the coach's form on the
athlete page (``/coach/athletes/<id>/consent``), the coach's access log
(``/coach/access-log``), and :func:`ensure`, which every writing route of a domain calls
before it stores anything (:mod:`gympulse.pipeline.consent`).

A decision is one press of a button ("Yes, I agree" / "No" / "Withdraw"): nothing is
pre-ticked, and withdrawing takes the same one press as giving. It is stamped with the
server's time. In this process the live board learns of it at once
(:meth:`LiveHub.consent_changed`); other processes see it with their next look at the
registry's change counter. Withdrawing Grafana sharing deletes her public share.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gympulse.dashboards.access import run_db
from gympulse.dashboards.accounts import token_hash
from gympulse.dashboards.audit import actor
from gympulse.dashboards.coach_auth import athlete_or_404, coach_of, coach_page, require_coach
from gympulse.dashboards.guest import Guest, resolve_guest
from gympulse.dashboards.i18n import pick_language, t
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import AppContext, RowId, check_csrf, site_zone
from gympulse.pipeline.access_log import CONSENT
from gympulse.pipeline.consent import DOMAINS, Decision, Domain

log = logging.getLogger(__name__)

guest_router = APIRouter(dependencies=[Depends(resolve_guest)])
coach_router = APIRouter(dependencies=[Depends(require_coach)])


async def decide(
    ctx: AppContext, athlete_id: int, domain: Domain, given: bool, by_whom: str
) -> None:
    """Record one decision and apply it at once in this process."""
    await run_db(ctx.consents.record, athlete_id, domain, given, by_whom)
    if domain is Domain.LIVE:
        ctx.hub.consent_changed(athlete_id, given)
    if domain is Domain.GRAFANA and not given:
        await _unshare_grafana(ctx, athlete_id)
    log.info("consent %s of athlete %d: %s (%s)", domain.value, athlete_id, given, by_whom)


async def _unshare_grafana(ctx: AppContext, athlete_id: int) -> None:
    from gympulse.dashboards.rights import grafana_configured

    if not grafana_configured(ctx.settings):
        return
    from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget

    sync = GrafanaSync(GrafanaTarget.from_settings(ctx.settings))
    try:
        await asyncio.to_thread(sync.revoke_guest_link, athlete_id)
    except Exception:  # Grafana down: logged loudly; `gympulse grafana guest-link` retries
        log.exception("could not delete the Grafana share of athlete %d", athlete_id)


def _rows(lang: str, decisions: list[Decision], tz: dt.tzinfo) -> list[dict[str, Any]]:
    out = []
    for d in decisions:
        when = (
            dt.datetime.fromtimestamp(d.ts_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")
            if d.ts_ms
            else ""
        )
        state = "assumed" if d.assumed else ("given" if d.given else "refused")
        if not d.ts_ms and not d.assumed:
            state = "unanswered"
        out.append(
            {
                "domain": d.domain.value,
                "given": d.given,
                "state": state,
                "when": when,
                "by": d.by_whom,
                "title": t(lang, f"consent_{d.domain.value}"),
                "explain": t(lang, f"consent_{d.domain.value}_explain"),
            }
        )
    return out


def _decision_json(d: Decision) -> dict[str, Any]:
    return {
        "domain": d.domain.value,
        "given": d.given,
        "ts_ms": d.ts_ms or None,
        "by": d.by_whom or None,
        "assumed": d.assumed,
    }


# ---------------------------------------------------------------------- the guest's own


def _guest(request: Request) -> Guest:
    guest: Guest = request.state.guest
    return guest


@guest_router.get("/me/{token}/consent", response_class=HTMLResponse, include_in_schema=False)
async def guest_consent_page(request: Request, token: str, saved: str = "") -> HTMLResponse:
    guest = _guest(request)
    ctx = guest.ctx
    lang = pick_language(request.headers.get("accept-language"), guest.grant.lang)
    decisions = await run_db(ctx.consents.decisions, guest.athlete.id, ctx.consent_policy)
    return render(
        "guest/consent.html",
        lang,
        title=t(lang, "consent_title"),
        base=guest.base,
        csrf=guest.csrf,
        rows=_rows(lang, decisions, site_zone(request)),
        saved=saved if saved in {d.value for d in DOMAINS} else "",
    )


@guest_router.get("/api/me/{token}/consent")
async def guest_consent_json(request: Request, token: str) -> list[dict[str, Any]]:
    guest = _guest(request)
    ctx = guest.ctx
    decisions = await run_db(ctx.consents.decisions, guest.athlete.id, ctx.consent_policy)
    return [_decision_json(d) for d in decisions]


@guest_router.post("/me/{token}/consent", response_class=RedirectResponse, status_code=303)
async def guest_consent_post(
    request: Request,
    token: str,
    domain: Annotated[Domain, Form()],
    given: Annotated[int, Form(ge=0, le=1)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """One decision of the guest herself: given (1) or refused / withdrawn (0)."""
    guest = _guest(request)
    check_csrf(guest.ctx.secret, f"guest:{token_hash(token)}", csrf)
    await decide(guest.ctx, guest.athlete.id, domain, bool(given), "guest")
    return RedirectResponse(f"{guest.base}/consent?saved={domain.value}#{domain.value}", 303)


# ---------------------------------------------------------------------- the coach


async def coach_consent_rows(
    ctx: AppContext, athlete_id: int, lang: str, tz: dt.tzinfo
) -> list[dict[str, Any]]:
    """What the athlete page's consent form shows."""
    decisions = await run_db(ctx.consents.decisions, athlete_id, ctx.consent_policy)
    return _rows(lang, decisions, tz)


@coach_router.post("/coach/athletes/{athlete_id}/consent", response_class=RedirectResponse)
async def coach_consent_post(
    request: Request,
    athlete_id: RowId,
    domain: Annotated[Domain, Form()],
    given: Annotated[int, Form(ge=0, le=1)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """A decision the guest told the coach (on paper, at the desk), recorded in her name by
    this coach."""
    coach = coach_of(request)
    coach.check(csrf)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    await decide(coach.ctx, athlete_id, domain, bool(given), actor(coach))
    await run_db(
        coach.ctx.access_log.record, actor(coach), athlete_id, CONSENT,
        f"{domain.value}: {'given' if given else 'withdrawn'}",
    )  # fmt: skip
    return RedirectResponse(f"/coach/athletes/{athlete_id}?saved=consent#consent", 303)


@coach_router.get("/coach/access-log", response_class=HTMLResponse, include_in_schema=False)
async def access_log_page(request: Request, athlete: RowId | None = None) -> HTMLResponse:
    """Who looked at, exported or erased whose data (the newest 500; of one person with
    ``?athlete=<id>``)."""
    coach = coach_of(request)
    ctx = coach.ctx
    entries = await run_db(ctx.access_log.entries, athlete_id=athlete, limit=500)
    names = {a.id: a.name for a in await run_db(ctx.registry.athletes)}
    tz = site_zone(request)
    rows = [
        {
            "when": dt.datetime.fromtimestamp(e.ts_ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": e.actor,
            "athlete_id": e.athlete_id,
            "whom": names.get(e.athlete_id, "") if e.athlete_id is not None else "",
            "what": e.what,
            "detail": e.detail,
        }
        for e in entries
    ]
    return coach_page(coach, "coach/access_log.html", title=t(coach.lang, "access_log"), rows=rows)
