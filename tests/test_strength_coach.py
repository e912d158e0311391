"""The coach's side of the strength log, in process: the squad's strength progress next to
session-RPE load, a set logged for a guest, a new exercise, a class plan the guest's phone
shows first; and the plan parser and squad summary on worked examples."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gympulse import contract
from gympulse.dashboards.coach_strength import parse_plan, squad_strength
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.strength_log import StrengthLog, TemplateItem
from tests.support.web import Seeded, app_client, guest_token, login

DAY = 86_400_000


def test_parse_plan() -> None:
    assert parse_plan("squat 3x5 60\n\nbench 3 × 8\n") == [
        TemplateItem("squat", 3, 5, 60.0),
        TemplateItem("bench", 3, 8, None),
    ]
    with pytest.raises(ValueError, match="cannot read"):
        parse_plan("squat three sets")


def test_squad_strength_worked_example() -> None:
    now = 100 * DAY
    sets = [
        {"exercise": "squat", "reps": 5, "kg": 60, "ts_ms": now - 20 * DAY},  # e1RM 70
        {"exercise": "squat", "reps": 5, "kg": 66, "ts_ms": now - DAY},  # 77: record, +7
        {"exercise": "bench", "reps": 12, "kg": 30, "ts_ms": now - DAY},  # no e1RM (> 10)
    ]
    main = [e for e in CATALOGUE if e.key in ("squat", "bench")]
    (row,) = squad_strength([(1, "Eva")], {1: sets}, main, {1: 210.0}, now)
    assert row["sets_7d"] == 2
    assert row["volume_7d"] == 5 * 66 + 12 * 30  # 690 kg
    assert [cell for _, cell in row["lifts"]] == ["77.0 (+7.0)", "–"]
    assert row["records"] == 1 and row["srpe_7d"] == 210.0


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with app_client(seeded.db) as c:
        yield c


def test_coach_logs_for_a_guest_and_plans_a_class(client: TestClient, seeded: Seeded) -> None:
    csrf = login(client, seeded.coach_user, seeded.coach_password)
    name, athlete = next(iter(seeded.athletes.items()))
    page = client.get("/coach/strength")
    assert page.status_code == 200 and "Back squat e1RM" in page.text
    form = {"athlete_id": str(athlete), "exercise": "squat", "reps": "5", "kg": "60"}
    assert client.post("/coach/strength/sets", data=form).status_code == 403  # no CSRF
    done = client.post("/coach/strength/sets", data=form | {"csrf": csrf, "rpe": "8"})
    assert done.status_code == 303
    new = {"key": "goblet", "name_en": "Goblet squat", "name_nl": "Goblet squat"}
    new |= {"muscle": "legs", "csrf": csrf}
    assert client.post("/coach/strength/exercises", data=new).status_code == 303
    assert client.post("/coach/strength/exercises", data=new).status_code == 409
    plan = {"class_name": "Kracht", "plan": "goblet 3x10 16\nbench 3x8", "csrf": csrf}
    assert client.post("/coach/strength/templates", data=plan).status_code == 303
    bad = plan | {"plan": "curls 3x10"}
    assert client.post("/coach/strength/templates", data=bad).status_code == 422

    log = StrengthLog(seeded.db)
    (logged,) = log.sets(athlete)
    assert (logged.exercise, logged.reps, logged.kg, logged.rpe, logged.logged_by) == (
        "squat", 5, 60.0, 8.0, "coach",
    )  # fmt: skip
    log.close()
    row = re.search(rf'<tr data-athlete="{athlete}">(.*?)</tr>', client.get("/coach/strength").text)
    assert row is not None and "70.0" in row.group(1)  # 60 × (1 + 5/30)

    # a "Kracht" class today: the guest's phone shows the coach's plan first
    journal = Journal(seeded.db)
    now = contract.now_ms()
    journal.add_class("Kracht", now - 600_000, now + 3_000_000)
    journal.close()
    token = guest_token(seeded.db, athlete)
    guest = client.get(f"/me/{token}/strength", headers={"accept-language": "nl"})
    assert guest.status_code == 200
    assert "Plan van vandaag: Kracht" in guest.text
    order = re.findall(r'data-exercise="([a-z0-9-]+)"', guest.text)
    assert order[:2] == ["goblet", "bench"]
    assert name  # the seeded athlete has a name on the coach's table


def test_guest_logs_with_rir_and_undoes_a_set(client: TestClient, seeded: Seeded) -> None:
    _, athlete = next(iter(seeded.athletes.items()))
    token = guest_token(seeded.db, athlete)
    page = client.get(f"/me/{token}/strength?exercise=bench")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"exercise": "bench", "reps": "8", "kg": "30", "rir": "2", "csrf": csrf.group(1)}
    assert client.post(f"/me/{token}/strength/sets", data=form).status_code == 303
    assert client.post(f"/me/{token}/strength/sets", data=form | {"kg": "300"}).status_code == 303
    bad = form | {"rir": "11"}
    assert client.post(f"/me/{token}/strength/sets", data=bad).status_code == 422
    log = StrengthLog(seeded.db)
    assert [(s.kg, s.rir) for s in log.sets(athlete)] == [(30.0, 2), (300.0, 2)]
    undo = {"exercise": "bench", "csrf": csrf.group(1)}
    done = client.post(f"/me/{token}/strength/undo", data=undo)
    assert done.status_code == 303 and done.headers["location"].endswith("strength?exercise=bench")
    assert [s.kg for s in log.sets(athlete)] == [30.0]  # the mistyped 300 kg is gone
    log.close()
