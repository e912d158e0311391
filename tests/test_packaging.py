"""What a collector-only install really gets: ``pip install .[collector]`` into a fresh
venv (a Raspberry Pi) installs exactly one top-level import package, ``gympulse``; every
collector module imports there, and the server code does not (polars is not installed).

The venv is the session's shared ``venvs("collector")`` (tests/conftest.py), the same one
``tests/test_demo.py`` checks the CLI in."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def collector_venv(venvs: Callable[[str], Path]) -> Path:
    """The python of a fresh venv with only ``gympulse[collector]`` (a Raspberry Pi)."""
    return venvs("collector") / "bin" / "python"


def _run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd="/", check=False
    )


@pytest.mark.slow
def test_collector_install_has_one_top_level_package_and_no_server_code(
    collector_venv: Path,
) -> None:
    top_level = _run(
        collector_venv,
        "import importlib.metadata as m\n"
        "print(m.distribution('gympulse').read_text('top_level.txt'))",
    )
    assert top_level.returncode == 0, top_level.stderr
    assert top_level.stdout.split() == ["gympulse"]

    files = _run(
        collector_venv,
        "import importlib.metadata as m\nfor f in m.files('gympulse'): print(f.parts[0])",
    )
    assert files.returncode == 0, files.stderr
    installed = {p for p in files.stdout.split() if not p.endswith(".dist-info") and p != ".."}
    assert installed == {"gympulse"}  # ".." is the console script in bin/

    collectors = sorted(p.stem for p in (ROOT / "collectors").glob("*.py") if p.stem != "__init__")
    imports = _run(
        collector_venv,
        "import importlib\n"
        f"for name in {collectors!r}: importlib.import_module('gympulse.collectors.' + name)\n"
        "import gympulse.contract, gympulse.mqtt, gympulse.settings, gympulse.cli\n",
    )
    assert imports.returncode == 0, imports.stderr

    # The server code is in the wheel (one distribution) but cannot run: its extra is absent.
    server_deps = {"polars", "numpy", "fastapi", "starlette", "uvicorn", "prometheus_client"}
    for server_module in (
        "gympulse.pipeline.ingest",
        "gympulse.pipeline.stores.base",
        "gympulse.dashboards.app",
    ):
        refused = _run(collector_venv, f"import {server_module}")
        missing = refused.stderr.rpartition("ModuleNotFoundError: No module named ")[2]
        assert missing.strip().strip("'") in server_deps, refused.stderr
    polars = _run(collector_venv, "import polars")
    assert "No module named 'polars'" in polars.stderr


def test_the_constraints_pin_every_dependency_of_every_extra() -> None:
    """requirements/constraints.txt (scripts/lock) must cover what pyproject.toml asks for;
    a dependency added without refreshing it would install unpinned."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += [r for r in extra if not r.startswith("gympulse[")]

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lines = (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
    pinned = {norm(line.split("==")[0]) for line in lines if "==" in line}
    names = {norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0)) for r in wanted}  # type: ignore[union-attr]
    assert sorted(names - pinned) == []


@pytest.mark.slow
def test_the_wheel_carries_the_catalogues(collector_venv: Path) -> None:
    """The words (dashboards/locale/*/LC_MESSAGES/gympulse.po) are package data: the web
    process reads them at start, from the installed package (the Docker image too)."""
    files = _run(
        collector_venv, "import importlib.metadata as m\nfor f in m.files('gympulse'): print(f)"
    )
    assert files.returncode == 0, files.stderr
    installed = set(files.stdout.split())
    catalogues = sorted((ROOT / "dashboards" / "locale").glob("*/LC_MESSAGES/gympulse.po"))
    assert {p.parent.parent.name for p in catalogues} >= {"en", "nl"}
    for po in catalogues:
        assert f"gympulse/dashboards/{po.relative_to(ROOT / 'dashboards')}" in installed
    assert not [f for f in installed if f.endswith(".mo")]  # compiled in memory, not shipped
