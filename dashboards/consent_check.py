"""The one check every writing route of a consent domain makes before it stores anything
(:mod:`gympulse.pipeline.consent`), and the kind page it answers with when consent is
missing. Kept apart from the consent pages (:mod:`gympulse.dashboards.consent_web`) so the
guest, morning and strength routers can use it without importing those pages."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import Response

from gympulse.dashboards.access import run_db
from gympulse.dashboards.error_pages import notice
from gympulse.dashboards.web import AppContext
from gympulse.pipeline.consent import Domain

__all__ = ["NoConsent", "allows", "ensure", "no_consent"]


class NoConsent(HTTPException):
    """Something of a domain she has not consented to (or withdrew from) was to be stored."""

    def __init__(self, domain: Domain) -> None:
        super().__init__(status_code=403, detail=f"no consent for {domain.value}")
        self.domain = domain


def no_consent(request: Request, exc: NoConsent) -> Response:
    """A kind page (JSON for the API): what is missing and where to give it."""
    base = getattr(getattr(request.state, "guest", None), "base", None)
    return notice(
        request,
        403,
        exc.detail,
        title="consent_needed_title",
        message=f"consent_needed_{exc.domain.value}",
        link=f"{base}/consent" if base else None,
        link_text="consent_open" if base else "back",
    )


async def allows(ctx: AppContext, athlete_id: int, domain: Domain) -> bool:
    return await run_db(ctx.consents.allows, athlete_id, domain, ctx.consent_policy)


async def ensure(ctx: AppContext, athlete_id: int, domain: Domain) -> None:
    """Raise :class:`NoConsent` unless she consented to ``domain`` now."""
    if not await allows(ctx, athlete_id, domain):
        raise NoConsent(domain)
