"""Morning readings end to end in real headless Chromium against a real ``gympulse web`` and
``gympulse ingest`` on a real Mosquitto:

- a strap streams a published resting RR series (pyhrv's sample) in real time; the guest
  page starts a reading on the guest's strap, waits out a short countdown (setting) and
  shows the ln RMSSD, equal to the analytics function on the RR the strap sent in the
  reading's window; a second reading without skin contact is refused with a kind message;
- the Web Bluetooth path with the radio faked at the boundary only (an injected
  ``navigator.bluetooth`` emitting real captured 0x2A37 frames): the samples reach the
  store through the ingestion path exactly as the Python decoder reads the frames; a
  browser without Web Bluetooth is told so plainly;
- the page's decoder agrees with ``collectors/hrm.py`` on every shared test vector;
- the coach's morning station with 12 straps at once.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gympulse import contract
from gympulse.collectors.hrm import MalformedMeasurement, decode
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.collectors.simulator import at_rest
from gympulse.dashboards.accounts import Accounts
from gympulse.mqtt import MqttClient
from gympulse.pipeline.analytics.morning import rr_reading
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings
from tests.support.browser import coach_login, until
from tests.support.procs import Mosquitto
from tests.support.rr_series import per_second, pyhrv_rr
from tests.support.web import (
    SITE,
    LiveClass,
    artifact,
    chromium,
    running,
    seed_athletes,
    web_server,
)
from tests.test_assignments import ingest_process
from tests.test_hrm import CAPTURES

pytestmark = pytest.mark.slow

DAY_MS = 86_400_000
STATIC = Path(__file__).resolve().parents[1] / "dashboards" / "static"
COUNTDOWN_S = 25  # the [morning] duration_s setting for these tests (the default is 180)


class RestingStrap:
    """A strap on a resting guest: one sample per second with the RR intervals of the
    published series that ended in it; ``contact`` can be switched off."""

    def __init__(self, url: str, sensor: str) -> None:
        self.url = url
        self.sensor = sensor
        self.contact = True
        self.rr_scale = 1.0  # 0.45: the same heart in a class (about 150 bpm)
        self.sent: list[tuple[int, tuple[int, ...], bool]] = []  # ts, rr, contact

    async def run(self, stop: asyncio.Event) -> None:
        seconds = per_second(pyhrv_rr())
        scale = 1.0
        async with MqttClient(MqttSettings(url=self.url), f"strap-{time.monotonic_ns()}") as mqtt:
            await mqtt.wait_connected()
            pub = CollectorPublisher(mqtt, SITE, "edge")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            i = 0
            while not stop.is_set():
                if scale != self.rr_scale:  # the same heart, faster: its own seconds
                    scale = self.rr_scale
                    seconds = per_second([round(x * scale) for x in pyhrv_rr()])
                bpm, rr = seconds[i % len(seconds)]
                now = contract.now_ms()
                sample = contract.HrSample(
                    sensor=self.sensor, ts=now, seq=now, bpm=bpm, rr_ms=list(rr),
                    contact=self.contact,
                )  # fmt: skip
                await pub.samples(self.sensor, [sample])
                self.sent.append((now, rr, self.contact))
                i += 1
                await asyncio.sleep(max(0.0, t0 + i - loop.time()))

    def rr_between(self, start_ms: int, end_ms: int) -> list[int]:
        return [x for ts, rr, contact in self.sent if start_ms <= ts < end_ms and contact
                for x in rr]  # fmt: skip


@pytest.fixture
async def strap_env(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    guest_id = registry.add_athlete("Sanne", birth_year=1988, sex="female", hr_rest=66)
    registry.assign("strap-7", guest_id, contract.now_ms() - DAY_MS)
    registry.close()
    accounts = Accounts(db)
    token = accounts.issue_guest_token(guest_id, contract.now_ms() + 7 * DAY_MS)
    accounts.close()
    async with ingest_process(mosquitto, db, tmp_path) as config:
        yield {"db": db, "guest": guest_id, "token": token, "config": config}


async def test_guest_reading_through_mosquitto_and_ingestion(
    mosquitto: Mosquitto, strap_env: dict[str, Any]
) -> None:
    db, token = strap_env["db"], strap_env["token"]
    strap = RestingStrap(mosquitto.url, "strap-7")
    stop = asyncio.Event()
    streaming = asyncio.create_task(strap.run(stop))
    env = {"GYMPULSE_MORNING__DURATION_S": str(COUNTDOWN_S)}
    try:
        with web_server(mosquitto.url, db, extra_env=env, config=strap_env["config"]) as base:
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 390, "height": 844})
                opened = time.monotonic()
                await page.goto(f"{base}/me/{token}")
                await page.click("a.morning-link")
                await page.wait_for_url(f"{base}/me/{token}/morning")
                words = await page.inner_text(".status-words")
                assert "building your baseline: 0 of 7" in words
                # The guest's own strap is offered (and chosen: it is the only one).
                await page.wait_for_selector(".straps input[value='strap-7']:checked")
                await page.click("button.start")
                clicked = time.monotonic()
                await page.wait_for_selector(".step.running .countdown")
                assert "breathe calmly" in await page.inner_text(".step.running .calm")
                await until(page, "document.querySelector('.live .bpm').textContent !== '--'", 15)
                await page.screenshot(path=artifact("morning-running.png"))
                await page.wait_for_selector(
                    "#morning[data-step='done']", timeout=(COUNTDOWN_S + 30) * 1000
                )
                shown = time.monotonic()
                assert await page.get_attribute("#morning", "data-result") == "ok"
                await page.screenshot(path=artifact("morning-done.png"))
                text = await page.inner_text(".step.done")
                assert "your reading is saved" in text
                assert "1 of 7" in await page.inner_text(".status-words")  # updated at once
                ln_shown = float(await page.get_attribute(".values", "data-ln-rmssd") or "nan")

                journal = Journal(db)
                (reading,) = journal.morning_recordings(strap_env["guest"])
                journal.close()
                assert reading.method == "guest" and reading.sensor == "strap-7"
                expected = rr_reading(strap.rr_between(reading.start_ms, reading.end_ms))
                assert ln_shown == pytest.approx(expected.ln_rmssd, rel=1e-12)
                assert reading.ln_rmssd == pytest.approx(expected.ln_rmssd, rel=1e-12)
                assert f"{expected.ln_rmssd:.2f}" in text
                timing = {
                    "page_to_result_s": round(shown - opened, 2),
                    "after_countdown_s": round(shown - clicked - COUNTDOWN_S, 2),
                }
                artifact("morning-timing.json").write_text(json.dumps(timing))

                # The strap slips: no skin contact. Refused, kindly, nothing stored.
                strap.contact = False
                await page.click("button.again")
                await page.wait_for_selector(".straps input[value='strap-7']:checked")
                await page.click("button.start")
                await page.wait_for_selector(
                    "#morning[data-step='done']", timeout=(COUNTDOWN_S + 30) * 1000
                )
                assert await page.get_attribute("#morning", "data-result") == "no-contact"
                assert "lost touch with your skin" in await page.inner_text(".step.done")
                journal = Journal(db)
                assert len(journal.morning_recordings(strap_env["guest"])) == 1
                journal.close()
                # Tapped while training: the strap has contact and the beats are clean,
                # but a heart rate of 150 is no resting reading. Refused, kindly.
                strap.contact = True
                strap.rr_scale = 0.45
                await page.click("button.again")
                await page.wait_for_selector(".straps input[value='strap-7']:checked")
                await page.click("button.start")
                await page.wait_for_selector(
                    "#morning[data-step='done']", timeout=(COUNTDOWN_S + 30) * 1000
                )
                assert await page.get_attribute("#morning", "data-result") == "not-at-rest"
                assert "well above your usual resting level" in await page.inner_text(".step.done")
                journal = Journal(db)
                assert len(journal.morning_recordings(strap_env["guest"])) == 1
                journal.close()
                # The guest's page still counts one morning.
                await page.goto(f"{base}/me/{token}/morning")
                assert "1 of 7" in await page.inner_text(".status-words")
    finally:
        stop.set()
        await streaming


# ---------------------------------------------------------------------- Web Bluetooth

RESTING_FRAMES = [c[0].replace(" ", "") for c in CAPTURES if c[1] < 100]

FAKE_BLUETOOTH = """
(() => {
  const frames = %(frames)s;
  class Characteristic extends EventTarget {
    constructor() { super(); this.value = null; this.timer = null; }
    async startNotifications() {
      let i = 0;
      window.__sentFrames = [];
      this.timer = setInterval(() => {
        if (window.__stopRadio) return;
        const hex = frames[i %% frames.length];
        i++;
        const bytes = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
        this.value = new DataView(bytes.buffer);
        window.__sentFrames.push(hex);
        this.dispatchEvent(new Event("characteristicvaluechanged"));
      }, %(interval)d);
      return this;
    }
  }
  const characteristic = new Characteristic();
  const device = Object.assign(new EventTarget(), {
    name: "Polar H10 1A2B3C",
    gatt: {
      connect: async () => ({
        getPrimaryService: async (uuid) => {
          if (uuid !== "heart_rate") throw new Error("no such service");
          return { getCharacteristic: async (name) => {
            if (name !== "heart_rate_measurement") throw new Error("no such characteristic");
            return characteristic;
          } };
        },
      }),
    },
  });
  Object.defineProperty(Navigator.prototype, "bluetooth", {
    configurable: true,
    get: () => ({ requestDevice: async (options) => {
      window.__requestOptions = options;
      return device;
    } }),
  });
})();
"""

NO_BLUETOOTH = """
Object.defineProperty(Navigator.prototype, "bluetooth",
                      { configurable: true, get: () => undefined });
"""


def _decoded(hexes: list[str]) -> list[tuple[int, bool | None, list[int]]]:
    out = []
    for h in hexes:
        m = decode(bytes.fromhex(h))
        out.append((m.bpm, m.contact, list(m.rr_ms)))
    return out


async def test_web_bluetooth_reading_at_home(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    guest_id = registry.add_athlete("Mees", birth_year=1990, sex="male", hr_rest=60)
    registry.close()
    accounts = Accounts(db)
    token = accounts.issue_guest_token(guest_id, contract.now_ms() + 7 * DAY_MS)
    accounts.close()
    env = {"GYMPULSE_MORNING__DURATION_S": "12"}
    script = FAKE_BLUETOOTH % {"frames": json.dumps(RESTING_FRAMES), "interval": 250}
    with web_server(mosquitto.url, db, extra_env=env) as base:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.add_init_script(script)
            await page.goto(f"{base}/me/{token}/morning")
            await page.click("button.ble-connect")
            await page.wait_for_selector("#morning[data-ble='connected']")
            assert "Polar H10 1A2B3C" in await page.inner_text(".ble-state")
            options = await page.evaluate("window.__requestOptions")
            assert options == {"filters": [{"services": ["heart_rate"]}]}
            await page.wait_for_selector(".straps input[value='ble']:checked")
            await page.click("button.start")
            await page.wait_for_selector("#morning[data-step='done']", timeout=45_000)
            result = await page.get_attribute("#morning", "data-result")
            await page.evaluate("window.__stopRadio = true")
            sent: list[str] = await page.evaluate("window.__sentFrames")
            # Everything the radio sent reaches the store (the page flushes every 2 s).
            sensor = f"web-a{guest_id}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with sqlite3.connect(db) as conn:
                    n = conn.execute(
                        "SELECT count(*) FROM samples WHERE sensor = ?", (sensor,)
                    ).fetchone()[0]
                if n >= len(sent):
                    break
                await asyncio.sleep(0.3)
            store = SqliteStore(db)
            await store.open()
            frame = await store.query_samples(0, contract.now_ms() + DAY_MS, sensors=[sensor])
            await store.close()
            stored = [(b, c, list(r)) for b, c, r in frame.select("bpm", "contact", "rr_ms").rows()]
            assert stored == _decoded(sent)
            assert set(frame["athlete_id"].to_list()) == {guest_id}
            with sqlite3.connect(db) as conn:
                collectors = conn.execute(
                    "SELECT DISTINCT collector FROM samples WHERE sensor = ?", (sensor,)
                ).fetchall()
            assert collectors == [("web",)]
            journal = Journal(db)
            readings = journal.morning_recordings(guest_id)
            journal.close()
            message = await page.inner_text(".step.done .message")
            if result == "ok":
                (reading,) = readings
                assert reading.method == "bluetooth"
                ln = float(await page.get_attribute(".values", "data-ln-rmssd") or "nan")
                assert ln == pytest.approx(reading.ln_rmssd, rel=1e-12)
            else:  # the captured frames are a handful of beats on a loop: may be refused
                assert readings == [] and message
            await page.screenshot(path=artifact("morning-bluetooth.png"))

            # An iPhone's browser: no Web Bluetooth. Said plainly, with what works instead.
            iphone = await browser.new_page(viewport={"width": 390, "height": 844})
            await iphone.add_init_script(NO_BLUETOOTH)
            await iphone.goto(f"{base}/me/{token}/morning")
            await iphone.wait_for_selector("#morning[data-ble='missing']")
            missing = await iphone.inner_text(".ble-missing")
            assert "cannot talk to a heart-rate strap" in missing and "morning station" in missing
            assert not await iphone.is_visible("button.ble-connect")


def _vectors() -> list[str]:
    from tests.test_hrm import test_malformed

    shared = [c[0].replace(" ", "") for c in CAPTURES]
    marks = getattr(test_malformed, "pytestmark", [])
    for mark in marks:
        if mark.name == "parametrize":
            shared += [v.hex() for v in mark.args[1]]
    rng = random.Random(12)
    shared += [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 16))).hex()
               for _ in range(400)]  # fmt: skip
    shared += ["e646", "0246", "0446", "0646", "16770802080208", "0646aabb", "1646",
               "092c013412", "194800100040 03".replace(" ", "")]  # fmt: skip
    return shared


def _python(hexvalue: str) -> dict[str, Any]:
    try:
        m = decode(bytes.fromhex(hexvalue))
    except MalformedMeasurement:
        return {"error": True}
    return {
        "bpm": m.bpm,
        "contact": m.contact,
        "contactSupported": m.contact_supported,
        "energyKj": m.energy_kj,
        "rrRaw": list(m.rr_raw),
        "rrMs": list(m.rr_ms),
        "partial": m.partial,
    }


async def test_page_decoder_agrees_with_collector_decoder() -> None:
    vectors = _vectors()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.add_script_tag(content=(STATIC / "hrm.js").read_text())
        js = await page.evaluate(
            """(vectors) => vectors.map((hex) => {
                const bytes = new Uint8Array((hex.match(/../g) || []).map((h) => parseInt(h, 16)));
                try { return window.GympulseHrm.decode(new DataView(bytes.buffer)); }
                catch (err) { return { error: true }; }
            })""",
            vectors,
        )
    assert len(js) == len(vectors) > 400
    for hexvalue, theirs in zip(vectors, js, strict=True):
        assert theirs == _python(hexvalue), hexvalue


# ---------------------------------------------------------------------- the station


async def test_station_with_twelve_straps(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 12, plan=at_rest)  # a group lying still
    ids = seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    accounts = Accounts(db)
    accounts.add_user("coach", "a long coach password")
    accounts.close()
    env = {"GYMPULSE_MORNING__DURATION_S": "20"}
    async with ingest_process(mosquitto, db, tmp_path) as config, running(live_class):
        with web_server(mosquitto.url, db, extra_env=env, config=config) as base:
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1024, "height": 1366})
                await coach_login(page, base, "coach", "a long coach password", "/coach/morning")
                await until(
                    page, "document.querySelectorAll('table.station tbody tr').length === 12", 20
                )
                started = time.monotonic()
                for sensor in [p.sensor for p in live_class.profiles]:
                    row = page.locator(f"tr[data-sensor='{sensor}']")
                    assert await row.locator("select").input_value() == str(ids[sensor])
                    await row.locator("button.start").click()
                await until(
                    page,
                    "[...document.querySelectorAll('table.station tbody tr')]"
                    ".every((tr) => tr.dataset.state === 'running')",
                    10,
                )
                tapped = time.monotonic() - started
                await page.screenshot(path=artifact("morning-station-running.png"))
                await until(
                    page,
                    "[...document.querySelectorAll('table.station tbody tr')]"
                    ".every((tr) => ['done', 'refused'].includes(tr.dataset.state))",
                    60,
                )
                all_done = time.monotonic() - started
                await page.screenshot(path=artifact("morning-station-done.png"))
                states = await page.eval_on_selector_all(
                    "table.station tbody tr",
                    "rows => rows.map((tr) => [tr.dataset.sensor, tr.dataset.state,"
                    " tr.querySelector('.result').textContent])",
                )
    done = [s for s, state, _ in states if state == "done"]
    assert all(text for _, _, text in states)  # every row says what happened
    assert len(done) >= 9  # a simulated class at rest: most readings are clean
    journal = Journal(db)
    readings = journal.morning_recordings()
    journal.close()
    assert sorted(r.athlete_id for r in readings) == sorted(ids[s] for s in done)
    assert {r.method for r in readings} == {"station"}
    artifact("morning-station-timing.json").write_text(
        json.dumps({"tap_12_s": round(tapped, 2), "all_12_done_s": round(all_done, 2)})
    )


async def test_station_refuses_a_reading_taken_while_exercising(
    mosquitto: Mosquitto, strap_env: dict[str, Any]
) -> None:
    """Tapped at the coach station while the guest is still moving (the same heart at about
    150 bpm, clean beats, skin contact): the row says kindly why it does not count, and
    nothing is saved as a resting reading (issue 20 item 1; was "ln RMSSD 1.95 · 146 bpm")."""
    from gympulse.dashboards.i18n import t

    db = strap_env["db"]
    accounts = Accounts(db)
    accounts.add_user("coach", "a long coach password")
    accounts.close()
    strap = RestingStrap(mosquitto.url, "strap-7")
    strap.rr_scale = 0.45
    stop = asyncio.Event()
    streaming = asyncio.create_task(strap.run(stop))
    env = {"GYMPULSE_MORNING__DURATION_S": str(COUNTDOWN_S)}
    try:
        with web_server(mosquitto.url, db, extra_env=env, config=strap_env["config"]) as base:
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1024, "height": 1366})
                await coach_login(page, base, "coach", "a long coach password", "/coach/morning")
                row = page.locator("tr[data-sensor='strap-7']")
                await row.wait_for(timeout=20_000)
                assert await row.locator("select").input_value() == str(strap_env["guest"])
                await row.locator("button.start").click()
                await until(
                    page,
                    "['done', 'refused'].includes("
                    "document.querySelector(\"tr[data-sensor='strap-7']\").dataset.state)",
                    COUNTDOWN_S + 40,
                )
                assert await row.get_attribute("data-state") == "refused"
                assert await row.get_attribute("data-reason") == "not-at-rest"
                said = await row.locator(".result").inner_text()
                assert said.strip() == t("en", "refused_not-at-rest").strip()
                await page.screenshot(path=artifact("morning-station-not-at-rest.png"))
    finally:
        stop.set()
        await streaming
    journal = Journal(db)
    counted = journal.morning_recordings(strap_env["guest"], status="counted")
    journal.close()
    assert counted == []
