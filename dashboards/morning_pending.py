"""Morning readings in progress on the web, shared by the guest page, the Web Bluetooth
endpoint and the coach's station: a reading started on a page is kept here
(:class:`Pending`: who, which strap, when it started, how) until the page's countdown ends
and asks the server to finish it; then the reading of [start, now) is taken from the stored
samples at once (:func:`gympulse.pipeline.readings.take_reading`). Also: the site's straps
that are live right now, and the small request helpers (JSON bodies, CSRF) of these routes.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import HTTPException, Request

from gympulse import contract
from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import (
    Coach,
)
from gympulse.dashboards.guest import Guest
from gympulse.dashboards.i18n import DEFAULT, sensor_label, t
from gympulse.dashboards.status import guest_status, status_words
from gympulse.dashboards.web import AppContext, check_csrf, ctx_of
from gympulse.pipeline import readings
from gympulse.pipeline.analytics.morning import Refusal
from gympulse.pipeline.journal import MorningRecording

log = logging.getLogger(__name__)

WEB_COLLECTOR = "web"
MAX_PENDING = 500  # readings running at once, all owners together
# Per guest: a new start beyond this ends that guest's oldest (a reloaded page starting
# again is never refused); one guest can never fill the others' room (issue 18).
MAX_PENDING_PER_GUEST = 2
# Guests together leave this many places for the coach's morning station.
STATION_RESERVE = 100
PENDING_TTL_MS = 30 * 60_000
MAX_SAMPLES_BODY = 64 * 1024


# ---------------------------------------------------------------------- pending readings


@dataclass(frozen=True, slots=True)
class Pending:
    id: str
    athlete_id: int
    sensor: str | None
    start_ms: int
    duration_s: int
    method: str
    owner: str  # "guest:<athlete id>" or "coach"


def pending_readings(request: Request) -> dict[str, Pending]:
    found = ctx_of(request).pending
    now = contract.now_ms()
    for key in [k for k, p in found.items() if now - p.start_ms > PENDING_TTL_MS]:
        del found[key]
    return found


def start_pending(
    request: Request, athlete_id: int, sensor: str | None, method: str, owner: str
) -> Pending:
    pending = pending_readings(request)
    if owner != "coach":
        own = [k for k, q in pending.items() if q.owner == owner]  # oldest first
        for key in own[: max(0, len(own) - MAX_PENDING_PER_GUEST + 1)]:
            del pending[key]
        guests = sum(1 for q in pending.values() if q.owner != "coach")
        if guests >= MAX_PENDING - STATION_RESERVE:
            raise HTTPException(status_code=429, detail="too many readings running")
    elif len(pending) >= MAX_PENDING:
        raise HTTPException(status_code=429, detail="too many readings running")
    ctx: AppContext = request.app.state.ctx
    p = Pending(
        secrets.token_urlsafe(12),
        athlete_id,
        sensor,
        contract.now_ms(),
        ctx.settings.morning.duration_s,
        method,
        owner,
    )
    pending[p.id] = p
    return p


def take_pending(request: Request, pending_id: str, owner: str) -> Pending:
    pending = pending_readings(request)
    p = pending.get(pending_id)
    if p is None or p.owner != owner:  # someone else's reading is left running, untouched
        raise HTTPException(status_code=404, detail="no such reading running")
    del pending[pending_id]
    return p


def reading_result(lang: str, outcome: MorningRecording | Refusal) -> dict[str, Any]:
    if isinstance(outcome, Refusal):
        return {
            "ok": False,
            "reason": outcome.reason,
            "detail": outcome.detail,
            "message": t(lang, f"refused_{outcome.reason}"),
        }
    hrv = None if outcome.ln_rmssd is None else round(outcome.ln_rmssd, 2)
    hr = None if outcome.hr_rest is None else round(outcome.hr_rest)
    return {
        "ok": True,
        "id": outcome.id,
        "ln_rmssd": outcome.ln_rmssd,
        "rmssd": outcome.rmssd,
        "hr_rest": outcome.hr_rest,
        "n_rr": outcome.n_rr,
        "n_corrected": outcome.n_corrected,
        "message": t(lang, "morning_done"),
        "values": t(lang, "morning_values", hrv=f"{hrv:.2f}" if hrv is not None else "—", hr=hr),
    }


async def finish_pending(request: Request, p: Pending, lang: str) -> dict[str, Any]:
    ctx: AppContext = request.app.state.ctx
    cfg = ctx.settings.morning
    started = time.monotonic()
    profile = await run_db(ctx.registry.athlete, p.athlete_id)
    outcome = await readings.take_reading(
        ctx.store, ctx.journal, p.athlete_id, p.start_ms, contract.now_ms(),
        method=p.method, sensor=p.sensor, rules=readings.rules_of(cfg),
        rest=readings.rest_rules_of(cfg),
        profile_hr_rest=None if profile is None else profile.hr_rest,
        tz=ctx.settings.timezone, wait_s=cfg.wait_for_samples_s,
    )  # fmt: skip
    result = reading_result(lang, outcome)
    if p.owner.startswith("guest:") and result["ok"]:
        status, _ = await guest_status(ctx, p.athlete_id)
        result["words"] = status_words(lang, status)
        result["level"] = status.level
    result["server_s"] = round(time.monotonic() - started, 3)
    log.info(
        "morning reading of athlete %d (%s): %s", p.athlete_id, p.method, result.get("reason", "ok")
    )
    return result


async def live_straps(ctx: AppContext, lang: str = DEFAULT) -> list[dict[str, Any]]:
    """Straps sending right now (live or without contact), newest state of each (the
    tiles read on the loop, the labels in a worker thread), named in ``lang``."""
    now = contract.now_ms()
    stale = ctx.settings.web.stale_after_s * 1000
    out = []
    for tile in ctx.hub.tiles.values():
        if tile.state == "no-signal" or now - tile.received_ms > stale:
            continue
        if tile.sensor.startswith("web-"):
            continue
        out.append(tile)
    labels = await run_db(ctx.registry.sensor_labels)
    return [
        {
            "sensor": tile.sensor,
            "label": sensor_label(lang, tile.sensor, labels),
            "state": tile.state,
            "bpm": tile.bpm if tile.state == "live" else None,
            "athlete_id": tile.athlete_id,
            "name": tile.name if tile.athlete_id is not None else "",
        }
        for tile in sorted(out, key=lambda t: natural_key(t.sensor))
    ]


def natural_key(text: str) -> list[Any]:
    """ "strap-2" before "strap-10"."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def worn_now(ctx: AppContext, athlete_id: int) -> list[str]:
    """What ``athlete_id`` wears now, newest assignment first: straps and machines (a bike
    is assigned like a strap), not their own web strap."""
    now = contract.now_ms()
    current = [
        a
        for a in ctx.registry.assignments()
        if a.athlete_id == athlete_id
        and a.start_ms <= now
        and (a.end_ms is None or now < a.end_ms)
        and not a.sensor.startswith("web-")
    ]
    return [a.sensor for a in sorted(current, key=lambda a: a.start_ms, reverse=True)]


async def assigned_strap(ctx: AppContext, athlete_id: int) -> str | None:
    """The guest's own heart-rate strap: of what they wear now, one the live board hears
    heart rate from, else one it has not heard as a machine, newest first (a bike assigned
    after the strap is not their strap)."""
    worn = await run_db(worn_now, ctx, athlete_id)
    tiles = ctx.hub.tiles
    machines = {t.machine.sensor for t in tiles.values() if t.machine is not None}
    for sensor in worn:
        if sensor in tiles:
            return sensor
    return next((s for s in worn if s not in machines), None)


def wear_strap(ctx: AppContext, sensor: str, athlete_id: int) -> None:
    """Make sure ``athlete_id`` wears ``sensor`` from now on (a strap picked on a page); a
    guest's own web strap is theirs for good (from time 0: samples a phone kept while
    offline are theirs too)."""
    now = contract.now_ms()
    if ctx.registry.resolver().athlete_at(sensor, now) != athlete_id:
        ctx.registry.assign(sensor, athlete_id, 0 if sensor == web_sensor(athlete_id) else now)


def web_sensor(athlete_id: int) -> str:
    """The sensor id of a guest's own strap over Web Bluetooth."""
    return f"web-a{athlete_id}"


# ---------------------------------------------------------------------- guest


class StartBody(msgspec.Struct, forbid_unknown_fields=True):
    sensor: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    bluetooth: bool = False


class StationStart(msgspec.Struct, forbid_unknown_fields=True):
    sensor: Annotated[str, msgspec.Meta(max_length=64)]
    athlete_id: Annotated[int, msgspec.Meta(ge=0, le=2**53)]


T = TypeVar("T")


async def json_body(request: Request, kind: type[T]) -> T:
    """The request's JSON body as ``kind`` (422 when it is not)."""
    body = await request.body()
    if len(body) > 4096:
        raise HTTPException(status_code=413, detail="body too large")
    try:
        return msgspec.json.decode(body or b"{}", type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise HTTPException(status_code=422, detail=str(err)) from None


def check_guest_csrf(request: Request, guest: Guest) -> None:
    check_csrf(
        guest.ctx.secret,
        f"guest:{guest_token_hash(guest.token)}",
        request.headers.get("x-csrf-token"),
    )


def guest_token_hash(token: str) -> str:
    from gympulse.dashboards.accounts import token_hash

    return token_hash(token)


def check_coach_csrf(request: Request, coach: Coach) -> None:
    coach.check(request.headers.get("x-csrf-token") or "")
