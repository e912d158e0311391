"""Issue 9 (7): the live board's class summary.

Zone minutes, points, kcal and peak HR are totalled over each class's own window — not
since the strap went on — and only for who trained in it; the summary appears when a class
ends and gives way to the next class by itself (real ``gympulse web``, Mosquitto and
headless Chromium). HRR60 from the class's session summary: see
``test_web_api.test_class_summary_hrr60_from_session_summary``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from gympulse import contract
from gympulse.pipeline.domain import board_name
from gympulse.pipeline.journal import Journal
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    app_client,
    artifact,
    board_token,
    chromium,
    open_board,
    running,
    seed_athletes,
    seed_history,
    web_server,
)

MINUTE = 60_000


def test_zone_minutes_are_totalled_per_class_window(tmp_path: Path) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    alice = seeded.athletes["Alice"]
    # Two 6-minute classes back to back, half an hour ago; Alice's strap went on 5 minutes
    # before the first and stayed on through both, at a steady 150 bpm (one zone).
    t0 = (contract.now_ms() // MINUTE - 30) * MINUTE
    journal = Journal(seeded.db)
    first = journal.add_class("Spin 1", t0, t0 + 6 * MINUTE)
    second = journal.add_class("Spin 2", t0 + 6 * MINUTE, t0 + 12 * MINUTE)
    later = journal.add_class("Evening", t0 + 20 * MINUTE, t0 + 25 * MINUTE)
    journal.close()
    with app_client(seeded.db) as client:
        open_board(client, seeded.db)
        hub = client.app.state.ctx.hub  # type: ignore[attr-defined]
        for k in range(-5 * 60, 12 * 60):
            hub.apply_sample(contract.HrSample("strap-1", t0 + k * 1000, k, 150), t0)
        zone = hub.tiles["strap-1"].zone
        assert zone > 0
        for class_id in (first, second):
            (row,) = client.get(f"/api/live/summary?class_id={class_id}").json()
            assert row["athlete_id"] == alice
            assert row["zone_minutes"][zone] == 6.0  # the class, not the 11 or 17 minutes
            assert sum(row["zone_minutes"]) == 6.0
            assert row["peak_bpm"] == 150
        # Nobody trained in the evening class: its summary has no rows.
        assert client.get(f"/api/live/summary?class_id={later}").json() == []


def test_a_strap_handed_on_mid_class_gives_each_wearer_their_own_minutes(tmp_path: Path) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    t0 = (contract.now_ms() // MINUTE - 20) * MINUTE
    journal = Journal(seeded.db)
    class_id = journal.add_class("Circuit", t0, t0 + 10 * MINUTE)
    journal.close()
    with app_client(seeded.db) as client:
        open_board(client, seeded.db)
        hub = client.app.state.ctx.hub  # type: ignore[attr-defined]
        for k in range(4 * 60):
            hub.apply_sample(contract.HrSample("strap-1", t0 + k * 1000, k, 140), t0)
        from gympulse.pipeline.registry import Registry

        registry = Registry(seeded.db)
        registry.assign("strap-1", bob, t0 + 4 * MINUTE)
        registry.close()
        hub._refresh_names(force=True)
        for k in range(4 * 60, 10 * 60):
            hub.apply_sample(contract.HrSample("strap-1", t0 + k * 1000, k, 140), t0)
        rows = {
            r["athlete_id"]: r for r in client.get(f"/api/live/summary?class_id={class_id}").json()
        }
    assert set(rows) == {alice, bob}
    assert sum(rows[alice]["zone_minutes"]) == 4.0 and rows[alice]["name"] == "Alice"
    assert sum(rows[bob]["zone_minutes"]) == 6.0 and rows[bob]["name"] == "Bob"


async def _wait(page: Page, js: str, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await page.evaluate(js):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_the_summary_appears_at_the_end_and_gives_way_to_the_next_class(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 3, seed=7)
    seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    now = contract.now_ms()
    journal = Journal(db)
    ending = journal.add_class("Morning spin", now - 120_000, now + 8_000)
    journal.add_class("Yoga", now + 16_000, now + 600_000)
    journal.close()
    token = board_token(db)
    shown = "!document.getElementById('summary').hidden"
    async with running(live_class), chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        with web_server(mosquitto.url, db) as base:
            await page.goto(f"{base}/board/{token}")  # the TV's board link; opens /live
            await _wait(page, "document.querySelectorAll('.tile[data-state=live]').length === 3",
                        20, "3 live tiles")  # fmt: skip
            assert not await page.evaluate(shown)  # not during the class
            await _wait(page, shown, 15, "the summary when the class ends")
            assert await page.evaluate("document.getElementById('summary').dataset.classId") == (
                str(ending)
            )
            names = await page.evaluate(
                "[...document.querySelectorAll('#summary tbody tr td:first-child')]"
                ".map(td => td.textContent)"
            )
            assert sorted(names) == sorted(board_name(p.name) for p in live_class.profiles)
            await page.screenshot(path=artifact("live-class-summary.png"))
            # Nobody clicks: when the next class starts, the summary goes by itself.
            await _wait(page, f"!({shown})", 20, "the summary to give way to the next class")
            assert "Yoga" in await page.evaluate("document.getElementById('timer').textContent")
            await page.close()


@pytest.mark.slow
async def test_the_summary_shows_hrr60_once_analyze_has_run(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Real processes: Mosquitto, ``gympulse ingest``, ``gympulse web`` and ``gympulse
    analyze``. A 10-minute class an hour ago, replayed by a collector: two guests at 160 bpm
    to the end, 110 bpm from the class's end on (straps stay on). The board's summary of
    that class has 10 zone-minutes each and, once analyze has run, HRR60 = 160 - 110."""
    import httpx

    from gympulse.collectors.simulator import make_profiles
    from tests.support.pipeline import count_rows, publish_samples, wait_for
    from tests.test_assignments import ingest_process

    db = tmp_path / "gympulse.db"
    profiles = make_profiles(2, 4)
    t0 = (contract.now_ms() // MINUTE - 60) * MINUTE
    ids = seed_athletes(db, profiles, t0 - 3_600_000)
    journal = Journal(db)
    class_id = journal.add_class("Spin", t0, t0 + 10 * MINUTE)
    journal.close()
    token = board_token(db)
    samples = [
        contract.HrSample(p.sensor, t0 + s * 1000, s + 100, bpm, [60_000 // bpm])
        for p in profiles
        for s in range(-60, 13 * 60)
        for bpm in [160 if s < 600 else 110]
    ]
    with web_server(mosquitto.url, db) as base:
        async with (
            httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=30) as board,
            ingest_process(mosquitto, db, tmp_path) as config,
        ):
            assert (await board.get(f"/board/{token}")).status_code == 200  # the TV's link

            async def tiles() -> int:
                return int((await board.get("/healthz")).json()["tiles"])

            deadline = time.monotonic() + 20
            while await tiles() == 0:  # the ingest probe reached the board: it subscribed
                assert time.monotonic() < deadline, "the board never saw the probe"
                await asyncio.sleep(0.2)
            await publish_samples(mosquitto.url, samples)  # the collector's backlog
            await wait_for(lambda: count_rows(db, "samples") > len(samples), 30, "all stored")

            async def summary() -> dict[int | None, dict[str, Any]]:
                rows = (await board.get(f"/api/live/summary?class_id={class_id}")).json()
                return {r["athlete_id"]: r for r in rows}

            # The board reads the same stream itself (QoS 0) and may still be working
            # through the backlog the store already holds: wait until it caught up.
            deadline = time.monotonic() + 60
            before = await summary()
            while set(before) != set(ids.values()) or not all(
                sum(r["zone_minutes"]) >= 10.0 - 1e-9 for r in before.values()
            ):
                assert time.monotonic() < deadline, f"the board never caught up: {before}"
                await asyncio.sleep(0.2)
                before = await summary()
            assert set(before) == set(ids.values())  # the probe strap trained in no class
            for row in before.values():
                assert sum(row["zone_minutes"]) == pytest.approx(10.0)
                assert row["hrr60"] is None  # analyze has not run yet
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gympulse.cli", "--config", str(config), "analyze"
            )
            assert await proc.wait() == 0
            after = await summary()
    assert {a: r["hrr60"] for a, r in after.items()} == {a: 50.0 for a in ids.values()}
