"""Who may see what: the credentials of the web app, as FastAPI dependencies.

- **Coach**: a login session (cookie ``gp_session``); sees everything.
- **Board**: the live board (``/live`` and ``/api/live/...``) opens with a coach login, a
  board link (``/board/<token>`` sets the cookie ``gp_board``; a coach or
  ``gympulse board`` makes and revokes them), or from an address in
  ``web.board_trusted_networks`` (empty by default: no anonymous board).
- **Guest**: a personal link (``/me/<token>``), resolved in :mod:`gympulse.dashboards.guest`.
  After her stay the coach's choice for her (:func:`stay_link_end_ms`) may end her links
  before they expire: "until the link expires" (nothing set), "ends with the stay" (the end
  of her departure day, site time), or N days after it. It is read on every request and by
  the stream guard, so a change applies at once; an ended link gets :class:`StayEnded`'s
  kind page.

Open Server-Sent Event streams are tied to the credential they were opened with: the
:class:`StreamGuard` checks every open stream's credential once a second (and at once when
this process revokes or logs out) and ends the streams whose credential is gone, so a
revoked link, an expired one, a logout or a password change stops the heart rate within a
second or two.

Every SQLite call here runs in a worker thread (:func:`run_db`): the event loop never waits
on a database lock or on argon2.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request

from gympulse.dashboards.accounts import User

if TYPE_CHECKING:
    from gympulse.dashboards.web import AppContext

log = logging.getLogger(__name__)

SESSION_COOKIE = "gp_session"
BOARD_COOKIE = "gp_board"
GUARD_INTERVAL_S = 1.0

P = ParamSpec("P")
R = TypeVar("R")


def stay_link_end_ms(departure: str | None, keep_days: int | None, zone: dt.tzinfo) -> int | None:
    """When a guest's links stop working because her stay has ended (ms), or None: the
    coach chose nothing (``keep_days`` None) or the stay has no departure date yet. A link
    works through the departure day and ``keep_days`` days after it (site time)."""
    if keep_days is None or not departure:
        return None
    last = dt.date.fromisoformat(departure) + dt.timedelta(days=keep_days + 1)
    return int(dt.datetime.combine(last, dt.time(0), zone).timestamp() * 1000)


class StayEnded(HTTPException):
    """A guest link the coach's after-stay choice has ended (the link itself is still
    valid, so its holder is told kindly why, and whom to ask)."""

    def __init__(self) -> None:
        super().__init__(status_code=403, detail="the stay has ended; ask your coach")


async def run_db(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking call (SQLite, argon2) in a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def coach_session(request: Request) -> tuple[User, str] | None:
    """The logged-in coach and the session token, or None."""
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session or len(session) > 200:
        return None
    user = await run_db(_ctx(request).accounts.session_user, session)
    return None if user is None else (user, session)


Kind = Literal["coach", "board", "guest", "network"]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who opened the board: ``kind`` and the credential (``secret``) to recheck."""

    kind: Kind
    secret: str = ""
    user: User | None = None


def _trusted(request: Request) -> bool:
    ctx: AppContext = request.app.state.ctx
    networks = ctx.settings.web.board_trusted_networks
    if not networks or request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


class BoardLocked(HTTPException):
    """No credential for the live board: a small page for a browser, JSON for the API."""

    def __init__(self) -> None:
        super().__init__(status_code=403, detail="the live board needs its board link or a login")


async def board_viewer(request: Request) -> Viewer:
    """Dependency of the live board's routes: a coach, a board link or a trusted network."""
    coach = await coach_session(request)
    if coach is not None:
        return Viewer("coach", coach[1], coach[0])
    token = request.cookies.get(BOARD_COOKIE, "")
    valid = _ctx(request).accounts.board_token_valid
    if token and len(token) <= 200 and await run_db(valid, token):
        return Viewer("board", token)
    if _trusted(request):
        return Viewer("network")
    raise BoardLocked


def stay_ended(ctx: AppContext, athlete_id: int, at_ms: int | None = None) -> bool:
    """Whether the coach's after-stay choice has ended her links (blocking: SQLite)."""
    from gympulse.contract import now_ms

    keep_days = ctx.accounts.after_stay(athlete_id)
    if keep_days is None:
        return False
    athlete = ctx.registry.athlete(athlete_id)
    name = ctx.settings.timezone
    zone: dt.tzinfo = dt.UTC if name == "UTC" else ZoneInfo(name)
    end = stay_link_end_ms(None if athlete is None else athlete.departure, keep_days, zone)
    return end is not None and (now_ms() if at_ms is None else at_ms) >= end


class StreamGuard:
    """Ends open streams whose credential was revoked, expired or logged out."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._streams: dict[asyncio.Queue[str], Viewer] = {}
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def watch(self, queue: asyncio.Queue[str], viewer: Viewer) -> None:
        if viewer.kind != "network":
            self._streams[queue] = viewer

    def forget(self, queue: asyncio.Queue[str]) -> None:
        self._streams.pop(queue, None)

    def poke(self) -> None:
        """Check now (this process just revoked something or logged someone out)."""
        self._poke.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _still_valid(self, viewers: set[Viewer]) -> set[Viewer]:
        accounts = self.ctx.accounts
        sessions = accounts.sessions_valid({v.secret for v in viewers if v.kind == "coach"})
        valid = set()
        for v in viewers:
            if v.kind == "coach":
                ok = v.secret in sessions
            elif v.kind == "board":
                ok = accounts.board_token_valid(v.secret)
            else:
                grant = accounts.guest(v.secret, record_use=False)
                ok = grant is not None and not stay_ended(self.ctx, grant.athlete_id)
            if ok:
                valid.add(v)
        return valid

    async def check(self) -> None:
        if not self._streams:
            return
        viewers = set(self._streams.values())
        valid = await run_db(self._still_valid, viewers)
        for queue, viewer in list(self._streams.items()):
            if viewer not in valid:
                self.forget(queue)
                self.ctx.hub.end_stream(queue)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), GUARD_INTERVAL_S)
            self._poke.clear()
            try:
                await self.check()
            except Exception:  # a locked database: keep the streams, check again
                log.warning("stream guard could not check credentials", exc_info=True)
