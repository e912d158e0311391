"""Re-applying corrected strap assignments to samples already stored.

Ingestion stamps each sample with the athlete assigned to its strap at the sample's ``ts``.
When a coach corrects an assignment afterwards ("Eva had strap 12 tonight, not Bram"), the
stored samples are re-stamped from the registry's current assignments.

Ingestion does this by itself: whenever it sees the registry's change counter move, it
re-stamps the windows whose wearer changed (:func:`changed_windows`), so samples stored
before it noticed — unassigned, or under the previous wearer — follow the new assignment,
whichever process made it (``gympulse assign``, the admin form).

Consent (``docs/privacy.md``, "Consent"): a sample is re-stamped onto a wearer only when she
consents now to live class or morning heart rate, the rule ingestion stores by. Otherwise
it is left unassigned (stamped with nobody, its % of HRmax and zone cleared): shown to no
one as anybody's, counted in no session, and gone with the strap's retention.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

from gympulse.pipeline.consent import Policy, storable_now
from gympulse.pipeline.domain import Assignment, Resolver
from gympulse.pipeline.registry import FOREVER_MS, Registry
from gympulse.pipeline.stores.base import SampleStore


async def reapply(
    registry: Registry,
    store: SampleStore,
    sensor: str,
    start_ms: int,
    end_ms: int,
    policy: Policy | None = None,
) -> int:
    """Re-stamp ``sensor``'s samples in [start_ms, end_ms) per the registry; returns how many
    samples changed athlete. A wearer without consent now (``policy``; None: no rules)
    gets none of them: they are left unassigned. The registry is read off the event loop
    (its owner thread, waited for in a worker thread)."""
    resolver = await asyncio.to_thread(registry.resolver)
    consented = None
    if policy is not None and policy.required:
        consented = await asyncio.to_thread(registry.run, lambda c: storable_now(c, policy))
    bounds = {start_ms, end_ms}
    for a in await asyncio.to_thread(registry.assignments, sensor):
        for edge in (a.start_ms, a.end_ms if a.end_ms is not None else FOREVER_MS):
            if start_ms < edge < end_ms:
                bounds.add(edge)
    edges = sorted(bounds)
    athletes = {a.id: a for a in await asyncio.to_thread(registry.athletes)}
    changed = 0
    for lo, hi in itertools.pairwise(edges):
        athlete_id = resolver.athlete_at(sensor, lo)
        if athlete_id is not None and consented is not None and athlete_id not in consented:
            athlete_id = None  # never onto a wearer without her consent
        athlete = athletes.get(athlete_id) if athlete_id is not None else None
        # %HRmax and zone follow the new wearer (age in the interval's first year).
        hr_max = athlete.hr_max_at(lo) if athlete is not None else None
        changed += await store.reassign(sensor, lo, hi, athlete_id, hr_max=hr_max)
    return changed


Window = tuple[int, int]  # [start_ms, end_ms)


def changed_windows(old: Iterable[Assignment], new: Iterable[Assignment]) -> dict[str, Window]:
    """Pure: per strap, the span of time in which the wearer differs between two sets of
    assignments (from the first to the last instant that differs; ``FOREVER_MS`` for
    open-ended). Straps whose wearer is the same at every instant are absent, so handing a
    strap on at ``t`` gives ``[t, FOREVER_MS)``, not the previous wearer's whole history."""
    old, new = list(old), list(new)
    before, after = Resolver(old), Resolver(new)
    edges: dict[str, set[int]] = {}
    for a in (*old, *new):
        edges.setdefault(a.sensor, set()).update(
            (a.start_ms, FOREVER_MS if a.end_ms is None else a.end_ms)
        )
    windows: dict[str, Window] = {}
    for sensor, points in edges.items():
        ordered = sorted(points)
        differing = [
            (lo, hi)
            for lo, hi in itertools.pairwise(ordered)
            if before.athlete_at(sensor, lo) != after.athlete_at(sensor, lo)
        ]
        if differing:
            windows[sensor] = (differing[0][0], differing[-1][1])
    return windows


def merge_windows(into: dict[str, Window], more: dict[str, Window]) -> None:
    for sensor, (start, end) in more.items():
        lo, hi = into.get(sensor, (start, end))
        into[sensor] = (min(lo, start), max(hi, end))


async def restamp(
    registry: Registry,
    store: SampleStore,
    windows: dict[str, Window],
    policy: Policy | None = None,
) -> int:
    """Re-stamp every stored sample in ``windows`` per the registry's assignments now (and
    its consent, :func:`reapply`); returns how many changed athlete."""
    changed = 0
    for sensor, (start, end) in sorted(windows.items()):
        changed += await reapply(registry, store, sensor, start, end, policy)
    return changed
