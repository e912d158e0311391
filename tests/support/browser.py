"""Helpers for the browser tests (real headless Chromium through Playwright)."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Page


async def until(page: Page, expression: str, limit_s: float = 20) -> None:
    """Poll a page expression until it is true.

    The pages' Content Security Policy (``script-src 'self'``) forbids the string eval that
    Playwright's ``wait_for_function`` uses once it starts polling inside the page;
    ``evaluate`` goes through DevTools and is allowed.
    """
    deadline = time.monotonic() + limit_s
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit_s} s waiting for {expression}")
        await asyncio.sleep(0.2)


async def coach_login(page: Page, base: str, user: str, password: str, then: str = "") -> None:
    """Log in as a coach through the login form, then open ``then`` (a path) if given."""
    await page.goto(f"{base}/coach/login")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("form.login button")
    await page.wait_for_url(f"{base}/coach")
    if then:
        await page.goto(f"{base}{then}")
