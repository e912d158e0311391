"""``gympulse grafana sync`` against a fake Grafana.

Grafana cannot run on a build machine (not in Debian, no Docker engine), so this test runs a
local HTTP server that stands in for it: every request is checked against Grafana's
documented HTTP API — the paths and methods of the data source, folder, dashboard and
public-dashboard endpoints, and the payload shapes they require — and anything else is
answered 404 and recorded as a violation. The server keeps state like Grafana does (objects
created, dashboard versions), so idempotency is observable: a second sync must send no
write at all. The sync code under test talks to it through the real grafana-client.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.dashboards.grafana.commands import COMMANDS
from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget
from gympulse.pipeline.registry import Registry

TOKEN = "glsa_test_token_0123456789"


class FakeGrafana:
    def __init__(self) -> None:
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.public: dict[str, dict[str, Any]] = {}  # dashboard uid -> public dashboard
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def handle(self, method: str, path: str, body: Any, auth: str) -> tuple[int, Any]:
        self.requests.append((method, path))
        if auth != f"Bearer {TOKEN}":
            self.violations.append(f"{method} {path}: no bearer token")
            return 401, {"message": "Unauthorized"}
        m = re.fullmatch(r"/api/datasources/uid/([\w-]+)", path)
        if m and method == "GET":
            ds = self.datasources.get(m[1])
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if m and method == "PUT":
            if m[1] not in self.datasources:
                return 404, {"message": "Data source not found"}
            self._check_datasource(body)
            self.datasources[m[1]] = self._stored_datasource(body)
            return 200, {"message": "Datasource updated"}
        if path == "/api/datasources" and method == "POST":
            self._check_datasource(body)
            self.datasources[body["uid"]] = self._stored_datasource(body)
            return 200, {"message": "Datasource added", "datasource": body}
        m = re.fullmatch(r"/api/folders/([\w-]+)", path)
        if m and method == "GET":
            f = self.folders.get(m[1])
            return (200, f) if f else (404, {"message": "folder not found"})
        if path == "/api/folders" and method == "POST":
            if not isinstance(body.get("title"), str):
                self.violations.append("POST /api/folders without title")
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 1}
            return 200, self.folders[body["uid"]]
        m = re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path)
        if m and method == "GET":
            d = self.dashboards.get(m[1])
            return (200, d) if d else (404, {"message": "Dashboard not found"})
        if m and method == "DELETE":  # Grafana also deletes the dashboard's public share
            if self.dashboards.pop(m[1], None) is None:
                return 404, {"message": "Dashboard not found"}
            self.public.pop(m[1], None)
            return 200, {"title": "deleted", "message": "Dashboard deleted"}
        if path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        m = re.fullmatch(r"/api/dashboards/uid/([\w-]+)/public-dashboards/?", path)
        if m and method == "GET":
            p = self.public.get(m[1])
            return (200, p) if p else (404, {"message": "Public dashboard not found"})
        if m and method == "POST":
            if m[1] not in self.dashboards:
                return 404, {"message": "Dashboard not found"}
            for key in ("isEnabled", "share", "timeSelectionEnabled"):
                if key not in body:
                    self.violations.append(f"public dashboard without {key}")
            if self.dashboards[m[1]]["dashboard"].get("templating", {}).get("list"):
                self.violations.append("public dashboard of a dashboard with variables")
            p = {
                "uid": uuid.uuid4().hex[:12],
                "dashboardUid": m[1],
                "accessToken": uuid.uuid4().hex,
                **body,
            }
            self.public[m[1]] = p
            return 200, p
        m = re.fullmatch(r"/api/dashboards/uid/([\w-]+)/public-dashboards/([\w-]+)", path)
        if m and method == "DELETE":
            p = self.public.get(m[1])
            if p is None or p["uid"] != m[2]:
                return 404, {"message": "Public dashboard not found"}
            del self.public[m[1]]
            return 200, {}
        self.violations.append(f"undocumented request {method} {path}")
        return 404, {"message": "Not found"}

    def _check_datasource(self, body: Any) -> None:
        for key, kind in (("name", str), ("type", str), ("access", str), ("url", str)):
            if not isinstance(body.get(key), kind):
                self.violations.append(f"data source without {key}")
        if body.get("access") not in ("proxy", "direct"):
            self.violations.append("data source access must be proxy or direct")

    def _stored_datasource(self, body: dict[str, Any]) -> dict[str, Any]:
        # Grafana never returns secrets; it says which are set in secureJsonFields.
        stored = {k: v for k, v in body.items() if k != "secureJsonData"}
        stored["id"] = 1
        stored["secureJsonFields"] = {k: True for k in body.get("secureJsonData", {})}
        return stored

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        board = body.get("dashboard")
        if not isinstance(board, dict) or not isinstance(board.get("title"), str):
            self.violations.append("POST /api/dashboards/db without dashboard.title")
            return 400, {"message": "bad request"}
        folder = body.get("folderUid")
        if folder not in self.folders:
            return 400, {"message": "folder not found"}
        uid = board["uid"]
        previous = self.dashboards.get(uid)
        if previous is not None and not body.get("overwrite"):
            return 412, {"status": "version-mismatch"}
        version = 1 if previous is None else previous["dashboard"]["version"] + 1
        stored = {**board, "id": 7, "version": version}
        self.dashboards[uid] = {"dashboard": stored, "meta": {"folderUid": folder}}
        return 200, {"uid": uid, "version": version, "status": "success"}


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = fake.handle(
                self.command, self.path.split("?")[0], body, self.headers.get("Authorization", "")
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def target(url: str) -> GrafanaTarget:
    return GrafanaTarget(
        url=url,
        credential=TOKEN,
        influx_url="http://influxdb:8086",
        database="gympulse",
        influx_user="grafana",
        influx_password="reader-secret",
    )


def registry_with_athletes(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "registry.db")
    registry.add_athlete("Ada", birth_year=1990, hr_max=190)
    registry.add_athlete("Ben", birth_year=1980)
    return registry


def test_sync_creates_everything_then_changes_nothing(
    grafana: tuple[FakeGrafana, str], tmp_path: Path
) -> None:
    fake, url = grafana
    registry = registry_with_athletes(tmp_path)
    athletes = registry.athletes()
    sync = GrafanaSync(target(url))

    first = sync.sync(athletes)
    assert fake.violations == []
    assert set(fake.dashboards) == {
        gd.LIVE_UID,
        gd.COACH_UID,
        gd.ATHLETE_UID,
        *(gd.guest_uid(a.id) for a in athletes),
    }
    assert set(fake.folders) == {gd.FOLDER_STAFF, gd.FOLDER_GUESTS}
    ds = fake.datasources[gd.DATASOURCE_UID]
    assert (ds["type"], ds["url"], ds["jsonData"]["dbName"], ds["user"]) == (
        "influxdb",
        "http://influxdb:8086",
        "gympulse",
        "grafana",
    )
    assert ds["secureJsonFields"] == {"password": True}
    for a in athletes:
        assert fake.dashboards[gd.guest_uid(a.id)]["meta"]["folderUid"] == gd.FOLDER_GUESTS
    assert len(first.created) == 2 + 1 + 3 + len(athletes)
    # The live board does not depend on who is in the squad (no squad-median HRmax).
    assert fake.dashboards[gd.LIVE_UID]["dashboard"] == {
        **gd.to_json(gd.live_class()),
        "id": 7,
        "version": 1,
    }

    writes_before = len(fake.writes)
    second = sync.sync(athletes)
    assert not second.changed
    assert len(fake.writes) == writes_before  # not a single write the second time
    assert all(d["dashboard"]["version"] == 1 for d in fake.dashboards.values())

    # A dashboard edited by hand in Grafana is put back, and only that one.
    fake.dashboards[gd.COACH_UID]["dashboard"]["title"] = "edited"
    third = sync.sync(athletes)
    assert third.updated == [f"dashboard {gd.COACH_UID}"]
    assert (
        fake.dashboards[gd.COACH_UID]["dashboard"]["title"] == gd.to_json(gd.coach_squad())["title"]
    )
    assert fake.violations == []
    registry.close()


def test_guest_link_and_revoke(grafana: tuple[FakeGrafana, str], tmp_path: Path) -> None:
    fake, url = grafana
    registry = registry_with_athletes(tmp_path)
    ada = registry.athletes()[0]
    sync = GrafanaSync(target(url))
    link = sync.guest_link(ada)
    share = fake.public[gd.guest_uid(ada.id)]
    assert link == f"{url}/public-dashboards/{share['accessToken']}"
    assert share["isEnabled"] is True and share["timeSelectionEnabled"] is False
    assert sync.guest_link(ada) == link  # asking again hands out the same link
    assert sync.revoke_guest_link(ada.id) is True
    assert gd.guest_uid(ada.id) not in fake.public
    assert sync.revoke_guest_link(ada.id) is False
    new_link = sync.guest_link(ada)
    assert new_link != link  # a revoked link never comes back
    assert fake.violations == []
    registry.close()


def test_forget_athlete_deletes_share_and_dashboard(
    grafana: tuple[FakeGrafana, str], tmp_path: Path
) -> None:
    """Erasing a guest (``gympulse athlete forget``) leaves nothing of theirs in Grafana."""
    fake, url = grafana
    registry = registry_with_athletes(tmp_path)
    ada = registry.athletes()[0]
    sync = GrafanaSync(target(url))
    sync.guest_link(ada)
    uid = gd.guest_uid(ada.id)
    assert uid in fake.dashboards and uid in fake.public
    assert sync.forget_athlete(ada.id) == 2
    assert uid not in fake.dashboards and uid not in fake.public
    assert sync.forget_athlete(ada.id) == 0  # again: nothing left, no error
    assert fake.violations == []
    registry.close()


def test_cli_command(
    grafana: tuple[FakeGrafana, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from gympulse.settings import load

    fake, url = grafana
    registry_with_athletes(tmp_path).close()
    settings = load(
        None,
        environ={
            "GYMPULSE_GRAFANA__URL": url,
            "GYMPULSE_GRAFANA__TOKEN": TOKEN,
            "GYMPULSE_STORE__PATH": str(tmp_path / "registry.db"),
        },
    )
    (command,) = COMMANDS
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args(["sync"]), settings) == 0
    assert command.run(parser.parse_args(["guest-link", "2"]), settings) == 0
    out = capsys.readouterr().out
    assert f"{url}/public-dashboards/" in out
    assert command.run(parser.parse_args(["guest-link", "2", "--revoke"]), settings) == 0
    assert "revoked" in capsys.readouterr().out
    assert command.run(parser.parse_args(["guest-link", "99"]), settings) == 2
    assert fake.violations == []
