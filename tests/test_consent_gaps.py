"""The consent gaps of issue 18 item 7, closed, through real processes (a real Mosquitto,
``gympulse ingest``, ``gympulse analyze``, ``gympulse web`` and ``gympulse coach-email``):

- what a guest withdrew is hidden everywhere a coach sees it (athlete page and API, squad,
  "today", the morning email, CSV exports of whole tables) while her own export keeps it;
- the analytics make sessions only from samples under live-class consent and morning
  readings only from samples under morning-HRV consent (at the sample's time and now);
- a re-stamp after an assignment change never puts samples onto a wearer without consent;
- the squad, "today" and the coaches' email write one access-log entry per person shown.

The suite runs with consent off (tests/conftest.py); these tests switch it on."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from gympulse import contract
from gympulse.contract import HrSample
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.i18n import t
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from tests.support.pipeline import barrier, publish_samples, sqlite_has
from tests.support.procs import Mosquitto, gympulse_process
from tests.support.web import SITE, csrf_from, guest_token, web_server
from tests.test_coach_today import _coach_email, _coach_user, smtp_server

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
HOUR_MS = 3_600_000


@pytest.fixture(autouse=True)
def consent_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests' processes keep the consent rules."""
    monkeypatch.setenv("GYMPULSE_CONSENT__REQUIRED", "true")
    yield


def _guests(db: Path, names: list[str]) -> dict[str, int]:
    registry = Registry(db)
    try:
        return {
            n: registry.add_athlete(n, birth_year=1985, sex="female", hr_max=185, hr_rest=60)
            for n in names
        }
    finally:
        registry.close()


def _consented_before(db: Path, athlete_id: int, domains: list[str], ts_ms: int) -> None:
    """Her "yes" to ``domains`` as recorded on her page at ``ts_ms`` (hours ago)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO consent_events (athlete_id, domain, given, ts_ms, by_whom)"
            " VALUES (?, ?, 1, ?, 'guest')",
            [(athlete_id, d, ts_ms) for d in domains],
        )


def _workout(sensor: str, start_ms: int, minutes: int) -> list[HrSample]:
    """One sample a second at about 140 bpm with beat-to-beat variation."""
    out = []
    for k in range(minutes * 60):
        bpm = 138 + k % 5
        rr = [round(60_000 / bpm) + (k % 3) * 6]
        out.append(HrSample(sensor, start_ms + k * 1000, start_ms + k, bpm, rr, True))
    return out


async def _ingest_ready(url: str, db: Path) -> None:
    for attempt in range(200):  # subscribed once a probe (nobody's strap) is stored
        probe = HrSample("probe", contract.now_ms(), attempt, 70)
        await publish_samples(url, [probe])
        await asyncio.sleep(0.2)
        with closing(sqlite3.connect(db)) as conn:
            if conn.execute("SELECT 1 FROM samples WHERE sensor = 'probe'").fetchone():
                return
    raise AssertionError("ingestion never stored the probe")


def _rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def _login(base: str) -> httpx.Client:
    coach = httpx.Client(base_url=base, timeout=60)
    form = coach.get("/coach/login")
    login = {"username": "coach", "password": PASSWORD, "csrf": csrf_from(form.text)}
    assert coach.post("/coach/login", data=login).status_code == 303
    return coach


def _csv(coach: httpx.Client, table: str) -> list[dict[str, str]]:
    answer = coach.get(f"/coach/export/{table}.csv")
    assert answer.status_code == 200
    return list(csv.DictReader(io.StringIO(answer.text)))


def _config(tmp_path: Path, url: str, db: Path) -> Path:
    config = tmp_path / "gympulse.toml"
    config.write_text(f'site = "{SITE}"\n[mqtt]\nurl = "{url}"\n[store]\npath = "{db}"\n')
    return config


async def _store_class(url: str, db: Path, config: Path, samples: list[HrSample]) -> None:
    """``samples`` through the broker and a real ``gympulse ingest``, until stored."""
    ingest = gympulse_process(config, db.parent / "ingest.log", "ingest")
    try:
        await _ingest_ready(url, db)
        await publish_samples(url, samples)
        await barrier(url, sqlite_has(db), site=SITE)
    finally:
        ingest.terminate()
        ingest.wait(timeout=20)


def test_only_consented_samples_are_analysed_and_a_withdrawal_hides_it_all(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    ids = _guests(db, ["Ann Live", "Bea Morning"])
    ann, bea = ids["Ann Live"], ids["Bea Morning"]
    now = contract.now_ms()
    # Ann said yes to the live class, wellness and strength (not morning HRV) three hours
    # ago; Bea only to morning HRV. Both wore a strap in tonight's class two hours ago.
    _consented_before(db, ann, ["live", "wellness", "strength"], now - 3 * HOUR_MS)
    _consented_before(db, bea, ["morning"], now - 3 * HOUR_MS)
    start = now - 2 * HOUR_MS
    registry = Registry(db)
    registry.assign("strap-1", ann, 0)
    registry.assign("strap-2", bea, 0)
    registry.close()
    journal = Journal(db)
    journal.add_class("Spin", start, start + 20 * 60_000)
    for who in (ann, bea):  # a reading of each, over the first five minutes
        journal.add_reading(who, start, start + 5 * 60_000, method="coach")
    journal.close()
    accounts = Accounts(db)
    accounts.add_user("coach", PASSWORD)
    accounts.close()
    _coach_user(db, "coach", "--email", "coach@retreat.example", "--lang", "en")

    config = _config(tmp_path, mosquitto.url, db)
    workouts = _workout("strap-1", start, 20) + _workout("strap-2", start, 20)
    asyncio.run(_store_class(mosquitto.url, db, config, workouts))
    # Ingestion stored both (each consented to one use of her strap's heart rate).
    stored = dict(_rows(db, "SELECT athlete_id, count(*) FROM samples GROUP BY athlete_id"))
    assert stored[ann] == stored[bea] == 1200

    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), "analyze"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # ---- sessions only under live consent; morning readings only under morning consent
    sessions = _rows(db, "SELECT athlete_id, session_id FROM session_summary")
    assert {a for a, _ in sessions} == {ann}, sessions
    readings = dict(_rows(db, "SELECT athlete_id, n_rr FROM morning_readings"))
    assert int(str(readings[bea])) > 200  # her reading is made from her samples
    assert readings.get(ann) in (None, 0)  # live-only consent feeds no reading
    (session_id,) = [s for a, s in sessions if a == ann]

    with web_server(mosquitto.url, db) as base:
        me = f"/me/{guest_token(db, ann)}"
        guest = httpx.Client(base_url=base, timeout=60)
        csrf = csrf_from(guest.get(f"{me}/consent").text)
        scores = {"sleep": 2, "stress": 2, "mood": 1, "energy": 2, "soreness": 3}
        assert guest.post(f"{me}/wellness", data={**scores, "csrf": csrf}).status_code == 303
        coach = _login(base)

        def seen() -> dict[str, Any]:
            api = coach.get(f"/api/coach/athletes/{ann}").json()
            (row,) = [r for r in coach.get("/api/coach/squad").json() if r["athlete_id"] == ann]
            today = {a["athlete_id"]: a for a in coach.get("/api/coach/today").json()}
            reasons = [r["key"] for r in today.get(ann, {"reasons": []})["reasons"]]
            return {
                "sessions": [s["session_id"] for s in api["sessions"]],
                "daily": len(api["daily"]),
                "moods": [w["mood"] for w in api["wellness"] if w["mood"] is not None],
                "squad_wellness": row["wellness_today"],
                "squad_load": row["load_7d"],
                "today": reasons,
                "page_has_session": session_id in coach.get(f"/coach/athletes/{ann}").text,
                "csv_wellness": [r["athlete_id"] for r in _csv(coach, "wellness")],
                "csv_sessions": {r["athlete_id"] for r in _csv(coach, "session_summary")},
                "csv_samples": {r["athlete_id"] for r in _csv(coach, "samples")},
                "session_api": coach.get(
                    f"/api/coach/athletes/{ann}/sessions/{session_id}"
                ).status_code,
            }

        before = seen()
        assert before["sessions"] == [session_id] and before["moods"] == [1]
        assert before["squad_wellness"] is not None and before["daily"] > 0
        assert "mood_low" in before["today"]
        assert before["page_has_session"] and before["session_api"] == 200
        assert before["csv_wellness"] == [str(ann)]
        assert str(ann) in before["csv_sessions"]
        assert str(ann) in before["csv_samples"]

        lift = {"exercise": CATALOGUE[0].key, "reps": 5, "kg": 20, "csrf": csrf}
        assert guest.post(f"{me}/strength/sets", data=lift).status_code == 303
        assert [r["athlete_id"] for r in _csv(coach, "strength_sets")] == [str(ann)]

        # ---- she takes back her yes to wellness and to the live class on her page
        for domain in ("wellness", "live", "strength"):
            answer = guest.post(f"{me}/consent", data={"domain": domain, "given": 0, "csrf": csrf})
            assert answer.status_code == 303
        after = seen()
        assert after["sessions"] == [] and after["daily"] == 0 and after["moods"] == []
        assert after["squad_wellness"] is None and after["squad_load"] is None
        assert "mood_low" not in after["today"]
        assert not after["page_has_session"] and after["session_api"] == 404
        assert after["csv_wellness"] == []
        assert str(ann) not in after["csv_sessions"]
        assert str(ann) not in after["csv_samples"]
        assert str(bea) in after["csv_samples"]  # Bea's: morning
        assert _csv(coach, "strength_sets") == []

        # ---- Bea's morning readings, until she takes back her yes to morning HRV
        def bea_morning() -> tuple[int, int, int]:
            api = coach.get(f"/api/coach/athletes/{bea}").json()
            readings = [r for r in _csv(coach, "morning_readings") if r["athlete_id"] == str(bea)]
            return len(api["readings"]), len(api["baselines"]), len(readings)

        assert all(n > 0 for n in bea_morning())
        bme = f"/me/{guest_token(db, bea)}"
        bcsrf = csrf_from(guest.get(f"{bme}/consent").text)
        answer = guest.post(f"{bme}/consent", data={"domain": "morning", "given": 0, "csrf": bcsrf})
        assert answer.status_code == 303
        assert bea_morning() == (0, 0, 0)
        assert str(bea) not in {r["athlete_id"] for r in _csv(coach, "samples")}

        # A whole-table CSV names in the access log exactly the people whose rows it holds.
        named = _rows(
            db,
            "SELECT athlete_id, count(*) FROM access_log WHERE detail = 'wellness.csv'"
            " GROUP BY athlete_id",
        )
        assert named == [(ann, 1)]  # before her withdrawal; Bea never said yes to wellness

        # ---- her own export still holds everything she has (a right of access)
        exported = coach.get(f"/coach/athletes/{ann}/export.zip")
        assert exported.status_code == 200
        with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
            names = zf.namelist()
            wellness = [n for n in names if "wellness" in n and n.endswith(".json")]
            assert wellness and any(json.loads(zf.read(n)) for n in wellness), names
            summary = [n for n in names if "session_summary" in n]
            assert summary and any(json.loads(zf.read(n)) for n in summary), names

        # ---- the squad and "today" are in the access log, one entry per person shown
        before_log = len(_rows(db, "SELECT id FROM access_log"))
        assert coach.get("/coach").status_code == 200
        assert coach.get("/coach/today").status_code == 200
        assert coach.get("/coach/strength").status_code == 200
        entries = _rows(
            db,
            "SELECT actor, athlete_id, what, detail FROM access_log WHERE id > ? ORDER BY id",
            before_log,
        )
        for page in ("/coach", "/coach/strength"):  # everyone's row: everyone logged
            assert sorted(a for _, a, _, d in entries if d == page) == [ann, bea]
        today_ids = {a["athlete_id"] for a in coach.get("/api/coach/today").json()}
        assert {a for _, a, _, d in entries if d == "/coach/today"} == today_ids
        assert {(actor, what) for actor, _, what, _ in entries} == {("coach:coach", "view")}
        logged_api = _rows(
            db, "SELECT athlete_id FROM access_log WHERE detail = '/api/coach/squad'"
        )
        assert len(logged_api) == 2 * 2  # two squad answers above (seen twice), two people

    # ---- the morning email: no withdrawn wellness in it, and it is in the access log
    secret = "mailer-password-from-env-only"
    with smtp_server("gympulse-mailer", secret) as inbox:
        sent = _coach_email(
            db, inbox, GYMPULSE_SMTP__PASSWORD=secret, GYMPULSE_CONSENT__REQUIRED="true"
        )
        assert sent.returncode == 0, sent.stderr
    (msg,) = inbox.messages
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert t("en", "today_mood_low", mood=1) not in body
    mailed = _rows(
        db, "SELECT actor, athlete_id FROM access_log WHERE detail = 'coach email' ORDER BY id"
    )
    listed = [n for n in ("Ann Live", "Bea Morning") if f". {n}" in body]
    assert sorted(a for _, a in mailed) == sorted(ids[n] for n in listed)
    assert {actor for actor, _ in mailed} == {"coach:coach"}


async def test_a_restamp_never_puts_samples_on_a_wearer_without_consent(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Strap 3 was stamped with Ann; the coach corrects it: Cara (no consent) wore it.
    Ingestion's re-stamp leaves those samples unassigned instead. Strap 4, corrected from
    Ann to Dora (who consented), follows the correction as before."""
    db = tmp_path / "gympulse.db"
    ids = _guests(db, ["Ann", "Cara", "Dora"])
    ann, cara, dora = ids["Ann"], ids["Cara"], ids["Dora"]
    now = contract.now_ms()
    _consented_before(db, ann, ["live"], now - HOUR_MS)
    _consented_before(db, dora, ["live"], now - HOUR_MS)
    registry = Registry(db)
    registry.assign("strap-3", ann, 0)
    registry.assign("strap-4", ann, 0)
    registry.close()
    config = _config(tmp_path, mosquitto.url, db)
    ingest = gympulse_process(config, tmp_path / "ingest.log", "ingest")
    try:
        await _ingest_ready(mosquitto.url, db)
        start = now - 10 * 60_000
        await publish_samples(
            mosquitto.url, _workout("strap-3", start, 1) + _workout("strap-4", start, 1)
        )
        await barrier(mosquitto.url, sqlite_has(db), site=SITE)
        by = "SELECT athlete_id, count(*) FROM samples WHERE sensor = ? GROUP BY athlete_id"
        assert _rows(db, by, "strap-3") == [(ann, 60)]
        registry = Registry(db)
        registry.assign("strap-3", cara, start - 1000)  # the correction: Cara wore it
        registry.assign("strap-4", dora, start - 1000)
        registry.close()
        deadline = time.monotonic() + 60
        while _rows(db, by, "strap-4") != [(dora, 60)]:  # the re-stamp ran
            assert time.monotonic() < deadline, _rows(db, by, "strap-4")
            await asyncio.sleep(0.2)
        await barrier(mosquitto.url, sqlite_has(db), site=SITE)
        assert _rows(db, by, "strap-3") == [(None, 60)]  # nobody's, never Cara's
        left = _rows(db, "SELECT count(*) FROM samples WHERE sensor = 'strap-3' AND zone > 0")
        assert left == [(0,)]  # no % of HRmax or zone of a person left on them
    finally:
        ingest.terminate()
        ingest.wait(timeout=20)


async def test_thirty_guests_withdraw_while_two_coaches_load_the_squad(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """30 guests with a low-mood check-in today take back their wellness consent at the
    same moment as two coaches load the squad and "today" (120 requests in flight): every
    squad row shows a guest's check-in whole or not at all, afterwards nobody's, and the
    access log holds exactly one entry per person per squad answer and coach."""
    db = tmp_path / "gympulse.db"
    names = [f"Guest {i:02}" for i in range(30)]
    ids = _guests(db, names)
    for a in ids.values():
        _consented_before(db, a, ["wellness"], contract.now_ms() - HOUR_MS)
    accounts = Accounts(db)
    accounts.add_user("coach", PASSWORD)
    accounts.add_user("sam", PASSWORD)
    accounts.close()
    with web_server(mosquitto.url, db) as base:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            tokens = {a: guest_token(db, a) for a in ids.values()}
            pages = await asyncio.gather(
                *(client.get(f"/me/{tokens[a]}/consent") for a in ids.values())
            )
            csrf = dict(zip(ids.values(), (csrf_from(p.text) for p in pages), strict=True))
            scores = {"sleep": 2, "stress": 2, "mood": 1, "energy": 2, "soreness": 2}
            posted = await asyncio.gather(
                *(
                    client.post(f"/me/{tokens[a]}/wellness", data={**scores, "csrf": csrf[a]})
                    for a in ids.values()
                )
            )
            assert {p.status_code for p in posted} == {303}
            coaches = {}
            for user in ("coach", "sam"):
                c = httpx.AsyncClient(base_url=base, timeout=120, limits=limits)
                form = await c.get("/coach/login")
                login = {"username": user, "password": PASSWORD, "csrf": csrf_from(form.text)}
                assert (await c.post("/coach/login", data=login)).status_code == 303
                coaches[user] = c
            start = asyncio.Event()

            async def withdraw(a: int) -> int:
                await start.wait()
                answer = await client.post(
                    f"/me/{tokens[a]}/consent",
                    data={"domain": "wellness", "given": 0, "csrf": csrf[a]},
                )
                return answer.status_code

            async def load(user: str, path: str) -> httpx.Response:
                await start.wait()
                return await coaches[user].get(path)

            loads = [(u, p) for u in coaches for p in ("/api/coach/squad", "/api/coach/today")]
            loads *= 15
            tasks = [asyncio.create_task(withdraw(a)) for a in ids.values()]
            views = [asyncio.create_task(load(u, p)) for u, p in loads]
            await asyncio.sleep(0)  # every task waits at the start line
            start.set()
            assert set(await asyncio.gather(*tasks)) == {303}
            answers = await asyncio.gather(*views)
            assert {a.status_code for a in answers} == {200}
            for (_, path), answer in zip(loads, answers, strict=True):
                if path != "/api/coach/squad":
                    continue
                for row in answer.json():  # whole or nothing, never a mix
                    w = row["wellness_today"]
                    assert w is None or (w["mood"] == 1 and w["total"] == 9), row
            after = (await coaches["coach"].get("/api/coach/squad")).json()
            assert [r["wellness_today"] for r in after] == [None] * 30
            today = (await coaches["sam"].get("/api/coach/today")).json()
            assert all("mood_low" not in [r["key"] for r in a["reasons"]] for a in today)
            for c in coaches.values():
                await c.aclose()
    per = _rows(
        db,
        "SELECT actor, athlete_id, count(*) FROM access_log WHERE detail = '/api/coach/squad'"
        " GROUP BY actor, athlete_id",
    )
    # 15 loads each during the withdrawals, and coach's one after
    assert sorted(per) == sorted(
        [("coach:coach", a, 16) for a in ids.values()]
        + [("coach:sam", a, 15) for a in ids.values()]
    )
    withdrawn = _rows(
        db, "SELECT athlete_id, count(*) FROM consent_events WHERE given = 0 GROUP BY athlete_id"
    )
    assert sorted(withdrawn) == sorted((a, 1) for a in ids.values())


def test_every_table_of_a_domain_is_a_place_of_personal_data() -> None:
    """The one rule names real places (pipeline/personal_data.py), each holding athletes."""
    from gympulse.pipeline.consent import SHOWN_WITH
    from gympulse.pipeline.personal_data import PLACES

    places = {p.name for p in PLACES}
    assert set(SHOWN_WITH) <= places, set(SHOWN_WITH) - places
