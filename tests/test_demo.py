"""Issue 2: ``gympulse demo`` from a fresh install runs the whole pipeline on one machine.

The repo is installed with its ``server`` extra into a new venv (pip's cache makes this
quick), ``gympulse demo --duration 20`` runs as a subprocess, and the test reads the URLs
it prints: the live board serves all 12 participants with live values and the SQLite file
holds samples of 12 sensors.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTICIPANTS = 12  # the demo's default (settings simulator.participants)


def _copy_source(dest: Path) -> Path:
    """A copy of the installable tree, so pip's in-tree build dir never races a colleague's."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    for package in ("gympulse", "collectors", "pipeline", "dashboards"):
        shutil.copytree(
            REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return dest


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-venv")
    source = _copy_source(root / "src")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"{source}[server]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_demo_runs_from_a_fresh_install(fresh_venv: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = subprocess.Popen(
        [str(fresh_venv / "bin" / "gympulse"), "demo", "--duration", "20", "--db", str(db)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": f"{fresh_venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        while "Live board" not in lines or "SQLite file" not in lines:
            line = proc.stdout.readline()
            assert line, f"demo exited early: {proc.stderr.read() if proc.stderr else ''}"
            if ": " in line:
                key, value = line.strip().split(": ", 1)
                lines[key] = value
        board_url = lines["Live board"]
        assert board_url.endswith("/live")
        base = board_url.removesuffix("/live")

        # Participants publish once a second; wait (generously) until every strap has a
        # live value on the board.
        deadline = time.monotonic() + 15
        tiles: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            snapshot = _get_json(f"{base}/api/live/snapshot")
            assert isinstance(snapshot, list)
            tiles = snapshot
            if len(tiles) == PARTICIPANTS and all(t["bpm"] is not None for t in tiles):
                break
            time.sleep(0.5)
        assert len(tiles) == PARTICIPANTS, tiles
        sensors = {t["sensor"] for t in tiles}
        assert sensors == {f"strap-{i}" for i in range(1, PARTICIPANTS + 1)}
        for tile in tiles:
            assert tile["state"] == "live", tile
            assert isinstance(tile["bpm"], int) and 30 <= tile["bpm"] <= 240
        # All but the last participant are seeded as named athletes.
        named = [t for t in tiles if t["athlete_id"] is not None]
        assert len(named) == PARTICIPANTS - 1

        _out, err = proc.communicate(timeout=40)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert Path(lines["SQLite file"]) == db.resolve()
    assert db.exists()
    with sqlite3.connect(db) as conn:
        per_sensor = dict(
            conn.execute("SELECT sensor, count(*) FROM samples GROUP BY sensor").fetchall()
        )
    assert len(per_sensor) == PARTICIPANTS
    assert all(n >= 5 for n in per_sensor.values()), per_sensor
