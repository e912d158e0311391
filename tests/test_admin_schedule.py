"""Issue 9 (8): class times are entered and shown in the site's time zone, not UTC.

A site in Stockholm (``timezone = "Europe/Stockholm"``): a class typed in as 09:30 starts
at 09:30 Stockholm time — 08:30 UTC in winter (CET, UTC+1), 07:30 UTC in summer (CEST,
UTC+2) — and the schedule on the admin page shows 09:30 again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.journal import Journal
from tests.support.web import app_client, login


def _utc_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_class_times_are_in_the_site_time_zone(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    accounts = Accounts(db)
    accounts.add_user("coach", "correct horse battery")
    accounts.close()
    with app_client(db, timezone="Europe/Stockholm") as client:
        csrf = login(client, "coach", "correct horse battery")
        for name, start in (
            ("Winter yoga", "2027-01-11T09:30"),
            ("Summer HIIT", "2027-07-05T09:30"),
        ):
            response = client.post(
                "/coach/admin/classes",
                data={"name": name, "start": start, "minutes": "45", "csrf": csrf},
            )
            assert response.status_code == 303
        journal = Journal(db)
        classes = {c.name: c for c in journal.classes()}
        journal.close()
        assert classes["Winter yoga"].start_ms == _utc_ms("2027-01-11T08:30")
        assert classes["Summer HIIT"].start_ms == _utc_ms("2027-07-05T07:30")
        assert classes["Summer HIIT"].end_ms == _utc_ms("2027-07-05T08:15")

        # The schedule shows what the coach typed, in the site's zone, and says which.
        page = client.get("/coach/admin").text
    assert "Europe/Stockholm" in page
    for shown in ("2027-01-11 09:30", "2027-07-05 09:30", "2027-07-05 10:15"):
        assert shown in page
    assert "08:30" not in page and "07:30" not in page and "+00:00" not in page


def test_a_time_with_an_offset_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    accounts = Accounts(db)
    accounts.add_user("coach", "correct horse battery")
    accounts.close()
    with app_client(db, timezone="Europe/Stockholm") as client:
        csrf = login(client, "coach", "correct horse battery")
        data = {"name": "API", "start": "2027-01-11T09:30:00+00:00", "minutes": "30", "csrf": csrf}
        assert client.post("/coach/admin/classes", data=data).status_code == 303
    journal = Journal(db)
    (only,) = journal.classes()
    journal.close()
    assert only.start_ms == _utc_ms("2027-01-11T09:30")
