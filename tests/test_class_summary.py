"""Issue 21 "New": after each class, each guest's own summary on their phone — minutes per
zone, points, peak HR, HRR60 once ``gympulse analyze`` wrote it, and a coach's words about
the effort (never a grade) — on the guest's own page, linked from the guest home.

Real processes: Mosquitto, a simulated class published in real time, ``gympulse web``,
headless Chromium at 390x844 in English and Dutch. The numbers on the phone are the board's
own summary of the class for that guest (``/api/live/summary``); another guest sees their
own numbers only, and a guest who did not train in the class finds no summary at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import ViewportSize

from gympulse import contract
from gympulse.dashboards.class_summary import ClassSummary, effort
from gympulse.dashboards.guest_summary import effort_words
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    artifact,
    board_token,
    chromium,
    guest_token,
    running,
    seed_athletes,
    web_server,
    write_session_rows,
)

# Words a coach would not say to someone recovering from burnout about a light session.
HARSH = ("only", "not enough", "too little", "weak", "lazy", "should", "failed", "poor",
         "alleen maar", "te weinig", "zwak", "lui", "moet", "slecht", "niet genoeg")  # fmt: skip


def _summary(zones: tuple[float, ...], hrr60: float | None = None) -> ClassSummary:
    return ClassSummary(1, "Spin", 0, 2_700_000, zones, 20.0, 150, None, hrr60)


@pytest.mark.parametrize(
    ("zones", "kind"),
    [
        ((30.0, 1.0, 0.5, 0.0, 0.0, 0.0), "brief"),
        ((10.0, 20.0, 12.0, 3.0, 0.0, 0.0), "gentle"),
        ((5.0, 10.0, 15.0, 8.0, 2.0, 0.0), "steady"),
        ((5.0, 5.0, 10.0, 10.0, 12.0, 3.0), "strong"),
        ((0.0, 2.0, 1.0, 3.0, 1.0, 0.0), "strong"),  # most of a short class worked hard
    ],
)
def test_the_kind_of_session_and_kind_words_for_each(zones: tuple[float, ...], kind: str) -> None:
    assert effort(zones) == kind
    for lang in ("en", "nl"):
        for hrr60 in (None, 12.0):
            words = " ".join(effort_words(lang, _summary(zones, hrr60))).lower()
            assert not [w for w in HARSH if w in words], (lang, kind, words)
            assert ("12" in words) == (hrr60 is not None)
    # The two languages say different words (no English left on the Dutch page).
    assert effort_words("en", _summary(zones)) != effort_words("nl", _summary(zones))


async def _until(probe: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)
    return value


def _session_row(
    athlete_id: int, class_id: int, start: int, end: int, hrr60: float
) -> dict[str, Any]:
    import datetime as dt

    return {
        "athlete_id": athlete_id, "session_id": f"class-{class_id}", "kind": "class",
        "date": dt.datetime.fromtimestamp(start / 1000, dt.UTC).date(), "start_ms": start,
        "end_ms": end, "duration_s": (end - start) // 1000, "n_samples": 20, "hr_avg": 120.0,
        "hr_max": 150, "hr_max_ref": 185.0, "hr_rest_ref": 60.0, "zone0_s": 0, "zone1_s": 0,
        "zone2_s": 0, "zone3_s": 0, "zone4_s": 0, "zone5_s": 0, "trimp_banister": 1.0,
        "trimp_edwards": 1.0, "kcal": 5.0, "points": 1.0, "hrr60": hrr60, "rmssd": None,
        "n_rr": 0, "n_corrected": 0, "rpe": None, "srpe_load": None, "updated_ms": 0,
    }  # fmt: skip


PHONE: ViewportSize = {"width": 390, "height": 844}
FITS = """[...document.querySelectorAll('main *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).length"""


@pytest.mark.slow
async def test_each_guest_sees_their_own_class_summary_on_the_phone(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 2, seed=11)
    ids = seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    registry = Registry(db)
    absent = registry.add_athlete("Carla Absent", birth_year=1985, sex="female", weight_kg=62)
    registry.close()
    first, second = (ids[p.sensor] for p in live_class.profiles)
    now = contract.now_ms()
    journal = Journal(db)
    class_id = journal.add_class("Spin & Stretch", now - 120_000, now + 20_000)
    cls = journal.class_by_id(class_id)
    journal.close()
    assert cls is not None
    tokens = {a: guest_token(db, a) for a in (first, second, absent)}
    board = board_token(db)
    with web_server(mosquitto.url, db) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as tv:
            assert (await tv.get(f"/board/{board}")).status_code == 303
            async with running(live_class):
                # No summary while the class runs.
                async def live() -> bool:
                    tiles = (await tv.get("/api/live/snapshot")).json()
                    return sum(1 for t in tiles if t["state"] == "live") == 2

                await _until(live, 20, "two live tiles")
                during = await tv.get(f"/api/me/{tokens[first]}/classes/{class_id}")
                assert during.status_code == 404

                async def ended() -> bool:
                    return contract.now_ms() >= cls.end_ms + 1500

                await _until(ended, 40, "the class to end")
            # The class ended and its straps went quiet: the board's summary is final.
            board_rows = {
                r["athlete_id"]: r
                for r in (await tv.get(f"/api/live/summary?class_id={class_id}")).json()
            }
            assert set(board_rows) == {first, second}
            assert board_rows[first]["peak_bpm"] != board_rows[second]["peak_bpm"] or (
                board_rows[first]["points"] != board_rows[second]["points"]
            ), "the two guests' numbers must differ for the isolation check to mean anything"

            async with chromium() as browser:
                seen: dict[int, dict[str, Any]] = {}
                for athlete, lang in ((first, "en"), (second, "nl")):
                    context = await browser.new_context(
                        viewport=PHONE, locale=lang, extra_http_headers={"Accept-Language": lang}
                    )
                    page = await context.new_page()
                    await page.goto(f"{base}/me/{tokens[athlete]}")
                    link = page.locator("a.class-summary-link")
                    want = "Your summary of" if lang == "en" else "Jouw samenvatting van"
                    assert want in await link.inner_text()
                    await link.click()
                    await page.wait_for_selector("section.class-summary")
                    await page.screenshot(
                        path=artifact(f"class-summary-{lang}.png"), full_page=True
                    )
                    row = board_rows[athlete]
                    peak = await page.locator(".peak dd").inner_text()
                    assert str(row["peak_bpm"]) in peak
                    points = await page.locator(".points dd").inner_text()
                    expected_points = f"{row['points']:.0f}"
                    assert points.strip() == expected_points
                    zone_cells = await page.locator("table.zones td").all_inner_texts()
                    sep = "." if lang == "en" else ","
                    assert [c.replace(" min", "") for c in zone_cells] == [
                        f"{m:.1f}".replace(".", sep) for m in row["zone_minutes"]
                    ]
                    words = await page.locator(".words").inner_text()
                    if lang == "en":
                        assert "Thank you for training with us" in words
                        assert "later today" in await page.locator(".hrr60 dd").inner_text()
                    else:
                        assert "Dank je wel dat je met ons meetrainde" in words
                        assert "Thank" not in words
                        assert "later vandaag" in await page.locator(".hrr60 dd").inner_text()
                    assert await page.evaluate(FITS) == 0, "something spills past 390 px"
                    seen[athlete] = {"peak": peak, "points": points, "page": page}
                    with contextlib.suppress(Exception):
                        await context.close()
                # HRR60 arrives with analyze: the same page shows it.
                await write_session_rows(
                    db,
                    [
                        _session_row(first, class_id, cls.start_ms, cls.end_ms, 31.0),
                        _session_row(second, class_id, cls.start_ms, cls.end_ms, 24.0),
                    ],
                )
                for athlete, lang, beats in (
                    (first, "en", "31 beats"),
                    (second, "nl", "24 slagen"),
                ):
                    context = await browser.new_context(
                        viewport=PHONE, locale=lang, extra_http_headers={"Accept-Language": lang}
                    )
                    page = await context.new_page()
                    await page.goto(f"{base}/me/{tokens[athlete]}/classes/{class_id}")
                    assert (await page.locator(".hrr60 dd").inner_text()).strip() == beats
                    await page.screenshot(
                        path=artifact(f"class-summary-hrr60-{lang}.png"), full_page=True
                    )
                    with contextlib.suppress(Exception):
                        await context.close()

                # The guest who did not train: no link at home, the page is the small 404.
                context = await browser.new_context(viewport=PHONE, locale="en")
                page = await context.new_page()
                await page.goto(f"{base}/me/{tokens[absent]}")
                assert await page.locator("a.class-summary-link").count() == 0
                response = await page.goto(f"{base}/me/{tokens[absent]}/classes/{class_id}")
                assert response is not None and response.status == 404
                with contextlib.suppress(Exception):
                    await context.close()

            # Each guest's JSON is their own row of the board's summary, never the other's.
            for athlete in (first, second):
                mine = (await tv.get(f"/api/me/{tokens[athlete]}/classes/{class_id}")).json()
                row = board_rows[athlete]
                assert mine["zone_minutes"] == row["zone_minutes"]
                assert mine["points"] == row["points"]
                assert mine["peak_bpm"] == row["peak_bpm"]
            api = await tv.get(f"/api/me/{tokens[absent]}/classes/{class_id}")
            assert api.status_code == 404


def test_after_a_restart_the_summary_comes_from_the_session_summary(tmp_path: Path) -> None:
    """The web app no longer holds the class's minutes (restarted): the class's session
    summary (``gympulse analyze``) gives zones, points, peak and HRR60; a guest who has no
    session in that class gets the 404, also from their own home (no link)."""
    from tests.support.web import app_client, seed_history

    seeded = seed_history(tmp_path / "gympulse.db")
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    end = contract.now_ms() - 3_600_000
    start = end - 45 * 60_000
    journal = Journal(seeded.db)
    class_id = journal.add_class("Yoga", start, end)
    journal.close()
    row = _session_row(alice, class_id, start, end, 18.0) | {
        "zone0_s": 600, "zone1_s": 1200, "zone2_s": 900, "zone3_s": 0, "zone4_s": 0,
        "zone5_s": 0, "points": 40.0, "hr_max": 128,
    }  # fmt: skip
    asyncio.run(write_session_rows(seeded.db, [row]))
    tokens = {a: guest_token(seeded.db, a) for a in (alice, bob)}
    with app_client(seeded.db) as client:
        mine = client.get(f"/api/me/{tokens[alice]}/classes/{class_id}")
        assert mine.status_code == 200
        assert mine.json() | {"effort": None} == {
            "class_id": class_id, "class_name": "Yoga", "start_ms": start, "end_ms": end,
            "zone_minutes": [10.0, 20.0, 15.0, 0.0, 0.0, 0.0], "points": 40.0,
            "peak_bpm": 128, "kcal": 5.0, "hrr60": 18.0, "effort": None,
        }  # fmt: skip
        assert mine.json()["effort"] == "gentle"
        page = client.get(f"/me/{tokens[alice]}/classes/{class_id}")
        assert page.status_code == 200 and "gentle session" in page.text
        assert f"/classes/{class_id}" in client.get(f"/me/{tokens[alice]}").text
        assert client.get(f"/api/me/{tokens[bob]}/classes/{class_id}").status_code == 404
        assert client.get(f"/me/{tokens[bob]}/classes/{class_id}").status_code == 404
        assert "class-summary-link" not in client.get(f"/me/{tokens[bob]}").text
        assert client.get(f"/me/{tokens[alice]}/classes/{class_id + 99}").status_code == 404
