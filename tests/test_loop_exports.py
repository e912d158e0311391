"""The web app's exports never block its event loop (issue 17 item 4c): a guest's export
zip, the samples CSV and the tables' CSV of a real web server (uvicorn on this test's loop,
a real Mosquitto for its live board) run under the loop guard while the board's requests
are answered; the guard records SQLite, waits on threads, sleeps and data-sized work (JSON,
CSV, polars frames, zip writes) of our code on the loop (:mod:`tests.support.loop_guard`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest

from gympulse.dashboards.server import serve_web
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings, Settings, StoreSettings
from tests.support.loop_guard import LoopGuard
from tests.support.procs import Mosquitto, free_port
from tests.support.web import SITE, csrf_from, seed_history

pytestmark = pytest.mark.slow  # a real Mosquitto, a real web server

T0 = 1_765_000_000_000
EXTRA = 30_000  # a long day of Alice's strap: 8 h 20 min at 1 sample/s


def _login(client: httpx.Client, user: str, password: str) -> None:
    form = client.get("/coach/login")
    answer = client.post(
        "/coach/login",
        data={"username": user, "password": password, "csrf": csrf_from(form.text)},
    )
    assert answer.status_code == 303, answer.text


def _downloads(base: str, user: str, password: str, alice: int) -> dict[str, object]:
    """The coach's downloads (in a thread, a client of its own); between two parts of the
    samples CSV, the board's snapshot is asked for and answered."""
    got: dict[str, object] = {}
    with httpx.Client(base_url=base, timeout=120) as coach:
        _login(coach, user, password)
        with coach.stream("GET", "/coach/export/samples.csv") as samples:
            assert samples.status_code == 200
            parts = samples.iter_bytes()
            body = next(parts)
            board = coach.get("/api/live/snapshot")  # answered while the export streams
            got["board"] = board.status_code
            body += b"".join(parts)
        got["samples.csv"] = list(csv.DictReader(io.StringIO(body.decode())))
        for table in ("session_summary", "athletes"):
            answer = coach.get(f"/coach/export/{table}.csv")
            assert answer.status_code == 200, answer.text
            got[f"{table}.csv"] = list(csv.DictReader(io.StringIO(answer.text)))
        answer = coach.get(f"/coach/athletes/{alice}/export.zip")
        assert answer.status_code == 200, answer.text
        got["zip"] = answer.content
    return got


def _board_meanwhile(base: str, user: str, password: str, done: asyncio.Event) -> int:
    """The board's snapshot asked for again and again until the downloads are done."""
    answered = 0
    with httpx.Client(base_url=base, timeout=30) as board:
        _login(board, user, password)
        while not done.is_set():
            assert board.get("/api/live/snapshot").status_code == 200
            answered += 1
    return answered


async def test_exports_never_block_the_web_loop(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    seeded = await asyncio.to_thread(seed_history, db)
    alice = seeded.athletes["Alice"]
    store = SqliteStore(db)
    await store.open()
    long_day = [
        StoredSample(SITE, "sim", "strap-1", T0 + k * 1000, k, 80 + k % 90,
                     (700 + k % 40,) if k % 3 else (), True, None, alice)
        for k in range(EXTRA)
    ]  # fmt: skip
    assert (await store.write(WriteBatch(long_day))).stored == EXTRA
    await store.close()
    settings = Settings(
        site=SITE, mqtt=MqttSettings(url=mosquitto.url), store=StoreSettings(path=str(db))
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stop, started, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_web(settings, stop, host="127.0.0.1", port=port, started=started)
    )
    await asyncio.wait_for(started.wait(), 30)
    user, password = seeded.coach_user, seeded.coach_password
    try:
        with LoopGuard(work=True) as guard:
            board = asyncio.create_task(
                asyncio.to_thread(_board_meanwhile, base, user, password, done)
            )
            try:
                got = await asyncio.to_thread(_downloads, base, user, password, alice)
            finally:
                done.set()
            answered = await board
    finally:
        stop.set()
        await server
    assert guard.blocking == [], "\n".join(sorted(set(guard.blocking)))
    assert got["board"] == 200 and answered >= 1

    samples = got["samples.csv"]
    assert isinstance(samples, list)
    assert len(samples) == EXTRA + 2 * 5 * 121  # the long day and both guests' sessions
    assert sum(1 for r in samples if r["athlete"] == "Alice") == EXTRA + 5 * 121
    summary = got["session_summary.csv"]
    assert isinstance(summary, list) and len(summary) == 10
    athletes = got["athletes.csv"]
    assert isinstance(athletes, list) and {r["name"] for r in athletes} == {"Alice", "Bob"}

    content = got["zip"]
    assert isinstance(content, bytes)
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        rows = json.loads(zf.read("samples.json"))
        csv_rows = list(csv.DictReader(io.StringIO(zf.read("samples.csv").decode())))
        profile = json.loads(zf.read("profile.json"))
    assert len(rows) == len(csv_rows) == EXTRA + 5 * 121
    assert manifest["files"]["samples"]["rows"] == len(rows)
    assert {r["athlete_id"] for r in rows} == {alice}
    assert [p["name"] for p in profile] == ["Alice"]
    assert manifest["files"]["session_summary"]["rows"] == 5
