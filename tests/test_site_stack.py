"""The site stack, taken at its word: docker-compose.yml started natively, service by
service, with its own environment, commands and config files (tests/support/site_stack.py).

The order is the one docs/deploy.md gives an operator: .env from .env.example, the
certificates from make-certs.sh, ``docker compose up`` (Mosquitto, InfluxDB with the users
its init script makes, Grafana with its provisioning, ingest, web, analyze, retention),
the athletes and straps, ``docker compose run --rm grafana-sync``, a guest link. Then a
collector's sample, sent over TLS as the collector user, must reach InfluxDB, the live
board, the coach's pages, the guest's page and the guest's Grafana panel.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.grafana import dashboards as gd
from gympulse.mqtt import MqttClient
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, StoreUnavailable, WriteBatch
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.settings import InfluxSettings, MqttSettings
from tests.support.influxd import Influxd
from tests.support.procs import free_port
from tests.support.site_stack import ROOT, SiteStack, env_file, init_influxdb

pytestmark = pytest.mark.slow  # real Mosquitto, influxd and the gympulse services


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SiteStack]:
    # Grafana as browsers reach it (here: the fake's loopback port), as the operator sets it.
    grafana_port = free_port()
    env = env_file(tmp_path, {"GRAFANA_ROOT_URL": f"http://127.0.0.1:{grafana_port}"})
    site = SiteStack(env, ports={"grafana": {3000: grafana_port}})
    certs = site.services["mosquitto"].mounts["/mosquitto/certs"]
    # make-certs.sh as an operator runs it (as root here): server.key 0600 owned by root.
    for f in certs.iterdir():
        if f.suffix in (".crt", ".key"):
            f.unlink()
    made = subprocess.run(
        ["sh", str(ROOT / "config/mosquitto/make-certs.sh"), str(certs), "localhost", "127.0.0.1"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert (certs / "server.key").stat().st_mode & 0o077 == 0
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

    web = site.url("web", 8000)
    with httpx.Client(base_url=web, follow_redirects=False, timeout=10) as client:
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
    with httpx.Client(base_url=web, timeout=10) as phone:
        # The guest's page and their own live tile (the same sample, nobody else's).
        page = phone.get(f"/me/{guest}")
        assert page.status_code == 200 and "Saga" in page.text
        own = phone.get(f"/api/me/{guest}/live").json()
        assert [t.get("bpm") for t in own] == [123], (own, tiles)
    with httpx.Client(base_url=web, follow_redirects=False, timeout=10) as coach:
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
