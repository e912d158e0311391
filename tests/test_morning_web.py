"""Morning readings through the web app (in process): the squad puts the declining guest
first, the coach lists, marks, confirms and deletes readings, the guest page speaks kindly
and makes no claim before the baseline exists, and the Web Bluetooth endpoint takes the
ingestion path (validation, quarantine, idempotent write)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from gympulse import contract
from gympulse.pipeline.analytics.daily import baselines
from gympulse.pipeline.analytics.tables import BASELINES, conform
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore
from tests.support.rr_series import per_second, pyhrv_rr
from tests.support.web import Seeded, app_client, guest_token, login


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with app_client(seeded.db) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'data-csrf="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def _write_baselines(db: Path, athlete_id: int, hrv: list[float], rest: list[float]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=len(hrv) - 1 - i) for i in range(len(hrv))]
    readings = pl.DataFrame(
        {"athlete_id": [athlete_id] * len(hrv), "date": days, "ln_rmssd": hrv, "hr_rest": rest}
    )
    metrics = pl.DataFrame(
        schema={"athlete_id": pl.Int64, "date": pl.Date, "acwr_ewma": pl.Float64,
                "tsb": pl.Float64}
    )  # fmt: skip
    rows = conform(BASELINES, baselines(readings, metrics, 0))

    async def write() -> None:
        store = SqliteStore(db)
        await store.open()
        await store.delete_rows(BASELINES.name, {"athlete_id": athlete_id})
        await store.write_rows(BASELINES.name, rows, BASELINES.key)
        await store.close()

    asyncio.run(write())


def test_squad_sorts_declining_above_improving(seeded: Seeded) -> None:
    registry = Registry(seeded.db)
    dora = registry.add_athlete("Dora")  # declining
    ivo = registry.add_athlete("Ivo")  # improving
    nina = registry.add_athlete("Nina")  # new: building
    registry.close()
    base_hrv, base_rest = [4.0, 4.2] * 20, [55.0, 57.0] * 20
    _write_baselines(seeded.db, dora, base_hrv + [3.6] * 5, base_rest + [63.0] * 5)
    _write_baselines(seeded.db, ivo, base_hrv + [4.6] * 5, base_rest + [51.0] * 5)
    _write_baselines(seeded.db, nina, [4.1, 4.0], [60.0, 61.0])
    with app_client(seeded.db) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        squad = client.get("/api/coach/squad").json()
        names = [r["name"] for r in squad]
        assert names.index("Dora") < names.index("Ivo")
        assert names[0] == "Dora"
        by = {r["name"]: r for r in squad}
        assert by["Dora"]["status"] == "rest"
        assert by["Dora"]["reasons"] == ["hrv_below", "hr_rest_above"]
        assert by["Ivo"]["status"] == "good"
        assert by["Ivo"]["reasons"] == ["hrv_above", "hr_rest_below"]
        assert by["Nina"]["status"] == "building" and by["Nina"]["readings"] == 2
        page = client.get("/coach").text
        assert "building 2/7" in page and "needs rest" in page
        # Without a baseline the HRV and resting-HR cells say "building", never "normal".
        assert by["Nina"]["hrv_state"] == "building" == by["Nina"]["hr_rest_state"]
        assert by["Ivo"]["hrv_state"] == "above" and by["Dora"]["hr_rest_state"] == "above"
        nina_row = re.search(r'<tr data-status="building"[^>]*>.*?</tr>', page, re.S)
        assert nina_row is not None and "Nina" in nina_row.group(0)
        cells = re.findall(r'<td class="(?:hrv|rest)-state">(.*?)</td>', nina_row.group(0))
        assert len(cells) == 2
        assert all("building 2/7" in c and "normal" not in c for c in cells)
        # The guest page of the new guest: no claim, just the count.
        token = guest_token(seeded.db, nina)
        html = client.get(f"/me/{token}/morning", headers={"accept-language": "nl"}).text
        assert "Je bouwt je basislijn op: 2 van 7 ochtenden" in html
        assert "normaal" not in html
        words = client.get(f"/me/{token}/morning").text
        assert "building your baseline: 2 of 7" in words and "normal range" not in words
        assert "Morning reading" in client.get(f"/me/{token}").text
        # The improving guest hears it kindly, with a chart of the usual range.
        ivo_html = client.get(f"/me/{guest_token(seeded.db, ivo)}/morning").text
        assert "Your body is recovering well." in ivo_html
        assert 'class="band"' in ivo_html
        dora_html = client.get(f"/me/{guest_token(seeded.db, dora)}/morning").text
        assert "An easier day would do you good today." in dora_html


def _rr_samples(sensor: str, athlete: int, start_ms: int) -> list[StoredSample]:
    return [
        StoredSample("demo", "c1", sensor, start_ms + k * 1000, start_ms + k, bpm, beats,
                     True, None, athlete)
        for k, (bpm, beats) in enumerate(per_second(pyhrv_rr()[:200]))
    ]  # fmt: skip


def test_coach_marks_confirms_and_deletes_readings(client: TestClient, seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    start = int(dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)

    async def write() -> None:
        store = SqliteStore(seeded.db)
        await store.open()
        await store.write(WriteBatch(_rr_samples("strap-1", alice, start)))
        await store.close()

    asyncio.run(write())
    journal = Journal(seeded.db)
    day_before = start - 86_400_000
    proposed = journal.add_reading(
        alice, day_before, day_before + 180_000, method="auto", status="proposed",
        ln_rmssd=4.0, hr_rest=60.0,
    )  # fmt: skip
    journal.close()
    csrf = login(client, seeded.coach_user, seeded.coach_password)
    # The coach looks at that morning's heart-rate curve; the quiet window is pre-filled.
    shown = client.get(f"/coach/athletes/{alice}?morning=2026-11-28").text
    assert "Heart rate · 2026-11-28" in shown
    assert 'name="start" step="1" value="2026-11-28T07:0' in shown
    assert client.get(f"/coach/athletes/{alice}?morning=yesterday").status_code == 422
    response = client.post(
        f"/coach/athletes/{alice}/readings",
        data={"start": "2026-11-28T07:00:00", "end": "2026-11-28T07:03:00", "csrf": csrf},
    )
    assert response.status_code == 303
    rows = client.get(f"/api/coach/athletes/{alice}/readings").json()
    marked = rows[0]
    assert marked["method"] == "coach" and marked["status"] == "counted"
    assert marked["minutes"] == 3.0 and marked["ln_rmssd"] is not None
    assert rows[1]["id"] == proposed and rows[1]["status"] == "proposed"
    page = client.get(f"/coach/athletes/{alice}").text
    assert f'data-reading="{proposed}" data-status="proposed"' in page
    assert "automatic" in page and "coach" in page
    # A window without samples is refused with the reason, nothing stored.
    refused = client.post(
        f"/coach/athletes/{alice}/readings",
        data={"start": "2026-11-20T07:00:00", "end": "2026-11-20T07:03:00", "csrf": csrf},
    )
    assert refused.status_code == 422 and "no-signal" in refused.text
    assert (
        client.post(f"/coach/readings/{proposed}/confirm", data={"csrf": csrf}).status_code == 303
    )
    assert client.get(f"/api/coach/athletes/{alice}/readings").json()[1]["status"] == "counted"
    assert (
        client.post(f"/coach/readings/{marked['id']}/delete", data={"csrf": csrf}).status_code
        == 303
    )
    assert [r["id"] for r in client.get(f"/api/coach/athletes/{alice}/readings").json()] == [
        proposed
    ]
    assert client.post(f"/coach/readings/{proposed}/delete", data={"csrf": "x"}).status_code == 403


def _stored(db: Path, sensor: str) -> list[tuple[int, int, int | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT ts, bpm, athlete_id FROM samples WHERE sensor = ? ORDER BY ts",
            (sensor,),
        ).fetchall()


def test_web_bluetooth_samples_take_the_ingestion_path(client: TestClient, seeded: Seeded) -> None:
    bob = seeded.athletes["Bob"]
    token = guest_token(seeded.db, bob)
    csrf = _csrf(client.get(f"/me/{token}/morning").text)
    info = client.get(f"/api/me/{token}/morning").json()
    sensor = info["web_sensor"]
    assert sensor == f"web-a{bob}"
    now = contract.now_ms()
    good = [
        {"sensor": sensor, "ts": now + i, "seq": now + i, "bpm": 60, "rr_ms": [1000],
         "contact": True, "energy_kj": None}
        for i in range(3)
    ]  # fmt: skip
    url = f"/api/me/{token}/samples"
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    assert client.post(url, content=json.dumps(good)).status_code == 403  # no CSRF token
    answer = client.post(url, content=json.dumps(good), headers=headers).json()
    assert answer == {"stored": 3, "quarantined": 0}
    again = client.post(url, content=json.dumps(good), headers=headers).json()
    assert again == {"stored": 0, "quarantined": 0}  # idempotent on (sensor, ts)
    bad = [
        good[0] | {"ts": now + 10, "bpm": 400},  # bpm out of range
        good[0] | {"ts": now + 11, "sensor": "strap-1"},  # somebody else's strap
        good[0] | {"ts": now + 12},  # fine
    ]
    mixed = client.post(url, content=json.dumps(bad), headers=headers).json()
    assert mixed == {"stored": 1, "quarantined": 2}
    assert client.post(url, content=b"not json", headers=headers).json()["quarantined"] == 1
    rows = _stored(seeded.db, sensor)
    assert [r[0] - now for r in rows] == [0, 1, 2, 12]
    assert {r[2] for r in rows} == {bob}  # stamped with the guest by the assignment
    with sqlite3.connect(seeded.db) as conn:
        reasons = sorted(r[0] for r in conn.execute("SELECT reason FROM quarantine"))
    assert reasons == ["bpm-range", "not-json", "sensor-mismatch"]
    # Another guest's token cannot post as Bob: its own web strap is another sensor.
    alice_token = guest_token(seeded.db, seeded.athletes["Alice"])
    alice_csrf = _csrf(client.get(f"/me/{alice_token}/morning").text)
    theirs = client.post(
        f"/api/me/{alice_token}/samples",
        content=json.dumps([good[0] | {"ts": now + 20}]),
        headers={"X-CSRF-Token": alice_csrf},
    ).json()
    assert theirs == {"stored": 0, "quarantined": 1}
