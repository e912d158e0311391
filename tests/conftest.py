from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.influxd import Influxd
from tests.support.install import build_wheel, make_venv
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, seed_history, seeded_copy

# Consent per domain (pipeline/consent.py) is on by default for every site. The tests that
# are not about consent run as before, with the rules off (their made-up guests never
# answered); tests/test_consent*.py switch them on for their own processes and settings.
os.environ.setdefault("GYMPULSE_CONSENT__REQUIRED", "false")


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


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``venvs("collector")``: a fresh venv with exactly those extras ("" for the core),
    built on first use and shared by every test of the session (tests/support/install.py)."""
    built: dict[str, Path] = {}
    wheels: list[Path] = []

    def get(extras: str) -> Path:
        if not wheels:
            wheels.append(build_wheel(tmp_path_factory.mktemp("wheel")))
        if extras not in built:
            root = tmp_path_factory.mktemp(f"venv-{extras.replace(',', '-') or 'core'}")
            built[extras] = make_venv(root, extras, wheels[0])
        return built[extras]

    return get


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The web tests' history (tests/support/web.seed_history), seeded once per session."""
    return seed_history(tmp_path_factory.mktemp("seeded") / "gympulse.db")


@pytest.fixture
def seeded(seeded_template: Seeded, tmp_path: Path) -> Seeded:
    """A private copy of the seeded history for one test."""
    return seeded_copy(seeded_template, tmp_path)
