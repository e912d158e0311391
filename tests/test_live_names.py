"""The live board's names follow the registry's change counter (as ingestion's snapshot
does): athletes and assignments are read again only when it moved, a new assignment or name
reaches the tiles at the next refresh, and a strap label is picked up every refresh."""

from __future__ import annotations

from pathlib import Path

from gympulse import contract
from gympulse.dashboards.live import LiveHub
from gympulse.pipeline.domain import Athlete
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings


class CountingRegistry(Registry):
    """The real registry, counting the full reads the hub makes."""

    full_reads = 0

    def athletes(self) -> list[Athlete]:
        self.full_reads += 1
        return super().athletes()


def test_names_are_read_again_only_when_the_registry_changed(tmp_path: Path) -> None:
    registry = CountingRegistry(tmp_path / "r.db")
    ada = registry.add_athlete("Ada Lovelace", birth_year=1990)
    registry.assign("strap-1", ada, 0)
    hub = LiveHub(Settings(), registry)
    names = hub._read_names()
    hub._resolver, hub._athletes, hub._labels = names
    hub._names_at = 1.0
    reads = registry.full_reads
    for _ in range(5):  # nothing changed: five refreshes, no full read
        hub._resolver, hub._athletes, hub._labels = hub._read_names()
    assert registry.full_reads == reads
    registry.set_sensor_label("strap-9", "Spare 9")  # labels: read every refresh
    hub._resolver, hub._athletes, hub._labels = hub._read_names()
    assert hub._labels["strap-9"] == "Spare 9"
    bea = registry.add_athlete("Bea Smit", birth_year=1985)
    registry.assign("strap-2", bea, 0)
    hub._resolver, hub._athletes, hub._labels = hub._read_names()
    assert registry.full_reads == reads + 1
    tile = hub.apply_sample(contract.HrSample("strap-2", contract.now_ms(), 1, 90), 0)
    assert tile.athlete_id == bea
    registry.close()
