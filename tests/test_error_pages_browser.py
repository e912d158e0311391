"""Errors a person can reach, in real headless Chromium against a real ``gympulse web``:
each is a page in the visitor's language (English and Dutch) with a way back, never the
raw JSON of the API; and the button that erases a guest looks like what it does."""

from __future__ import annotations

import contextlib
import re

import pytest
from playwright.async_api import Browser, BrowserContext

from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, guest_token, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

WORDS = {
    "en": {"title": "That did not work", "erase": "nothing was erased", "back": "Back",
           "missing": "could not find this page", "form": "not filled in as expected",
           "expired": "This form had expired"},
    "nl": {"title": "Dat lukte niet", "erase": "er is niets gewist", "back": "Terug",
           "missing": "konden deze pagina niet vinden", "form": "niet ingevuld zoals verwacht",
           "expired": "Dit formulier was verlopen"},
}  # fmt: skip


async def _coach(browser: Browser, base: str, seeded: Seeded, lang: str) -> BrowserContext:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale=lang,
        extra_http_headers={"Accept-Language": lang},
    )  # fmt: skip
    page = await context.new_page()
    await page.goto(f"{base}/coach/login")
    await page.fill("input[name=username]", seeded.coach_user)
    await page.fill("input[name=password]", seeded.coach_password)
    await page.click("form.login button")
    await page.wait_for_url(f"{base}/coach")
    await page.close()
    return context


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_a_mistyped_erasure_name_is_a_page_in_the_coach_s_language(
    mosquitto: Mosquitto, seeded: Seeded, lang: str
) -> None:
    words = WORDS[lang]
    name, athlete = next(iter(seeded.athletes.items()))
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            context = await _coach(browser, base, seeded, lang)
            page = await context.new_page()
            await page.goto(f"{base}/coach/athletes/{athlete}")
            # The erase button is red and unlike the page's other buttons.
            erase = page.locator("form.forget button")
            colour = _rgb(await erase.evaluate("b => getComputedStyle(b).backgroundColor"))
            others = {
                _rgb(c)
                for c in await page.eval_on_selector_all(
                    "main button:not(.danger)",
                    "bs => bs.map(b => getComputedStyle(b).backgroundColor)",
                )
            }
            assert others and colour not in others
            assert colour[0] > colour[1] + 80 and colour[0] > colour[2] + 80  # red
            await page.fill("form.forget input[name=confirm]", name + "x")
            async with page.expect_navigation() as answer:
                await erase.click()
            response = await answer.value
            assert response is not None and response.status == 422
            assert "text/html" in (response.headers.get("content-type") or "")
            text = await page.inner_text("main")
            await page.screenshot(path=artifact(f"error-erase-name-{lang}.png"))
            assert words["erase"] in text and "{" not in text
            assert await page.inner_text("h1") == words["title"]
            assert await page.get_attribute("html", "lang") == lang
            # The way back leads to the athlete's page, and the athlete is still there.
            async with page.expect_navigation():
                await page.click(f"main a:text-is('{words['back']}')")
            assert page.url == f"{base}/coach/athletes/{athlete}"
            assert name in await page.inner_text("main")

            # A mistyped address and a malformed one: pages in the same language.
            for path, key, status in (
                (f"/coach/athletes/{athlete + 10_000}", "missing", 404),
                ("/coach/athletes/not-a-number", "form", 422),
            ):
                opened = await page.goto(base + path)
                assert opened is not None and opened.status == status, path
                assert words[key] in await page.inner_text("main"), path
            with contextlib.suppress(Exception):
                await context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_a_guest_s_expired_form_is_a_page_on_the_phone(
    mosquitto: Mosquitto, seeded: Seeded, lang: str
) -> None:
    athlete = next(iter(seeded.athletes.values()))
    token = guest_token(seeded.db, athlete)
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, locale=lang,
                extra_http_headers={"Accept-Language": lang},
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(f"{base}/me/{token}?edit=1")
            # The check-in form was left open too long: its CSRF token no longer holds.
            await page.evaluate(
                "document.querySelector('#checkin-form input[name=csrf]').value = '0'.repeat(64)"
            )
            for fieldset in await page.locator("#checkin-form fieldset").all():
                await fieldset.locator("label.tap").nth(2).click()
            async with page.expect_navigation() as answer:
                await page.click("#checkin-form button[type=submit]")
            response = await answer.value
            assert response is not None and response.status == 403
            text = await page.inner_text("main")
            await page.screenshot(path=artifact(f"error-guest-form-{lang}.png"))
            assert WORDS[lang]["expired"] in text and "detail" not in text
            async with page.expect_navigation():
                await page.click(f"main a:text-is('{WORDS[lang]['back']}')")
            assert page.url == f"{base}/me/{token}"
            # The API keeps answering JSON.
            api = await page.request.get(f"{base}/api/me/{token}/sessions/no-such-session")
            assert api.status == 404 and "detail" in await api.json()
            with contextlib.suppress(Exception):
                await context.close()


async def test_pages_have_an_icon_and_no_missing_requests(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    token = guest_token(seeded.db, next(iter(seeded.athletes.values())))
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            failed: list[str] = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            for path in ("/coach/login", f"/me/{token}"):
                await page.goto(base + path)
                icon = await page.get_attribute("link[rel=icon]", "href")
                assert icon is not None, path
                answer = await page.request.get(base + icon)
                assert answer.status == 200 and "svg" in answer.headers["content-type"]
            # Tools that ask for /favicon.ico by habit find it too.
            legacy = await page.request.get(f"{base}/favicon.ico")
            assert legacy.status == 200 and "svg" in legacy.headers["content-type"]
            assert failed == []
