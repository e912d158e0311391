"""The site stack, taken at its word: docker-compose.yml started natively, service by
service, with its own environment, commands and config files (tests/support/site_stack.py).

The order is the one docs/deploy.md gives an operator: .env from .env.example, the
certificates from make-certs.sh, ``docker compose up`` (Mosquitto, InfluxDB with the users
its init script makes, Grafana with its provisioning, ingest, web, analyze, retention),
the athletes and straps, a guest link and her yes on her phone (consent is on at a site),
``docker compose run --rm grafana-sync``. Then a
collector's sample, sent over TLS as the collector user, must reach InfluxDB, the live
board, the coach's pages, the guest's page and the guest's Grafana panel.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.grafana import dashboards as gd
from gympulse.mqtt import MqttClient
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, StoreUnavailable, WriteBatch
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.settings import InfluxSettings, MqttSettings
from tests.support.influxd import Influxd
from tests.support.procs import free_port, require_binary
from tests.support.site_stack import ROOT, SiteStack, env_file, init_influxdb
from tests.support.web import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow  # real Mosquitto, influxd and the gympulse services


def make_certs(certs: Path, cert: str) -> None:
    """make-certs.sh as an operator runs it (as root here: the keys 0600, owned by root)."""
    made = subprocess.run(
        ["sh", str(ROOT / "config/mosquitto/make-certs.sh"), str(certs), "localhost", "127.0.0.1"],
        env={**os.environ, "CERT": cert},
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert (certs / f"{cert}.key").stat().st_mode & 0o077 == 0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SiteStack]:
    # Grafana and the web app as browsers reach them (here: loopback ports), as the
    # operator sets them in .env.
    grafana_port, https_port = free_port(), free_port()
    env = env_file(
        tmp_path,
        {
            "GRAFANA_ROOT_URL": f"http://127.0.0.1:{grafana_port}",
            "WEB_PUBLIC_URL": f"https://localhost:{https_port}",
        },
    )
    site = SiteStack(env, ports={"grafana": {3000: grafana_port}, "caddy": {443: https_port}})
    # The broker's and the web app's certificates, from one site CA (docs/deploy.md).
    certs = tmp_path / "certs"
    make_certs(certs, "server")
    make_certs(certs, "web")
    site.bind("./config/mosquitto/certs", certs)
    try:
        site.start()
        yield site
    finally:
        site.stop()


class Collector:
    """A collector's stream over TLS as the site's collector user: strap ``sensor`` at
    ``bpm``, one sample every half second (a strap notifies about once a second), until
    stopped. Returns the samples it sent."""

    def __init__(self, site: SiteStack, sensor: str, bpm: int) -> None:
        self.site, self.sensor, self.bpm = site, sensor, bpm
        self.sent: list[contract.HrSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        env = self.site.env
        mosquitto = self.site.services["mosquitto"]
        collector = env.get("COLLECTOR_NAME") or "edge"
        settings = MqttSettings(
            url=f"mqtts://localhost:{mosquitto.ports[8883]}",
            username=f"{env['SITE']}/{collector}",
            password=env["MQTT_COLLECTOR_PASSWORD"],
            tls_ca=str(mosquitto.mounts["/mosquitto/certs"] / "ca.crt"),
        )
        async with MqttClient(settings, f"site-test-{time.monotonic_ns()}") as mqtt:
            await mqtt.wait_connected()
            topic = contract.hr_topic(env["SITE"], collector, self.sensor)
            while not self._stop.is_set():
                now = contract.now_ms()
                sample = contract.HrSample(self.sensor, now, now, self.bpm, [488], True)
                await mqtt.publish_nowait(topic, contract.encode(sample))
                self.sent.append(sample)
                await asyncio.sleep(0.5)


def eventually(check: Any, what: str, site: SiteStack, limit_s: float = 60) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{site.logs(s)}" for n, s in site.services.items())
            raise AssertionError(f"{what} did not happen; services: {site.running()}\n{logs}")
        time.sleep(0.2)


def test_a_collector_sample_reaches_every_view(stack: SiteStack) -> None:
    site = stack
    assert set(site.services) >= {"mosquitto", "influxdb", "grafana", "ingest", "web", "analyze"}
    assert all(code is None for code in site.running().values()), site.running()
    data = site.services["ingest"].mounts["/data"]
    db = data / "gympulse.db"

    # The operator registers a guest and their strap (gympulse athlete add / assign).
    registry = Registry(db)
    athlete = registry.add_athlete("Saga", birth_year=1985, sex="female", weight_kg=64)
    registry.assign("strap-site", athlete, 0)
    registry.close()
    accounts = Accounts(db)
    accounts.add_user("coach", "a coach password long enough")
    board = accounts.issue_board_token("tv")[1]
    guest = accounts.issue_guest_token(athlete, contract.now_ms() + 86_400_000)
    accounts.close()

    collector = Collector(site, "strap-site", 123)
    collector.__enter__()
    try:
        check_views(site, athlete, board, guest)
    finally:
        collector.__exit__()
    assert collector.sent


def check_views(site: SiteStack, athlete: int, board: str, guest: str) -> None:
    env = site.env

    web = env["WEB_PUBLIC_URL"]
    ca = ssl.create_default_context(cafile=str(site.services["caddy"].mounts["/certs"] / "ca.crt"))
    # Consent is on at a site (the compose file does not turn it off): nothing of hers is
    # stored until she says yes on her phone, here to her live heart rate and a shared
    # Grafana dashboard (the guest link below).
    with httpx.Client(base_url=web, follow_redirects=False, timeout=10, verify=ca) as phone:
        form = phone.get(f"/me/{guest}/consent")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert form.status_code == 200 and csrf is not None, form.text[:500]
        for domain in ("live", "grafana"):
            said = phone.post(
                f"/me/{guest}/consent", data={"domain": domain, "given": "1", "csrf": csrf[1]}
            )
            assert said.status_code == 303, said.text[:500]
        given = {d["domain"] for d in phone.get(f"/api/me/{guest}/consent").json() if d["given"]}
        assert given == {"live", "grafana"}

    # InfluxDB, as the admin reads it: stored by ingest as the compose file's user.
    influxd = site.influxd
    assert influxd is not None
    rows = eventually(
        lambda: influxd.rows(
            "SELECT bpm, athlete FROM hr WHERE sensor = 'strap-site'", db="gympulse"
        ),
        "the sample in InfluxDB",
        site,
    )
    assert {(r["bpm"], r["athlete"]) for r in rows} == {(123, str(athlete))}

    # The web app as browsers reach it: through caddy, over HTTPS with the site CA.
    with httpx.Client(base_url=web, follow_redirects=False, timeout=10, verify=ca) as client:
        # The live board (a board link, as the TV opens it).
        assert client.get(f"/board/{board}").status_code == 303
        tiles = eventually(
            lambda: [
                t
                for t in client.get("/api/live/snapshot").json()
                if (t.get("bpm"), t.get("athlete_id")) == (123, athlete)
            ],
            "the guest's tile on the live board",
            site,
        )
        assert tiles
    with httpx.Client(base_url=web, timeout=10, verify=ca) as phone:
        # The guest's page and their own live tile (the same sample, nobody else's).
        page = phone.get(f"/me/{guest}")
        assert page.status_code == 200 and "Saga" in page.text
        own = phone.get(f"/api/me/{guest}/live").json()
        assert [t.get("bpm") for t in own] == [123], (own, tiles)
    with httpx.Client(base_url=web, follow_redirects=False, timeout=10, verify=ca) as coach:
        form = coach.get("/coach/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None, form.text[:500]
        login = coach.post(
            "/coach/login",
            data={"username": "coach", "password": "a coach password long enough", "csrf": csrf[1]},
        )
        assert login.status_code == 303, login.text[:500]
        squad = coach.get("/api/coach/squad")
        assert squad.status_code == 200 and "Saga" in squad.text
        detail = coach.get(f"/api/coach/athletes/{athlete}")
        assert detail.status_code == 200, detail.text[:500]
    # Grafana: the one-shot sync (against the provisioned, read-only data source), then a
    # guest link, whose panel query reads the sample as Grafana's read-only InfluxDB user.
    out = site.run_tool("grafana-sync")
    assert "unchanged" in out
    assert site.grafana is not None
    assert site.grafana.violations == []
    link = site.run_tool("grafana-sync", "grafana", "guest-link", str(athlete)).strip()
    assert link.startswith(env["GRAFANA_ROOT_URL"] + "/public-dashboards/")
    token = link.rsplit("/", 1)[1]
    board_json = site.grafana.dashboards[gd.guest_uid(athlete)]["dashboard"]
    heart = next(p for p in board_json["panels"] if p["title"] == "Heart rate")
    answer = httpx.post(
        f"{env['GRAFANA_ROOT_URL']}/api/public/dashboards/{token}/panels/{heart['id']}/query",
        json={},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"].values()
    assert result["status"] == 200, result
    values = {v[1] for s in result["series"] for v in s["values"]}
    assert values == {123}


def test_mosquitto_without_certificates_keeps_its_plain_listener(tmp_path: Path) -> None:
    """No certificates yet (a first start): the TLS listener is off, the plain one is up."""
    site = SiteStack(env_file(tmp_path))
    try:
        certs = site.services["mosquitto"].mounts["/mosquitto/certs"]
        assert not list(certs.glob("*.crt")) and not list(certs.glob("*.key"))
        mosquitto = site.services["mosquitto"]
        plain, tls = mosquitto.ports[1883], mosquitto.ports[8883]
        mosquitto.ports = {1883: plain}  # wait for the plain listener only
        site.start(only={"mosquitto"})
        assert site.running()["mosquitto"] is None
        with socket.create_connection(("127.0.0.1", plain), timeout=5):
            pass
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", tls), timeout=5):
            pass
        assert "TLS listener 8883 off" in site.logs(mosquitto)
    finally:
        site.stop()


async def test_services_read_and_write_as_the_compose_user(tmp_path: Path) -> None:
    """The influxdb image's users from the compose environment: the services' user stores
    and reads; a write-only user (INFLUXDB_WRITE_USER, as the stack had) cannot even store,
    since every store write reads first; Grafana's user reads and cannot write."""
    env = env_file(tmp_path)
    compose = SiteStack(env)
    try:
        influx_env = compose.environment(compose.services["influxdb"])
        ingest_env = compose.environment(compose.services["ingest"])
    finally:
        compose.stop()
    server = Influxd(tmp_path / "influxd", auth=True, bootstrap_admin=False)
    server.start()
    try:
        init_influxdb(
            server,
            {**influx_env, "INFLUXDB_WRITE_USER": "writer", "INFLUXDB_WRITE_USER_PASSWORD": "w"},
        )
        sample = StoredSample(
            "main", "edge", "strap-1", contract.now_ms(), 1, 99, (600,), True, None, 1
        )

        def store_as(user: str, password: str) -> InfluxStore:
            return InfluxStore(
                InfluxSettings(
                    url=server.url,
                    database=influx_env["INFLUXDB_DB"],
                    username=user,
                    password=password,
                    create_database=False,
                    retries=0,
                )
            )

        services = store_as(
            ingest_env["GYMPULSE_STORE__INFLUXDB__USERNAME"],
            ingest_env["GYMPULSE_STORE__INFLUXDB__PASSWORD"],
        )
        await services.open()
        try:
            assert (await services.write(WriteBatch([sample]))).stored == 1
            assert await services.count_samples() == 1
        finally:
            await services.close()
        writer = store_as("writer", "w")
        await writer.open()
        try:
            with pytest.raises(StoreUnavailable, match="403"):
                await writer.write(WriteBatch([sample]))
        finally:
            await writer.close()
        grafana = store_as(
            influx_env["INFLUXDB_READ_USER"], influx_env["INFLUXDB_READ_USER_PASSWORD"]
        )
        await grafana.open()
        try:
            assert await grafana.count_samples() == 1
            with pytest.raises(StoreUnavailable, match="403"):
                await grafana.write(WriteBatch([replace(sample, ts=sample.ts + 1000)]))
        finally:
            await grafana.close()
    finally:
        server.stop()


def trusting_home(home: Path, ca: Path) -> Path:
    """A browser profile home whose NSS database trusts the site CA (what an operator
    does on the coach's laptop and the TV: import ca.crt as a trusted authority)."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    certutil = require_binary("certutil")
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "gympulse site CA", "-i", str(ca)],
    ):
        done = subprocess.run(
            [certutil, "-d", f"sql:{nssdb}", *args], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    return home


async def _declared_only(base: str, tls: ssl.SSLContext, path: str, length: int) -> bytes:
    """The status line of Caddy's answer to a POST that declares ``length`` bytes and
    sends none of them."""
    url = httpx.URL(base)
    port = url.port or 443
    reader, writer = await asyncio.open_connection(
        url.host, port, ssl=tls, server_hostname=url.host
    )
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {url.host}:{port}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


async def test_the_web_app_over_https_through_caddy(stack: SiteStack, tmp_path: Path) -> None:
    """Caddy with the shipped Caddyfile in front of web: Chromium, trusting the site CA
    and nothing else, is sent from http:// to https://, gets HSTS, logs in as the coach
    with a Secure, HttpOnly session cookie, and the guest and board links the coach makes
    are https:// links that open through the proxy. Bodies over 1 MiB stop at the proxy."""
    site = stack
    web = site.env["WEB_PUBLIC_URL"]
    caddy = site.services["caddy"]
    ca = caddy.mounts["/certs"] / "ca.crt"
    plain = f"http://localhost:{caddy.ports[80]}"
    db = site.services["web"].mounts["/data"] / "gympulse.db"
    registry = Registry(db)
    athlete = registry.add_athlete("Saga", birth_year=1985, sex="female", weight_kg=64)
    registry.close()
    accounts = Accounts(db)
    accounts.add_user("coach", "a coach password long enough")
    accounts.close()

    home = trusting_home(tmp_path / "browser-home", ca)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        try:
            context = await browser.new_context()  # certificate errors are errors
            page = await context.new_page()
            response = await page.goto(f"{plain}/coach/login")
            assert response is not None and response.status == 200
            assert page.url == f"{web}/coach/login"
            first = response.request.redirected_from
            assert first is not None and first.url == f"{plain}/coach/login"
            redirect = await first.response()
            assert redirect is not None and redirect.status == 308
            hsts = response.headers.get("strict-transport-security", "")
            assert re.fullmatch(r"max-age=\d{7,}", hsts), hsts

            await page.fill("input[name=username]", "coach")
            await page.fill("input[name=password]", "a coach password long enough")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{web}/coach")
            cookies = {c["name"]: c for c in await context.cookies()}
            session = cookies["gp_session"]
            assert session["secure"] and session["httpOnly"], session
            assert session["sameSite"] == "Strict"
            # A fetch POST without a body (the morning page's finish and cancel) passes
            # the proxy's length rule: refused by the app (no CSRF token), not by Caddy.
            empty = "fetch('/coach/logout', {method: 'POST'}).then(r => r.status)"
            assert await page.evaluate(empty) == 403

            # A guest link, made on the guest's page, is the HTTPS address and opens.
            await page.goto(f"{web}/coach/athletes/{athlete}")
            await page.click(f"form[action='/coach/athletes/{athlete}/guest-links'] button")
            guest_url = await page.get_attribute("a.guest-link", "href")
            assert guest_url is not None and guest_url.startswith(f"{web}/me/"), guest_url
            guest = await context.new_page()
            opened = await guest.goto(guest_url)
            assert opened is not None and opened.status == 200
            assert "Saga" in await guest.content()

            # A board link for the TV, likewise; the board's cookie is Secure too.
            await page.goto(f"{web}/coach/admin")
            await page.fill("form[action='/coach/admin/board-links'] input[name=label]", "TV")
            await page.click("form[action='/coach/admin/board-links'] button")
            board_url = await page.get_attribute("a.board-link", "href")
            assert board_url is not None and board_url.startswith(f"{web}/board/"), board_url
            tv_context = await browser.new_context()
            tv = await tv_context.new_page()
            shown = await tv.goto(board_url)
            assert shown is not None and shown.status == 200 and tv.url == f"{web}/live"
            (board_cookie,) = [c for c in await tv_context.cookies() if c["name"] == "gp_board"]
            assert board_cookie["secure"] and board_cookie["httpOnly"], board_cookie
        finally:
            await browser.close()

    # The proxy's own body limit: a declared 2 MiB body is refused by Caddy (its empty
    # 413, not the web app's JSON one); a chunked body is refused (411) before any of it
    # is passed on (Caddy would hand its first MiB to the app as a whole, shorter body).
    tls = ssl.create_default_context(cafile=str(ca))
    big = b"x" * (2 * 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    async with httpx.AsyncClient(base_url=web, timeout=30, verify=tls) as client:
        refused = await client.post("/coach/login", content=big)
        assert refused.status_code == 413 and refused.content == b"", refused.text[:200]
        cut = await client.post("/coach/login", content=chunks())
        assert cut.status_code == 411 and cut.content == b"", cut.text[:200]
        # The FIT upload routes, and only they, take more (ingest.fit_max_mb + the form):
        # 2 MiB reaches the app (an unknown link: its 404), 17 MiB is Caddy's 413.
        # (A 17 MiB body is only declared: Caddy answers before reading and closes.)
        for path in ("/me/no-such-link/fit", "/coach/athletes/1/fit"):
            passed = await client.post(path, content=big)
            assert passed.status_code in (403, 404) and passed.content, (path, passed.text)
            assert (await _declared_only(web, tls, path, 17 * 1024 * 1024)).startswith(
                b"HTTP/1.1 413"
            )
        elsewhere = await client.post("/me/no-such-link/fitness", content=big)
        assert elsewhere.status_code == 413 and elsewhere.content == b""
    assert all(code is None for code in site.running().values()), site.running()
