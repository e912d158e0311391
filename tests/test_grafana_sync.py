"""``gympulse grafana sync`` against a fake Grafana.

Grafana cannot run on a build machine (not in Debian, no Docker engine), so this test runs
the fake of tests/support/grafana.py, which stands in for it (its rules cite Grafana's
source): every request is checked against Grafana's documented HTTP API — the paths and
methods of the data source, folder, dashboard and
public-dashboard endpoints, and the payload shapes they require — and anything else is
answered 404 and recorded as a violation. The server keeps state like Grafana does (objects
created, dashboard versions), so idempotency is observable: a second sync must send no
write at all. The sync code under test talks to it through the real grafana-client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.dashboards.grafana.commands import COMMANDS
from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget
from gympulse.pipeline.registry import Registry
from tests.support.grafana import FakeGrafana

TOKEN = "glsa_test_token_0123456789"


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana(token=TOKEN)
    url = fake.start()
    try:
        yield fake, url
    finally:
        fake.close()


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


ROOT = Path(__file__).resolve().parent.parent


def test_sync_leaves_the_provisioned_read_only_data_source(tmp_path: Path) -> None:
    """The shipped provisioning (``editable: false``) makes the data source read-only; sync
    must not PUT it (Grafana answers 403) and goes on to folders and dashboards."""
    fake = FakeGrafana(token=TOKEN)
    fake.provision(
        ROOT / "config/grafana/provisioning",
        {"GRAFANA_INFLUX_USER": "grafana", "GRAFANA_INFLUX_PASSWORD": "reader-secret"},
        {"/var/lib/grafana/dashboards/gympulse": ROOT / "config/grafana/dashboards"},
    )
    assert fake.datasources[gd.DATASOURCE_UID]["readOnly"] is True
    url = fake.start()
    try:
        registry = registry_with_athletes(tmp_path)
        sync = GrafanaSync(target(url))
        # The payload differs from the provisioned source (another password, another view).
        report = sync.sync(registry.athletes())
        assert ("PUT", f"/api/datasources/uid/{gd.DATASOURCE_UID}") not in fake.requests
        assert f"datasource {gd.DATASOURCE_UID}" in report.unchanged
        assert gd.FOLDER_GUESTS in fake.folders
        assert gd.guest_uid(registry.athletes()[0].id) in fake.dashboards
        assert fake.violations == []
        registry.close()
    finally:
        fake.close()


def test_guest_links_use_the_public_url(grafana: tuple[FakeGrafana, str], tmp_path: Path) -> None:
    fake, url = grafana
    registry = registry_with_athletes(tmp_path)
    ada = registry.athletes()[0]
    public = "https://grafana.retreat.example"
    sync = GrafanaSync(replace(target(url), public_url=public))
    link = sync.guest_link(ada)
    assert link == f"{public}/public-dashboards/{fake.public[gd.guest_uid(ada.id)]['accessToken']}"
    registry.close()


def test_every_generated_panel_has_a_unique_id() -> None:
    boards = [*gd.staff_dashboards(), gd.guest_dashboard(3, "Guest")]
    for board in boards:
        ids = [p.get("id") for p in board.model["panels"]]
        assert all(isinstance(i, int) for i in ids), board.uid
        assert len(set(ids)) == len(ids), board.uid


def test_threshold_bands_are_drawn_where_thresholds_are_set() -> None:
    """A time series panel draws its thresholds only when ``custom.thresholdsStyle.mode`` is
    not "off" (GraphThresholdsStyleMode in @grafana/schema's common types, the package
    tests/grafana_schema checks against; off unless set): the Form and ACWR bands were set
    but never drawn
    (issue 19 item 8). Every time series with thresholds beyond the base step draws them."""
    boards = [*gd.staff_dashboards(), gd.guest_dashboard(3, "Guest")]
    banded = []
    for board in boards:
        for panel in board.model["panels"]:
            defaults = panel.get("fieldConfig", {}).get("defaults", {})
            steps = (defaults.get("thresholds") or {}).get("steps", [])
            if panel.get("type") != "timeseries" or len(steps) < 2:
                continue
            style = defaults.get("custom", {}).get("thresholdsStyle") or {}
            assert style.get("mode") not in (None, "off"), (board.uid, panel.get("title"))
            banded.append(panel["title"])
    assert any(title.startswith("Form") for title in banded), banded
    assert sum("ACWR" in t or "workload ratio" in t for t in banded) >= 3, banded
