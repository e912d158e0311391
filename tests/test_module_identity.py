"""One identity per module: the role folders (collectors/, pipeline/, dashboards/) are
importable only as ``gympulse.<folder>``, even with the repository root on sys.path (as it
is for pytest and ``python bench/...``), so no class exists twice (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("collectors", "pipeline", "dashboards")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter whose sys.path starts with the repository root."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("role", ROLES)
def test_a_role_folder_refuses_its_bare_name(role: str) -> None:
    done = _python(f"import {role}")
    assert done.returncode != 0
    assert f"ImportError: import gympulse.{role}, not {role}" in done.stderr


def test_every_module_loads_once_under_its_one_name() -> None:
    """Import every module of the package; none may appear under a bare role name, and the
    decoder's error class is the same object whichever module re-exports it."""
    code = """
import importlib, pkgutil, sys
import gympulse
failed = []
for info in pkgutil.walk_packages(gympulse.__path__, "gympulse."):
    try:
        importlib.import_module(info.name)
    except ImportError as exc:  # an optional extra that is not installed
        failed.append(f"{info.name}: {exc}")
bare = sorted(m for m in sys.modules if m.split(".")[0] in ("collectors", "pipeline", "dashboards"))
print("BARE", bare)
print("LOADED", sum(m.startswith("gympulse.") for m in sys.modules))
print("FAILED", failed)
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    out = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert out["BARE"] == "[]"
    assert out["FAILED"] == "[]"
    assert int(out["LOADED"]) > 50  # the walk really reached the role folders
