"""Real servers for tests: Mosquitto (and helpers to find free ports and wait for them).

Each server runs on a free port with its own temp config and data dir, so a test can stop,
restart and SIGKILL it without touching the machine's system services.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def require_binary(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run the README's test command (scripts/test),"
            " which installs it"
        )
    return path


class Mosquitto:
    """A private Mosquitto broker. ``extra_conf`` lines are appended to the config.

    It runs as the current user (``user``): started as root, Mosquitto would drop to the
    ``mosquitto`` user, which cannot write its persistence file into our temp dir — and a
    restart would then silently begin without the persistent sessions the tests rely on.
    """

    def __init__(self, workdir: Path, *, extra_conf: str = "", persistence: bool = True) -> None:
        self.binary = require_binary("mosquitto")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        data = workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {data}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 1000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        self.conf.write_text("\n".join(lines) + "\n" + extra_conf + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_port(self.port)

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its persistence file on SIGTERM."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class NatsServer:
    """A private NATS server (Debian's ``nats-server``) with JetStream and its MQTT 3.1.1
    listener, on free loopback ports with its own store dir — never the system one on 4222.

    ``ack_wait`` is how long NATS waits for a QoS 1 PUBACK before it sends the message
    again (its default is 30 s; short here so a test sees redeliveries in seconds)."""

    def __init__(self, workdir: Path, *, ack_wait: str = "2s") -> None:
        self.binary = require_binary("nats-server")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()  # MQTT
        self.client_port = free_port()
        self.conf = workdir / "nats.conf"
        store = workdir / "jetstream"
        self.conf.write_text(
            f'server_name: "gympulse-test"\n'
            f"listen: 127.0.0.1:{self.client_port}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            f'mqtt {{ listen: 127.0.0.1:{self.port}, ack_wait: "{ack_wait}" }}\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def gympulse_process(config: Path, log: Path, *command: str) -> subprocess.Popen[bytes]:
    """``gympulse --config CONFIG COMMAND...`` as its own process (this interpreter),
    unbuffered, stdout and stderr appended to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), *command],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
