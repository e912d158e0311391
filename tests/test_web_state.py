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


def is_app_state(node: ast.expr) -> bool:
    """``app.state`` or ``<anything>.app.state`` (a request's own ``request.state`` is not
    shared and is left alone)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "state"):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "app") or (
        isinstance(owner, ast.Attribute) and owner.attr == "app"
    )


def state_attributes(source: str) -> set[str]:
    """Names used as ``app.state.<name>``; ``<dynamic>`` for getattr/setattr on it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and is_app_state(node.value):
            found.add(node.attr)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr"}
            and node.args
            and is_app_state(node.args[0])
        ):
            found.add("<dynamic>")
    return found


def test_the_walk_finds_state_attributes() -> None:
    source = (
        "x = request.app.state.settings\n"
        "y = getattr(app.state, 'hub', None)\n"
        "request.state.guest = guest\n"  # a request's own state: not shared
    )
    assert state_attributes(source) == {"settings", "<dynamic>"}


def test_web_modules_reach_shared_state_only_through_the_context() -> None:
    modules = sorted(WEB_PACKAGE.rglob("*.py"))
    assert len(modules) > 20  # the walk sees the package
    used = {p.name: state_attributes(p.read_text()) - {"ctx"} for p in modules}
    assert {name: names for name, names in used.items() if names} == {}
