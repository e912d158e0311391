"""``gympulse demo`` restarted on its own database (what a newcomer does the next day):
every start prints a coach login that works and a guest link that opens the guest page,
not only the first start (the password is stored only as a hash, so a restart gives the
demo's ``coach`` a new one)."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.procs import free_port

pytestmark = pytest.mark.slow  # two runs of the whole demo (embedded broker, web, ingest)

COACH = re.compile(r"^Coach view: (\S+)/coach \(user (\S+), password (\S+)\)$", re.M)
GUEST = re.compile(r"^Guest page: (\S+/me/\S+)$", re.M)
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _start(db: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the demo; returns the process and what it printed up to its broker line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "demo", "--no-history", "--duration", "60",
         "--db", str(db), "--port", str(free_port())],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    out = ""
    while "MQTT broker" not in out:
        line = proc.stdout.readline()
        assert line, f"the demo exited early:\n{out}"
        out += line
    return proc, out


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _login_works(base: str, user: str, password: str) -> bool:
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(f"{base}/coach/login", timeout=10) as form:
        found = CSRF.search(form.read().decode())
    assert found is not None
    body = urllib.parse.urlencode({"username": user, "password": password, "csrf": found[1]})
    with browser.open(f"{base}/coach/login", data=body.encode(), timeout=10) as answer:
        return bool(answer.url == f"{base}/coach")


def _opens(url: str) -> bool:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as page:
        return bool(page.status == 200)


def test_every_start_prints_a_working_coach_login_and_guest_link(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    passwords = []
    for run in ("first", "restart"):
        proc, out = _start(db, tmp_path)
        try:
            coach = COACH.search(out)
            guest = GUEST.search(out)
            assert coach is not None, f"{run}: no coach login printed:\n{out}"
            assert guest is not None, f"{run}: no guest link printed:\n{out}"
            base, user, password = coach.groups()
            assert _login_works(base, user, password), run
            assert _opens(guest[1]), run
            passwords.append(password)
        finally:
            _stop(proc)
    assert passwords[0] != passwords[1]  # the first run's password is gone with its hash
