"""The coach's exports: one person's data as a zip (their right of access), erasing a
person from every store (their right to erasure), and any table as CSV."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    Response,
    StreamingResponse,
)
from starlette.background import BackgroundTask

from gympulse.dashboards import rights
from gympulse.dashboards.access import run_db
from gympulse.dashboards.audit import actor, log_table_export
from gympulse.dashboards.coach_auth import athlete_or_404, coach_of, require_coach
from gympulse.dashboards.data import EXPORTABLE
from gympulse.dashboards.export_worker import athlete_zip, samples_csv
from gympulse.dashboards.i18n import t
from gympulse.dashboards.templating import render
from gympulse.dashboards.web import RowId

router = APIRouter(dependencies=[Depends(require_coach)])
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- guests' rights


@router.get("/coach/athletes/{athlete_id}/export.zip", response_class=FileResponse)
async def export_athlete_zip(request: Request, athlete_id: RowId) -> FileResponse:
    """All of one person's data (profile, samples, sessions, readings, wellness, RPE,
    metrics) as JSON and CSV in one zip."""
    coach = coach_of(request, api=True)
    await run_db(athlete_or_404, coach.ctx, athlete_id)
    settings = coach.ctx.settings
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="gympulse-export-"))
    out = tmp / f"athlete-{athlete_id}.zip"
    try:
        await athlete_zip(settings, athlete_id, out, by=actor(coach))  # a process of its own
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)
        raise
    log.warning("coach %r exported athlete %d", coach.user.username, athlete_id)
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.post("/coach/athletes/{athlete_id}/forget", response_class=HTMLResponse)
async def forget_athlete(
    request: Request,
    athlete_id: RowId,
    confirm: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Erase the person from every store; the form must repeat their name."""
    coach = coach_of(request, api=True)
    coach.check(csrf)
    a = await run_db(athlete_or_404, coach.ctx, athlete_id)
    if confirm.strip() != a.name:
        raise HTTPException(status_code=422, detail="type the athlete's name to confirm")
    await rights.forget_athlete(coach.ctx.settings, athlete_id, by=actor(coach))
    coach.ctx.guard.poke()  # their guest links are gone: open streams end
    log.warning("coach %r erased athlete %d", coach.user.username, athlete_id)
    return render(
        "notice.html",
        coach.lang,
        title=t(coach.lang, "data_rights"),
        message=t(coach.lang, "forget_done"),
        link="/coach",
        link_text=t(coach.lang, "back"),
    )


# ---------------------------------------------------------------------- CSV export


@router.get("/coach/export/{table_name}.csv", response_class=StreamingResponse)
async def export_csv(request: Request, table_name: str) -> Response:
    """Any table as CSV (athletes, sensors, assignments, classes, wellness, session_rpe,
    samples and the analytics tables)."""
    coach = coach_of(request, api=True)
    found: AsyncIterator[bytes] | None
    if table_name == "samples":
        # Millions of rows: read and written as CSV by a worker process, one store window
        # at a time, as the client consumes — memory stays flat, and the live board on this
        # event loop stays quick while a year streams out.
        found = samples_csv(coach.ctx.settings)
    elif table_name in EXPORTABLE:
        found = await coach.ctx.data.export_csv(table_name)  # formatted in worker threads
    else:
        found = None
    if found is None:
        raise HTTPException(status_code=404, detail="no such table")
    await log_table_export(coach, table_name)
    return StreamingResponse(
        found,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table_name}.csv"'},
    )
