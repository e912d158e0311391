"""Guests' rights end to end: export all of a person's data, or erase it everywhere.

The data layer (:mod:`gympulse.pipeline.privacy`) exports and erases every place of the
map in the store and the registry's SQLite file (guest links included); this module adds
the places of the map outside the databases (``ELSEWHERE``): the Grafana guest dashboard
and its public share (through the :class:`gympulse.dashboards.grafana.sync.GrafanaSync`
boundary, when Grafana is configured). Used by ``gympulse athlete export|forget`` and the
coach's athlete page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from gympulse.pipeline import privacy
from gympulse.pipeline.personal_data import ELSEWHERE
from gympulse.pipeline.stores import make_store
from gympulse.settings import Settings

log = logging.getLogger(__name__)


def resolve_athlete(settings: Settings, athlete: str) -> int | None:
    """An athlete by id or by exact name (None when there is no such one, or two)."""
    from gympulse.pipeline.registry import Registry

    registry = Registry(settings.store.path)
    try:
        if athlete.isdigit():
            found = registry.athlete(int(athlete))
            return None if found is None else found.id
        matches = [a.id for a in registry.athletes() if a.name == athlete]
        return matches[0] if len(matches) == 1 else None
    finally:
        registry.close()


def _log_access(settings: Settings, actor: str, athlete_id: int, what: str) -> None:
    from gympulse.pipeline.access_log import AccessLog

    log_ = AccessLog(settings.store.path)
    try:
        log_.record(actor, athlete_id, what)
    finally:
        log_.close()


async def export_athlete(
    settings: Settings, athlete_id: int, out: Path, *, by: str = "operator"
) -> dict[str, int]:
    """The zip of everything of the person; returns rows per file. The export is written
    to the access log first, so the zip holds its own entry."""
    from gympulse.pipeline.access_log import EXPORT

    await asyncio.to_thread(_log_access, settings, by, athlete_id, EXPORT)
    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    try:
        return await privacy.export_athlete(store, settings.store.path, athlete_id, out)
    finally:
        await store.close()


def grafana_configured(settings: Settings) -> bool:
    g = settings.grafana
    return bool(g.token or (g.username and g.password))


async def forget_athlete(
    settings: Settings, athlete_id: int, *, by: str = "operator"
) -> dict[str, int]:
    """Erase the person from every place of the map (:mod:`gympulse.pipeline.personal_data`):
    time series, derived tables, journal, registry, guest links, and (when configured)
    their Grafana dashboard and share. Returns what was deleted per place (-1: the place
    cannot count)."""
    counts: dict[str, int] = {}
    for place in ELSEWHERE:
        eraser = _ELSEWHERE_ERASERS[place.name]
        if eraser is not None:
            counts |= await eraser(settings, athlete_id)
    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    try:
        counts |= await privacy.erase_athlete(store, settings.store.path, athlete_id, by=by)
    finally:
        await store.close()
    log.warning("athlete %d erased: %s", athlete_id, counts)
    return counts


async def _forget_grafana(settings: Settings, athlete_id: int) -> dict[str, int]:
    if not grafana_configured(settings):
        return {}
    from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget

    sync = GrafanaSync(GrafanaTarget.from_settings(settings))
    return {"grafana": await asyncio.to_thread(sync.forget_athlete, athlete_id)}


# What erases each place of the map outside the databases (None: nothing to erase there,
# see its entry). A new entry in ELSEWHERE without one here fails at import.
_ELSEWHERE_ERASERS: dict[str, Callable[[Settings, int], Awaitable[dict[str, int]]] | None] = {
    "grafana": _forget_grafana,
    "export files": None,
    "logs": None,
}
if set(_ELSEWHERE_ERASERS) != {p.name for p in ELSEWHERE}:
    raise RuntimeError("dashboards.rights: every ELSEWHERE place needs an eraser (or None)")


async def apply_retention(settings: Settings, days: int | None = None) -> int:
    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    try:
        days = days or settings.ingest.retention_days
        return await privacy.apply_retention(store, settings.store.path, days)
    finally:
        await store.close()
