"""A decoded FIT file into the stores: the athlete wears the file's sensor for the file's
time, and its samples take the ingestion path of MQTT messages (validation, quarantine, the
idempotent write on (sensor, ts)), as the guest page's Web Bluetooth samples do.

Used by ``gympulse import``, the coach's athlete page and the guest page (one rule, one
place). Decoding runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from gympulse import contract
from gympulse.mqtt import Received
from gympulse.pipeline.fit_import import FitActivity, FitRefused, decode_fit
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry

__all__ = ["IMPORT_COLLECTOR", "Imported", "import_fit"]

IMPORT_COLLECTOR: Final = "import"
CHUNK: Final = 100  # samples per message: the contract takes 64 KiB per message
# Decoding has a worker thread of its own: many uploads at once queue here, not in the
# loop's default executor, where every page's SQLite call (run_db) would wait behind them.
_DECODER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit-decode")


@dataclass(frozen=True)
class Imported:
    sensor: str
    start_ms: int
    end_ms: int
    samples: int  # heart-rate samples in the file
    rr: int  # RR intervals from its HRV messages
    machine: int  # records with power or cadence
    stored: int  # new heart-rate and machine rows (0 when the file was imported before)
    refused: int  # samples the ingestion refused (quarantined: too old for the retention, ...)


def _messages(site: str, activity: FitActivity) -> list[Received]:
    hr_topic = contract.hr_topic(site, IMPORT_COLLECTOR, activity.sensor)
    machine_topic = contract.machine_topic(site, IMPORT_COLLECTOR, activity.sensor)
    out = [
        Received(hr_topic, contract.encode(activity.samples[i : i + CHUNK]), 1, False, 0, 0)
        for i in range(0, len(activity.samples), CHUNK)
    ]
    out += [
        Received(machine_topic, contract.encode(activity.machine[i : i + CHUNK]), 1, False, 0, 0)
        for i in range(0, len(activity.machine), CHUNK)
    ]
    return out


def _claim(registry: Registry, activity: FitActivity, athlete_id: int) -> None:
    """The athlete wears the file's sensor from its first to its last sample (once)."""
    owner = registry.resolver().athlete_at(activity.sensor, activity.start_ms)
    if owner is None:
        registry.assign(activity.sensor, athlete_id, activity.start_ms, activity.end_ms + 1)
    elif owner != athlete_id:
        raise FitRefused("elsewhere", "this file was imported for someone else")


async def import_fit(
    service: IngestService,
    registry: Registry,
    athlete_id: int,
    data: bytes,
    *,
    max_bytes: int,
    lock: asyncio.Lock | None = None,
) -> Imported:
    """Raises :class:`FitRefused` (nothing stored) or ``ConnectionError`` (the store is
    unavailable: try again, a repeat stores nothing twice). ``lock``: the web's one lock
    around its ingestion service's counters."""
    decode = functools.partial(decode_fit, data, max_bytes=max_bytes)
    activity = await asyncio.get_running_loop().run_in_executor(_DECODER, decode)
    messages = _messages(service.settings.site, activity)
    async with lock or asyncio.Lock():
        # Under the lock: two uploads of one file for two people at once cannot both claim it.
        await asyncio.to_thread(_claim, registry, activity, athlete_id)
        stats = service.stats
        before, bad = stats.stored, sum(stats.quarantined.values())
        if not await service.ingest(messages):
            raise ConnectionError("the store is unavailable")
        stored, refused = stats.stored - before, sum(stats.quarantined.values()) - bad
    return Imported(
        activity.sensor,
        activity.start_ms,
        activity.end_ms,
        len(activity.samples),
        activity.rr_count,
        len(activity.machine),
        stored,
        refused,
    )
