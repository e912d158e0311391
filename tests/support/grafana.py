"""A fake Grafana (HTTP API) for tests: no Grafana server can run on these machines (not in
Debian, no Docker engine), so this stands in for it at that boundary, behaving like Grafana
where gympulse depends on it. Each rule names the place in Grafana's source (grafana/grafana)
that makes it so:

- **Provisioned data sources are read-only when ``editable: false``**: provisioning sets
  ``ReadOnly: !ds.Editable`` (pkg/services/provisioning/datasources/types.go,
  createInsertCommand/createUpdateCommand), and an update of a read-only data source is
  answered ``403 "Cannot update read-only data source"`` (pkg/api/datasources.go,
  updateDataSourceByID). ``${VAR}`` in provisioning files is expanded from Grafana's
  environment (pkg/services/provisioning/values, the ``ExpandEnv`` of its YAML values).
- **Secrets are never returned**: a data source answers ``secureJsonFields`` (which secrets
  are set), never ``secureJsonData`` (pkg/api/dtos/datasource.go, the DataSource DTO).
- **Dashboards keep unknown fields as posted**: the dashboard model is stored as a JSON blob
  (``Data *simplejson.Json`` in pkg/services/dashboards/models.go); Grafana sets ``id`` and
  ``version`` and keeps the rest.
- **Public dashboards find a panel's queries by the panel ``id``**: the query endpoint
  ``POST /api/public/dashboards/{accessToken}/panels/{panelId}/query`` groups the dashboard's
  targets by each panel's ``id`` (groupQueriesByPanelId in
  pkg/services/publicdashboards/service/query.go); a panel without an ``id`` has no
  queries there, so its tile shows nothing. With time selection off the dashboard's own
  time range is used.
- **Basic auth with the admin user, or a service-account bearer token** (pkg/middleware,
  auth): anything else is 401.

The query endpoint runs the panel's InfluxQL against the data source as the data source's
user, the way Grafana's InfluxDB proxy does, with ``$timeFilter`` and ``$__interval``
expanded; it answers the InfluxDB series per refId (Grafana answers data frames built from
them — the values are the same). Requests outside the documented API are 404 and recorded
in ``violations``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env.get(m[1] or m[2], ""), value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


class FakeGrafana:
    def __init__(
        self,
        *,
        token: str | None = None,
        admin: tuple[str, str] | None = None,
    ) -> None:
        self.accepted: set[str] = set()
        if token:
            self.accepted.add(f"Bearer {token}")
        if admin:
            self.accepted.add("Basic " + base64.b64encode(":".join(admin).encode()).decode())
        self.datasources: dict[str, dict[str, Any]] = {}
        self._secrets: dict[str, dict[str, str]] = {}  # uid -> secureJsonData (never served)
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.public: dict[str, dict[str, Any]] = {}  # dashboard uid -> public dashboard
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ provisioning

    def provision(
        self, provisioning: Path, env: Mapping[str, str], mounts: Mapping[str, Path]
    ) -> None:
        """Load ``datasources/*.yaml`` and ``dashboards/*.yaml`` of a provisioning folder the
        way Grafana does at start. ``mounts`` maps the paths the dashboard providers name
        (container paths) to where the files are here."""
        for f in sorted((provisioning / "datasources").glob("*.y*ml")):
            doc = _expand(yaml.safe_load(f.read_text()), env)
            for ds in doc.get("datasources", []):
                stored = {k: v for k, v in ds.items() if k not in ("secureJsonData", "editable")}
                stored["readOnly"] = not ds.get("editable", False)
                stored.setdefault("basicAuth", False)
                self._store_datasource(stored, ds.get("secureJsonData") or {})
        for f in sorted((provisioning / "dashboards").glob("*.y*ml")):
            doc = yaml.safe_load(f.read_text())
            for provider in doc.get("providers", []):
                folder = provider.get("folderUid") or provider.get("folder") or "general"
                self.folders.setdefault(
                    folder, {"uid": folder, "title": provider.get("folder", folder), "id": 1}
                )
                path = provider["options"]["path"]
                where = mounts.get(path, Path(path))
                for board_file in sorted(where.glob("*.json")):
                    board = json.loads(board_file.read_text())
                    self._put_dashboard(board, folder)

    # ------------------------------------------------------------ state

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET" and "/api/public/" not in r[1]]

    def _store_datasource(self, body: dict[str, Any], secrets: Mapping[str, str]) -> None:
        stored = {k: v for k, v in body.items() if k != "secureJsonData"}
        stored["id"] = len(self.datasources) + 1
        stored["secureJsonFields"] = {k: True for k in secrets}
        self.datasources[body["uid"]] = stored
        self._secrets[body["uid"]] = dict(secrets)

    def _put_dashboard(self, board: dict[str, Any], folder: str) -> int:
        uid = board["uid"]
        previous = self.dashboards.get(uid)
        version = 1 if previous is None else previous["dashboard"]["version"] + 1
        stored = {**board, "id": 7, "version": version}
        self.dashboards[uid] = {"dashboard": stored, "meta": {"folderUid": folder}}
        return version

    # ------------------------------------------------------------ the API

    def handle(self, method: str, path: str, body: Any, auth: str) -> tuple[int, Any]:
        self.requests.append((method, path))
        m = re.fullmatch(r"/api/public/dashboards/([\w-]+)/panels/(\d+)/query", path)
        if m and method == "POST":  # public: no login
            return self._public_query(m[1], int(m[2]))
        if auth not in self.accepted:
            self.violations.append(f"{method} {path}: not authenticated")
            return 401, {"message": "Unauthorized"}
        m = re.fullmatch(r"/api/datasources/uid/([\w-]+)", path)
        if m and method == "GET":
            ds = self.datasources.get(m[1])
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if m and method == "PUT":
            current = self.datasources.get(m[1])
            if current is None:
                return 404, {"message": "Data source not found"}
            if current.get("readOnly"):
                return 403, {"message": "Cannot update read-only data source"}
            self._check_datasource(body)
            self._store_datasource(body, body.get("secureJsonData") or {})
            return 200, {"message": "Datasource updated"}
        if path == "/api/datasources" and method == "POST":
            self._check_datasource(body)
            self._store_datasource(body, body.get("secureJsonData") or {})
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

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        board = body.get("dashboard")
        if not isinstance(board, dict) or not isinstance(board.get("title"), str):
            self.violations.append("POST /api/dashboards/db without dashboard.title")
            return 400, {"message": "bad request"}
        folder = body.get("folderUid")
        if folder not in self.folders:
            return 400, {"message": "folder not found"}
        uid = board["uid"]
        if uid in self.dashboards and not body.get("overwrite"):
            return 412, {"status": "version-mismatch"}
        version = self._put_dashboard(board, folder)
        return 200, {"uid": uid, "version": version, "status": "success"}

    # ------------------------------------------------------------ public dashboard queries

    def _public_query(self, access_token: str, panel_id: int) -> tuple[int, Any]:
        share = next((p for p in self.public.values() if p["accessToken"] == access_token), None)
        if share is None or not share.get("isEnabled"):
            return 404, {"message": "Public dashboard not found"}
        board = self.dashboards[share["dashboardUid"]]["dashboard"]
        by_id: dict[int, list[dict[str, Any]]] = {}
        for panel in board.get("panels", []):
            if isinstance(panel.get("id"), int):
                by_id[panel["id"]] = panel.get("targets") or []
        if panel_id not in by_id:
            return 400, {"message": "Panel not found"}  # ErrPanelNotFound
        frm, to = _time_range(board.get("time") or {"from": "now-6h", "to": "now"})
        results: dict[str, Any] = {}
        for target in by_id[panel_id]:
            ds = self.datasources[target["datasource"]["uid"]]
            q = target["query"].replace("$timeFilter", f"time >= {frm}ms and time <= {to}ms")
            q = q.replace("$__interval", "1h")
            results[target["refId"]] = self._influxql(ds, q)
        return 200, {"results": results}

    def _influxql(self, ds: dict[str, Any], q: str) -> dict[str, Any]:
        # As Grafana's InfluxDB client does (pkg/tsdb/influxdb, createRequest): db and epoch
        # in the URL, the query as a POST form (httpMode POST), and — basicAuth off, a user
        # set — HTTP basic auth with the data source's user and password.
        params = {"db": ds["jsonData"]["dbName"], "epoch": "ms"}
        req = urllib.request.Request(
            ds["url"].rstrip("/") + "/query?" + urllib.parse.urlencode(params),
            data=urllib.parse.urlencode({"q": q}).encode(),
            method="POST",
        )
        if ds.get("user"):
            password = self._secrets.get(ds["uid"], {}).get("password", "")
            token = base64.b64encode(f"{ds['user']}:{password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return {"status": err.code, "error": err.read().decode(errors="replace")}
        result = answer["results"][0]
        if "error" in result:
            return {"status": 400, "error": result["error"]}
        return {"status": 200, "series": result.get("series", [])}

    # ------------------------------------------------------------ server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = fake.handle(
                    self.command,
                    self.path.split("?")[0],
                    body,
                    self.headers.get("Authorization", ""),
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

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _time_range(t: Mapping[str, str]) -> tuple[int, int]:
    """Grafana's relative range ``now-90d`` .. ``now`` in epoch ms."""
    now = int(time.time() * 1000)
    units = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

    def one(text: str) -> int:
        m = re.fullmatch(r"now(?:-(\d+)([smhdw]))?", text)
        if m is None:
            raise ValueError(f"time {text!r} is not relative to now")
        return now - (int(m[1]) * units[m[2]] if m[1] else 0)

    return one(t.get("from", "now-6h")), one(t.get("to", "now"))
