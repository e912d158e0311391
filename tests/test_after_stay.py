"""The guest link after the stay (issue 22 item 3), on a real ``gympulse web``: the coach
chooses on the athlete page, in Chromium, whether a guest's link ends with her stay or
works N days after her departure; the link works during the stay, N days after if the
coach said so, is refused after with a kind page in her language, and every change of the
coach's applies at once (the next request, and an open stream ends)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page

from gympulse.dashboards.access import stay_link_end_ms
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.i18n import t
from gympulse.pipeline.registry import Registry
from tests.support.procs import Mosquitto
from tests.support.web import artifact, chromium, guest_token, web_server

COACH, PASSWORD = "coach", "correct horse battery"


def test_the_link_works_through_the_departure_day_in_the_site_zone() -> None:
    stockholm = ZoneInfo("Europe/Stockholm")
    end = stay_link_end_ms("2026-03-27", 0, stockholm)  # DST begins on the 29th
    assert end == int(dt.datetime(2026, 3, 27, 23, tzinfo=dt.UTC).timestamp() * 1000)
    later = stay_link_end_ms("2026-03-27", 2, stockholm)  # through the 29th, now UTC+2
    assert later == int(dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC).timestamp() * 1000)
    assert stay_link_end_ms(None, 3, stockholm) is None  # no departure date yet
    assert stay_link_end_ms("2026-03-27", None, stockholm) is None  # the coach chose nothing


@pytest.mark.slow
async def test_the_coach_decides_how_long_a_link_works_after_the_stay(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    today = dt.datetime.now(dt.UTC).date()
    registry = Registry(db)
    saga = registry.add_athlete(
        "Saga Lind",
        arrival=(today - dt.timedelta(days=4)).isoformat(),
        departure=(today + dt.timedelta(days=2)).isoformat(),
    )
    other = registry.add_athlete("Noor Bakker")
    registry.close()
    accounts = Accounts(db)
    accounts.add_user(COACH, PASSWORD)
    accounts.close()
    token = guest_token(db, saga, days=60)  # the link itself runs for two months
    other_token = guest_token(db, other, days=60)
    with web_server(mosquitto.url, db) as base:
        guest = httpx.AsyncClient(base_url=base, timeout=60, headers={"Accept-Language": "nl"})

        async def opens(path: str = f"/me/{token}") -> int:
            return (await guest.get(path, headers={"Accept": "text/html"})).status_code

        async with guest, chromium() as browser:
            context = await browser.new_context(locale="en-GB")
            page = await context.new_page()
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", COACH)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/coach")

            async def choose(choice: str, days: int | None = None) -> str:
                await page.goto(f"{base}/coach/athletes/{saga}")
                form = page.locator("form.after-stay-form")
                await form.locator(f"input[name=choice][value={choice}]").check()
                if days is not None:
                    await form.get_by_label(t("en", "after_stay_days_field"), exact=True).fill(
                        str(days)
                    )
                await form.locator("button").click()
                await page.wait_for_url(f"{base}/coach/athletes/{saga}?saved=after-stay*")
                assert await page.inner_text("#after-stay .saved") == t("en", "after_stay_saved")
                return await page.inner_text(".after-stay-now")

            async def depart(page: Page, day: dt.date) -> None:
                await page.goto(f"{base}/coach/athletes/{saga}")
                await page.click("section.profile details summary")
                await page.fill("form.profile-form input[name=departure]", day.isoformat())
                await page.click("form.profile-form button")
                await page.wait_for_url(f"{base}/coach/athletes/{saga}?saved=profile")

            # Nothing chosen: the link runs until it expires, and the page says so.
            await page.goto(f"{base}/coach/athletes/{saga}")
            assert await page.inner_text(".after-stay-now") == t("en", "after_stay_now_link")
            assert await opens() == 200

            # During the stay the link works, whatever the coach chose.
            departure = today + dt.timedelta(days=2)
            words = await choose("ends")
            assert words == t("en", "after_stay_now_ends", until=departure.isoformat())
            assert await opens() == 200

            # The stay ended three days ago: a link that ends with the stay is refused with
            # a kind page in her language; the API says the same in JSON.
            departure = today - dt.timedelta(days=3)
            await depart(page, departure)
            ended = await guest.get(f"/me/{token}", headers={"Accept": "text/html"})
            assert ended.status_code == 403
            assert t("nl", "stay_ended_title") in ended.text
            assert t("nl", "stay_ended") in ended.text
            api = await guest.get(f"/api/me/{token}/sessions")
            assert api.status_code == 403 and "stay has ended" in api.json()["detail"]
            assert await opens(f"/me/{token}/fit") == 403
            assert await opens(f"/me/{token}/morning") == 403

            # Five days after the departure: it works again at once.
            words = await choose("days", 5)
            until = (departure + dt.timedelta(days=5)).isoformat()
            assert words == t("en", "after_stay_now_days", days=5, until=until)
            assert await opens() == 200 and await opens(f"/me/{token}/fit") == 200
            await page.screenshot(path=artifact("after-stay-coach.png"), full_page=True)

            # An open stream of her live tile ends when the coach shortens it to two days
            # (ended yesterday): the stream guard looks at once.
            async with (
                httpx.AsyncClient(base_url=base, timeout=60) as streaming,
                streaming.stream("GET", f"/api/me/{token}/stream") as stream,
            ):
                assert stream.status_code == 200
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                await choose("days", 2)
                async for _ in lines:
                    pass  # the server ends the stream: the loop ends
            assert await opens() == 403

            # Back to "until the link expires": it works, the same moment.
            await choose("link")
            assert await opens() == 200
            # The other guest, whose stay has no dates, was never touched.
            assert await opens(f"/me/{other_token}") == 200
