"""Morning readings under a curious guest (issue 18 item 5), on a real ``gympulse web``:
one guest starting hundreds of readings at once keeps at most two running and blocks
nobody else; a guest poking at another's reading id changes nothing."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gympulse.dashboards.morning_pending import MAX_PENDING, MAX_PENDING_PER_GUEST
from tests.support.procs import Mosquitto
from tests.support.web import CSRF_RE, Seeded, guest_token, web_server

pytestmark = pytest.mark.slow


def _guest(base: str, token: str) -> tuple[httpx.Client, dict[str, str]]:
    c = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    found = re.search(r'data-csrf="([0-9a-f]+)"', c.get(f"/me/{token}/morning").text)
    assert found is not None
    return c, {"X-CSRF-Token": found.group(1), "Content-Type": "application/json"}


def test_one_guest_cannot_fill_the_readings_nor_end_another_s(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    with web_server(mosquitto.url, seeded.db) as base:
        a_token, b_token = guest_token(seeded.db, alice), guest_token(seeded.db, bob)
        a, a_headers = _guest(base, a_token)
        b, b_headers = _guest(base, b_token)

        def start(_: int) -> httpx.Response:
            return a.post(f"/api/me/{a_token}/morning/start", content=b"{}", headers=a_headers)

        with ThreadPoolExecutor(8) as pool:  # many callers at once, as many as the limit
            answers = list(pool.map(start, range(MAX_PENDING + 20)))
        assert {r.status_code for r in answers} == {200}, {r.status_code for r in answers}
        ids = [r.json()["id"] for r in answers]
        assert len(set(ids)) == len(ids)

        # Bob and the coach's station still start theirs.
        started = b.post(f"/api/me/{b_token}/morning/start", content=b"{}", headers=b_headers)
        assert started.status_code == 200
        bobs = started.json()["id"]
        coach = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        form = coach.get("/coach/login")
        found = CSRF_RE.search(form.text)
        assert found is not None
        data = {"username": seeded.coach_user, "password": seeded.coach_password}
        assert coach.post("/coach/login", data={**data, "csrf": found.group(1)}).status_code == 303
        found = CSRF_RE.search(coach.get("/coach").text)
        assert found is not None
        station = coach.post(
            "/api/coach/morning/start",
            json={"sensor": "strap-9", "athlete_id": alice},
            headers={"X-CSRF-Token": found.group(1)},
        )
        assert station.status_code == 200, station.text

        # Alice keeps only her latest two running: the older ones are gone.
        def cancel(pending: str) -> int:
            url = f"/api/me/{a_token}/morning/{pending}/cancel"
            return a.post(url, headers=a_headers).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(cancel, ids))
        assert statuses.count(200) == MAX_PENDING_PER_GUEST
        assert statuses.count(404) == len(ids) - MAX_PENDING_PER_GUEST

        # Alice's 404 on Bob's reading leaves it running; Bob ends it himself.
        assert cancel(bobs) == 404
        mine = b.post(f"/api/me/{b_token}/morning/{bobs}/cancel", headers=b_headers)
        assert mine.status_code == 200 and mine.json() == {"cancelled": True}
