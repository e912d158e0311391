"""Guest isolation: with guest A's link, try every route of the app with every parameter
pointing at guest B (B's athlete id, B's session ids, B's strap, tables for CSV export,
forged tokens) and check that nothing of B's comes back: 403/404 (or a redirect to the
coach login), and B's name, session ids and samples appear in no response body.
The SSE stream is checked against a real server in ``test_web_browser.py``."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from fastapi.routing import APIRoute
from starlette.routing import Route

from gympulse.dashboards import admin, coach, coach_auth, coach_exports, coach_links, guest
from tests.support.web import app_client, csrf_from, guest_token, seed_history

TABLES = ["athletes", "samples", "session_summary", "daily_metrics", "baselines", "wellness"]


def test_guest_a_cannot_reach_guest_b(tmp_path: Path) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    token_a = guest_token(seeded.db, alice)
    token_b = guest_token(seeded.db, bob)
    b_sessions = seeded.sessions["Bob"]
    b_markers = ["Bob", *b_sessions, "strap-2"]

    with app_client(seeded.db) as client:
        csrf_a = csrf_from(client.get(f"/me/{token_a}").text)
        values = {
            "token": [token_a, token_a + "x", token_b[:20], "", "%2e%2e"],
            "athlete_id": [str(bob), str(alice), "0", "-1", "99999"],
            "session_id": [*b_sessions[:2], "../" + b_sessions[0], "%00"],
            "table_name": TABLES,
            "token_id": ["1", "2"],
            "class_id": ["1"],
        }
        queries = ["", f"?athlete_id={bob}", f"?session_id={b_sessions[0]}", "?sensor=strap-2"]
        forms = {
            "csrf": csrf_a,
            "session_id": b_sessions[0],
            "athlete_id": str(bob),
            "rpe": "5",
            "sleep": "3",
            "stress": "3",
            "mood": "3",
            "energy": "3",
            "soreness": "3",
            "days": "3650",
            "name": "x",
            "sensor": "strap-2",
            "strap:strap-2": str(alice),
        }
        # Every route: the app's own and those of the routers it includes.
        candidates = [*client.app.routes, *admin.router.routes, *coach.router.routes]  # type: ignore[attr-defined]
        candidates += coach_auth.public_router.routes + coach_auth.router.routes
        candidates += coach_links.router.routes + coach_exports.router.routes
        candidates += guest.router.routes
        routes = [r for r in candidates if isinstance(r, Route | APIRoute)]
        assert len(routes) > 20
        tried = 0
        for route in routes:
            if route.path in ("/api/live/stream", "/api/me/{token}/stream"):
                continue
            params = re.findall(r"{(\w+)}", route.path)
            combos = itertools.product(*(values[p] for p in params)) if params else [()]
            for combo in combos:
                path = route.path
                for name, value in zip(params, combo, strict=True):
                    path = path.replace("{" + name + "}", value)
                for query, method in itertools.product(queries, sorted(route.methods or [])):
                    if method == "HEAD":
                        continue
                    if method == "GET":
                        response = client.get(path + query)
                    else:
                        response = client.request(method, path + query, data=forms)
                    tried += 1
                    body = response.text
                    own = path.startswith((f"/me/{token_a}", f"/api/me/{token_a}"))
                    public = path.startswith(("/healthz", "/static", "/favicon.ico"))
                    if own or public or path == "/" or path == "/coach/login":
                        pass  # may succeed, but must not show B (checked below)
                    else:
                        assert response.status_code in (303, 403, 404, 405, 422), (
                            method,
                            path + query,
                            response.status_code,
                        )
                        if response.status_code == 303:
                            assert response.headers["location"] == "/coach/login"
                    for marker in b_markers:
                        assert marker not in body, (method, path + query, marker)
                    # A's own session routes with B's session ids are "not found".
                    if own and "/sessions/" in path:
                        assert response.status_code in (404, 405, 422), (path, response.status_code)
        assert tried > 300
        # Guest forms with B's session id: refused, and nothing was written for B.
        response = client.post(
            f"/me/{token_a}/rpe", data={"session_id": b_sessions[0], "rpe": "9", "csrf": csrf_a}
        )
        assert response.status_code == 404
        # A's CSRF token is bound to A's link: useless on B's.
        response = client.post(
            f"/me/{token_b}/rpe", data={"session_id": b_sessions[0], "rpe": "9", "csrf": csrf_a}
        )
        assert response.status_code == 403
        # A guest link is no coach login.
        client.cookies.set("gp_session", token_a)
        assert client.get("/api/coach/squad").status_code == 403
        assert client.get("/coach/export/samples.csv").status_code == 403
