"""Issue 21 item 9: the coach's CSV set holds every kind of a person's data the
personal-data map names — morning readings (the recordings and the analysed readings),
strength sets and coach notes among them — and agrees with the map and with the person's
own export: every place is a CSV or says why not (``data.NOT_IN_CSV``), a withheld column
is never in a CSV, and the rows of a person in the CSVs are the rows of her export zip."""

from __future__ import annotations

import csv
import io
import zipfile

from fastapi.testclient import TestClient

from gympulse import contract
from gympulse.dashboards.admin import EXPORTS
from gympulse.dashboards.data import EXPORTABLE, NOT_IN_CSV, REGISTRY_EXPORTS
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.personal_data import PLACES, Home
from gympulse.pipeline.strength_log import StrengthLog
from tests.support.web import Seeded, app_client, login


def test_every_place_of_the_map_is_a_csv_or_says_why_not() -> None:
    names = {p.name for p in PLACES}
    assert names - EXPORTABLE - set(NOT_IN_CSV) == set(), "a place with neither"
    assert set(NOT_IN_CSV) <= names, "a reason for a place the map no longer names"
    assert not EXPORTABLE & set(NOT_IN_CSV)
    assert set(EXPORTS) == EXPORTABLE and len(EXPORTS) == len(set(EXPORTS))
    for wanted in ("morning_recordings", "morning_readings", "strength_sets", "coach_notes"):
        assert wanted in EXPORTS
    assert {p.name for p in PLACES if p.home is Home.REGISTRY} - set(NOT_IN_CSV) <= set(
        REGISTRY_EXPORTS
    )


def _csv(client: TestClient, name: str) -> list[dict[str, str]]:
    response = client.get(f"/coach/export/{name}.csv")
    assert response.status_code == 200, (name, response.text)
    return list(csv.DictReader(io.StringIO(response.text)))


def test_readings_strength_sets_and_notes_in_the_csvs_as_in_her_export(seeded: Seeded) -> None:
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    now = contract.now_ms()
    journal = Journal(seeded.db)
    readings = [
        journal.add_reading(who, now - 240_000, now - 60_000, method="guest", ln_rmssd=3.9)
        for who in (alice, bob)
    ]
    notes = [journal.add_note(alice, "Knee: go easy on squats", author="coach")]
    journal.close()
    log = StrengthLog(seeded.db)
    exercise = log.exercises()[0].key
    sets = [log.add_set(alice, now - 3_600_000, exercise, 5, 42.5, warmup=w) for w in (True, False)]
    log.close()
    with app_client(seeded.db) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        admin = client.get("/coach/admin").text
        for name in EXPORTS:
            assert f'href="/coach/export/{name}.csv"' in admin
        got = {
            name: _csv(client, name)
            for name in ("morning_recordings", "strength_sets", "coach_notes")
        }
        assert [int(r["id"]) for r in got["morning_recordings"]] == readings
        assert [r["athlete"] for r in got["morning_recordings"]] == ["Alice", "Bob"]
        assert [int(r["id"]) for r in got["strength_sets"]] == sets
        assert [r["warmup"] for r in got["strength_sets"]] == ["1", "0"]
        assert [int(r["id"]) for r in got["coach_notes"]] == notes
        assert got["coach_notes"][0]["text"] == "Knee: go easy on squats"
        # A withheld column never reaches a CSV.
        withheld = {c for p in PLACES for c in p.withheld}
        for name in EXPORTS:
            if name == "samples":
                continue
            response = client.get(f"/coach/export/{name}.csv")
            if response.status_code == 404:  # an empty derived table
                continue
            header = response.text.splitlines()[0].split(",")
            assert not withheld & set(header), name
        # Alice's rows in the CSVs are the rows of her own export.
        zipped = client.get(f"/coach/athletes/{alice}/export.zip")
        assert zipped.status_code == 200
        with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
            for name, rows in got.items():
                mine = list(csv.DictReader(io.StringIO(zf.read(f"{name}.csv").decode())))
                assert [r["id"] for r in mine] == [
                    r["id"] for r in rows if r["athlete_id"] == str(alice)
                ], name
