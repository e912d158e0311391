"""FIT uploads on the coach's athlete page and the guest's own page (issue 22 item 2), on a
real ``gympulse web`` with real FIT files (tests/data/README.md), in headless Chromium:
the same rows as ``gympulse import`` stores, a second upload stores nothing new and says
so, a broken file gets one kind message and stores nothing, the guest needs her consent,
bodies over the route's own bound are refused while read, and 30 guests at once each get
exactly their own samples."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import fitdecode
import httpx
import pytest
from fitdecode.utils import compute_crc
from playwright.async_api import ViewportSize

from gympulse.dashboards.i18n import t
from gympulse.pipeline.consent import Consents, Domain
from gympulse.pipeline.fit_import import import_sensor
from gympulse.pipeline.registry import Registry
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, csrf_from, guest_token, web_server

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data" / "fit"
EDGE_820 = DATA / "garmin-edge-820-bike.fit"  # 15 records: heart rate, cadence, HRV
TRAINER = DATA / "sample-activity-indoor-trainer.fit"  # 2263 records: heart rate, power
CUT = DATA / "activity-unexpected-eof.fit"  # an activity cut short
PHONE: ViewportSize = {"width": 390, "height": 844}
MB = 1024 * 1024
# The files are from 2011 and 2017: a retention long enough to keep them.
KEEP = {"GYMPULSE_INGEST__RETENTION_DAYS": "9000"}
SAMPLE_COLUMNS = "sensor, ts, seq, site, collector, bpm, rr, contact, energy_kj, pct_max, zone"
MACHINE_COLUMNS = "sensor, ts, seq, site, collector, kind, power_w, cadence, heart_rate"


def _rows(db: Path, athlete_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The athlete's imported heart-rate and machine rows (every column but her id)."""
    with closing(sqlite3.connect(db)) as conn:
        hr = conn.execute(
            f"SELECT {SAMPLE_COLUMNS} FROM samples WHERE athlete_id = ? AND sensor LIKE"
            " 'import-%' ORDER BY sensor, ts",
            (athlete_id,),
        ).fetchall()
        machine = conn.execute(
            f"SELECT {MACHINE_COLUMNS} FROM machine_samples WHERE athlete_id = ?"
            " ORDER BY sensor, ts",
            (athlete_id,),
        ).fetchall()
    return hr, machine


def _count(db: Path, sql: str, *params: object) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def _cli_rows(tmp: Path, fit: Path, **profile: Any) -> tuple[list[Any], list[Any]]:
    """What ``gympulse import`` stores for ``fit`` for a guest with ``profile``."""
    tmp.mkdir()
    db = tmp / "cli.db"
    config = tmp / "gympulse.toml"
    config.write_text(f'site = "demo"\n[store]\npath = "{db}"\n[ingest]\nretention_days = 9000\n')
    registry = Registry(db)
    athlete = registry.add_athlete("Cli", **profile)
    registry.close()
    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), "import", str(fit),
         "--athlete", str(athlete)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return _rows(db, athlete)


def _login(client: httpx.Client, seeded: Seeded) -> str:
    form = client.get("/coach/login")
    done = client.post(
        "/coach/login",
        data={
            "username": seeded.coach_user,
            "password": seeded.coach_password,
            "csrf": csrf_from(form.text),
        },
    )
    assert done.status_code == 303, done.text[:300]
    return csrf_from(client.get("/coach").text)


def heart_rate_plus(data: bytes, k: int) -> bytes:
    """The FIT file with every record's heart rate raised by ``k`` bpm and its CRC made
    right again: a different file (sensor) with the same times, for one guest each."""
    out = bytearray(data)
    with fitdecode.FitReader(io.BytesIO(data), keep_raw_chunks=True) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record":
                offset = frame.chunk.offset + 1  # after the record header
                for field in frame.def_mesg.field_defs:
                    if field.def_num == 3:  # heart_rate
                        out[offset] += k
                    offset += field.size
    out[-2:] = compute_crc(bytes(out[:-2])).to_bytes(2, "little")
    return bytes(out)


# ---------------------------------------------------------------------- in Chromium


async def test_coach_and_guest_upload_in_chromium(
    mosquitto: Mosquitto, seeded: Seeded, tmp_path: Path
) -> None:
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    # The seeded guests' profiles (tests/support/web.py seed_history), for the CLI's twin.
    cli_trainer = _cli_rows(tmp_path / "t", TRAINER, birth_year=1990, sex="female", weight_kg=60)
    cli_edge = _cli_rows(tmp_path / "e", EDGE_820, birth_year=1980, sex="male", weight_kg=80)
    token = guest_token(seeded.db, bob)
    with web_server(mosquitto.url, seeded.db, extra_env=KEEP) as base:
        async with chromium() as browser:
            # The coach, in English, on Alice's athlete page.
            context = await browser.new_context(locale="en-GB")
            page = await context.new_page()
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", seeded.coach_user)
            await page.fill("input[name=password]", seeded.coach_password)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/coach")

            async def coach_upload(fit: Path) -> tuple[int, str]:
                await page.goto(f"{base}/coach/athletes/{alice}")
                await page.set_input_files("form.fit-form input[type=file]", str(fit))
                async with page.expect_response(f"{base}/coach/athletes/{alice}/fit") as got:
                    await page.click("form.fit-form button")
                await page.wait_for_selector("#fit-outcome")
                return (await got.value).status, await page.inner_text("#fit-outcome")

            status, words = await coach_upload(TRAINER)
            hr, machine = cli_trainer
            assert status == 200, words
            assert "2263 heart-rate readings" in words and "2011-11-02" in words, words
            assert t("en", "fit_new", n=len(hr) + len(machine)) in words, words
            assert t("en", "fit_soon") in words
            await page.screenshot(path=artifact("fit-coach-upload.png"), full_page=True)
            # Exactly the rows `gympulse import` stores for the same file.
            assert _rows(seeded.db, alice) == cli_trainer
            assert len(hr) == 2263 and len(machine) == 2222

            status, words = await coach_upload(TRAINER)  # the same file again
            assert status == 200 and t("en", "fit_again") in words, words
            assert _rows(seeded.db, alice) == cli_trainer

            status, words = await coach_upload(CUT)  # a file cut short
            assert status == 422 and words.strip() == t("en", "fit_refused_broken"), words
            assert _rows(seeded.db, alice) == cli_trainer
            assert _count(seeded.db, "SELECT COUNT(*) FROM quarantine") == 0

            # Analysed like any session: after `gympulse analyze` it is among hers.
            analyzed = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "gympulse.cli", "analyze", "--full"],
                env={**os.environ, **KEEP, "GYMPULSE_SITE": "demo",
                     "GYMPULSE_STORE__PATH": str(seeded.db)},
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert analyzed.returncode == 0, analyzed.stdout + analyzed.stderr
            start, end = hr[0][1], hr[-1][1]
            async with httpx.AsyncClient(base_url=base, timeout=60) as api:
                mine = (await api.get(f"/api/me/{guest_token(seeded.db, alice)}/sessions")).json()
            imported = [s for s in mine if start <= s["start_ms"] and s["end_ms"] <= end]
            assert imported and imported[0]["date"] == "2011-11-02", mine[:3]

            # Bob on his phone, in Dutch, on a browser without Web Bluetooth (an iPhone).
            phone_context = await browser.new_context(viewport=PHONE, locale="nl-NL")
            await phone_context.add_init_script("delete Navigator.prototype.bluetooth;")
            phone = await phone_context.new_page()
            await phone.goto(f"{base}/me/{token}")
            assert await phone.inner_text("a.fit-link") == t("nl", "fit_home_link")
            await phone.goto(f"{base}/me/{token}/morning")
            pointer = phone.locator(".ble-missing a.fit-link")
            await pointer.wait_for(state="visible")
            assert await pointer.inner_text() == t("nl", "fit_no_bluetooth")
            await pointer.click()
            await phone.wait_for_url(f"{base}/me/{token}/fit")
            assert t("nl", "fit_intro") in await phone.inner_text("main")
            await phone.set_input_files("form.fit-form input[type=file]", str(EDGE_820))
            async with phone.expect_response(f"{base}/me/{token}/fit") as got:
                await phone.click("form.fit-form button")
            await phone.wait_for_selector("#fit-outcome")
            assert (await got.value).status == 200
            words = await phone.inner_text("#fit-outcome")
            hr, machine = cli_edge
            done = t("nl", "fit_done", date="2017-06-12 16:10", duration="1 min", samples=15)
            assert done in words and t("nl", "fit_new", n=len(hr) + len(machine)) in words
            assert t("nl", "fit_rr", n=122) in words and t("nl", "fit_soon") in words
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page is {width} px wide"
            await phone.screenshot(path=artifact("fit-guest-upload-nl.png"), full_page=True)
            assert _rows(seeded.db, bob) == cli_edge

            # A file that is no FIT file at all: one kind sentence in Dutch, nothing kept.
            junk = tmp_path / "route.gpx"
            junk.write_text("<gpx><trk></trk></gpx>")
            await phone.set_input_files("form.fit-form input[type=file]", str(junk))
            async with phone.expect_response(f"{base}/me/{token}/fit") as got:
                await phone.click("form.fit-form button")
            await phone.wait_for_selector("#fit-outcome.fit-refused")
            assert (await got.value).status == 422
            words = await phone.inner_text("#fit-outcome")
            assert words.strip() == t("nl", "fit_refused_not-fit"), words
            assert _rows(seeded.db, bob) == cli_edge
            # Nobody got anybody else's training.
            assert _rows(seeded.db, alice) == cli_trainer


# ---------------------------------------------------------------------- consent


@pytest.fixture
def consent_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GYMPULSE_CONSENT__REQUIRED", "true")
    yield


@pytest.mark.usefixtures("consent_on")
def test_an_upload_needs_her_heart_rate_consent(mosquitto: Mosquitto, seeded: Seeded) -> None:
    bob = seeded.athletes["Bob"]
    token = guest_token(seeded.db, bob)
    data = EDGE_820.read_bytes()
    sensor = import_sensor(data)
    with web_server(mosquitto.url, seeded.db, extra_env=KEEP) as base:
        page = {"Accept": "text/html", "Accept-Language": "nl"}
        guest = httpx.Client(base_url=base, timeout=60, headers=page)
        csrf = csrf_from(guest.get(f"/me/{token}/fit").text)
        files = {"file": ("ride.fit", data)}
        refused = guest.post(f"/me/{token}/fit", data={"csrf": csrf}, files=files)
        assert refused.status_code == 403
        assert t("nl", "consent_needed_live") in refused.text
        assert f'href="/me/{token}/consent"' in refused.text
        coach = httpx.Client(base_url=base, timeout=60)
        coach_csrf = _login(coach, seeded)
        by_coach = coach.post(f"/coach/athletes/{bob}/fit", data={"csrf": coach_csrf}, files=files)
        assert by_coach.status_code == 403 and by_coach.json()["detail"] == "no consent for live"
        assert _count(seeded.db, "SELECT COUNT(*) FROM samples WHERE sensor = ?", sensor) == 0

        consents = Consents(seeded.db)
        consents.record(bob, Domain.LIVE, True, "guest")
        consents.close()
        done = guest.post(f"/me/{token}/fit", data={"csrf": csrf}, files=files)
        assert done.status_code == 200 and 'data-stored="30"' in done.text, done.text[-2000:]
        assert _count(seeded.db, "SELECT COUNT(*) FROM samples WHERE sensor = ?", sensor) == 15
        # Her CSRF field is checked: without it nothing is imported.
        forged = guest.post(f"/me/{token}/fit", files=files)
        assert forged.status_code == 403


# ---------------------------------------------------------------------- bounds


def _web_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"web" in cmd and str(port).encode() in cmd:
                return int(proc.name)
    raise AssertionError("no gympulse web process")


def _peak_rss_mb(pid: int) -> float:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found is not None
    return int(found.group(1)) / 1024


def _multipart(csrf: str, size: int) -> tuple[bytes, str]:
    boundary = "gympulse-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.fit"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + b"\0" * size + tail, f"multipart/form-data; boundary={boundary}"


def test_uploads_are_bounded_while_read(mosquitto: Mosquitto, seeded: Seeded) -> None:
    bob = seeded.athletes["Bob"]
    token = guest_token(seeded.db, bob)
    with web_server(mosquitto.url, seeded.db, extra_env=KEEP) as base:
        pid = _web_pid(int(base.rsplit(":", 1)[1]))
        guest = httpx.Client(base_url=base, timeout=120, headers={"Accept-Language": "nl"})
        csrf = csrf_from(guest.get(f"/me/{token}/fit").text)
        coach = httpx.Client(base_url=base, timeout=120)
        coach_csrf = _login(coach, seeded)

        # More than the 1 MiB of every other route reaches the upload: read, and refused
        # for what it is (no FIT file), not for its size. The same body elsewhere: 413.
        body, kind = _multipart(csrf, 2 * MB)
        read = guest.post(f"/me/{token}/fit", content=body, headers={"Content-Type": kind})
        assert read.status_code == 422 and read.json()["reason"] == "not-fit", read.text
        other = guest.post(f"/me/{token}/wellness", content=body, headers={"Content-Type": kind})
        assert other.status_code == 413
        # A file just over fit_max_mb inside a body under the bound: refused by the import.
        body, kind = _multipart(csrf, 16 * MB + 1)
        over = guest.post(f"/me/{token}/fit", content=body, headers={"Content-Type": kind})
        assert over.status_code == 413 and over.json()["reason"] == "too-large", over.text

        before = _peak_rss_mb(pid)
        huge, kind = _multipart(csrf, 200 * MB)
        expected = t("nl", "fit_refused_too-large", mb=16)

        def declared(path_and_client: tuple[str, httpx.Client]) -> tuple[int, str]:
            path, client = path_and_client
            answer = client.post(path, content=huge, headers={"Content-Type": kind})
            return answer.status_code, answer.text

        def chunked(path_and_client: tuple[str, httpx.Client]) -> int:
            path, client = path_and_client

            def chunks() -> Iterator[bytes]:
                for i in range(0, len(huge), MB):
                    yield huge[i : i + MB]

            try:
                answer = client.post(path, content=chunks(), headers={"Content-Type": kind})
            except httpx.TransportError:  # the server answered 413 and closed mid-upload
                return 413
            return answer.status_code

        routes = [(f"/me/{token}/fit", guest), (f"/coach/athletes/{bob}/fit", coach)]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(declared, routes))
            assert [code for code, _ in answers] == [413, 413]
            assert expected in answers[0][1]  # a page in her language, not JSON
            assert list(pool.map(chunked, routes)) == [413, 413]
        grown = _peak_rss_mb(pid) - before
        assert grown < 100, f"the web process grew by {grown:.0f} MB"
        assert _count(seeded.db, "SELECT COUNT(*) FROM samples WHERE sensor LIKE 'import-%'") == 0
        assert coach_csrf and guest.get(f"/me/{token}/fit").status_code == 200  # still serving


# ---------------------------------------------------------------------- many at once


async def test_thirty_guests_upload_at_the_same_moment(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    guests = [
        registry.add_athlete(f"Guest {k}", birth_year=1980 + k, sex="female", weight_kg=60)
        for k in range(30)
    ]
    registry.close()
    tokens = [guest_token(db, g) for g in guests]
    base_file = EDGE_820.read_bytes()
    files = [heart_rate_plus(base_file, k) for k in range(30)]
    bpm0 = [101, 104, 108]  # the file's first heart rates (test_fit_import)
    with web_server(mosquitto.url, db, extra_env=KEEP) as base:
        async with httpx.AsyncClient(base_url=base, timeout=180) as client:
            pages = await asyncio.gather(*(client.get(f"/me/{tok}/fit") for tok in tokens))
            csrfs = [csrf_from(p.text) for p in pages]

            async def upload(k: int) -> httpx.Response:
                return await client.post(
                    f"/me/{tokens[k]}/fit",
                    data={"csrf": csrfs[k]},
                    files={"file": (f"ride-{k}.fit", files[k])},
                )

            first = await asyncio.gather(*(upload(k) for k in range(30)))
            again = await asyncio.gather(*(upload(k) for k in range(30)))
    for k, (done, repeat) in enumerate(zip(first, again, strict=True)):
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["sensor"] == import_sensor(files[k]) and body["samples"] == 15
        assert body["stored"] == 30 and body["refused"] == 0, body  # 15 heart rate + 15 machine
        assert repeat.status_code == 200 and repeat.json()["stored"] == 0, repeat.text
    with closing(sqlite3.connect(db)) as conn:
        for k, guest in enumerate(guests):
            rows = conn.execute(
                "SELECT sensor, bpm FROM samples WHERE athlete_id = ? ORDER BY ts", (guest,)
            ).fetchall()
            assert {s for s, _ in rows} == {import_sensor(files[k])}, k
            assert [b for _, b in rows][:3] == [b + k for b in bpm0] and len(rows) == 15, k
            machine = conn.execute(
                "SELECT COUNT(*) FROM machine_samples WHERE athlete_id = ? AND sensor = ?",
                (guest, import_sensor(files[k])),
            ).fetchone()[0]
            assert machine == 15, k
        assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 30 * 15
        assert conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0
