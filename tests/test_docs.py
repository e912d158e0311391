"""The repository stands alone: its README, docs and code comments never point outside it
(a clone has no workspace around it), and every relative link in the docs resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("gympulse", "collectors", "pipeline", "dashboards", "tests", "bench", "docs",
               "config", "scripts", ".ci")  # fmt: skip
SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".html", ".js", ".css", ".cfg", ""}
OUTSIDE = re.compile(r"\.\./shared|shared/(DESIGN|STYLE|MEASURED)|\b(DESIGN|STYLE|MEASURED)\.md\b")


def _files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Dockerfile"]
    for folder in SOURCE_DIRS:
        base = ROOT / folder
        if base.is_symlink() or not base.is_dir():
            continue
        found += [
            p
            for p in base.rglob("*")
            if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
        ]
    return [p for p in found if p.exists() and p.name != "test_docs.py"]


def test_nothing_refers_outside_the_repository() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_relative_links_in_the_docs_resolve() -> None:
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *ROOT.glob("*/README.md")]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert broken == []
