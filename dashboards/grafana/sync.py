"""Push gympulse's data source, folders and dashboards into Grafana (grafana-client).

Idempotent: every object is read first and written only when it differs, so running
``gympulse grafana sync`` twice changes nothing the second time.

Guests: each athlete gets a dashboard in the ``gympulse-guests`` folder with the athlete
fixed in its queries (no variables). ``guest_link`` shares it as a public dashboard — an
unguessable link that needs no Grafana login and no access to the data source — and
``revoke_guest_link`` deletes that share, so the old link stops working at once; a new link
gets a new access token.

Grafana API used (documented HTTP API, Grafana 10.2+):
``GET/POST /api/datasources``, ``GET/PUT /api/datasources/uid/{uid}``,
``GET /api/folders/{uid}``, ``POST /api/folders``, ``GET /api/dashboards/uid/{uid}``,
``POST /api/dashboards/db``, ``GET/POST /api/dashboards/uid/{uid}/public-dashboards``,
``DELETE /api/dashboards/uid/{uid}/public-dashboards/{publicUid}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.pipeline.domain import Athlete
from gympulse.settings import Settings

log = logging.getLogger(__name__)

FOLDER_TITLES = {gd.FOLDER_STAFF: "gympulse", gd.FOLDER_GUESTS: "gympulse guests"}
DATASOURCE_NAME = "gympulse InfluxDB"


@dataclass(frozen=True)
class GrafanaTarget:
    """Where Grafana is and how Grafana reaches InfluxDB (its own network view)."""

    url: str
    credential: str | tuple[str, str] | None
    influx_url: str  # as Grafana sees it, e.g. http://influxdb:8086 in compose
    database: str
    influx_user: str = ""  # a read-only InfluxDB user for Grafana
    influx_password: str = ""
    public_url: str = ""  # Grafana as browsers reach it; empty: ``url``
    zone: str = "browser"  # the dashboards' time zone: the site's (settings.timezone)

    @classmethod
    def from_settings(cls, settings: Settings) -> GrafanaTarget:
        """From the ``[grafana]`` settings (secrets from GYMPULSE_GRAFANA__* variables)."""
        grafana = settings.grafana
        credential: str | tuple[str, str] | None = None
        if grafana.token:
            credential = grafana.token
        elif grafana.username:
            credential = (grafana.username, grafana.password)
        influx = settings.store.influxdb
        return cls(
            url=grafana.url.rstrip("/"),
            credential=credential,
            influx_url=grafana.influx_url or influx.url,
            database=influx.database,
            influx_user=grafana.influx_username,
            influx_password=grafana.influx_password,
            public_url=grafana.public_url.rstrip("/"),
            # The site's days (the analytics' and the daily points'), not each browser's.
            zone=settings.timezone,
        )


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _not_found(err: GrafanaClientError) -> bool:
    return getattr(err, "status_code", None) == 404


class GrafanaSync:
    def __init__(self, target: GrafanaTarget, api: GrafanaApi | None = None) -> None:
        self.target = target
        self.api = api or GrafanaApi.from_url(target.url, credential=target.credential)

    # ------------------------------------------------------------ data source

    def datasource_payload(self) -> dict[str, Any]:
        t = self.target
        payload: dict[str, Any] = {
            "uid": gd.DATASOURCE_UID,
            "name": DATASOURCE_NAME,
            "type": "influxdb",
            "access": "proxy",
            "url": t.influx_url,
            "database": t.database,
            "user": t.influx_user,
            "basicAuth": False,
            "isDefault": False,
            "readOnly": False,
            "jsonData": {"dbName": t.database, "httpMode": "POST", "version": "InfluxQL"},
        }
        if t.influx_password:
            payload["secureJsonData"] = {"password": t.influx_password}
        return payload

    def sync_datasource(self, report: SyncReport) -> None:
        wanted = self.datasource_payload()
        name = f"datasource {gd.DATASOURCE_UID}"
        try:
            current = self.api.datasource.get_datasource_by_uid(gd.DATASOURCE_UID)
        except GrafanaClientError as err:
            if not _not_found(err):
                raise
            self.api.datasource.create_datasource(wanted)
            report.created.append(name)
            return
        if current.get("readOnly"):
            # Provisioned with ``editable: false`` (config/grafana/provisioning): Grafana
            # refuses every update with 403, and the provisioning file is the truth.
            log.info("%s is provisioned read-only; left as provisioned", name)
            report.unchanged.append(name)
            return
        same = all(current.get(k) == v for k, v in wanted.items() if k != "secureJsonData")
        password_set = bool((current.get("secureJsonFields") or {}).get("password"))
        if same and (password_set or "secureJsonData" not in wanted):
            report.unchanged.append(name)
            return
        self.api.datasource.update_datasource_by_uid(gd.DATASOURCE_UID, wanted)
        report.updated.append(name)

    # ------------------------------------------------------------ folders

    def sync_folders(self, report: SyncReport) -> None:
        for uid, title in FOLDER_TITLES.items():
            try:
                self.api.folder.get_folder(uid)
                report.unchanged.append(f"folder {uid}")
            except GrafanaClientError as err:
                if not _not_found(err):
                    raise
                self.api.folder.create_folder(title, uid=uid)
                report.created.append(f"folder {uid}")

    # ------------------------------------------------------------ dashboards

    def sync_dashboard(self, board: gd.Generated, report: SyncReport) -> None:
        name = f"dashboard {board.uid}"
        try:
            current = self.api.dashboard.get_dashboard(board.uid)
        except GrafanaClientError as err:
            if not _not_found(err):
                raise
            current = None
        if current is not None:
            existing = {k: v for k, v in current["dashboard"].items() if k not in ("id", "version")}
            folder = (current.get("meta") or {}).get("folderUid")
            if existing == board.model and folder == board.folder_uid:
                report.unchanged.append(name)
                return
        self.api.dashboard.update_dashboard(
            {
                "dashboard": {**board.model, "id": None},
                "folderUid": board.folder_uid,
                "overwrite": True,
                "message": "gympulse grafana sync",
            }
        )
        (report.updated if current is not None else report.created).append(name)

    def sync(self, athletes: list[Athlete]) -> SyncReport:
        """Data source, folders, staff dashboards, and one guest dashboard per athlete."""
        report = SyncReport()
        self.sync_datasource(report)
        self.sync_folders(report)
        for board in gd.staff_dashboards(self.target.zone):
            self.sync_dashboard(board, report)
        for athlete in athletes:
            board = gd.guest_dashboard(athlete.id, athlete.name, self.target.zone)
            self.sync_dashboard(board, report)
        return report

    # ------------------------------------------------------------ guest links

    def _public_path(self, athlete_id: int) -> str:
        return f"/dashboards/uid/{gd.guest_uid(athlete_id)}/public-dashboards"

    def _public(self, athlete_id: int) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.api.client.GET(self._public_path(athlete_id))
        except GrafanaClientError as err:
            if _not_found(err):
                return None
            raise
        return found or None

    def guest_link(self, athlete: Athlete) -> str:
        """The guest's shared-dashboard URL, creating the dashboard and share if needed."""
        report = SyncReport()
        self.sync_folders(report)
        self.sync_dashboard(gd.guest_dashboard(athlete.id, athlete.name, self.target.zone), report)
        public = self._public(athlete.id)
        if public is None:
            public = self.api.client.POST(
                self._public_path(athlete.id) + "/",
                json={
                    "isEnabled": True,
                    "share": "public",
                    "timeSelectionEnabled": False,
                    "annotationsEnabled": False,
                },
            )
        base = self.target.public_url or self.target.url
        return f"{base}/public-dashboards/{public['accessToken']}"

    def forget_athlete(self, athlete_id: int) -> int:
        """Delete the guest's share and their guest dashboard; returns how many of the two
        existed (a person being erased leaves nothing in Grafana)."""
        deleted = int(self.revoke_guest_link(athlete_id))
        try:
            self.api.client.DELETE(f"/dashboards/uid/{gd.guest_uid(athlete_id)}")
            deleted += 1
        except GrafanaClientError as err:
            if not _not_found(err):
                raise
        return deleted

    def revoke_guest_link(self, athlete_id: int) -> bool:
        """Delete the guest's share; returns False when there was none."""
        public = self._public(athlete_id)
        if public is None:
            return False
        self.api.client.DELETE(f"{self._public_path(athlete_id)}/{public['uid']}")
        return True
