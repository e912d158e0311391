"""A class's RPE is asked once the class has ended (issue 20 item 6): 10 minutes into a
class the guest's page, on a real ``gympulse web``, says when the question will come (in
English and Dutch) and refuses a rating; once the schedule says the class is over, the
question is there and the answer is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import polars as pl
import pytest

from gympulse import contract
from gympulse.pipeline.analytics.sessions import AUTO_GAP_MS, rateable_from_ms
from gympulse.pipeline.analytics.tables import SESSION_SUMMARY, conform
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.stores import make_store
from gympulse.settings import StoreSettings
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, csrf_from, guest_token, web_server

MIN = 60_000


def test_rateable_from_is_the_class_end_or_a_workout_gap_later() -> None:
    assert rateable_from_ms(1_000_000, 5_000_000) == 5_000_000  # the schedule's end
    assert rateable_from_ms(1_000_000, None) == 1_000_000 + AUTO_GAP_MS


def _write_class_session(db: str, athlete_id: int, class_id: int, start: int, end: int) -> None:
    row = {
        "athlete_id": athlete_id, "session_id": f"class-{class_id}", "kind": "class",
        "class_id": class_id, "date": dt.datetime.fromtimestamp(start / 1000, dt.UTC).date(),
        "start_ms": start, "end_ms": end, "duration_s": (end - start) // 1000,
        "n_samples": 600, "hr_avg": 130.0, "hr_max": 160, "hr_max_ref": 185.0,
        "hr_rest_ref": 60.0, "zone0_s": 0, "zone1_s": 300, "zone2_s": 300, "zone3_s": 0,
        "zone4_s": 0, "zone5_s": 0, "trimp_banister": 10.0, "trimp_edwards": 15.0,
        "kcal": 80.0, "points": 12.0, "hrr60": None, "rmssd": None, "n_rr": 0,
        "n_corrected": 0, "rpe": None, "srpe_load": None, "updated_ms": 0,
    }  # fmt: skip

    async def write() -> None:
        store = make_store(StoreSettings(path=db))
        await store.open()
        try:
            frame = conform(SESSION_SUMMARY, pl.DataFrame([row]))
            await store.write_rows(SESSION_SUMMARY.name, frame, SESSION_SUMMARY.key)
        finally:
            await store.close()

    asyncio.run(write())


def _get(client: httpx.Client, url: str, lang: str = "en") -> str:
    response = client.get(url, headers={"Accept": "text/html", "Accept-Language": lang})
    assert response.status_code == 200
    return response.text


def _post(client: httpx.Client, url: str, form: dict[str, str]) -> int:
    return client.post(url, data=form, headers={"Accept": "text/html"}).status_code


@pytest.mark.slow
def test_rpe_is_asked_once_the_class_has_ended(mosquitto: Mosquitto, seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    now = contract.now_ms()
    start, end = now - 10 * MIN, now + 50 * MIN  # 10 minutes into a one-hour class
    journal = Journal(seeded.db)
    try:
        class_id = journal.add_class("Spin", start, end)
    finally:
        journal.close()
    _write_class_session(str(seeded.db), alice, class_id, start, now - 5_000)
    ends_at = dt.datetime.fromtimestamp(end / 1000, ZoneInfo("UTC")).strftime("%H:%M")
    with web_server(mosquitto.url, seeded.db) as base, httpx.Client(timeout=10) as opener:
        me = f"{base}/me/{token}"
        session = f"{me}/sessions/class-{class_id}"
        for url in (me, session):
            page = _get(opener, url)
            assert 'class="rpe"' not in page, f"{url}: RPE asked 10 minutes into the class"
            assert f"once it has ended, at {ends_at}" in page
        assert f"zodra ze voorbij is, om {ends_at}" in _get(opener, me, "nl")
        csrf = csrf_from(_get(opener, me))
        rating = {"session_id": f"class-{class_id}", "rpe": "7", "csrf": csrf}
        assert _post(opener, f"{me}/rpe", rating) == 409  # not while it runs

        journal = Journal(seeded.db)
        try:
            assert not [r for r in journal.session_rpes(alice) if r.session_id.startswith("class")]
            # The class is over (the coach ends it now in the schedule).
            assert journal.update_class(class_id, "Spin", start, contract.now_ms() - 1)
        finally:
            journal.close()
        page = _get(opener, me)
        assert 'class="rpe"' in page and "once it has ended" not in page
        assert _post(opener, f"{me}/rpe", rating) == 303
        journal = Journal(seeded.db)
        try:
            rated = {r.session_id: r.rpe for r in journal.session_rpes(alice)}
        finally:
            journal.close()
        assert rated[f"class-{class_id}"] == 7.0
