"""The web app's shared state has one way in: ``app.state.ctx`` (the AppContext).

Any other attribute put on or read from ``app.state`` is invisible to mypy (Starlette's State
is untyped) and to the lifespan that opens and closes the context — a router reading
``app.state.settings`` after it moved failed only when a guest opened the page. This walks
every web module's source, so a new module is checked without being listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gympulse.dashboards

WEB_PACKAGE = Path(gympulse.dashboards.__file__).parent


def state_attributes(source: str) -> set[str]:
    """Names used as ``<anything>.state.<name>`` or ``getattr(<anything>.state, "<name>")``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "state"
        ):
            found.add(node.attr)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr"}
            and node.args
            and isinstance(node.args[0], ast.Attribute)
            and node.args[0].attr == "state"
        ):
            found.add("<dynamic>")
    return found


def test_the_walk_finds_state_attributes() -> None:
    source = "x = request.app.state.settings\ny = getattr(app.state, 'hub', None)\n"
    assert state_attributes(source) == {"settings", "<dynamic>"}


def test_web_modules_reach_shared_state_only_through_the_context() -> None:
    modules = sorted(WEB_PACKAGE.rglob("*.py"))
    assert len(modules) > 20  # the walk sees the package
    used = {p.name: state_attributes(p.read_text()) - {"ctx"} for p in modules}
    assert {name: names for name, names in used.items() if names} == {}
