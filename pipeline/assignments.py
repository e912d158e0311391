"""Re-applying corrected strap assignments to samples already stored.

Ingestion stamps each sample with the athlete assigned to its strap at the sample's ``ts``.
When a coach corrects an assignment afterwards ("Eva had strap 12 tonight, not Bram"), the
stored samples are re-stamped from the registry's current assignments.
"""

from __future__ import annotations

import itertools

from pipeline.registry import FOREVER_MS, Registry
from pipeline.stores.base import Store


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
    changed = 0
    for lo, hi in itertools.pairwise(edges):
        changed += await store.reassign(sensor, lo, hi, resolver.athlete_at(sensor, lo))
    return changed
