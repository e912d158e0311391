"""Issue 21 "New": the coach's "today" — who needs attention today and why, most need
first — as a page (real ``gympulse web``, Chromium, English and Dutch) and as the coaches'
morning email (a real ``gympulse coach-email`` process sending to a real SMTP server,
aiosmtpd, started by the test), each coach in their own language.

The guests, each with one situation (site day, UTC):
- Dora: today's check-in says mood 1 of 5, and no morning reading yet: need 3 + 1 + 1 = 5;
- Ruth: morning HRV a week below her range and resting HR above it (readiness down): 4;
- Mia: neither a check-in nor a reading today: 2;
- Leo: a load spike (ACWR 1.8): 1;
- Olga: everything in order: not listed; Gus: left yesterday (mood 1 that day): not listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.analytics.tables import BASELINES, DAILY_METRICS, conform
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.settings import StoreSettings
from tests.support.procs import Mosquitto, free_port
from tests.support.web import artifact, chromium, web_server

ORDER = ["Dora Down", "Ruth Rest", "Mia Missing", "Leo Load"]
REASONS = {
    "en": {
        "Dora Down": ["mood 1 of 5 in today's check-in", "low check-in today (13 of 25)",
                      "no morning reading yet today"],
        "Ruth Rest": ["readiness down: morning HRV below their usual range this week; resting"
                      " heart rate above their usual range"],
        "Mia Missing": ["no morning reading yet today", "no check-in yet today"],
        "Leo Load": ["load spike: this week's load is 1.80 times their usual (ACWR)"],
    },
    "nl": {
        "Dora Down": ["stemming 1 van 5 in de ochtendcheck van vandaag",
                      "lage ochtendcheck vandaag (13 van 25)", "nog geen ochtendmeting vandaag"],
        "Ruth Rest": ["minder hersteld: ochtend-HRV deze week onder hun gewone bereik;"
                      " rusthartslag boven hun gewone bereik"],
        "Mia Missing": ["nog geen ochtendmeting vandaag", "nog geen ochtendcheck vandaag"],
        "Leo Load": ["piek in belasting: deze week 1,80 keer hun gewone belasting (ACWR)"],
    },
}  # fmt: skip
COACH_PASSWORD = "correct horse battery"


def _baseline(athlete_id: int, day: dt.date, hrv: float, rest: float) -> dict[str, Any]:
    return {
        "athlete_id": athlete_id, "date": day, "ln_rmssd": hrv, "ln_rmssd_mean60": 3.6,
        "ln_rmssd_sd60": 0.1, "ln_rmssd_roll7": hrv, "hr_rest": rest, "hr_rest_mean60": 60.0,
        "hr_rest_sd60": 2.0, "hr_rest_roll7": rest, "flag_hrv": False, "flag_hr_rest": False,
        "flag_acwr": False, "flag_form": False, "flags": "", "updated_ms": 0,
    }  # fmt: skip


def _daily(athlete_id: int, day: dt.date, acwr: float) -> dict[str, Any]:
    return {
        "athlete_id": athlete_id, "date": day, "load": 50.0, "sessions": 1, "minutes": 45.0,
        "ctl": 30.0, "atl": 35.0, "tsb": -5.0, "acwr_ewma": acwr, "srpe_load": 0.0,
        "updated_ms": 0,
    }  # fmt: skip


def seed_today(db: Path) -> dict[str, int]:
    today = dt.datetime.now(dt.UTC).date()
    registry = Registry(db)
    names = ["Dora Down", "Ruth Rest", "Mia Missing", "Leo Load", "Olga Ok", "Gus Gone"]
    ids = {n: registry.add_athlete(n, birth_year=1985, sex="female", weight_kg=60) for n in names}
    registry.update_athlete(
        ids["Gus Gone"],
        arrival=(today - dt.timedelta(days=8)).isoformat(),
        departure=(today - dt.timedelta(days=1)).isoformat(),
    )
    registry.close()
    journal = Journal(db)
    now = contract.now_ms()
    for name in ("Ruth Rest", "Leo Load", "Olga Ok"):
        journal.add_wellness(ids[name], today, sleep=4, stress=4, mood=4, energy=4, soreness=4)
        journal.add_reading(ids[name], now - 2_000, now - 1_000, method="coach")
    journal.add_wellness(ids["Dora Down"], today, sleep=3, stress=3, mood=1, energy=3, soreness=3)
    journal.add_wellness(ids["Gus Gone"], today, sleep=1, stress=1, mood=1, energy=1, soreness=1)
    journal.close()

    async def write() -> None:
        store = make_store(StoreSettings(path=str(db)))
        await store.open()
        try:
            base = [_baseline(ids[n], today, 3.6, 60.0) for n in names if n != "Ruth Rest"]
            base.append(_baseline(ids["Ruth Rest"], today, 3.3, 66.0))
            daily = [_daily(ids[n], today, 1.8 if n == "Leo Load" else 1.0) for n in names]
            for table, rows in ((BASELINES, base), (DAILY_METRICS, daily)):
                await store.write_rows(table.name, conform(table, pl.DataFrame(rows)), table.key)
        finally:
            await store.close()

    asyncio.run(write())
    accounts = Accounts(db)
    accounts.add_user("coach", COACH_PASSWORD)
    accounts.close()
    return ids


# ---------------------------------------------------------------------- the page


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_the_today_page_lists_who_needs_attention_and_why(
    mosquitto: Mosquitto, tmp_path: Path, lang: str
) -> None:
    db = tmp_path / "gympulse.db"
    ids = await asyncio.to_thread(seed_today, db)  # it runs its own event loop
    with web_server(mosquitto.url, db) as base:
        async with chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800}, locale=lang,
                extra_http_headers={"Accept-Language": lang},
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", "coach")
            await page.fill("input[name=password]", COACH_PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/coach")
            await page.click("nav a[href='/coach/today']")
            await page.wait_for_selector("ol.today")
            await page.screenshot(path=artifact(f"coach-today-{lang}.png"), full_page=True)
            names = await page.locator("ol.today > li > a").all_inner_texts()
            assert names == ORDER
            for name in ORDER:
                item = page.locator(f"ol.today > li[data-athlete='{ids[name]}'] ul.reasons li")
                assert await item.all_inner_texts() == REASONS[lang][name]
            heading = await page.locator("h1").inner_text()
            assert heading == (
                "Who needs attention today" if lang == "en" else "Wie vandaag aandacht nodig heeft"
            )
            with contextlib.suppress(Exception):
                await context.close()


# ---------------------------------------------------------------------- the email


@dataclass
class Inbox:
    host: str
    port: int
    messages: list[EmailMessage]
    logins: list[tuple[str, str]]


class _Handler:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.inbox.append(msg)
        return "250 OK"


@contextlib.contextmanager
def smtp_server(user: str, password: str) -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free port that takes AUTH LOGIN/PLAIN for
    (``user``, ``password``) only."""
    inbox: list[EmailMessage] = []
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:  # fmt: skip
        assert isinstance(auth_data, LoginPassword)
        pair = (auth_data.login.decode(), auth_data.password.decode())
        logins.append(pair)
        return AuthResult(success=pair == (user, password))

    port = free_port()
    controller = Controller(
        _Handler(inbox), hostname="127.0.0.1", port=port, authenticator=authenticator,
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        yield Inbox("127.0.0.1", port, inbox, logins)
    finally:
        controller.stop()


def _coach_email(
    db: Path, inbox: Inbox, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "GYMPULSE_SITE": "demo",
        "GYMPULSE_STORE__PATH": str(db),
        "GYMPULSE_SMTP__HOST": inbox.host,
        "GYMPULSE_SMTP__PORT": str(inbox.port),
        "GYMPULSE_SMTP__SECURITY": "none",
        "GYMPULSE_SMTP__USERNAME": "gympulse-mailer",
        "GYMPULSE_SMTP__SENDER": "pulse@retreat.example",
        "GYMPULSE_WEB__PUBLIC_URL": "https://pulse.retreat.example",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "coach-email", *extra],
        env=environ, capture_output=True, text=True, timeout=120, cwd=db.parent,
    )  # fmt: skip


def _coach_user(db: Path, *args: str) -> None:
    env = {**os.environ, "GYMPULSE_STORE__PATH": str(db)}
    env.pop("COACH_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "coach-user", *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=db.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _listed(body: str) -> list[str]:
    """The numbered names of the plain-text list, in order."""
    return [line.split(". ", 1)[1] for line in body.splitlines() if line[:1].isdigit()]


@pytest.mark.slow
def test_the_morning_email_reaches_each_coach_in_their_language(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    seed_today(db)
    _coach_user(db, "coach", "--email", "anna@retreat.example", "--lang", "nl")
    env = {**os.environ, "GYMPULSE_STORE__PATH": str(db), "COACH_PASSWORD": COACH_PASSWORD}
    subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "coach-user", "sam", "--email",
         "sam@retreat.example", "--lang", "en"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    subprocess.run(  # a coach without an address gets nothing
        [sys.executable, "-m", "gympulse.cli", "coach-user", "kim"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    secret = "mailer-password-from-env-only"
    with smtp_server("gympulse-mailer", secret) as inbox:
        # The password comes from the environment: without it the command refuses to start.
        missing = _coach_email(db, inbox)
        assert missing.returncode == 2 and "GYMPULSE_SMTP__PASSWORD" in missing.stderr
        assert inbox.messages == []
        done = _coach_email(db, inbox, GYMPULSE_SMTP__PASSWORD=secret)
        assert done.returncode == 0, done.stderr
    assert inbox.logins == [("gympulse-mailer", secret)]
    by_to = {m["X-Envelope-To"]: m for m in inbox.messages}
    assert set(by_to) == {"anna@retreat.example", "sam@retreat.example"}
    for address, lang, subject in (
        ("anna@retreat.example", "nl", "demo: wie vandaag aandacht nodig heeft"),
        ("sam@retreat.example", "en", "demo: who needs attention today"),
    ):
        msg = by_to[address]
        assert str(msg["Subject"]).startswith(subject)
        assert msg["From"] == "pulse@retreat.example"
        assert msg["Content-Language"] == lang
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None and html is not None
        body = text.get_content()
        assert _listed(body) == ORDER  # the right people, most need first
        lines = body.splitlines()
        for n, name in enumerate(ORDER, 1):
            at = lines.index(f"{n}. {name}")
            listed = []
            for line in lines[at + 1 :]:
                if not line.startswith("   - "):
                    break
                listed.append(line.removeprefix("   - "))
            assert listed == REASONS[lang][name]
        assert "Olga" not in body and "Gus" not in body
        assert "https://pulse.retreat.example/coach/today" in body
        assert ("Goedemorgen coach" if lang == "nl" else "Good morning sam") in body
        assert all(name in html.get_content() for name in ORDER)
