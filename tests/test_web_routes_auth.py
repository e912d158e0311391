"""Every route of the web app carries its credential as a FastAPI dependency: the coach
(``require_coach``), a guest link (``resolve_guest``) or the live board (``board_viewer``).
Only a short, named list is open to anyone. A new route that forgets its dependency fails
here before it can show anybody's data."""

from __future__ import annotations

from pathlib import Path

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gympulse.dashboards.access import board_viewer
from gympulse.dashboards.coach_auth import require_coach
from gympulse.dashboards.guest import resolve_guest
from tests.support.web import app_client

# Open to anyone, and why.
PUBLIC = {
    "/": "a redirect to /live",
    "/board/{token}": "checks the board token itself",
    "/coach/login": "the login form",
    "/favicon.ico": "a redirect to the page icon in /static",
    "/healthz": "ok, MQTT connected, number of tiles: nothing personal",
}
CREDENTIALS = {require_coach, resolve_guest, board_viewer}


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _routes(app_routes: list[object]) -> list[tuple[str, set[object]]]:
    """(path, the callables of every dependency) of each route, the routers' included:
    a router's own dependencies count for each of its routes."""
    out: list[tuple[str, set[object]]] = []
    for route in app_routes:
        if isinstance(route, APIRoute):
            out.append((route.path, _calls(route.dependant)))
        router = getattr(route, "original_router", None)
        if router is not None:
            inherited = {d.dependency for d in router.dependencies}
            for path, calls in _routes(list(router.routes)):
                out.append((path, calls | inherited))
    return out


def test_every_route_needs_a_credential(tmp_path: Path) -> None:
    with app_client(tmp_path / "gympulse.db") as client:
        routes = _routes(list(client.app.routes))  # type: ignore[attr-defined]
    assert len(routes) > 30
    open_routes = sorted(p for p, calls in routes if p not in PUBLIC and not calls & CREDENTIALS)
    assert open_routes == []
    # The list of public routes is not stale either.
    assert set(PUBLIC) <= {p for p, _ in routes}
