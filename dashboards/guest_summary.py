"""The guest's own class summary (``/me/<token>/classes/<class id>``) and its JSON
(``/api/me/<token>/classes/<class id>``); the numbers and words: :mod:`class_summary`.

Like every guest route, the link resolves to one athlete (:func:`guest.resolve_guest`) and
only that athlete's rows are read: a class the guest did not train in is the same small
404 page as an unknown link, whoever else trained in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from gympulse import contract
from gympulse.dashboards import class_summary
from gympulse.dashboards.access import run_db
from gympulse.dashboards.class_summary import ClassSummary
from gympulse.dashboards.guest import Guest, GuestLinkNotFound, day_label, resolve_guest
from gympulse.dashboards.i18n import pick_language, t, tn
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import site_zone
from gympulse.pipeline.journal import ScheduledClass
from gympulse.pipeline.stores.base import StoreUnavailable

RECENT_MS = 24 * 3_600_000  # the guest home links the summary of a class this recent
RECENT_CLASSES = 3  # ... looking back over at most this many ended classes

router = APIRouter(dependencies=[Depends(resolve_guest)])
ClassId = Annotated[int, Path(ge=0, le=2**53)]


def _guest(request: Request) -> Guest:
    guest: Guest = request.state.guest
    return guest


async def summary_of(guest: Guest, cls: ScheduledClass) -> ClassSummary | None:
    """The guest's own summary of ``cls`` (None: they did not train in it)."""
    live = class_summary.from_live(guest.ctx.hub, guest.athlete.id, cls)
    try:
        session = await guest.ctx.data.session(guest.athlete.id, class_summary.session_id(cls))
    except StoreUnavailable:
        if live is None:
            raise
        session = None  # the board's numbers still show; HRR60 waits for the store
    return class_summary.build(cls, live, session)


async def latest_summary(guest: Guest) -> ClassSummary | None:
    """The summary of the latest class that ended in the last day and that the guest
    trained in (for the link on the guest home), else None."""
    now = contract.now_ms()
    classes = await run_db(guest.ctx.journal.classes, start_ms=now - RECENT_MS, end_ms=now)
    ended = sorted((c for c in classes if c.end_ms <= now), key=lambda c: -c.end_ms)
    for cls in ended[:RECENT_CLASSES]:
        found = await summary_of(guest, cls)
        if found is not None:
            return found
    return None


async def _summary_or_404(guest: Guest, class_id: int) -> ClassSummary:
    cls = await run_db(guest.ctx.journal.class_by_id, class_id)
    if cls is None or cls.end_ms > contract.now_ms():  # a summary is for after the class
        raise GuestLinkNotFound
    found = await summary_of(guest, cls)
    if found is None:
        raise GuestLinkNotFound  # not their class: the same answer as any unknown link
    return found


def summary_json(s: ClassSummary) -> dict[str, Any]:
    return {
        "class_id": s.class_id,
        "class_name": s.class_name,
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "zone_minutes": list(s.zone_minutes),
        "points": s.points,
        "peak_bpm": s.peak_bpm,
        "kcal": s.kcal,
        "hrr60": s.hrr60,
        "effort": s.effort,
    }


@router.get("/api/me/{token}/classes/{class_id}")
async def api_class_summary(request: Request, token: str, class_id: ClassId) -> dict[str, Any]:
    """The guest's own summary of one ended class: minutes per zone, points, peak HR,
    kcal, HRR60 (null until ``gympulse analyze`` has run) and the kind of effort."""
    return summary_json(await _summary_or_404(_guest(request), class_id))


def effort_words(lang: str, s: ClassSummary) -> list[str]:
    """A coach's words about the effort and, once known, the recovery (never a grade)."""
    working = round(sum(s.zone_minutes[3:]))
    words = [t(lang, f"cs_effort_{s.effort}", working=working)]
    if s.hrr60 is None:
        words.append(t(lang, "cs_hrr_waiting"))
    else:
        beats = round(s.hrr60)
        words.append(tn(lang, "cs_hrr_known", beats, n=beats))
    words.append(t(lang, "cs_thanks"))
    return words


def clock(request: Request, ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, site_zone(request)).strftime("%H:%M")


@router.get("/me/{token}/classes/{class_id}", response_class=HTMLResponse, include_in_schema=False)
async def class_summary_page(request: Request, token: str, class_id: ClassId) -> HTMLResponse:
    guest = _guest(request)
    lang = pick_language(request.headers.get("accept-language"), guest.grant.lang)
    s = await _summary_or_404(guest, class_id)
    day = dt.datetime.fromtimestamp(s.start_ms / 1000, site_zone(request)).date()
    labels = [t(lang, f"zone{z}") for z in range(6)]
    return render(
        "guest/class_summary.html",
        lang,
        title=t(lang, "cs_title", name=s.class_name),
        base=guest.base,
        csrf=guest.csrf,
        s=s,
        when=f"{day_label(lang, day.isoformat())} {clock(request, s.start_ms)}"
        f"–{clock(request, s.end_ms)}",
        words=effort_words(lang, s),
        zones=[(z, labels[z], s.zone_minutes[z]) for z in range(6)],
    )
