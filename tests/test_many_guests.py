"""30 guests at the same moment through a real ``gympulse web`` (uvicorn, its threadpool):
a coach issues all their links at once, then every guest starts a Web Bluetooth morning
reading, posts its first samples, finishes the reading, answers the check-in and logs a
strength set — all 30 at once, phase by phase. Every guest must get exactly their own
reading back, and every successful call must be stored exactly once, for the right person.

Before the SQLite owner (one connection shared by the web app's worker threads) readings
came back with another guest's id and values (``lastrowid`` crossing threads), and guest
links and first samples failed or were stored without a success answer."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import httpx

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.analytics.strength import CATALOGUE
from gympulse.pipeline.registry import Registry
from tests.support.procs import Mosquitto
from tests.support.web import csrf_from, web_server

GUESTS = 30
LINK_RE = re.compile(r"/me/([A-Za-z0-9_-]{20,})")
DATA_CSRF_RE = re.compile(r'data-csrf="([0-9a-f]+)"')
SAMPLES = 20  # per guest, 3 RR intervals each: 60 beats (min_beats 20)
PASSWORD = "a long coach password"


def _rr(i: int) -> list[int]:
    """Guest i's RR intervals: alternating around 800 + 10·i ms (75 to 55 bpm: at rest), so
    each guest's mean heart rate (60000 / mean RR) is their own, RR 10 ms from the next one."""
    base = 800 + 10 * i
    return [base - 10, base + 10, base - 10]


def _own_hr(i: int) -> float:
    rr = _rr(i) * SAMPLES
    return 60000 / (sum(rr) / len(rr))


def _setup(db: Path) -> list[int]:
    registry = Registry(db)
    ids = [registry.add_athlete(f"Guest {i:02d}") for i in range(GUESTS)]
    registry.close()
    accounts = Accounts(db)
    accounts.add_user("coach", PASSWORD)
    accounts.close()
    return ids


async def _links(base: str, ids: list[int]) -> dict[int, str]:
    """One coach session issues every guest's link at once."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as coach:
        form = await coach.get("/coach/login")
        await coach.post(
            "/coach/login",
            data={"username": "coach", "password": PASSWORD, "csrf": csrf_from(form.text)},
        )
        csrf = csrf_from((await coach.get(f"/coach/athletes/{ids[0]}")).text)

        async def issue(athlete_id: int) -> tuple[int, str | None]:
            url = f"/coach/athletes/{athlete_id}/guest-links"
            page = await coach.post(url, data={"csrf": csrf}, follow_redirects=True)
            found = LINK_RE.search(page.text) if page.status_code == 200 else None
            return athlete_id, None if found is None else found.group(1)

        answers = await asyncio.gather(*(issue(a) for a in ids))
    return {a: token for a, token in answers if token is not None}


async def _guest(base: str, i: int, token: str, start: asyncio.Barrier) -> dict[str, object]:
    """One guest's morning: reading over Web Bluetooth, check-in, a strength set. Each step
    waits at ``start`` so all guests make the same call at the same moment; a guest that
    cannot go on breaks the barrier, so the others stop too instead of waiting."""
    out: dict[str, object] = {}
    try:
        await _morning(base, i, token, start, out)
    except BaseException as err:
        out["error"] = repr(err)
    if len(out) < 7:  # stopped early: nobody waits for this guest
        await start.abort()
    return out


async def _morning(
    base: str, i: int, token: str, start: asyncio.Barrier, out: dict[str, object]
) -> None:
    async with httpx.AsyncClient(base_url=f"{base}", timeout=120) as web:
        page = await web.get(f"/me/{token}/morning")
        found = DATA_CSRF_RE.search(page.text)
        out["page"] = page.status_code
        if found is None:
            return
        headers = {"X-CSRF-Token": found.group(1), "Content-Type": "application/json"}
        await start.wait()
        started = await web.post(
            f"/api/me/{token}/morning/start", json={"bluetooth": True}, headers=headers
        )
        out["start"] = started.status_code
        if started.status_code != 200:
            return
        reading = started.json()
        sensor, start_ms = reading["sensor"], int(reading["start_ms"])
        out["sensor"] = sensor
        samples = [
            {"sensor": sensor, "ts": start_ms + 50 * k, "seq": start_ms + 50 * k,
             "bpm": round(_own_hr(i)), "rr_ms": _rr(i), "contact": True, "energy_kj": None}
            for k in range(SAMPLES)
        ]  # fmt: skip
        # The samples lie in the past when posted (a strap's samples arrive after their ts).
        await asyncio.sleep(max(0, start_ms + 50 * SAMPLES + 1 - contract.now_ms()) / 1000)
        await start.wait()
        posted = await web.post(f"/api/me/{token}/samples", json=samples, headers=headers)
        out["samples"] = posted.json() if posted.status_code == 200 else posted.status_code
        await start.wait()
        finished = await web.post(
            f"/api/me/{token}/morning/{reading['id']}/finish", headers=headers
        )
        out["finish"] = finished.json() if finished.status_code == 200 else finished.status_code
        home = await web.get(f"/me/{token}", follow_redirects=True)
        csrf = csrf_from(home.text)
        scores = {"sleep": 1 + i % 5, "stress": 1 + (i // 5) % 5, "mood": 3, "energy": 4,
                  "soreness": 2, "csrf": csrf}  # fmt: skip
        await start.wait()
        checked = await web.post(f"/me/{token}/wellness", data=scores)
        out["wellness"] = checked.status_code
        lift = {"exercise": CATALOGUE[0].key, "reps": 1 + i, "kg": 20 + i, "csrf": csrf}
        await start.wait()
        lifted = await web.post(f"/me/{token}/strength/sets", data=lift)
        out["set"] = lifted.status_code


def test_thirty_guests_at_once_each_get_their_own_data(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    ids = _setup(db)
    env = {"GYMPULSE_MORNING__MIN_COVERAGE": "0", "GYMPULSE_MORNING__WAIT_FOR_SAMPLES_S": "0"}

    async def run(base: str) -> tuple[dict[int, str], list[dict[str, object]]]:
        links = await _links(base, ids)
        start = asyncio.Barrier(len(links))
        index = {a: i for i, a in enumerate(ids)}
        results = await asyncio.gather(
            *(_guest(base, index[a], token, start) for a, token in links.items())
        )
        return links, list(results)

    with web_server(mosquitto.url, db, extra_env=env) as base:
        links, results = asyncio.run(run(base))

    # Every link the coach was shown is stored once, for that guest (and none without one).
    with sqlite3.connect(db) as conn:
        stored_links = conn.execute("SELECT athlete_id FROM guest_tokens").fetchall()
        readings = {
            int(r[0]): r[1:]
            for r in conn.execute(
                "SELECT id, athlete_id, sensor, n_rr, hr_rest FROM morning_recordings"
            )
        }
        samples = conn.execute(
            "SELECT sensor, athlete_id, count(*) FROM samples GROUP BY sensor, athlete_id"
        ).fetchall()
        wellness = conn.execute("SELECT athlete_id, sleep, stress FROM wellness").fetchall()
        sets = conn.execute("SELECT athlete_id, reps, kg FROM strength_sets").fetchall()
    assert sorted(links) == sorted(ids), "every guest link was issued"
    assert sorted(a for (a,) in stored_links) == sorted(ids)

    mixed_up = []
    for (athlete_id, _token), out in zip(links.items(), results, strict=True):
        i = ids.index(athlete_id)
        assert out.get("page") == 200 and out.get("start") == 200, out
        assert out["samples"] == {"stored": SAMPLES, "quarantined": 0}, out
        finish = out["finish"]
        assert isinstance(finish, dict) and finish["ok"], out
        own = readings.get(int(finish["id"]))
        # The reading shown is the guest's own: their row, their strap, their heart rate.
        nearest = min(range(GUESTS), key=lambda j: abs(_own_hr(j) - float(finish["hr_rest"])))
        if own is None or own[0] != athlete_id or own[1] != out["sensor"] or nearest != i:
            mixed_up.append(athlete_id)
        assert out["wellness"] == 303 and out["set"] == 303, out
    assert mixed_up == [], f"{len(mixed_up)} of {GUESTS} guests were shown another's reading"

    # Stored exactly once each, for the right person.
    assert sorted(r[0] for r in readings.values()) == sorted(ids)
    assert all(r[2] == 3 * SAMPLES for r in readings.values())
    assert sorted(samples) == sorted((f"web-a{a}", a, SAMPLES) for a in ids)
    assert sorted(wellness) == sorted(
        (a, 1 + ids.index(a) % 5, 1 + (ids.index(a) // 5) % 5) for a in ids
    )
    assert sorted(sets) == sorted((a, 1 + ids.index(a), 20.0 + ids.index(a)) for a in ids)
