"""The coach and guest views on a site deployment: time series and derived tables in a real
InfluxDB (Debian's influxd, tests/support/influxd.py), written through ``Store.write`` and
``Store.write_rows``; only identity (athletes, straps, accounts, guest links) in SQLite."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from gympulse.settings import InfluxSettings, StoreSettings
from tests.support.influxd import Influxd
from tests.support.web import app_client, guest_token, login, seed_history
from tests.test_web_api import check_samples_export

pytestmark = pytest.mark.slow  # a real influxd


def test_coach_guest_and_export_read_influxdb(influxd: Influxd, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    store = StoreSettings(
        backend="influxdb",
        path=str(db),
        influxdb=InfluxSettings(url=influxd.url, database="gympulse", retries=1),
    )
    seeded = seed_history(db, store)
    # Nothing of the time series is in the SQLite file: its sample tables (one schema for
    # every store file) hold no row, the analytics tables are not made there.
    with sqlite3.connect(db) as conn:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = {r[0] for r in conn.execute(query)}
        stored = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    assert stored["samples"] == 0 and stored["machine_samples"] == 0
    assert not tables & {"session_summary", "daily_metrics", "baselines"}
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]

    with app_client(db, store) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        # Squad: Bob's flags from the baselines in InfluxDB sort him first.
        squad = client.get("/api/coach/squad").json()
        assert [r["name"] for r in squad] == ["Bob", "Alice"]
        assert squad[0]["flags"] == ["flag_hrv", "flag_hr_rest"]
        assert squad[0]["load_7d"] == pytest.approx(sum(50.0 + i for i in range(5)))

        # Coach athlete page: charts with bands and the five sessions.
        page = client.get(f"/coach/athletes/{alice}")
        assert page.status_code == 200
        assert page.text.count("<svg") >= 4 and 'class="band"' in page.text
        for sid in seeded.sessions["Alice"]:
            assert f"/coach/athletes/{alice}/sessions/{sid}" in page.text
        assert not any(sid in page.text for sid in seeded.sessions["Bob"])
        data = client.get(f"/api/coach/athletes/{alice}").json()
        assert len(data["daily"]) == 5 and len(data["baselines"]) == 5
        assert [s["session_id"] for s in data["sessions"]] == seeded.sessions["Alice"][::-1]
        assert data["daily"][-1]["date"] > data["daily"][0]["date"]  # oldest first, ISO text
        assert [s["hrr60"] for s in data["sessions"]] == [24.0, 23.0, 22.0, 21.0, 20.0]
        sid = seeded.sessions["Alice"][0]
        session = client.get(f"/api/coach/athletes/{alice}/sessions/{sid}").json()
        assert len(session["hr"]) == 121
        assert "data-zone=" in client.get(f"/coach/athletes/{alice}/sessions/{sid}").text

        # Guest API: only Alice's own sessions; Bob's session id is not found.
        token = guest_token(db, alice)
        sessions = client.get(f"/api/me/{token}/sessions").json()
        assert [s["session_id"] for s in sessions] == seeded.sessions["Alice"][::-1]
        one = client.get(f"/api/me/{token}/sessions/{sessions[0]['session_id']}").json()
        assert len(one["hr"]) == 121 and all(110 <= bpm < 170 for _, bpm in one["hr"])
        bob_sid = seeded.sessions["Bob"][0]
        assert client.get(f"/api/me/{token}/sessions/{bob_sid}").status_code == 404
        assert client.get(f"/api/me/{token}/progress").json()["hr_rest"] == [
            60.0 - i / 2 for i in range(5)
        ]

        # CSV export of derived tables and samples through the store.
        summary = list(
            csv.DictReader(io.StringIO(client.get("/coach/export/session_summary.csv").text))
        )
        assert len(summary) == 10
        assert {int(r["athlete_id"]) for r in summary} == {alice, bob}
        assert list(summary[0])[:3] == ["athlete_id", "session_id", "kind"]
        daily = list(
            csv.DictReader(io.StringIO(client.get("/coach/export/daily_metrics.csv").text))
        )
        assert len(daily) == 10 and daily[0]["date"].count("-") == 2
        samples = list(csv.DictReader(io.StringIO(client.get("/coach/export/samples.csv").text)))
        assert len(samples) == 2 * 5 * 121
        assert {r["sensor"] for r in samples} == {"strap-1", "strap-2"}
        athletes = list(csv.reader(io.StringIO(client.get("/coach/export/athletes.csv").text)))
        assert [r[1] for r in athletes[1:]] == ["Alice", "Bob"]  # identity: still SQLite


def test_samples_export_streams_every_sample_once_from_influxdb(
    influxd: Influxd, tmp_path: Path
) -> None:
    check_samples_export(
        tmp_path,
        StoreSettings(
            backend="influxdb",
            path=str(tmp_path / "export.db"),
            influxdb=InfluxSettings(url=influxd.url, database="export", retries=1),
        ),
    )
