"""The web app's writes to the access log (:mod:`gympulse.pipeline.access_log`).

- :func:`coach_view`: a dependency of the coach routers (added where they are included,
  ``dashboards/app.py``): every page or API answer a coach reads about one athlete (a
  route with ``{athlete_id}`` in its path) is written before the handler runs — who, whom,
  which page, when.
- :func:`log_shown`: a page or answer about many people at once (the squad ``/coach``,
  ``/coach/today`` and their APIs): one entry per person shown, so "who looked at whose
  health data" has every name; the coaches' email writes its own (``coach_email``).
- :func:`log_table_export`: a coach's CSV of a whole table names every person in it (of a
  consent domain's table, everyone who consents to it now: the others' rows are left out).
- Exports and erasures of one person are written by :mod:`gympulse.dashboards.rights`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from gympulse.dashboards.access import run_db
from gympulse.dashboards.coach_auth import Coach, require_coach
from gympulse.pipeline.access_log import EXPORT, VIEW

# CSV tables that hold nothing of a person (the straps, the class schedule).
_NOT_PERSONAL_TABLES = frozenset({"sensors", "classes"})


def actor(coach: Coach) -> str:
    return f"coach:{coach.user.username}"


def _route_path(request: Request) -> str:
    """The route's path template (``/coach/athletes/{athlete_id}``), never the ids."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "") or request.url.path)


async def coach_view(request: Request, coach: Annotated[Coach, Depends(require_coach)]) -> None:
    """Dependency: a coach's read of one athlete's data goes into the access log (an
    export is written as one by :mod:`gympulse.dashboards.rights`)."""
    raw = request.path_params.get("athlete_id")
    if raw is None or request.method not in ("GET", "HEAD"):
        return
    path = _route_path(request)
    if path.endswith("/export.zip"):
        return
    try:
        athlete_id = int(raw)
    except ValueError:
        return  # the route's own validation answers 422
    if not 0 <= athlete_id <= 2**53:  # RowId's bounds: the route answers 422
        return
    await run_db(coach.ctx.access_log.record, actor(coach), athlete_id, VIEW, path)


async def log_shown(request: Request, coach: Coach, athlete_ids: Iterable[int]) -> None:
    """One view entry per person a squad-wide page or answer showed to ``coach``."""
    ids = list(athlete_ids)
    if ids:
        log = coach.ctx.access_log
        await run_db(log.record_many, actor(coach), ids, VIEW, _route_path(request))


async def log_table_export(coach: Coach, table_name: str) -> None:
    if table_name in _NOT_PERSONAL_TABLES:
        return
    log = coach.ctx.access_log
    everyone = await run_db(log.everyone)
    # The people whose rows the CSV holds: those who consent to its domain now (the
    # export leaves out the others, dashboards/data.py).
    shown = (await coach.ctx.data.shown()).ids(table_name)
    named = [a for a in everyone if shown is None or a in shown]
    await run_db(log.record_many, actor(coach), named, EXPORT, f"{table_name}.csv")
