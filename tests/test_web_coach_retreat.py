"""The coach's retreat pages in process: a new athlete says "no data yet", the profile
form sets the board name and stay dates, notes are dated and never reach the guest, guest
links and QR codes use web.public_url, revoking asks for confirmation, and the squad shows
the day of the stay."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.settings import WebSettings
from tests.support.web import app_client, guest_token, login, seed_history

PUBLIC = "https://pulse.example-retreat.nl"


def test_coach_retreat_pages(tmp_path: Path) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    registry = Registry(seeded.db)
    newcomer = registry.add_athlete("Noor van den Berg", arrival="2026-11-20")
    registry.close()
    alice = seeded.athletes["Alice"]
    with app_client(seeded.db, web=WebSettings(public_url=PUBLIC + "/")) as client:
        csrf = login(client, seeded.coach_user, seeded.coach_password)
        page = client.get(f"/coach/athletes/{newcomer}").text
        assert "No data yet" in page and "<svg" not in page.split("No data yet")[1][:2000]
        assert "Noor B." in page  # what the board shows without a display name
        # Profile: display name, HRmax, resting HR, stay dates.
        response = client.post(
            f"/coach/athletes/{newcomer}/profile",
            data={
                "name": "Noor van den Berg",
                "display_name": "Noor <3",
                "hr_max": "188",
                "hr_rest": "58",
                "birth_year": "1991",
                "weight_kg": "64.5",
                "arrival": "2026-11-20",
                "departure": "2026-12-31",
                "csrf": csrf,
            },
        )
        assert response.status_code == 303
        registry = Registry(seeded.db)
        a = registry.athlete(newcomer)
        registry.close()
        assert a is not None and a.board_name == "Noor <3" and a.hr_max == 188
        assert a.departure == "2026-12-31" and a.weight_kg == 64.5
        page = client.get(f"/coach/athletes/{newcomer}").text
        assert "Noor &lt;3" in page and "Day " in page
        # Notes: dated, coach-only.
        client.post(f"/coach/athletes/{alice}/notes", data={"text": "Knee hurts", "csrf": csrf})
        page = client.get(f"/coach/athletes/{alice}").text
        assert re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d</time>", page) and "Knee hurts" in page
        token = guest_token(seeded.db, alice)
        assert "Knee hurts" not in client.get(f"/me/{token}").text
        # The link's last use is listed.
        links = client.get(f"/coach/athletes/{alice}").text.split('class="links"')[1]
        assert re.search(r'class="last-used">\d{4}-\d\d-\d\d \d\d:\d\d<', links)
        # Guest links use the public address; revoking asks first.
        issued = client.post(
            f"/coach/athletes/{alice}/guest-links",
            data={"days": "7", "csrf": csrf},
            follow_redirects=True,
        ).text
        assert f'href="{PUBLIC}/me/' in issued and "127.0.0.1" not in issued
        url = re.search(r'class="guest-link" href="([^"]+)"', issued)
        assert url is not None
        # ... and can be shown again (same link, same QR), while the database alone keeps
        # only a hash and a nonce.
        (link_id,) = re.findall(
            r'href="/coach/guest-links/(\d+)"', client.get(f"/coach/athletes/{alice}").text
        )
        again = client.get(f"/coach/guest-links/{link_id}").text
        assert f'href="{url.group(1)}"' in again and "<svg" in again
        assert client.get(url.group(1).replace(PUBLIC, "")).status_code == 200
        page = client.get(f"/coach/athletes/{alice}").text
        assert 'class="confirm inline"' in page and "Yes, revoke this link" in page
        # CSV exports: names, ISO local times, numbers rounded to their meaning.
        exported = list(
            csv.DictReader(io.StringIO(client.get("/coach/export/session_summary.csv").text))
        )
        assert {r["athlete"] for r in exported} == {"Alice", "Bob"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", exported[0]["start_local"])
        assert all("." not in r["hr_avg"] for r in exported)
        # Classes: a weekly schedule in the site's time zone, edited and deleted.
        start = (dt.date.today() + dt.timedelta(days=1)).isoformat() + "T09:30"
        form = {"name": "Yoga flow", "start": start, "minutes": "45", "weeks": "4"}
        assert client.post("/coach/admin/classes", data=form | {"csrf": csrf}).status_code == 303
        journal = Journal(seeded.db)
        yoga = [c for c in journal.classes() if c.name == "Yoga flow"]
        assert len(yoga) == 4
        assert {c.start_ms - yoga[0].start_ms for c in yoga} == {
            i * 7 * 86_400_000 for i in range(4)
        }
        admin = client.get("/coach/admin").text
        assert admin.count("Yes, delete this class") >= 1 and 'value="Yoga flow"' in admin
        edited = {"name": "Gentle yoga", "start": start, "minutes": "60", "csrf": csrf}
        assert client.post(f"/coach/admin/classes/{yoga[0].id}", data=edited).status_code == 303
        gone = client.post(f"/coach/admin/classes/{yoga[1].id}/delete", data={"csrf": csrf})
        assert gone.status_code == 303
        first = journal.class_by_id(yoga[0].id)
        assert first is not None and first.name == "Gentle yoga"
        assert first.end_ms - first.start_ms == 60 * 60_000
        assert journal.class_by_id(yoga[1].id) is None
        journal.close()
        # The squad: day of stay, attendance, last RPE and today's check-in, with tooltips.
        squad = client.get("/coach").text
        assert "Day " in squad and "Classes (7 days)" in squad and "<abbr title=" in squad
        rows = {r["name"]: r for r in client.get("/api/coach/squad").json()}
        assert rows["Noor van den Berg"]["stay"]["of"] == 42
        assert rows["Alice"]["held"] == 0 and rows["Alice"]["wellness_today"] is None
