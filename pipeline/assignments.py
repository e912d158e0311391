"""Re-applying corrected strap assignments to samples already stored.

Ingestion stamps each sample with the athlete assigned to its strap at the sample's ``ts``.
When a coach corrects an assignment afterwards ("Eva had strap 12 tonight, not Bram"), the
stored samples are re-stamped from the registry's current assignments.
"""

from __future__ import annotations

import datetime as dt
import itertools

from gympulse.pipeline.registry import FOREVER_MS, Registry
from gympulse.pipeline.stores.base import Store


async def reapply(registry: Registry, store: Store, sensor: str, start_ms: int, end_ms: int) -> int:
    """Re-stamp ``sensor``'s samples in [start_ms, end_ms) per the registry; returns how many
    samples changed athlete."""
    resolver = registry.resolver()
    bounds = {start_ms, end_ms}
    for a in registry.assignments(sensor):
        for edge in (a.start_ms, a.end_ms if a.end_ms is not None else FOREVER_MS):
            if start_ms < edge < end_ms:
                bounds.add(edge)
    edges = sorted(bounds)
    athletes = {a.id: a for a in registry.athletes()}
    changed = 0
    for lo, hi in itertools.pairwise(edges):
        athlete_id = resolver.athlete_at(sensor, lo)
        athlete = athletes.get(athlete_id) if athlete_id is not None else None
        # %HRmax and zone follow the new wearer (age in the interval's first year).
        hr_max = athlete.effective_hr_max(_utc_year(lo)) if athlete is not None else None
        changed += await store.reassign(sensor, lo, hi, athlete_id, hr_max=hr_max)
    return changed


def _utc_year(ts_ms: int) -> int:
    return dt.datetime.fromtimestamp(max(ts_ms, 0) / 1000, dt.UTC).year
