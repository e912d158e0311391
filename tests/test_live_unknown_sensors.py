"""Unknown sensor ids cannot grow the live board or the admin list without bound (issue 10,
item 9): at most MAX_UNKNOWN_TILES tiles for straps nobody registered or assigned, the least
recently heard giving way, and each gone after UNKNOWN_TTL_S without a sample; registered
and assigned straps are never touched. Browsers are told with a ``gone`` event."""

from __future__ import annotations

from pathlib import Path

from gympulse import contract
from gympulse.dashboards.live import MAX_UNKNOWN_TILES, UNKNOWN_TTL_S, LiveHub
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings


def test_unknown_tiles_are_capped_and_age_out(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "r.db")
    ada = registry.add_athlete("Ada", birth_year=1990)
    registry.assign("strap-ada", ada, 0)
    registry.set_sensor_label("strap-spare", "Spare 1")
    hub = LiveHub(Settings(), registry)
    browser = hub.subscribe()
    now = contract.now_ms()

    def hear(sensor: str, at: int) -> None:
        hub.apply_sample(contract.HrSample(sensor, at, 1, 90), at)

    hear("strap-ada", now)
    hear("strap-spare", now)
    for i in range(5000):  # 5,000 one-off made-up ids
        hear(f"junk-{i}", now + i)
    unknown = [s for s in hub.tiles if s.startswith("junk-")]
    assert len(unknown) == MAX_UNKNOWN_TILES
    assert set(unknown) == {f"junk-{i}" for i in range(5000 - MAX_UNKNOWN_TILES, 5000)}
    assert {"strap-ada", "strap-spare"} <= set(hub.tiles)
    gone = []
    while not browser.empty():
        event = browser.get_nowait()
        if event.startswith("event: gone"):
            gone.append(event)
    assert gone  # (a slow browser keeps only the newest events)

    later = now + 5000 + int(UNKNOWN_TTL_S * 1000) + 1
    hear("junk-late", later)  # heard recently: stays
    assert hub.age_out(later) == MAX_UNKNOWN_TILES - 1
    assert set(hub.tiles) == {"strap-ada", "strap-spare", "junk-late"}
    registry.close()
