from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.influxd import Influxd
from tests.support.procs import Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto on a free port, with persistence, stopped after the test."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    """A private influxd (Debian's InfluxDB 1.x) on free ports with a temp data dir."""
    server = Influxd(tmp_path / "influxd")
    server.start()
    try:
        yield server
    finally:
        server.kill()


SERVER_FIXTURES = frozenset({"mosquitto", "influxd"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a real server is slow even when its author forgot the marker, so
    ``scripts/test -m "not slow"`` stays the quick loop (tests mark themselves explicitly
    too; this only catches a new one)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
