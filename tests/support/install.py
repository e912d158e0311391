"""Installs as users get them: a fresh venv with exactly the given extras, from a copy of
the installable tree (so pip's in-tree build never races a colleague's), with the exact
versions of ``requirements/constraints.txt`` that ``scripts/demo`` and the Dockerfile use.
The wheel is built once per test session and every venv installs it; the ``venvs``
fixture (tests/conftest.py) builds each venv once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_source(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    for package in ("gympulse", "collectors", "pipeline", "dashboards"):
        shutil.copytree(
            REPO / package,
            dest / package,
            ignore=shutil.ignore_patterns("__pycache__"),
            symlinks=True,
        )
    return dest


def build_wheel(root: Path) -> Path:
    """The gympulse wheel, built once from a copy of the tree (what a release ships)."""
    source = copy_source(root / "src")
    out = root / "wheel"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--disable-pip-version-check", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("gympulse-*.whl")
    return wheel


def make_venv(root: Path, extras: str, wheel: Path) -> Path:
    """A venv under ``root`` with ``gympulse[extras]`` installed from ``wheel``."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    target = f"gympulse[{extras}] @ {wheel.as_uri()}" if extras else str(wheel)
    constraints = ["-c", str(REPO / "requirements" / "constraints.txt")]
    pip_install = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    pip = subprocess.run(
        [*pip_install, *constraints, target],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv
