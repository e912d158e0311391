"""A real InfluxDB 1.x (Debian's ``influxd``) on free ports in a temp dir, for tests.

Both listeners move to free ports on 127.0.0.1: the HTTP API and the RPC (backup/restore)
service, whose default ``127.0.0.1:8088`` would collide between concurrent test runs. Meta,
data and WAL live under ``workdir``, so a test can SIGKILL the server and start it again on
the same port with its data intact (the WAL is fsynced before a write is answered with 204).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.procs import free_port, require_binary, wait_port


class Influxd:
    """A private influxd. ``auth``: HTTP auth on, with admin ``admin`` / ``admin-secret``."""

    ADMIN = ("admin", "admin-secret")

    def __init__(
        self,
        workdir: Path,
        *,
        auth: bool = False,
        bootstrap_admin: bool = True,
        port: int | None = None,
    ) -> None:
        """``bootstrap_admin=False``: with auth on, no admin is made here; the caller makes
        the first user (as the influxdb image's init script does) and sets ``admin``."""
        self.binary = require_binary("influxd")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.admin = self.ADMIN
        self.rpc_port = free_port()
        self.auth = auth
        self.conf = workdir / "influxdb.conf"
        self.conf.write_text(self._config())
        self.proc: subprocess.Popen[bytes] | None = None
        self._admin_created = not bootstrap_admin

    def _config(self) -> str:
        d = self.workdir
        return f"""\
reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{d / "meta"}"
  logging-enabled = false

[data]
  dir = "{d / "data"}"
  wal-dir = "{d / "wal"}"
  wal-fsync-delay = "0s"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if self.auth else "false"}
  log-enabled = false
  max-row-limit = 0

[logging]
  level = "warn"
"""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "influxd.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [self.binary, "run", "-config", str(self.conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_port(self.port, timeout=30)
        self._wait_ping()
        if self.auth and not self._admin_created:
            # With auth on, InfluxDB 1.x accepts exactly one unauthenticated statement:
            # creating the first admin user.
            user, password = self.ADMIN
            self.query(
                f"CREATE USER {user} WITH PASSWORD '{password}' WITH ALL PRIVILEGES",
                authenticate=False,
            )
            self._admin_created = True

    def _wait_ping(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:
                    if resp.status == 204:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"influxd on {self.url} did not answer /ping")

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: what a power cut or an OOM kill looks like to clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    # ------------------------------------------------------------ independent client

    def query(self, q: str, *, db: str | None = None, authenticate: bool = True) -> dict[str, Any]:
        """Run InfluxQL with urllib (independent of the store's httpx client under test)."""
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        credentials = ""
        if self.auth and authenticate:
            # In the URL: influxd 1.6.7 does not read u/p from a form body.
            user, password = self.admin
            credentials = "?" + urllib.parse.urlencode({"u": user, "p": password})
        body = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(f"{self.url}/query{credentials}", data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(req, timeout=30) as resp:
            result: dict[str, Any] = json.loads(resp.read())
        for statement in result.get("results", []):
            if "error" in statement:
                raise RuntimeError(f"InfluxQL error for {q!r}: {statement['error']}")
        return result

    def rows(self, q: str, *, db: str) -> list[dict[str, Any]]:
        """Every row of every series of the first statement as dicts (tags merged in)."""
        out: list[dict[str, Any]] = []
        for series in self.query(q, db=db)["results"][0].get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(tags)
                out.append(row)
        return out

    def write_lines(self, lines: list[str], *, db: str, precision: str = "ms") -> None:
        params = {"db": db, "precision": precision}
        if self.auth:
            params["u"], params["p"] = self.admin
        req = urllib.request.Request(
            f"{self.url}/write?{urllib.parse.urlencode(params)}",
            data="\n".join(lines).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            if resp.status != 204:
                raise RuntimeError(f"write failed: {resp.status}")
