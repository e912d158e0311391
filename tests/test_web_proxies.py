"""Forwarded headers only from the configured proxies (issue 18 item 4), on a real
``gympulse web`` (uvicorn) process: an ``X-Forwarded-For`` from any other peer neither
escapes the login throttle nor opens the board's trusted networks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.procs import Mosquitto
from tests.support.web import CSRF_RE, Seeded, web_server

pytestmark = pytest.mark.slow
BOARD_NET = {"GYMPULSE_WEB__BOARD_TRUSTED_NETWORKS": '["10.9.8.0/24"]'}


def _client(base: str, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, transport=transport, timeout=30, follow_redirects=False)


def _wrong_login(c: httpx.Client, forwarded: str) -> int:
    form = c.get("/coach/login")
    found = CSRF_RE.search(form.text)
    assert found is not None
    data = {"username": "coach", "password": "not it", "csrf": found.group(1)}
    return c.post("/coach/login", data=data, headers={"X-Forwarded-For": forwarded}).status_code


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    with web_server(mosquitto.url, seeded.db, extra_env=BOARD_NET) as base:
        attacker = _client(base, "127.0.0.1")  # what uvicorn believed by default
        statuses = [_wrong_login(attacker, f"10.1.2.{i}") for i in range(20)]
        assert statuses[:5] == [303] * 5
        assert statuses.count(429) >= 10  # a new header per request gains nothing
        board = attacker.get("/api/live/snapshot", headers={"X-Forwarded-For": "10.9.8.7"})
        assert board.status_code == 403
        port = base.rsplit(":", 1)[1]
        log = (seeded.db.parent / f"web-{port}.log").read_text()
        assert "client=127.0.0.1" in log and "client=10.1.2." not in log


def test_the_configured_proxy_is_believed_and_only_it(
    mosquitto: Mosquitto, seeded: Seeded, tmp_path: Path
) -> None:
    env = {**BOARD_NET, "GYMPULSE_WEB__TRUSTED_PROXIES": '["127.0.0.9"]'}
    with web_server(mosquitto.url, seeded.db, extra_env=env) as base:
        proxy = _client(base, "127.0.0.9")
        tv = {"X-Forwarded-For": "10.9.8.7"}
        assert proxy.get("/api/live/snapshot", headers=tv).status_code == 200
        assert (
            proxy.get("/api/live/snapshot", headers={"X-Forwarded-For": "10.1.1.1"}).status_code
            == 403
        )
        other = _client(base, "127.0.0.8")
        assert other.get("/api/live/snapshot", headers=tv).status_code == 403
        # Behind the proxy, the throttle counts the guest's own address, not the proxy's.
        statuses = [_wrong_login(proxy, "10.1.2.3") for _ in range(8)]
        assert 429 in statuses
        assert _wrong_login(proxy, "10.1.2.4") == 303  # another address, its own free tries
