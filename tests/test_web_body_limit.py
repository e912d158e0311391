"""Bodies bounded while read (issue 18 item 6), on a real ``gympulse web``: a 200 MB POST,
declared or chunked, is refused without the process holding it in memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.procs import Mosquitto
from tests.support.web import Seeded, guest_token, web_server

pytestmark = pytest.mark.slow
MB = 1024 * 1024


def _web_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"web" in cmd and str(port).encode() in cmd:
                return int(proc.name)
    raise AssertionError("no gympulse web process")


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1)) / 1024


def _chunks(total: int) -> Iterator[bytes]:
    chunk = b"[" + b" " * (MB - 1)
    for _ in range(total // MB):
        yield chunk


def test_huge_bodies_are_refused_while_read(mosquitto: Mosquitto, seeded: Seeded) -> None:
    with web_server(mosquitto.url, seeded.db) as base:
        port = int(base.rsplit(":", 1)[1])
        pid = _web_pid(port)
        token = guest_token(seeded.db, seeded.athletes["Alice"])
        c = httpx.Client(base_url=base, timeout=120)
        page = c.get(f"/me/{token}/morning")
        found = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
        assert found is not None
        headers = {"X-CSRF-Token": found.group(1), "Content-Type": "application/json"}
        before = _peak_rss_mb(pid)
        paths = [f"/api/me/{token}/samples", f"/api/me/{token}/morning/start", "/coach/login"]

        def declared(path: str) -> int:
            body = b"[" + b" " * (200 * MB)
            return c.post(path, content=body).status_code

        def chunked(path: str) -> int:
            try:
                return c.post(path, content=_chunks(200 * MB), headers=headers).status_code
            except httpx.TransportError:  # the server answered 413 and closed mid-upload
                return 413

        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(declared, paths)) == [413] * 3
            # Read by the handler (the guest's CSRF header is right): counted, refused.
            assert list(pool.map(chunked, paths[:2])) == [413] * 2
        grown = _peak_rss_mb(pid) - before
        assert grown < 100, f"the web process grew by {grown:.0f} MB"
        assert c.get(f"/me/{token}/morning").status_code == 200  # still serving
