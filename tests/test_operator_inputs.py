"""What a hurried operator or coach types is bounded (issue 18 item 8): a board label with
terminal escapes, a class plan of ``0x0`` or ``1e+23 kg``, ``gympulse retention --days 0``.

Run through the real ``gympulse`` CLI in its own process (its exit code, its stderr, the
bytes it prints to the terminal) and the coach's pages.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.coach_strength import parse_plan
from gympulse.terminal_safe import check_label, printable
from tests.support.web import Seeded, app_client, login


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with app_client(seeded.db) as c:
        yield c


# A label that retitles the operator's terminal window, then clears the screen.
ESCAPES = "hall TV\x1b]0;owned\x07\x1b[2J"


def gympulse(
    db: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gympulse.cli", *args],
        env={**os.environ, "GYMPULSE_STORE__PATH": str(db), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_printable_and_check_label() -> None:
    assert printable("Zaal 2 — TV") == "Zaal 2 — TV"
    assert printable(ESCAPES) == "hall TV\\x1b]0;owned\\x07\\x1b[2J"
    assert printable("a\u202eb\tc") == "a\\u202eb\\tc"  # bidi override, tab
    assert check_label("  Zaal 2  ") == "Zaal 2"
    with pytest.raises(ValueError, match="control"):
        check_label(ESCAPES)
    with pytest.raises(ValueError, match="80"):
        check_label("x" * 81)


def test_board_labels_never_act_on_the_terminal(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    refused = gympulse(db, "board", "link", "--label", ESCAPES)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "gympulse: --label: a label cannot hold control characters"
    ]
    assert "/board/" not in refused.stdout
    made = gympulse(db, "board", "link", "--label", "Zaal 2")
    assert made.returncode == 0, made.stderr
    # A label stored before the rule (or written by hand) is printed escaped.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE board_tokens SET label = ?", (ESCAPES,))
    listed = gympulse(db, "board", "list")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert listed.stdout.split("\t")[-1].strip() == "hall TV\\x1b]0;owned\\x07\\x1b[2J"


@pytest.mark.parametrize("days", ["0", "-3", "a week"])
def test_retention_refuses_days_that_are_not_a_period(tmp_path: Path, days: str) -> None:
    done = gympulse(tmp_path / "gympulse.db", "retention", "--days", days)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "argument --days" in done.stderr.splitlines()[-1]
    assert "deleted" not in done.stdout


def test_retention_days_setting_is_at_least_one(tmp_path: Path) -> None:
    env = {"GYMPULSE_INGEST__RETENTION_DAYS": "0"}
    done = gympulse(tmp_path / "gympulse.db", "retention", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "retention_days" in line and ">= 1" in line
    assert "deleted" not in done.stdout


def test_retention_with_days_runs(tmp_path: Path) -> None:
    done = gympulse(tmp_path / "gympulse.db", "retention", "--days", "30")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Raw samples older than 30 days deleted")


@pytest.mark.parametrize(
    "line",
    ["squat 0x0", "squat 0x5", "squat 3x0", "squat 21x5", "squat 3x101",
     "squat 3x5 1e+23", "squat 3x5 501", "squat 3x5 -5"],
)  # fmt: skip
def test_plan_lines_out_of_bounds_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        parse_plan(line)


def test_plan_bounds_inclusive() -> None:
    (item,) = parse_plan("squat 20x100 500")
    assert (item.sets, item.reps, item.kg) == (20, 100, 500.0)


def test_coach_pages_refuse_bad_plans_and_labels(client: TestClient, seeded: Seeded) -> None:
    csrf = login(client, seeded.coach_user, seeded.coach_password)
    for plan in ("squat 0x0", "squat 3x5 1e+23", "squat 3x5 99999"):
        form = {"class_name": "Kracht", "plan": plan, "csrf": csrf}
        answer = client.post("/coach/strength/templates", data=form)
        assert answer.status_code == 422, plan
    ok = {"class_name": "Kracht", "plan": "squat 3x5 60", "csrf": csrf}
    assert client.post("/coach/strength/templates", data=ok).status_code == 303
    accounts = Accounts(seeded.db)
    before = len(accounts.board_tokens())
    form = {"label": ESCAPES, "csrf": csrf}
    page = client.post("/coach/admin/board-links", data=form, headers={"accept": "text/html"})
    assert page.status_code == 422 and "/board/" not in page.text
    assert len(accounts.board_tokens()) == before
    accounts.close()
