"""A rate limit per guest on the Web Bluetooth samples endpoint (issue 18 item 6, second
half), on a real ``gympulse web``: one guest link posting far more samples than a strap can
send gets 429 with Retry-After and its stored rows stay bounded, while another guest
posting at the same moment is never refused. Before, one link wrote 73,500 rows in 78 s."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import closing
from typing import Any

import httpx
import pytest

from gympulse import contract
from gympulse.dashboards.morning_pending import web_sensor
from gympulse.dashboards.sample_rate import BURST, RATE_PER_S
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, guest_token, web_server

pytestmark = pytest.mark.slow
BATCH = 200  # what the page posts at most (morning.js: flushOnce)


def _samples(athlete_id: int, start_ms: int, count: int) -> list[dict[str, Any]]:
    sensor = web_sensor(athlete_id)
    return [
        {"sensor": sensor, "ts": start_ms + 100 * k, "seq": start_ms + 100 * k, "bpm": 60,
         "rr_ms": [1000], "contact": True, "energy_kj": None}
        for k in range(count)
    ]  # fmt: skip


def _guest_client(base: str, db: Any, athlete_id: int) -> tuple[httpx.Client, dict[str, str]]:
    token = guest_token(db, athlete_id)
    client = httpx.Client(base_url=f"{base}/api/me/{token}", timeout=120)
    page = client.get(f"{base}/me/{token}/morning")
    found = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert found is not None
    return client, {"X-CSRF-Token": found.group(1)}


def test_one_link_over_the_rate_is_refused_and_another_guest_is_not(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    start_ms = contract.now_ms() - 3_600_000  # an hour's backlog, 100 ms apart
    with web_server(mosquitto.url, seeded.db) as base:
        flood, flood_headers = _guest_client(base, seeded.db, alice)
        calm, calm_headers = _guest_client(base, seeded.db, bob)
        flood_codes: list[int] = []
        retry_after: list[str] = []
        calm_codes: list[int] = []
        both = threading.Barrier(2, timeout=120)

        def flood_posts() -> None:
            both.wait()
            for n in range(30):  # 6000 samples: far over the burst
                batch = _samples(alice, start_ms + n * BATCH * 100, BATCH)
                r = flood.post("/samples", json=batch, headers=flood_headers)
                flood_codes.append(r.status_code)
                if r.status_code == 429:
                    retry_after.append(r.headers.get("retry-after", ""))

        def calm_posts() -> None:
            both.wait()
            for n in range(10):  # a guest's page after a dropped connection: 10 x 20
                batch = _samples(bob, start_ms + n * 2000, 20)
                r = calm.post("/samples", json=batch, headers=calm_headers)
                calm_codes.append(r.status_code)

        began = time.monotonic()
        threads = [threading.Thread(target=flood_posts), threading.Thread(target=calm_posts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        flood.close()
        calm.close()

    assert calm_codes == [200] * 10
    assert 429 in flood_codes and set(flood_codes) <= {200, 429}, flood_codes
    assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after), retry_after
    with closing(sqlite3.connect(seeded.db)) as conn:
        rows = dict(
            conn.execute(
                "SELECT athlete_id, count(*) FROM samples WHERE sensor LIKE 'web-a%'"
                " GROUP BY athlete_id"
            ).fetchall()
        )
    assert rows[bob] == 200
    # Stored: the burst plus what refilled while posting (+ one post), never the 6000 sent.
    bound = BURST + RATE_PER_S * elapsed + BATCH
    assert rows[alice] <= bound, (rows[alice], bound)
    assert rows[alice] == 200 * flood_codes.count(200)
