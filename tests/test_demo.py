"""Installs as users get them: only the production extras, in fresh venvs.

Issue 2: ``gympulse demo`` from a fresh install runs the whole pipeline on one machine.
Issue 9 (1): the production installs compute: ``scripts/demo`` installs ``.[server]`` and
the Dockerfile ``.[server,collector]``; in each, the demo runs with its first analytics run
inside the window, then ``gympulse analyze`` runs on its database, and neither prints a
traceback or an ERROR line. With only the core, or only ``[collector]``, each command that
needs another extra says which in one line and exits 2, and ``--help`` offers only what is
installed.

Each venv is built once per session from a copy of the tree (``tests/support/install.py``,
shared with ``tests/test_packaging.py``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from gympulse.cli import _commands, needs_extra_line

REPO = Path(__file__).resolve().parents[1]
PARTICIPANTS = 12  # the demo's default (settings simulator.participants)

pytestmark = pytest.mark.slow


def _env(venv: Path, home: Path) -> dict[str, str]:
    return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home)}


def _get_json(url: str, opener: urllib.request.OpenerDirector | None = None) -> object:
    with (opener or urllib.request.build_opener()).open(url, timeout=5) as response:
        return json.loads(response.read())


def _no_errors(output: str, what: str) -> None:
    bad = [
        line
        for line in output.splitlines()
        if "Traceback" in line or " ERROR " in line or line.startswith("ERROR")
    ]
    assert not bad, f"{what} printed errors:\n{output}"


# scripts/demo installs .[server]; the Dockerfile .[server,collector].
@pytest.mark.parametrize("extras", ["server", "server,collector"])
def test_demo_and_analyze_run_cleanly_from_a_production_install(
    venvs: Callable[[str], Path], extras: str, tmp_path: Path
) -> None:
    venv = venvs(extras)
    db = tmp_path / "demo.db"
    gympulse = str(venv / "bin" / "gympulse")
    proc = subprocess.Popen(
        # -v: the demo logs each analytics run at INFO, so the test sees that one ran.
        # --no-history: the plain live pipeline (the seeded history: test_demo_history).
        [
            gympulse,
            "-v",
            "demo",
            "--no-history",
            "--duration",
            "20",
            "--db",
            str(db),
            "--analyze-first",
            "5",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(venv, tmp_path),
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
        assert "/board/" in board_url
        base = board_url.split("/board/")[0]
        # The board is not anonymous; its printed link opens it (a cookie remembers it).
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get_json(f"{base}/api/live/snapshot")
        assert refused.value.code == 403
        tv = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with tv.open(board_url, timeout=5) as response:
            assert response.url == f"{base}/live"

        # Participants publish once a second; wait (generously) until every strap has a
        # live value on the board.
        deadline = time.monotonic() + 15
        tiles: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            snapshot = _get_json(f"{base}/api/live/snapshot", tv)
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

        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _no_errors(out + err, "gympulse demo")
    assert "gympulse.demo: analyzed:" in err, err  # the analytics ran inside the window

    assert Path(lines["SQLite file"]) == db.resolve()
    with sqlite3.connect(db) as conn:
        per_sensor = dict(
            conn.execute("SELECT sensor, count(*) FROM samples GROUP BY sensor").fetchall()
        )
    assert len(per_sensor) == PARTICIPANTS
    assert all(n >= 5 for n in per_sensor.values()), per_sensor

    analyzed = subprocess.run(
        [gympulse, "analyze", "--full"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(venv, tmp_path) | {"GYMPULSE_STORE__PATH": str(db)},
    )
    _no_errors(analyzed.stdout + analyzed.stderr, "gympulse analyze")
    assert analyzed.returncode == 0, analyzed.stderr
    # Every named participant's day was counted (the full run recounts all of them).
    assert f"analyzed: {PARTICIPANTS - 1} athlete-days touched" in analyzed.stdout


@pytest.mark.parametrize("extras", ["", "collector"])
def test_commands_of_a_missing_extra_name_it_in_one_line(
    venvs: Callable[[str], Path], extras: str, tmp_path: Path
) -> None:
    venv = venvs(extras)
    installed = set(filter(None, extras.split(",")))
    gympulse = str(venv / "bin" / "gympulse")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gympulse, *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(venv, tmp_path),
        )

    commands = _commands()  # the registry, read in this (fully installed) environment
    unavailable = [c for c in commands if c.extra is not None and c.extra not in installed]
    available = [c for c in commands if c not in unavailable]
    assert unavailable and available

    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    offered, _, epilog = shown.stdout.partition("commands by extra")
    for c in available:
        assert f"    {c.name} " in offered, shown.stdout
    for c in unavailable:
        assert f"    {c.name} " not in offered, shown.stdout
        assert c.name in epilog
    for extra in {c.extra for c in unavailable}:
        assert f"{extra} " in epilog and "NOT INSTALLED" in epilog, epilog

    for c in unavailable:
        for argv in ([c.name], [c.name, "--help"], [c.name, "some-arg", "--some-option", "1"]):
            result = run(*argv)
            assert result.returncode == 2, (argv, result.stdout, result.stderr)
            assert result.stderr.strip() == needs_extra_line(c.name, str(c.extra)), argv
            assert result.stdout == ""
    for c in available:  # what is offered works as far as its help
        result = run(c.name, "--help")
        assert result.returncode == 0, (c.name, result.stderr)
        assert "Traceback" not in result.stderr
