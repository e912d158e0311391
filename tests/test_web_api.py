"""API tests for every endpoint of the web app (in process, on a seeded SQLite file)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from fastapi.testclient import TestClient

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.data import Data
from gympulse.dashboards.live import LiveHub
from gympulse.mqtt import Received
from gympulse.pipeline.analytics.tables import SESSION_SUMMARY, conform
from gympulse.pipeline.consent import Policy
from gympulse.pipeline.domain import effort_stamp
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import Settings, StoreSettings
from tests.support.web import (
    SITE,
    Seeded,
    app_client,
    csrf_from,
    guest_token,
    login,
    open_board,
)


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with app_client(seeded.db) as c:
        yield c


@pytest.fixture
def coach_csrf(client: TestClient, seeded: Seeded) -> str:
    return login(client, seeded.coach_user, seeded.coach_password)


# ---------------------------------------------------------------------- live board + basics


@pytest.fixture
def board(client: TestClient, seeded: Seeded) -> str:
    """The client opened the live board through a board link."""
    return open_board(client, seeded.db)


def test_live_endpoints_and_security_headers(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/").headers["location"] == "/live"
    # Nothing of the board, nor the API docs, without a credential.
    for path in ("/live", "/api/live/snapshot", "/api/live/summary", "/api/live/class",
                 "/api/live/stream", "/openapi.json", "/docs", "/redoc"):  # fmt: skip
        assert client.get(path).status_code in (403, 303), path
    assert client.get("/board/not-a-token").status_code == 404
    open_board(client, seeded.db)
    page = client.get("/live")
    assert page.status_code == 200 and "live.js" in page.text
    assert client.get("/api/live/snapshot").json() == []
    assert client.get("/api/live/summary").json() == []
    assert client.get("/api/live/class").json()["class"] is None
    health = client.get("/healthz").json()
    assert health["ok"] is True and health["tiles"] == 0
    for path in ("/live", "/coach/login", "/api/live/snapshot"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in headers["content-security-policy"]
    assert client.get("/openapi.json").status_code == 403  # a board link is no coach
    login(client, seeded.coach_user, seeded.coach_password)
    schema = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    assert "/api/me/{token}/sessions" in schema["paths"]
    assert "/api/coach/squad" in schema["paths"]


def test_live_class_shows_the_running_class(client: TestClient, seeded: Seeded, board: str) -> None:
    now = contract.now_ms()
    journal = Journal(seeded.db)
    class_id = journal.add_class("Spinning", now - 60_000, now + 600_000)
    journal.close()
    running = client.get("/api/live/class").json()["class"]
    assert running == {
        "id": class_id,
        "name": "Spinning",
        "start_ms": now - 60_000,
        "end_ms": now + 600_000,
        "target_points": 22,  # 11 minutes × 2 points per class minute (default)
    }


def test_live_tile_totals(client: TestClient, board: str) -> None:
    """Two samples a second apart at a known HR: effort points and Keytel kcal add up."""
    hub = client.app.state.ctx.hub  # type: ignore[attr-defined]
    now = contract.now_ms()
    # Alice: hr_max from Tanaka (born 1990), female, 60 kg.
    for k in range(2):
        hub.apply_sample(contract.HrSample("strap-1", now + k * 1000, k, 150), now)
    (tile,) = client.get("/api/live/snapshot").json()
    assert tile["name"] == "Alice" and tile["state"] == "live"
    import datetime as dt

    year = dt.datetime.now(dt.UTC).year
    age = year - 1990
    hr_max = 208 - 0.7 * age
    pct = 100 * 150 / hr_max
    zone = sum(1 for lower in (50, 60, 70, 80, 90) if pct >= lower)
    assert tile["zone"] == zone
    assert tile["points"] == round(2 * zone / 60, 1)
    kcal_per_min = (-20.4022 + 0.4472 * 150 - 0.1263 * 60 + 0.074 * age) / 4.184
    assert tile["kcal"] == pytest.approx(round(2 * kcal_per_min / 60, 1), abs=0.051)
    (summary,) = client.get("/api/live/summary").json()
    assert summary["peak_bpm"] == 150
    assert summary["zone_minutes"][zone] == round(2 / 60, 1)


def test_live_tile_uses_the_stored_effort_rule(
    client: TestClient, seeded: Seeded, board: str
) -> None:
    """125 bpm at HRmax 200 is 62.5 %: rounded half up to 63 (Python's round gives 62),
    as ``effort_stamp`` stamps stored samples and Grafana shows them."""
    registry = Registry(seeded.db)
    carla = registry.add_athlete("Carla", birth_year=1995, hr_max=200)
    registry.assign("strap-7", carla, 0)
    registry.close()
    hub = client.app.state.ctx.hub  # type: ignore[attr-defined]
    now = contract.now_ms()
    tile = hub.apply_sample(contract.HrSample("strap-7", now, 1, 125), now)
    assert (tile.pct_max, tile.zone) == effort_stamp(125, 200.0) == (63, 2)


async def test_live_hub_survives_a_message_that_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error while handling one message is logged and that message skipped;
    the consume task keeps going and the next message still updates its tile."""
    db = tmp_path / "gympulse.db"
    settings = Settings(site=SITE, store=StoreSettings(path=str(db)))
    registry = Registry(db)
    hub = LiveHub(settings, registry)
    feed: asyncio.Queue[Received] = asyncio.Queue()  # the messages, fed at the boundary

    async def messages() -> AsyncIterator[Received]:
        while True:
            yield await feed.get()

    real_identify = hub._identify

    def identify(tile: Any, ts: int) -> None:
        if tile.sensor == "strap-bad":
            raise RuntimeError("boom")
        real_identify(tile, ts)

    hub._identify = identify  # type: ignore[method-assign]

    def message(sensor: str, bpm: int) -> Received:
        sample = contract.HrSample(sensor, contract.now_ms(), 1, bpm, contact=True)
        topic = contract.hr_topic(SITE, "sim", sensor)
        return Received(topic, contract.encode_samples([sample]), 0, False, 0, 0)

    consume = asyncio.create_task(hub._consume(messages()))
    try:
        with caplog.at_level(logging.ERROR, logger="gympulse.dashboards.live"):
            await feed.put(message("strap-bad", 150))
            await feed.put(message("strap-good", 140))
            for _ in range(100):
                if "strap-good" in hub.tiles:
                    break
                await asyncio.sleep(0.01)
        assert not consume.done()
        assert hub.tiles["strap-good"].bpm == 140
        assert hub.tiles["strap-good"].state == "live"
        assert any("skipped a message" in r.message and r.exc_info for r in caplog.records)
    finally:
        consume.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consume
        registry.close()


def test_class_summary_hrr60_from_session_summary(
    client: TestClient, seeded: Seeded, board: str
) -> None:
    """The end-of-class summary fills HRR60 from the class's session_summary row (written
    by ``gympulse analyze``) when there is one, else leaves it empty."""
    now = contract.now_ms()
    journal = Journal(seeded.db)
    class_id = journal.add_class("HIIT", now - 3_600_000, now - 300_000)
    journal.close()
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    row = {
        "athlete_id": alice, "session_id": f"class-{class_id}", "kind": "class",
        "class_id": class_id, "date": dt.datetime.now(dt.UTC).date(),
        "start_ms": now - 3_600_000, "end_ms": now - 300_000, "hrr60": 27.4,
    }  # fmt: skip

    async def write() -> None:
        store = SqliteStore(seeded.db)
        await store.open()
        try:
            frame = conform(SESSION_SUMMARY, pl.DataFrame([row]))
            await store.write_rows(SESSION_SUMMARY.name, frame, SESSION_SUMMARY.key)
        finally:
            await store.close()

    asyncio.run(write())
    hub = client.app.state.ctx.hub  # type: ignore[attr-defined]
    for strap in ("strap-1", "strap-2", "strap-9"):  # strap-9: nobody's; during the class
        hub.apply_sample(contract.HrSample(strap, now - 600_000, 1, 150), now)
    for query in (f"?class_id={class_id}", ""):  # explicit, and the latest class of today
        summary = {r["athlete_id"]: r for r in client.get(f"/api/live/summary{query}").json()}
        assert summary[alice]["hrr60"] == 27.4
        assert summary[bob]["hrr60"] is None
        assert summary[None]["hrr60"] is None
    # Another class than today's: the coach's (names, peak HR, HRR60 of the past).
    assert client.get(f"/api/live/summary?class_id={class_id + 1}").status_code == 403
    login(client, seeded.coach_user, seeded.coach_password)
    other = client.get(f"/api/live/summary?class_id={class_id + 1}").json()
    assert all(r["hrr60"] is None for r in other)


# ---------------------------------------------------------------------- coach


def test_coach_login_cookie_and_failures(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/coach").status_code == 303  # to the login page
    assert client.get("/api/coach/squad").status_code == 403
    form = client.get("/coach/login")
    token = csrf_from(form.text)
    # No CSRF token, a wrong one, then a wrong password.
    data = {"username": "coach", "password": seeded.coach_password}
    assert client.post("/coach/login", data=data).status_code == 403
    assert client.post("/coach/login", data=data | {"csrf": "0" * 64}).status_code == 403
    wrong = client.post("/coach/login", data=data | {"password": "nope", "csrf": token})
    assert wrong.headers["location"] == "/coach/login?failed=1"
    ok = client.post("/coach/login", data=data | {"csrf": token})
    cookie = ok.headers["set-cookie"]
    assert "gp_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/coach").status_code == 200
    # Stored hashed: the cookie value is nowhere in the database.
    session = client.cookies["gp_session"]
    with sqlite3.connect(seeded.db) as conn:
        dump = "\n".join(conn.iterdump())
    assert session not in dump
    assert "$argon2id$" in dump
    csrf = csrf_from(client.get("/coach").text)
    assert client.post("/coach/logout", data={"csrf": csrf}).status_code == 303
    assert client.get("/api/coach/squad").status_code == 403


def test_squad_sorted_by_flags(client: TestClient, seeded: Seeded, coach_csrf: str) -> None:
    squad = client.get("/api/coach/squad").json()
    assert [r["name"] for r in squad] == ["Bob", "Alice"]  # Bob has two flags
    bob = squad[0]
    assert bob["flags"] == ["flag_hrv", "flag_hr_rest"]
    assert bob["hrv_flag"] is True and squad[1]["hrv_flag"] is False
    # Latest of 5 seeded days (i = 4): tsb = -10 + 4/2, acwr = 1 + 4/100.
    assert bob["tsb"] == pytest.approx(-8.0)
    assert bob["acwr"] == pytest.approx(1.04)
    assert bob["load_7d"] == pytest.approx(sum(50.0 + i for i in range(5)))
    html = client.get("/coach").text
    assert html.index("Bob") < html.index("Alice")


def test_squad_shows_the_date_of_its_values(
    client: TestClient, seeded: Seeded, coach_csrf: str
) -> None:
    squad = client.get("/api/coach/squad").json()
    latest = {r["name"]: r["date"] for r in squad}
    assert latest["Bob"] and latest["Alice"]
    html = client.get("/coach").text
    assert "<th>As of</th>" in html
    for day in latest.values():
        assert f'<td class="as-of">{day}</td>' in html


def test_missing_hrr60_shows_its_reason_to_the_coach(
    client: TestClient, seeded: Seeded, coach_csrf: str
) -> None:
    alice = seeded.athletes["Alice"]
    sid = seeded.sessions["Alice"][0]

    async def rewrite() -> None:
        store = SqliteStore(seeded.db)
        await store.open()
        try:
            from gympulse.pipeline.analytics.jobs import read_table

            rows = await read_table(store, SESSION_SUMMARY, {"session_id": sid})
            rows = rows.with_columns(
                pl.lit(None, pl.Float64).alias("hrr60"), pl.lit("rose").alias("hrr60_note")
            )
            await store.write_rows(
                SESSION_SUMMARY.name, conform(SESSION_SUMMARY, rows), SESSION_SUMMARY.key
            )
        finally:
            await store.close()

    asyncio.run(rewrite())
    reason = "No HRR60: the heart rate went up after the end of exercise"
    assert f'title="{reason}"' in client.get(f"/coach/athletes/{alice}").text
    assert f'title="{reason}"' in client.get(f"/coach/athletes/{alice}/sessions/{sid}").text


def test_athlete_and_session_pages(client: TestClient, seeded: Seeded, coach_csrf: str) -> None:
    alice = seeded.athletes["Alice"]
    data = client.get(f"/api/coach/athletes/{alice}").json()
    assert data["athlete"]["name"] == "Alice"
    assert len(data["daily"]) == 5 and len(data["sessions"]) == 5
    page = client.get(f"/coach/athletes/{alice}").text
    assert page.count("<svg") >= 4  # PMC, ACWR with band, ln RMSSD, resting HR
    assert 'class="band"' in page
    sid = seeded.sessions["Alice"][0]
    session = client.get(f"/api/coach/athletes/{alice}/sessions/{sid}").json()
    assert len(session["hr"]) == 121  # one sample per 5 s over 600 s, both ends included
    html = client.get(f"/coach/athletes/{alice}/sessions/{sid}").text
    assert "data-zone=" in html
    assert client.get("/api/coach/athletes/9999").status_code == 404
    assert client.get(f"/api/coach/athletes/{alice}/sessions/nope").status_code == 404


def test_csv_export(client: TestClient, seeded: Seeded, coach_csrf: str) -> None:
    response = client.get("/coach/export/athletes.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:2] == ["id", "name"]
    assert [r[1] for r in rows[1:]] == ["Alice", "Bob"]
    summary = list(
        csv.DictReader(io.StringIO(client.get("/coach/export/session_summary.csv").text))
    )
    assert len(summary) == 10
    assert client.get("/coach/export/web_users.csv").status_code == 404  # not exportable
    assert client.get("/coach/export/sqlite_master.csv").status_code == 404


EXPORT_T0 = 1_709_543_580_250  # 2024-03-04 09:13:00.250 UTC: windows do not start at midnight
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def spread_samples(athletes: dict[str, int]) -> list[StoredSample]:
    """Samples over four days: every 5 h on two straps, one unassigned strap, and samples on
    both sides of each one-day window boundary counted from the oldest sample."""
    out: list[StoredSample] = []
    for day in range(4):
        for hour in range(0, 24, 5):
            for k, (strap, athlete) in enumerate(
                (("strap-1", athletes["Alice"]), ("strap-2", athletes["Bob"]), ("strap-9", None))
            ):
                ts = EXPORT_T0 + day * DAY_MS + hour * HOUR_MS + k * 7
                rr = (800 + hour, 810 + day) if k != 1 else ()
                contact = (True, False, None)[(day + hour) % 3]
                out.append(
                    StoredSample(SITE, "c1", strap, ts, len(out), 60 + hour + day, rr, contact,
                                 None, athlete)
                )  # fmt: skip
    for edge in (DAY_MS - 1, DAY_MS + 1, 2 * DAY_MS - 1, 3 * DAY_MS):  # around the windows
        out.append(
            StoredSample(SITE, "c1", "strap-1", EXPORT_T0 + edge + 3, len(out), 99, (606,), True,
                         None, athletes["Alice"])
        )  # fmt: skip
    return out


def csv_row(s: StoredSample) -> tuple[str, ...]:
    """A sample as the CSV writer renders the SAMPLE_COLUMNS (None as empty)."""
    return (
        s.sensor,
        "" if s.athlete_id is None else str(s.athlete_id),
        str(s.ts),
        str(s.bpm),
        ",".join(map(str, s.rr_ms)),
        "" if s.contact is None else str(s.contact),
    )


EXPORT_TZ = "Europe/Stockholm"


def readable_csv_row(s: StoredSample, names: dict[int, str]) -> tuple[str, ...]:
    """:func:`csv_row`, then the athlete's name and the local time in ``EXPORT_TZ``."""
    local = dt.datetime.fromtimestamp(s.ts / 1000, ZoneInfo(EXPORT_TZ))
    name = "" if s.athlete_id is None else names[s.athlete_id]
    return (*csv_row(s), name, local.isoformat(timespec="seconds"))


def check_samples_export(tmp_path: Path, store_settings: StoreSettings | None = None) -> None:
    """Samples over 4 days through the store ``store_settings`` names (default: SQLite):
    the CSV export has each one exactly once, read one day per ``query_samples``."""
    db = tmp_path / "export.db"
    registry = Registry(db)
    athletes = {n: registry.add_athlete(n, birth_year=1990) for n in ("Alice", "Bob")}
    registry.close()
    accounts = Accounts(db)
    accounts.add_user("coach", "correct horse battery")
    accounts.close()
    samples = spread_samples(athletes)
    settings = store_settings or StoreSettings(path=str(db))

    async def write() -> None:
        store = make_store(settings)
        await store.open()
        try:
            await store.write(WriteBatch(samples))
        finally:
            await store.close()

    asyncio.run(write())
    windows = {(s.ts - EXPORT_T0) // DAY_MS for s in samples}
    assert len(windows) == 4  # the data really spans several one-day windows
    with app_client(db, store_settings, timezone=EXPORT_TZ) as client:
        login(client, "coach", "correct horse battery")
        response = client.get("/coach/export/samples.csv")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.text)))
    columns = ["sensor", "athlete_id", "ts", "bpm", "rr_ms", "contact", "athlete", "time_local"]
    assert rows[0] == columns
    exported = [tuple(r) for r in rows[1:]]
    assert len(exported) == len(samples)
    names = {i: n for n, i in athletes.items()}
    assert Counter(exported) == Counter(readable_csv_row(s, names) for s in samples)

    # The same through Data.export with a store that records its queries: one window each.
    calls: list[tuple[int, int]] = []
    store = make_store(settings)
    original = store.query_samples

    async def recording(start_ms: int, end_ms: int, **kw: Any) -> pl.DataFrame:
        calls.append((start_ms, end_ms))
        return await original(start_ms, end_ms, **kw)

    async def export() -> list[tuple[Any, ...]]:
        await store.open()
        data = Data(store, db, policy=Policy(required=False))
        try:
            found = await data.export("samples")
            assert found is not None
            return [row async for row in found[1]]
        finally:
            data.close()
            await store.close()

    store.query_samples = recording  # type: ignore[method-assign]
    streamed = asyncio.run(export())
    assert len(streamed) == len(samples)
    newest = max(s.ts for s in samples)
    assert calls == [
        (EXPORT_T0 + k * DAY_MS, min(EXPORT_T0 + (k + 1) * DAY_MS, newest + 1)) for k in range(4)
    ]


def test_csv_export_of_samples_streams_one_day_at_a_time(tmp_path: Path) -> None:
    check_samples_export(tmp_path)


def test_admin_forms(client: TestClient, seeded: Seeded, coach_csrf: str) -> None:
    assert client.get("/coach/admin").status_code == 200
    form = {"name": "Carla", "birth_year": "1995", "sex": "female", "weight_kg": "58"}
    assert client.post("/coach/admin/athletes", data=form).status_code == 403  # no CSRF
    assert client.post("/coach/admin/athletes", data=form | {"csrf": coach_csrf}).status_code == 303
    registry = Registry(seeded.db)
    carla = next(a for a in registry.athletes() if a.name == "Carla")
    assert (carla.birth_year, carla.sex, carla.weight_kg) == (1995, "female", 58.0)
    response = client.post(
        "/coach/admin/straps", data={"sensor": "strap-9", "label": "Red 9", "csrf": coach_csrf}
    )
    assert response.status_code == 303
    assert registry.sensor_labels()["strap-9"] == "Red 9"
    # Fast assignment: three straps in one submit.
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    assign = {"csrf": coach_csrf, "strap:strap-9": str(carla.id), "strap:strap-1": str(bob)}
    assign["strap:strap-2"] = str(alice)
    assert client.post("/coach/admin/assign", data=assign).status_code == 303
    now = contract.now_ms() + 1
    resolver = registry.resolver()
    assert resolver.athlete_at("strap-9", now) == carla.id
    assert resolver.athlete_at("strap-1", now) == bob
    assert resolver.athlete_at("strap-2", now) == alice
    bad = {"csrf": coach_csrf, "strap:strap-9": "9999"}
    assert client.post("/coach/admin/assign", data=bad).status_code == 422
    registry.close()
    response = client.post(
        "/coach/admin/classes",
        data={"name": "HIIT", "start": "2026-03-02T18:00", "minutes": "45", "csrf": coach_csrf},
    )
    assert response.status_code == 303
    journal = Journal(seeded.db)
    (hiit,) = [c for c in journal.classes() if c.name == "HIIT"]
    journal.close()
    assert hiit.end_ms - hiit.start_ms == 45 * 60_000


def test_guest_links_issue_revoke_extend(
    client: TestClient, seeded: Seeded, coach_csrf: str
) -> None:
    alice = seeded.athletes["Alice"]
    response = client.post(
        f"/coach/athletes/{alice}/guest-links", data={"days": "3", "csrf": coach_csrf}
    )
    assert response.status_code == 303  # POST-redirect-GET: the link's own page
    response = client.get(response.headers["location"])
    assert response.status_code == 200
    assert "<svg" in response.text  # the QR code
    import re

    url = re.search(r'class="guest-link" href="([^"]+)"', response.text)
    assert url is not None
    token = url.group(1).rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits, url-safe base64
    assert client.get(f"/me/{token}").status_code == 200
    accounts = Accounts(seeded.db)
    (grant,) = accounts.guest_tokens(alice)
    expires_before = grant.expires_ms
    assert (
        client.post(
            f"/coach/guest-links/{grant.id}/extend", data={"days": "30", "csrf": coach_csrf}
        ).status_code
        == 303
    )
    (grant,) = accounts.guest_tokens(alice)
    assert grant.expires_ms - expires_before >= 26 * 86_400_000
    assert (
        client.post(f"/coach/guest-links/{grant.id}/revoke", data={"csrf": coach_csrf}).status_code
        == 303
    )
    accounts.close()
    assert client.get(f"/me/{token}").status_code == 404
    assert client.get(f"/api/me/{token}/sessions").status_code == 404


# ---------------------------------------------------------------------- guest


def test_guest_pages_and_api(client: TestClient, seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    page = client.get(f"/me/{token}", headers={"accept-language": "nl-NL,nl;q=0.9"})
    assert page.status_code == 200 and "Hallo Alice" in page.text
    assert "Hello Alice" in client.get(f"/me/{token}").text
    sessions = client.get(f"/api/me/{token}/sessions").json()
    assert [s["session_id"] for s in sessions] == seeded.sessions["Alice"][::-1]
    one = client.get(f"/api/me/{token}/sessions/{sessions[0]['session_id']}").json()
    assert len(one["hr"]) == 121
    html = client.get(f"/me/{token}/sessions/{sessions[0]['session_id']}").text
    assert "data-zone=" in html
    progress = client.get(f"/api/me/{token}/progress").json()
    assert progress["hr_rest"] == [60.0 - i / 2 for i in range(5)]
    words = client.get(f"/me/{token}/progress").text
    # Five mornings: no trend claimed yet, the page says what is still needed.
    assert "after 7 morning readings: 2 more to go" in words and "went down" not in words
    assert client.get(f"/api/me/{token}/live").json() == []


def test_guest_rpe_and_wellness(client: TestClient, seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    csrf = csrf_from(client.get(f"/me/{token}").text)
    sid = seeded.sessions["Alice"][-1]
    assert client.post(f"/me/{token}/rpe", data={"session_id": sid, "rpe": "7"}).status_code == 403
    response = client.post(f"/me/{token}/rpe", data={"session_id": sid, "rpe": "7", "csrf": csrf})
    assert response.status_code == 303
    bad = client.post(f"/me/{token}/rpe", data={"session_id": sid, "rpe": "11", "csrf": csrf})
    assert bad.status_code == 422
    answers = {"sleep": "4", "stress": "3", "mood": "5", "energy": "4", "soreness": "2"}
    response = client.post(f"/me/{token}/wellness", data=answers | {"csrf": csrf})
    assert response.status_code == 303
    journal = Journal(seeded.db)
    (rpe,) = journal.session_rpes(alice)
    (wellness,) = journal.wellness(alice)
    journal.close()
    assert (rpe.session_id, rpe.rpe) == (sid, 7.0)
    assert (wellness.sleep, wellness.soreness, wellness.total) == (4, 2, 18)


def test_expired_token_is_refused(client: TestClient, seeded: Seeded) -> None:
    token = guest_token(seeded.db, seeded.athletes["Alice"], days=-1)
    assert client.get(f"/me/{token}").status_code == 404
    assert client.get(f"/api/me/{token}/sessions").status_code == 404
    with sqlite3.connect(seeded.db) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM guest_tokens")]
    assert token not in stored and len(stored) == 1


def test_bad_guest_link_gets_a_friendly_page(client: TestClient, seeded: Seeded) -> None:
    """A browser opening an unknown, expired or revoked link sees the same small page in
    its language (404); the JSON API keeps answering JSON."""
    alice = seeded.athletes["Alice"]
    expired = guest_token(seeded.db, alice, days=-1)
    revoked = guest_token(seeded.db, alice)
    accounts = Accounts(seeded.db)
    (grant,) = [g for g in accounts.guest_tokens(alice) if g.expires_ms > contract.now_ms()]
    accounts.revoke_guest_token(grant.id)
    accounts.close()
    unknown = "x" * 43
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    pages: dict[str, str] = {}
    for token in (unknown, expired, revoked):
        for path in (f"/me/{token}", f"/me/{token}/progress"):
            response = client.get(path, headers=browser | {"accept-language": "nl-BE,nl"})
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("text/html")
            assert "Deze link is niet (meer) geldig" in response.text
            assert "Alice" not in response.text
            first = pages.setdefault(path.replace(token, "T"), response.text)
            assert response.text == first  # nothing tells the three apart
        english = client.get(f"/me/{token}", headers=browser)
        assert english.status_code == 404 and "This link is not valid" in english.text
        api = client.get(f"/api/me/{token}/sessions", headers=browser)
        assert api.status_code == 404
        assert api.json() == {"detail": "unknown or expired link"}
        assert client.get(f"/me/{token}").json() == {"detail": "unknown or expired link"}


def test_wellness_is_shown_next_to_hrv_and_resting_hr(
    client: TestClient, seeded: Seeded, coach_csrf: str
) -> None:
    from gympulse.pipeline.journal import Journal

    alice = seeded.athletes["Alice"]
    today = dt.datetime.now(dt.UTC).date()
    journal = Journal(seeded.db)
    journal.add_wellness(alice, today, sleep=4, stress=2, mood=5, energy=3, soreness=1)
    journal.close()
    rows = client.get(f"/api/coach/athletes/{alice}").json()["wellness"]
    newest = rows[0]
    assert newest["date"] == today.isoformat()
    assert [newest[k] for k in ("sleep", "stress", "mood", "energy", "soreness")] == [4, 2, 5, 3, 1]
    # The seeded baselines: day i of 5 has ln RMSSD 3.5 + i/100, resting HR 60 - i/2.
    assert newest["ln_rmssd"] == pytest.approx(3.54)
    assert newest["hr_rest"] == pytest.approx(58.0)
    assert len(rows) == 5 and all(r["sleep"] is None for r in rows[1:])
    page = client.get(f"/coach/athletes/{alice}").text
    assert 'class="wellness"' in page
