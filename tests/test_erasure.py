"""Erasure by construction (issue 17 item 2): every personal table filled through the real
pages of a real ``gympulse web``, the live schema walked against the personal-data map,
the person exported and erased from the coach's page — then nothing of her is left in any
table or in the bytes of the database, its ``-wal`` and ``-shm``; the next athlete sees
none of it; guest links still work; a late replay of her samples through a real
``gympulse ingest`` is not stored; strap-40 keeps its quarantine when strap-4's wearer goes.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from gympulse import contract
from gympulse.collectors.buffer import DiskQueue
from gympulse.contract import HrSample
from gympulse.dashboards.grafana import dashboards as gd
from gympulse.dashboards.grafana.sync import GrafanaSync
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.personal_data import NOT_PERSONAL, PLACES, Home, Link
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import (
    QuarantineRow,
    StoredMachineSample,
    StoredSample,
    WriteBatch,
)
from gympulse.settings import StoreSettings
from tests.support.grafana import FakeGrafana
from tests.support.pipeline import barrier, publish_samples, sqlite_has
from tests.support.procs import Mosquitto, gympulse_process
from tests.support.web import SITE, csrf_from, seed_history, web_server
from tests.test_grafana_sync import TOKEN, target

pytestmark = pytest.mark.slow

DAY_MS = 86_400_000
# A column whose name says it can hold a person's id or name (or text naming one).
PERSON_COLUMN = re.compile(
    r"athlete|person|guest|user|name|author|token|sensor|strap|wearer|mail|phone|note|text"
    r"|label|payload|topic|logged_by|nonce",
    re.IGNORECASE,
)
NOTE = "Alice fears a relapse after the weekend"
LINK_RE = re.compile(r"/me/([A-Za-z0-9_-]{20,})")


def uncovered(conn: sqlite3.Connection, homes: set[Home]) -> list[str]:
    """Every table of the live schema the map does not name, and every column that can
    hold a person's id or name (by its name, or as a foreign key) that the map's entry for
    its table does not account for."""
    declared: dict[str, set[str]] = {}
    for p in PLACES:
        if p.home in homes:
            declared.setdefault(p.name, set()).update({p.column, *p.names, *p.withheld})
    for n in NOT_PERSONAL:
        if n.home in homes:
            declared.setdefault(n.name, set()).update(n.names)
    missing = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table not in declared:
            missing.append(table)
            continue
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        # Foreign keys into a table that holds people's rows (guest_tokens, athletes, ...).
        keys = {
            r[3]
            for r in conn.execute(f"PRAGMA foreign_key_list({table})")
            if any(p.name == r[2] for p in PLACES)
        }
        personal = {c for c in columns if PERSON_COLUMN.search(c)} | keys
        missing += [f"{table}.{c}" for c in sorted(personal - declared[table])]
    return missing


def test_the_walk_finds_a_new_table_and_a_new_person_column(tmp_path: Path) -> None:
    """The schema walk fails on what the map does not name (so it can fail)."""
    db = tmp_path / "gympulse.db"
    Registry(db).close()
    with closing(sqlite3.connect(db)) as conn:
        assert uncovered(conn, {Home.REGISTRY, Home.STORE}) == []
        conn.execute("CREATE TABLE consent (athlete_id INTEGER, given_ms INTEGER)")
        conn.execute("ALTER TABLE assignments ADD COLUMN witness INTEGER REFERENCES athletes(id)")
        conn.execute("ALTER TABLE sensors ADD COLUMN coach_name TEXT")
        found = uncovered(conn, {Home.REGISTRY, Home.STORE})
    assert sorted(found) == ["assignments.witness", "consent", "sensors.coach_name"]


def _registry_count(conn: sqlite3.Connection, table: str, link: Link, column: str, who: int) -> int:
    if link is Link.GUEST_LINK:
        where = f"{column} IN (SELECT id FROM guest_tokens WHERE athlete_id = ?)"
    else:
        where = f"{column} = ?"
    return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", (who,)).fetchone()[0])


def _quarantined(db: Path, sensor: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT topic FROM quarantine").fetchall()
    return sum(1 for (topic,) in rows if topic.split("/")[-2] == sensor)


def _stored(db: Path, sensor: str, ts: int) -> bool:
    with closing(sqlite3.connect(db)) as conn:
        query = "SELECT 1 FROM samples WHERE sensor = ? AND ts = ?"
        return conn.execute(query, (sensor, ts)).fetchone() is not None


def _fill_store(db: Path, alice: int, w0: int) -> None:
    """What only collectors write: machine samples and quarantined messages of strap-4
    (Alice's) and strap-40 (Bob's), inside the hour both wore them."""

    async def write() -> None:
        store = make_store(StoreSettings(path=str(db)))
        await store.open()
        try:
            machine = [
                StoredMachineSample(SITE, "sim", "bike-4", w0 + k * 1000, k, "power",
                                    150 + k, None, None, None, None, None, None, None, alice)
                for k in range(10)
            ]  # fmt: skip
            quarantine = [
                QuarantineRow(
                    w0 + 600_000,
                    contract.hr_topic(SITE, "sim", strap),
                    json.dumps({"sensor": strap, "bpm": 999}).encode(),
                    "bpm-range",
                    "bpm out of range",
                )
                for strap in ("strap-4", "strap-40")
            ]
            # Erasure's reach, which the export must match: a sample of her strap in her
            # window stamped with nobody (not re-stamped yet), and one stamped with her
            # of a strap she has no window of.
            odd = [
                StoredSample(SITE, "sim", "strap-4", w0 + 30_000, 1, 99, (), True, None, None),
                StoredSample(SITE, "sim", "strap-9", w0, 1, 98, (), True, None, alice),
            ]
            await store.write(WriteBatch(odd, machine=machine, quarantine=quarantine))
        finally:
            await store.close()

    asyncio.run(write())


def test_erase_from_the_coach_page_leaves_nothing_of_her(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    seeded = seed_history(db)
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    w0 = contract.now_ms() - 2 * DAY_MS
    registry = Registry(db)
    registry.assign("strap-4", alice, w0, w0 + 3_600_000)
    registry.assign("strap-40", bob, w0, w0 + 3_600_000)
    registry.assign("bike-4", alice, w0, w0 + 3_600_000)
    registry.close()
    _fill_store(db, alice, w0)
    journal = Journal(db)  # no page takes a finished morning reading without a live strap
    journal.add_reading(alice, w0, w0 + 180_000, method="cli")
    journal.close()
    DiskQueue(tmp_path / "collector-buffer.db", 1000).close()  # the collector's own file
    exercise = CATALOGUE[0].key

    with web_server(mosquitto.url, db) as base:
        coach = httpx.Client(base_url=base, timeout=60)
        form = coach.get("/coach/login")
        coach.post(
            "/coach/login",
            data={"username": "coach", "password": seeded.coach_password,
                  "csrf": csrf_from(form.text)},
        )  # fmt: skip
        csrf = csrf_from(coach.get(f"/coach/athletes/{alice}").text)
        ok = coach.post(f"/coach/athletes/{alice}/notes", data={"text": NOTE, "csrf": csrf})
        assert ok.status_code == 303
        ok = coach.post(
            "/coach/strength/sets",
            data={"athlete_id": alice, "exercise": exercise, "reps": 5, "kg": 40, "csrf": csrf},
        )
        assert ok.status_code == 303
        after_stay = {"choice": "days", "days": 7, "csrf": csrf}  # her links after the stay
        ok = coach.post(f"/coach/athletes/{alice}/after-stay", data=after_stay)
        assert ok.status_code == 303
        links = {}
        for who in (bob, alice):  # Alice holds the newest link
            page = coach.post(
                f"/coach/athletes/{who}/guest-links", data={"csrf": csrf}, follow_redirects=True
            )
            assert page.status_code == 200
            found = LINK_RE.search(page.text)
            assert found is not None
            links[who] = found.group(1)
        guest = httpx.Client(base_url=f"{base}/me/{links[alice]}/", timeout=60)
        home = guest.get(f"{base}/me/{links[alice]}", follow_redirects=True)
        assert home.status_code == 200
        gcsrf = csrf_from(home.text)
        for domain in ("live", "morning", "wellness", "strength", "grafana"):  # her consent
            answer = guest.post("consent", data={"domain": domain, "given": 1, "csrf": gcsrf})
            assert answer.status_code == 303
        scores = {k: 3 for k in ("sleep", "stress", "mood", "energy", "soreness")}
        assert guest.post("wellness", data={**scores, "csrf": gcsrf}).status_code == 303
        rpe = {"session_id": seeded.sessions["Alice"][0], "rpe": 7, "csrf": gcsrf}
        assert guest.post("rpe", data=rpe).status_code == 303
        lift = {"exercise": exercise, "reps": 8, "kg": 30, "csrf": gcsrf}
        assert guest.post("strength/sets", data=lift).status_code == 303

        # ---- every table and person column is in the map, and every personal one is filled
        with closing(sqlite3.connect(db)) as conn:
            missing = uncovered(conn, {Home.REGISTRY, Home.STORE})
            assert missing == [], missing
            for p in PLACES:
                if p.home is Home.REGISTRY:
                    assert _registry_count(conn, p.name, p.link, p.column, alice) > 0, p.name
        with closing(sqlite3.connect(tmp_path / "collector-buffer.db")) as conn:
            assert uncovered(conn, {Home.COLLECTOR}) == []

        # ---- export: a file for every place of the map
        exported = coach.get(f"/coach/athletes/{alice}/export.zip")
        assert exported.status_code == 200
        with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
            manifest = json.loads(zf.read("manifest.json"))["files"]
            notes = json.loads(zf.read("coach_notes.json"))
            nonces = json.loads(zf.read("guest_token_nonce.json"))
            quarantine = json.loads(zf.read("quarantine.json"))
        for p in PLACES:
            name = "profile" if p.name == "athletes" else p.name
            if p.home is Home.STORE and any(
                q.name == p.name and q.home is Home.REGISTRY for q in PLACES
            ):
                name += "_store"
            assert name in manifest, name
            if p.home is Home.REGISTRY:
                assert manifest[name]["rows"] > 0, name
        assert [n["text"] for n in notes] == [NOTE]
        with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
            access = json.loads(zf.read("access_log.json"))
        # Her entries, this export's own among them, all by the coach who did them.
        assert {(e["what"], e["actor"]) for e in access} >= {
            ("view", "coach:coach"),
            ("export", "coach:coach"),
        }
        assert manifest["strength_sets"]["rows"] == 2
        assert manifest["samples"]["rows"] == 5 * 121 + 2
        assert manifest["machine_samples"]["rows"] == 10
        assert len(nonces) == 1 and "nonce" not in nonces[0]  # a secret: never exported
        assert [json.loads(bytes.fromhex(q["payload"]))["sensor"] for q in quarantine] == [
            "strap-4"
        ]

        # ---- erase from the athlete page
        done = coach.post(
            f"/coach/athletes/{alice}/forget", data={"confirm": "Alice", "csrf": csrf}
        )
        assert done.status_code == 200
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db}{suffix}")
            if path.exists():
                raw = path.read_bytes()
                assert b"Alice" not in raw and b"relapse" not in raw, path.name
        with closing(sqlite3.connect(db)) as conn:
            for p in PLACES:
                if p.home is Home.REGISTRY:
                    assert _registry_count(conn, p.name, p.link, p.column, alice) == 0, p.name
            assert _registry_count(conn, "guest_tokens", Link.ATHLETE, "athlete_id", bob) == 1
            # The access log keeps only "erased on ... by ...", naming nobody.
            erased = conn.execute(
                "SELECT actor, athlete_id, detail FROM access_log WHERE what = 'erasure'"
            ).fetchall()
            assert erased == [("coach:coach", None, "")]
            for table in ("samples", "machine_samples"):
                left = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE athlete_id = ? OR sensor IN"
                    " ('strap-1', 'strap-4', 'strap-9', 'bike-4')",
                    (alice,),
                ).fetchone()[0]
                assert left == 0, table
            assert (
                conn.execute(
                    "SELECT count(*) FROM samples WHERE athlete_id = ?", (bob,)
                ).fetchone()[0]
                == 5 * 121
            )
        assert _quarantined(db, "strap-4") == 0 and _quarantined(db, "strap-40") == 1

        # ---- the next athlete sees nothing of hers; guest links still work
        coach.post("/coach/admin/athletes", data={"name": "Carla", "csrf": csrf})
        with closing(sqlite3.connect(db)) as conn:
            carla = conn.execute("SELECT id FROM athletes WHERE name = 'Carla'").fetchone()[0]
        page = coach.get(f"/coach/athletes/{carla}")
        assert page.status_code == 200 and "relapse" not in page.text
        lifts = coach.get("/coach/strength")
        assert lifts.status_code == 200
        with closing(sqlite3.connect(db)) as conn:
            assert (
                conn.execute(
                    "SELECT count(*) FROM strength_sets WHERE athlete_id = ?", (carla,)
                ).fetchone()[0]
                == 0
            )
        conn.close()  # no connection of the test held open across the web server's shutdown
        for who in (bob, carla):
            page = coach.post(
                f"/coach/athletes/{who}/guest-links", data={"csrf": csrf}, follow_redirects=True
            )
            assert page.status_code == 200, page.text
            found = LINK_RE.search(page.text)
            assert found is not None
            assert httpx.get(f"{base}/me/{found.group(1)}", timeout=60).status_code == 200

    # ---- a collector replays her old samples late: not stored again; a new one is
    replay = [
        HrSample("strap-1", ts, ts, 120, [500]) for ts in (w0 - DAY_MS, w0 + 1000, w0 + 5000)
    ] + [HrSample("strap-4", w0 + 2000, w0 + 2000, 130, [460])]
    after = HrSample("strap-1", contract.now_ms(), 2**40, 90, [660])  # after the erasure

    async def late_replay() -> None:
        config = tmp_path / "gympulse.toml"
        config.write_text(
            f'site = "{SITE}"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n'
        )
        proc = gympulse_process(config, tmp_path / "ingest.log", "ingest")
        try:
            for attempt in range(200):  # subscribed once a probe is stored
                probe = HrSample("probe", contract.now_ms(), attempt, 70)
                await publish_samples(mosquitto.url, [probe])
                await asyncio.sleep(0.2)
                if _stored(db, probe.sensor, probe.ts):
                    break
            else:
                raise AssertionError((tmp_path / "ingest.log").read_text())
            await publish_samples(mosquitto.url, [*replay, after])
            await barrier(mosquitto.url, sqlite_has(db), limit_s=120)
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    asyncio.run(late_replay())
    assert [s.sensor for s in replay if _stored(db, s.sensor, s.ts)] == []
    assert _stored(db, after.sensor, after.ts)


def test_many_erasures_at_once(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Six guests erased from the coach page and two with ``gympulse athlete forget`` in
    processes of their own, all at the same moment: every call succeeds, every erased guest
    is gone from every place, the other guest's data stays, and guest links work after."""
    db = tmp_path / "gympulse.db"
    seeded = seed_history(db)
    bob = seeded.athletes["Bob"]
    registry, journal = Registry(db), Journal(db)
    guests = {}
    for i in range(8):
        who = registry.add_athlete(f"Guest {i}")
        registry.assign(f"strap-{10 + i}", who, 0)
        journal.add_note(who, f"note on Guest {i}")
        guests[who] = f"Guest {i}"
    registry.close()
    journal.close()
    by_page, by_cli = list(guests.items())[:6], list(guests.items())[6:]

    async def forget_cli(name: str) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gympulse.cli", "athlete", "forget", name, "--yes",
            env={**os.environ, "GYMPULSE_STORE__PATH": str(db)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return 200

    async def run(base: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as coach:
            form = await coach.get("/coach/login")
            await coach.post(
                "/coach/login",
                data={"username": "coach", "password": seeded.coach_password,
                      "csrf": csrf_from(form.text)},
            )  # fmt: skip
            csrf = csrf_from((await coach.get("/coach")).text)

            async def forget_page(who: int, name: str) -> int:
                data = {"confirm": name, "csrf": csrf}
                return (await coach.post(f"/coach/athletes/{who}/forget", data=data)).status_code

            return list(
                await asyncio.gather(
                    *(forget_page(who, name) for who, name in by_page),
                    *(forget_cli(name) for _, name in by_cli),
                )
            )

    with web_server(mosquitto.url, db) as base:
        assert asyncio.run(run(base)) == [200] * 8
        coach = httpx.Client(base_url=base, timeout=60)
        form = coach.get("/coach/login")
        coach.post(
            "/coach/login",
            data={"username": "coach", "password": seeded.coach_password,
                  "csrf": csrf_from(form.text)},
        )  # fmt: skip
        csrf = csrf_from(coach.get("/coach").text)
        page = coach.post(
            f"/coach/athletes/{bob}/guest-links", data={"csrf": csrf}, follow_redirects=True
        )
        found = LINK_RE.search(page.text)
        assert page.status_code == 200 and found is not None
        assert httpx.get(f"{base}/me/{found.group(1)}", timeout=60).status_code == 200
    with closing(sqlite3.connect(db)) as conn:
        for who in guests:
            for p in PLACES:
                if p.home is Home.REGISTRY:
                    assert _registry_count(conn, p.name, p.link, p.column, who) == 0, p.name
        left = conn.execute("SELECT count(*) FROM samples WHERE athlete_id = ?", (bob,))
        assert left.fetchone()[0] == 5 * 121
        windows = {r[0] for r in conn.execute("SELECT sensor FROM erased_windows")}
    assert windows == {f"strap-{10 + i}" for i in range(8)}


def test_forget_erases_the_map_s_places_elsewhere_grafana(tmp_path: Path) -> None:
    """``gympulse athlete forget`` erases the ELSEWHERE places too: her Grafana guest
    dashboard and its public share (a fake Grafana: none can run here)."""
    db = tmp_path / "gympulse.db"
    seeded = seed_history(db)
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    fake = FakeGrafana(token=TOKEN)
    url = fake.start()
    try:
        registry = Registry(db)
        sync = GrafanaSync(target(url))
        for who in (alice, bob):
            athlete = registry.athlete(who)
            assert athlete is not None
            sync.guest_link(athlete)
        registry.close()
        done = subprocess.run(
            [sys.executable, "-m", "gympulse.cli", "athlete", "forget", "Alice", "--yes"],
            env={**os.environ, "GYMPULSE_STORE__PATH": str(db),
                 "GYMPULSE_GRAFANA__URL": url, "GYMPULSE_GRAFANA__TOKEN": TOKEN},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "grafana 2" in done.stdout
        assert gd.guest_uid(alice) not in fake.dashboards
        assert gd.guest_uid(alice) not in fake.public
        assert gd.guest_uid(bob) in fake.dashboards and gd.guest_uid(bob) in fake.public
        assert fake.violations == []
    finally:
        fake.close()
