"""Guests' rights through the real CLI (``gympulse athlete export|forget``, ``gympulse
retention``) on SQLite and on a real influxd: the export holds all of the person's data as
JSON and CSV, and after ``forget`` nothing of theirs remains in any store while the other
guest's data is untouched."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.access_log import AccessLog
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.consent import Consents, Domain
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.personal_data import NOT_PERSONAL, PLACES, Home
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import QuarantineRow, WriteBatch
from gympulse.pipeline.strength_log import StrengthLog
from gympulse.settings import InfluxSettings, StoreSettings
from tests.support.influxd import Influxd
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, csrf_from, guest_token, seed_history, web_server

pytestmark = pytest.mark.slow
# Tables with an athlete_id this fixture leaves empty (tests/test_erasure.py fills them).
_UNFILLED = {"morning_recordings", "machine_samples"}


def _env(store: StoreSettings) -> dict[str, str]:
    env = {**os.environ, "GYMPULSE_STORE__PATH": store.path}
    if store.backend == "influxdb":
        env |= {
            "GYMPULSE_STORE__BACKEND": "influxdb",
            "GYMPULSE_STORE__INFLUXDB__URL": store.influxdb.url,
            "GYMPULSE_STORE__INFLUXDB__DATABASE": store.influxdb.database,
        }
    return env


def cli(store: StoreSettings, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", *args],
        env=_env(store),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def _personal_extras(seeded: Seeded, store: StoreSettings) -> None:
    """Journal rows (check-ins, RPE, a coach note naming the guest), a lift, a guest link,
    and a quarantined message of each guest's strap."""
    journal = Journal(seeded.db)
    lifts = StrengthLog(seeded.db)
    consents, access = Consents(seeded.db), AccessLog(seeded.db)
    for name in ("Alice", "Bob"):
        athlete = seeded.athletes[name]
        journal.add_wellness(
            athlete, dt.date.today(), sleep=4, stress=2, mood=4, energy=3, soreness=2
        )
        journal.set_session_rpe(athlete, seeded.sessions[name][0], 6.0)
        journal.add_note(athlete, f"{name} slept badly", author="coach")
        lifts.add_set(athlete, contract.now_ms(), CATALOGUE[0].key, 5, 40.0, logged_by="coach")
        guest_token(seeded.db, athlete)
        accounts = Accounts(seeded.db)
        accounts.set_after_stay(athlete, 7, "coach:coach")  # her links after the stay
        accounts.close()
        consents.record(athlete, Domain.LIVE, True, "guest")
        access.record("coach:coach", athlete, "view", "/coach/athletes/{athlete_id}")
    lifts.close()
    journal.close()
    consents.close()
    access.close()

    async def quarantine() -> None:
        s = make_store(store)
        await s.open()
        try:
            rows = [
                QuarantineRow(
                    received_ms=contract.now_ms() - 3_600_000,
                    topic=f"gympulse/demo/sim/{strap}/hr",
                    payload=json.dumps({"sensor": strap, "bpm": 999}).encode(),
                    reason="bpm-range",
                    detail="bpm out of range",
                )
                # strap-10 is nobody's: erasing strap-1's wearer must leave it (exact match)
                for strap in ("strap-1", "strap-2", "strap-10")
            ]
            await s.write(WriteBatch(quarantine=rows))
        finally:
            await s.close()

    asyncio.run(quarantine())


def _influx(influxd: Influxd, q: str) -> list[list[object]]:
    result = influxd.query(q, db="gympulse")["results"][0]
    return [v for series in result.get("series", []) for v in series["values"]]


@pytest.fixture(params=["sqlite", "influxdb"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Seeded, StoreSettings]:
    db = tmp_path / "gympulse.db"
    if request.param == "sqlite":
        store = StoreSettings(path=str(db))
    else:
        influxd = request.getfixturevalue("influxd")
        store = StoreSettings(
            backend="influxdb",
            path=str(db),
            influxdb=InfluxSettings(url=influxd.url, database="gympulse", retries=1),
        )
    seeded = seed_history(db, store)
    _personal_extras(seeded, store)
    return seeded, store


def test_export_then_forget_leaves_nothing(
    world: tuple[Seeded, StoreSettings], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seeded, store = world
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]

    # ---- export
    out = tmp_path / "alice.zip"
    cli(store, "athlete", "export", "Alice", "--out", str(out))
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        for kind in ("profile", "samples", "session_summary", "daily_metrics", "baselines",
                     "morning_readings", "wellness", "session_rpe", "assignments",
                     "machine_samples", "morning_recordings"):  # fmt: skip
            assert {f"{kind}.json", f"{kind}.csv"} <= names, kind
        profile = json.loads(zf.read("profile.json"))
        assert profile[0]["name"] == "Alice"
        samples = json.loads(zf.read("samples.json"))
        sample_rows = list(csv.reader(io.StringIO(zf.read("samples.csv").decode())))
        sessions = json.loads(zf.read("session_summary.json"))
        manifest = json.loads(zf.read("manifest.json"))
    assert len(samples) == len(sample_rows) - 1 == manifest["files"]["samples"]["rows"]
    assert len(samples) == 5 * 121  # seed_history: 5 sessions, a sample every 5 s for 10 min
    assert {s["athlete_id"] for s in samples} == {alice}
    assert {s["sensor"] for s in samples} == {"strap-1"}
    assert sorted(s["session_id"] for s in sessions) == sorted(seeded.sessions["Alice"])
    assert len(json.loads(zf_read(out, "wellness.json"))) == 1

    # ---- forget: asks first, then erases
    refused = cli(store, "athlete", "forget", "Alice", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    cli(store, "athlete", "forget", "Alice", "--yes")

    with sqlite3.connect(seeded.db) as conn:
        dump = "\n".join(conn.iterdump())
        assert "Alice" not in dump
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if "athlete_id" in columns:
                n = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE athlete_id = ?", (alice,)
                ).fetchone()[0]
                assert n == 0, table
                # Bob's rows of every kind stay (and the fixture filled every kind).
                kept = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE athlete_id = ?", (bob,)
                ).fetchone()[0]
                # With InfluxDB the file's sample tables (one schema for every store file)
                # stay empty: the samples are in influxd.
                unfilled = _UNFILLED | ({"samples"} if store.backend == "influxdb" else set())
                assert kept > 0 or table in unfilled, table
            # The erased windows name straps and times only (personal_data.NOT_PERSONAL).
            if "sensor" in columns and table not in ("sensors", "erased_windows"):
                n = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE sensor = 'strap-1'"
                ).fetchone()[0]
                assert n == 0, table
        if store.backend == "sqlite":
            left = conn.execute(
                "SELECT count(*) FROM quarantine WHERE instr(payload, '\"strap-1\"') > 0"
            ).fetchone()[0]
            assert left == 0
            kept = conn.execute(
                "SELECT count(*) FROM quarantine WHERE instr(payload, 'strap-2') > 0"
                " OR instr(payload, 'strap-10') > 0"
            ).fetchone()[0]
            assert kept == 2
        assert conn.execute("SELECT count(*) FROM athletes WHERE id = ?", (bob,)).fetchone()[0]
    accounts = Accounts(seeded.db)
    assert accounts.guest_tokens(alice) == [] and len(accounts.guest_tokens(bob)) == 1
    accounts.close()

    if store.backend == "influxdb":
        influxd: Influxd = request.getfixturevalue("influxd")
        assert _influx(influxd, f"SELECT * FROM hr WHERE athlete = '{alice}'") == []
        assert _influx(influxd, "SELECT * FROM hr WHERE sensor = 'strap-1'") == []
        assert len(_influx(influxd, f"SELECT * FROM hr WHERE athlete = '{bob}'")) == 5 * 121
        for table in ("session_summary", "daily_metrics", "baselines"):
            rows = _influx(influxd, f"SELECT * FROM {table} WHERE athlete_id = '{alice}'")
            assert rows == [], table
            assert _influx(influxd, f"SELECT * FROM {table} WHERE athlete_id = '{bob}'"), table
        # Every measurement is a place of the personal-data map.
        measurements = {str(v[0]) for v in _influx(influxd, "SHOW MEASUREMENTS")}
        declared = {p.measurement for p in PLACES if p.home is Home.STORE}
        declared |= {n.name for n in NOT_PERSONAL if n.home is Home.STORE}
        assert measurements and measurements <= declared, measurements - declared
        quarantined = [str(r) for r in _influx(influxd, "SELECT * FROM quarantine")]
        assert len(quarantined) == 2 and all("strap-2" in q or "strap-10" in q for q in quarantined)

    # The export of someone erased: there is nobody any more.
    again = cli(store, "athlete", "export", str(alice), "--out", str(tmp_path / "x.zip"), ok=False)
    assert again.returncode == 2


def zf_read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def test_retention_deletes_old_raw_samples_and_keeps_summaries(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    seeded = seed_history(db)
    with sqlite3.connect(db) as conn:
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        cutoff = now_ms - 2 * 86_400_000
        old = conn.execute("SELECT count(*) FROM samples WHERE ts < ?", (cutoff,)).fetchone()[0]
        new = conn.execute("SELECT count(*) FROM samples WHERE ts >= ?", (cutoff,)).fetchone()[0]
        summaries = conn.execute("SELECT count(*) FROM session_summary").fetchone()[0]
        # Erased windows (personal_data: retention end_ms) older than the cutoff go too.
        conn.executemany(
            "INSERT INTO erased_windows (sensor, start_ms, end_ms) VALUES (?, ?, ?)",
            [("strap-9", 0, cutoff - 1), ("strap-9", cutoff - 1, cutoff + 3_600_000)],
        )
    assert old > 0 and new > 0
    out = cli(StoreSettings(path=str(db)), "retention", "--days", "2").stdout
    assert f": {old}" in out
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute("SELECT count(*) FROM samples WHERE ts < ?", (cutoff,)).fetchone()[0] == 0
        )
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == new
        assert conn.execute("SELECT count(*) FROM session_summary").fetchone()[0] == summaries
        windows = conn.execute("SELECT start_ms, end_ms FROM erased_windows").fetchall()
        assert windows == [(cutoff - 1, cutoff + 3_600_000)]
    del seeded


def test_coach_exports_and_erases_from_the_athlete_page(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    store = StoreSettings(path=str(seeded.db))
    _personal_extras(seeded, store)
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    with web_server(mosquitto.url, seeded.db) as base:
        coach = httpx.Client(base_url=base, timeout=60)
        form = coach.get("/coach/login")
        coach.post(
            "/coach/login",
            data={"username": "coach", "password": seeded.coach_password,
                  "csrf": csrf_from(form.text)},
        )  # fmt: skip
        page = coach.get(f"/coach/athletes/{alice}")
        assert 'class="export-zip"' in page.text and 'class="forget"' in page.text
        csrf = csrf_from(page.text)
        assert httpx.get(f"{base}/coach/athletes/{alice}/export.zip").status_code == 403
        exported = coach.get(f"/coach/athletes/{alice}/export.zip")
        assert exported.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
            assert len(json.loads(zf.read("samples.json"))) == 5 * 121
            assert json.loads(zf.read("profile.json"))[0]["name"] == "Alice"
        # Forget needs the name typed again.
        wrong = coach.post(f"/coach/athletes/{alice}/forget", data={"confirm": "Bob", "csrf": csrf})
        assert wrong.status_code == 422
        assert coach.get(f"/coach/athletes/{alice}").status_code == 200
        forget = f"/coach/athletes/{alice}/forget"
        done = coach.post(forget, data={"confirm": "Alice", "csrf": csrf})
        assert done.status_code == 200 and "erased" in done.text
        assert coach.get(f"/coach/athletes/{alice}").status_code == 404
        assert httpx.get(f"{base}/api/me/{token}/sessions").status_code == 404
    with sqlite3.connect(seeded.db) as conn:
        assert "Alice" not in "\n".join(conn.iterdump())
        left = conn.execute("SELECT count(*) FROM samples WHERE athlete_id = ?", (alice,))
        assert left.fetchone()[0] == 0
