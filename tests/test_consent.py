"""Consent per domain (issue 18 item 7) through real processes: a real ``gympulse web``
and ``gympulse ingest`` on a real Mosquitto. A new guest starts without consent: nothing of
her heart rate is stored and the live board shows her as a plain tile (her name, no heart
rate); her wellness check-in, lifts and morning readings are refused with a kind page;
her "yes" on her own page lets them in, and her withdrawal stops them at once. Thirty
guests deciding at the same moment each see only their own decisions.

The suite runs with consent off (tests/conftest.py); these tests switch it on."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from gympulse import contract
from gympulse.contract import HrSample
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.i18n import t
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.consent import DOMAINS, Consents, Domain, Policy
from gympulse.pipeline.ingest import Snapshot
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings
from tests.support.pipeline import barrier, publish_samples, sqlite_has
from tests.support.procs import Mosquitto, gympulse_process
from tests.support.web import SITE, board_token, csrf_from, guest_token, web_server

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def consent_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests' processes (and Settings made here) keep the consent rules."""
    monkeypatch.setenv("GYMPULSE_CONSENT__REQUIRED", "true")
    yield


def _stored(db: Path, sensor: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM samples WHERE sensor = ?", (sensor,)).fetchone()[0]
        )


def _samples(sensor: str, n: int, bpm: int) -> list[HrSample]:
    now = contract.now_ms()
    return [HrSample(sensor, now + k, time.monotonic_ns() + k, bpm, [600]) for k in range(n)]


async def _ingest_ready(url: str, db: Path) -> None:
    for attempt in range(200):  # subscribed once a probe (nobody's strap) is stored
        probe = HrSample("probe", contract.now_ms(), attempt, 70)
        await publish_samples(url, [probe])
        await asyncio.sleep(0.2)
        if _stored(db, "probe"):
            return
    raise AssertionError("ingestion never stored the probe")


async def _tile(board: httpx.AsyncClient, sensor: str, want: str) -> dict[str, object]:
    """The board's tile of ``sensor`` once its state is ``want`` (the web's hub reads the
    broker on its own: wait for the positive condition, up to 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        tiles = (await board.get("/api/live/snapshot")).json()
        found = [x for x in tiles if x["sensor"] == sensor]
        if found and found[0]["state"] == want:
            return dict(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"{sensor}: no {want} tile in {tiles}")
        await asyncio.sleep(0.1)


def _new_guests(db: Path, names: list[str]) -> dict[str, int]:
    registry = Registry(db)
    try:
        ids = {n: registry.add_athlete(n, birth_year=1985, sex="female") for n in names}
        for i, n in enumerate(names):
            registry.assign(f"strap-{i + 7}", ids[n], 0)
        return ids
    finally:
        registry.close()


async def test_without_consent_nothing_is_stored_or_shown_and_withdrawal_stops_it(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    ids = _new_guests(db, ["Dana Vos", "Eve Smit"])
    dana, eve = ids["Dana Vos"], ids["Eve Smit"]
    tokens = {who: guest_token(db, who) for who in (dana, eve)}
    tv = board_token(db)
    config = tmp_path / "gympulse.toml"
    config.write_text(f'site = "{SITE}"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n')
    ingest = gympulse_process(config, tmp_path / "ingest.log", "ingest")
    try:
        with web_server(mosquitto.url, db) as base:
            async with (
                httpx.AsyncClient(base_url=base, timeout=60) as board,
                httpx.AsyncClient(base_url=base, timeout=60) as guest,
            ):
                assert (await board.get(f"/board/{tv}")).status_code == 303
                await _ingest_ready(mosquitto.url, db)
                nl = {"Accept": "text/html", "Accept-Language": "nl"}
                me = {who: f"/me/{tokens[who]}" for who in (dana, eve)}
                home = await guest.get(me[dana], headers=nl)
                csrf = {w: csrf_from((await guest.get(f"{me[w]}/consent")).text) for w in me}

                async def decide(who: int, domain: str, given: int) -> None:
                    answer = await guest.post(
                        f"{me[who]}/consent",
                        data={"domain": domain, "given": given, "csrf": csrf[who]},
                    )
                    assert answer.status_code == 303

                # ---- a new guest, not asked yet: her page asks, nothing is taken
                assert 'id="checkin-form"' not in home.text  # the check-in is not offered
                assert f"{me[dana]}/consent" in home.text
                scores = {k: 3 for k in ("sleep", "stress", "mood", "energy", "soreness")}
                refused = await guest.post(
                    f"{me[dana]}/wellness", data={**scores, "csrf": csrf[dana]}, headers=nl
                )
                assert refused.status_code == 403
                assert t("nl", "consent_needed_wellness") in refused.text
                assert f"{me[dana]}/consent" in refused.text  # and where to say yes
                lift = {"exercise": CATALOGUE[0].key, "reps": 5, "kg": 20, "csrf": csrf[dana]}
                refused = await guest.post(f"{me[dana]}/strength/sets", data=lift)
                assert refused.status_code == 403
                refused = await guest.post(
                    f"/api{me[dana]}/morning/start",
                    json={"sensor": "strap-7"},
                    headers={"X-CSRF-Token": csrf[dana]},
                )
                assert refused.status_code == 403
                assert refused.json() == {"detail": "no consent for morning"}

                # ---- live heart rate: Eve said yes, Dana did not
                await decide(eve, "live", 1)
                await publish_samples(
                    mosquitto.url, _samples("strap-7", 5, 140) + _samples("strap-8", 5, 150)
                )
                await barrier(mosquitto.url, sqlite_has(db))
                assert _stored(db, "strap-7") == 0  # nothing of hers
                assert _stored(db, "strap-8") == 5
                plain = await _tile(board, "strap-7", "plain")
                assert plain["name"] == "Dana V." and plain["bpm"] is None
                assert plain["kcal"] is None and plain["points"] == 0
                assert (await _tile(board, "strap-8", "live"))["bpm"] == 150

                # ---- her yes: stored and shown
                await decide(dana, "live", 1)
                await publish_samples(mosquitto.url, _samples("strap-7", 5, 141))
                await barrier(mosquitto.url, sqlite_has(db))
                assert _stored(db, "strap-7") == 5
                assert (await _tile(board, "strap-7", "live"))["bpm"] == 141

                # ---- her withdrawal: the board forgets her at once, nothing more stored
                await decide(dana, "live", 0)
                tiles = (await board.get("/api/live/snapshot")).json()
                (now,) = [x for x in tiles if x["sensor"] == "strap-7"]
                assert now["state"] == "plain" and now["bpm"] is None
                await publish_samples(mosquitto.url, _samples("strap-7", 5, 142))
                await barrier(mosquitto.url, sqlite_has(db))
                assert _stored(db, "strap-7") == 5
                assert (await _tile(board, "strap-7", "plain"))["bpm"] is None

                # ---- the other domains open with her yes
                await decide(dana, "wellness", 1)
                await decide(dana, "strength", 1)
                home = await guest.get(me[dana])
                assert 'id="checkin-form"' in home.text
                saved = await guest.post(
                    f"{me[dana]}/wellness", data={**scores, "csrf": csrf[dana]}
                )
                assert saved.status_code == 303
                assert (await guest.post(f"{me[dana]}/strength/sets", data=lift)).status_code == 303
                await decide(dana, "strength", 0)  # withdrawn: the next set is refused
                assert (await guest.post(f"{me[dana]}/strength/sets", data=lift)).status_code == 403
    finally:
        ingest.terminate()
        ingest.wait(timeout=20)
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT domain, given, by_whom FROM consent_events WHERE athlete_id = ? ORDER BY id",
            (dana,),
        ).fetchall()
        sets = conn.execute("SELECT count(*) FROM strength_sets").fetchone()[0]
    assert rows == [
        ("live", 1, "guest"), ("live", 0, "guest"), ("wellness", 1, "guest"),
        ("strength", 1, "guest"), ("strength", 0, "guest"),
    ]  # fmt: skip
    assert sets == 1


def _pattern(i: int, flip: int) -> dict[str, int]:
    return {d.value: ((i >> j) & 1) ^ flip for j, d in enumerate(DOMAINS)}


async def test_thirty_guests_decide_at_the_same_moment(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """30 guests post all five decisions at once (150 posts in flight), then all flip them
    at once: each guest's page shows exactly her own latest decisions, stamped by her."""
    db = tmp_path / "gympulse.db"
    names = [f"Guest {i}" for i in range(30)]
    registry = Registry(db)
    ids = [registry.add_athlete(n) for n in names]
    registry.close()
    tokens = [guest_token(db, a) for a in ids]
    with web_server(mosquitto.url, db) as base:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            pages = await asyncio.gather(*(client.get(f"/me/{tok}/consent") for tok in tokens))
            csrf = [csrf_from(p.text) for p in pages]
            assert all("checked" not in p.text for p in pages)  # nothing pre-ticked
            for flip in (0, 1):
                start = asyncio.Event()

                async def post(i: int, domain: str, given: int, start: asyncio.Event) -> int:
                    await start.wait()
                    answer = await client.post(
                        f"/me/{tokens[i]}/consent",
                        data={"domain": domain, "given": given, "csrf": csrf[i]},
                    )
                    return answer.status_code

                tasks = [
                    asyncio.create_task(post(i, d, g, start))
                    for i in range(30)
                    for d, g in _pattern(i, flip).items()
                ]
                await asyncio.sleep(0)  # every task waits at the start line
                start.set()
                assert set(await asyncio.gather(*tasks)) == {303}
                seen = await asyncio.gather(
                    *(client.get(f"/api/me/{tok}/consent") for tok in tokens)
                )
                for i, answer in enumerate(seen):
                    mine = {d["domain"]: int(d["given"]) for d in answer.json()}
                    assert mine == _pattern(i, flip), i
                    assert {d["by"] for d in answer.json()} == {"guest"}
    with closing(sqlite3.connect(db)) as conn:
        per_guest = conn.execute(
            "SELECT athlete_id, count(*) FROM consent_events GROUP BY athlete_id"
        ).fetchall()
    assert sorted(per_guest) == [(a, 10) for a in ids]


def test_existing_guests_follow_the_site_setting(tmp_path: Path) -> None:
    """A file from before consent (544492c's schema, its athlete made then): with
    ``existing_guests = "ask"`` she has not consented, with "given" she has, to every
    domain until she says otherwise; a guest added after the upgrade has not, either way."""
    db = tmp_path / "old.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript((DATA / "store_544492c.sql").read_text())
        (old,) = [a for (a,) in conn.execute("SELECT id FROM athletes ORDER BY id LIMIT 1")]
    consents = Consents(db)  # opening it upgrades the file: consent starts now
    registry = Registry(db)
    try:
        new = registry.add_athlete("Nina")
        ask, given = Policy(existing_given=False), Policy(existing_given=True)
        for domain in DOMAINS:
            assert not consents.allows(old, domain, ask)
            assert consents.allows(old, domain, given)
            assert not consents.allows(new, domain, given)
        consents.record(old, Domain.LIVE, False, "guest")  # her own answer wins
        assert not consents.allows(old, Domain.LIVE, given)
        assert consents.allows(old, Domain.MORNING, given)
        settings = Settings()
        assert settings.consent.required and settings.consent.existing_guests == "ask"
        snapshot = Snapshot.of(registry, given)
        assert snapshot.consented is not None
        assert old in snapshot.consented and new not in snapshot.consented  # morning: yes
    finally:
        registry.close()
        consents.close()


def test_a_grafana_share_needs_consent_and_goes_with_its_withdrawal(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """``gympulse grafana guest-link`` refuses a guest who did not consent; after her yes it
    shares her dashboard, and her withdrawal on her page deletes the share at once."""
    import os
    import subprocess
    import sys

    from gympulse.dashboards.grafana import dashboards as gd
    from tests.support.grafana import FakeGrafana
    from tests.test_grafana_sync import TOKEN

    db = tmp_path / "gympulse.db"
    (dana,) = _new_guests(db, ["Dana Vos"]).values()
    token = guest_token(db, dana)
    fake = FakeGrafana(token=TOKEN)
    url = fake.start()
    env = {"GYMPULSE_GRAFANA__URL": url, "GYMPULSE_GRAFANA__TOKEN": TOKEN}

    def share() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gympulse.cli", "grafana", "guest-link", str(dana)],
            env={**os.environ, "GYMPULSE_STORE__PATH": str(db), **env},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    try:
        refused = share()
        assert refused.returncode == 2 and "consent" in refused.stderr
        assert gd.guest_uid(dana) not in fake.public
        with web_server(mosquitto.url, db, extra_env=env) as base:
            guest = httpx.Client(base_url=base, timeout=60)
            csrf = csrf_from(guest.get(f"/me/{token}/consent").text)
            yes = {"domain": "grafana", "given": 1, "csrf": csrf}
            assert guest.post(f"/me/{token}/consent", data=yes).status_code == 303
            done = share()
            assert done.returncode == 0, done.stderr
            assert gd.guest_uid(dana) in fake.public
            no = yes | {"given": 0}
            assert guest.post(f"/me/{token}/consent", data=no).status_code == 303
            assert gd.guest_uid(dana) not in fake.public
        assert fake.violations == []
    finally:
        fake.close()


def test_the_access_log(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Every coach view of a person's data, every export and every erasure is written: who,
    whom, what, when. The coach reads it on its page (Dutch here); the person's export holds
    her entries; her erasure leaves one entry naming nobody; the command line is the
    operator."""
    import io
    import json
    import os
    import subprocess
    import sys
    import zipfile

    db = tmp_path / "gympulse.db"
    ids = _new_guests(db, ["Dana Vos", "Eve Smit"])
    dana, eve = ids["Dana Vos"], ids["Eve Smit"]
    accounts = Accounts(db)
    accounts.add_user("coach", "correct horse battery")
    accounts.close()
    consents = Consents(db)  # both share their check-ins: the wellness CSV holds both
    for who in (dana, eve):
        consents.record(who, Domain.WELLNESS, True, "guest")
    consents.close()
    nl = {"Accept-Language": "nl"}
    with web_server(mosquitto.url, db) as base:
        coach = httpx.Client(base_url=base, timeout=60, headers=nl)
        form = coach.get("/coach/login")
        login = {"username": "coach", "password": "correct horse battery",
                 "csrf": csrf_from(form.text)}  # fmt: skip
        assert coach.post("/coach/login", data=login).status_code == 303
        assert coach.get(f"/coach/athletes/{dana}").status_code == 200
        assert coach.get(f"/api/coach/athletes/{eve}").status_code == 200
        assert coach.get("/coach/export/wellness.csv").status_code == 200  # names both
        exported = coach.get(f"/coach/athletes/{dana}/export.zip")
        assert exported.status_code == 200
        with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
            hers = json.loads(zf.read("access_log.json"))
        assert {(e["what"], e["detail"]) for e in hers} == {
            ("view", "/coach/athletes/{athlete_id}"),
            ("export", "wellness.csv"),
            ("export", ""),
        }
        assert {e["athlete_id"] for e in hers} == {dana} and {e["actor"] for e in hers} == {
            "coach:coach"
        }
        cli = subprocess.run(
            [sys.executable, "-m", "gympulse.cli", "athlete", "export", str(eve),
             "--out", str(tmp_path / "eve.zip")],
            env={**os.environ, "GYMPULSE_STORE__PATH": str(db)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        csrf = csrf_from(coach.get(f"/coach/athletes/{dana}").text)
        erased = coach.post(
            f"/coach/athletes/{dana}/forget", data={"confirm": "Dana Vos", "csrf": csrf}
        )
        assert erased.status_code == 200
        page = coach.get("/coach/access-log")
        assert page.status_code == 200
        assert t("nl", "access_log") in page.text
        assert "Dana" not in page.text  # erased: no entry names her any more
        rows = re.findall(r'<tr data-what="(\w+)">', page.text)
        assert rows[0] == "erasure"  # the newest first
        assert re.search(r"gewist op \d{4}-\d\d-\d\d \d\d:\d\d:\d\d door coach:coach", page.text)
        eves = coach.get(f"/coach/access-log?athlete={eve}")
        found = re.findall(
            r'<tr data-what="(\w+)"><td><time>[^<]+</time></td><td>([^<]+)<', eves.text
        )
        assert found == [
            ("export", "operator"),  # gympulse athlete export
            ("export", "coach:coach"),  # the wellness CSV named her too
            ("view", "coach:coach"),
        ]
    with closing(sqlite3.connect(db)) as conn:
        left = conn.execute(
            "SELECT actor, athlete_id, what, detail FROM access_log WHERE athlete_id IS NULL"
            " OR athlete_id = ?",
            (dana,),
        ).fetchall()
    assert left == [("coach:coach", None, "erasure", "")]


async def test_coaches_recording_and_viewing_at_the_same_moment(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Three coaches at once record a decision for each of 30 guests (the consent form on
    the athlete page) and open each guest's page: every decision lands on its own guest
    with its coach's name, and the access log holds exactly one view and one consent entry
    per (coach, guest)."""
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    ids = [registry.add_athlete(f"Guest {i}") for i in range(30)]
    registry.close()
    accounts = Accounts(db)
    coaches = ["ana", "ben", "cas"]
    for name in coaches:
        accounts.add_user(name, f"{name} correct horse battery")
    accounts.close()
    with web_server(mosquitto.url, db) as base:
        clients, csrf = [], []
        try:
            for name in coaches:
                client = httpx.AsyncClient(base_url=base, timeout=120)
                clients.append(client)
                form = await client.get("/coach/login")
                login = {"username": name, "password": f"{name} correct horse battery",
                         "csrf": csrf_from(form.text)}  # fmt: skip
                assert (await client.post("/coach/login", data=login)).status_code == 303
                csrf.append(csrf_from((await client.get("/coach")).text))
            start = asyncio.Event()

            async def work(c: int, athlete: int) -> tuple[int, int]:
                await start.wait()
                domain = DOMAINS[c].value  # each coach her own domain
                posted = await clients[c].post(
                    f"/coach/athletes/{athlete}/consent",
                    data={"domain": domain, "given": 1, "csrf": csrf[c]},
                )
                viewed = await clients[c].get(f"/coach/athletes/{athlete}")
                return posted.status_code, viewed.status_code

            tasks = [asyncio.create_task(work(c, a)) for c in range(len(coaches)) for a in ids]
            await asyncio.sleep(0)
            start.set()
            assert set(await asyncio.gather(*tasks)) == {(303, 200)}
        finally:
            for client in clients:
                await client.aclose()
    with closing(sqlite3.connect(db)) as conn:
        decided = conn.execute(
            "SELECT athlete_id, domain, given, by_whom FROM consent_events"
        ).fetchall()
        logged = conn.execute(  # the squad page each coach opened first is logged too
            "SELECT actor, athlete_id, what, count(*) FROM access_log WHERE detail != '/coach'"
            " GROUP BY actor, athlete_id, what"
        ).fetchall()
        squad = conn.execute(
            "SELECT actor, count(*) FROM access_log WHERE detail = '/coach' GROUP BY actor"
        ).fetchall()
    assert sorted(squad) == [(f"coach:{name}", len(ids)) for name in coaches]
    assert sorted(decided) == sorted(
        (a, DOMAINS[c].value, 1, f"coach:{name}") for c, name in enumerate(coaches) for a in ids
    )
    assert sorted(logged) == sorted(
        (f"coach:{name}", a, what, 1)
        for name in coaches
        for a in ids
        for what in ("consent", "view")
    )
