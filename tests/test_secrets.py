"""Placeholder secrets (issue 18 item 2): a copied example never becomes a site's key.

Real processes: ``gympulse ingest`` and ``gympulse web`` started with a placeholder, empty or
short secret exit with one line naming the setting; ``scripts/make-env`` writes a ``.env``
whose every secret is new and random, and the compose environment made from it loads;
the shipped Mosquitto entrypoint refuses a placeholder password and makes a password file
from good ones that a real broker accepts.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gympulse.mqtt import MqttClient, MqttError
from gympulse.settings import MqttSettings, load
from tests.support.procs import free_port, require_binary, wait_port

ROOT = Path(__file__).resolve().parent.parent
GOOD = "0123456789abcdef0123"


def _gympulse(
    tmp_path: Path, env: dict[str, str], *command: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GYMPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "gympulse.cli", *command],
        env={**base, "GYMPULSE_STORE__PATH": str(tmp_path / "g.db"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        (
            "ingest",
            {"GYMPULSE_MQTT__USERNAME": "ingest", "GYMPULSE_MQTT__PASSWORD": "change-me"},
            "GYMPULSE_MQTT__PASSWORD is the placeholder",
        ),
        (
            "web",
            {"GYMPULSE_WEB__SECRET_KEY": "Change-Me"},
            "GYMPULSE_WEB__SECRET_KEY is the placeholder",
        ),
        (
            "web",
            {"GYMPULSE_WEB__SECRET_KEY": "short-key"},
            "GYMPULSE_WEB__SECRET_KEY is too short (9 characters",
        ),
        ("web", {"GYMPULSE_WEB__HOST": "0.0.0.0"}, "GYMPULSE_WEB__SECRET_KEY is empty"),
        (
            "ingest",
            {"GYMPULSE_STORE__INFLUXDB__USERNAME": "gympulse"},
            "GYMPULSE_STORE__INFLUXDB__PASSWORD is empty",
        ),
    ],
)
def test_a_weak_secret_stops_the_process_with_one_line(
    tmp_path: Path, command: str, env: dict[str, str], named: str
) -> None:
    done = _gympulse(tmp_path, env, command)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], done.stderr
    assert "scripts/make-env" in lines[0]
    assert not (tmp_path / "g.db").exists()  # refused before anything was opened


def _make_env(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "scripts" / "make-env"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_make_env_writes_random_secrets_that_the_stack_accepts(tmp_path: Path) -> None:
    out = tmp_path / "site.env"
    done = _make_env(tmp_path, "north-gym", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    env = _read_env(out)
    example = _read_env(ROOT / ".env.example")
    assert env.keys() == example.keys()
    assert env["SITE"] == "north-gym"
    secrets = {k: v for k, v in env.items() if k.endswith(("PASSWORD", "SECRET_KEY"))}
    assert len(secrets) >= 8
    assert all(not example[k] for k in secrets)  # the example carries no value to copy
    assert all(re.fullmatch("[0-9a-f]{32}", v) for v in secrets.values()), secrets.keys()
    assert len(set(secrets.values())) == len(secrets)  # each one its own
    assert not set(secrets.values()) & set(done.stdout.split())  # never printed

    # A second run makes other secrets; an existing file is never overwritten.
    other = tmp_path / "other.env"
    assert _make_env(tmp_path, "", str(other)).returncode == 0
    assert not set(_read_env(other).values()) & set(secrets.values())
    again = _make_env(tmp_path, "north-gym", str(out))
    assert again.returncode == 1 and "exists" in again.stderr
    assert _read_env(out) == env

    # Every gympulse service of the compose file starts on these settings.
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    roles = [name for name, s in services.items() if s.get("image") == "gympulse:latest"]
    assert {"ingest", "web"} <= set(roles)
    for role in roles:
        resolved = {
            k: re.sub(r"\$\{([A-Z_0-9]+)[^}]*\}", lambda m: env.get(m[1], ""), str(v))
            for k, v in services[role]["environment"].items()
        }
        load(environ=resolved)  # raises SettingsError on a weak secret


def test_the_example_as_copied_is_refused(tmp_path: Path) -> None:
    """An operator who copies .env.example unchanged gets a refusal, not a running web app."""
    example = _read_env(ROOT / ".env.example")
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    resolved = {
        k: re.sub(r"\$\{([A-Z_0-9]+)[^}]*\}", lambda m: example.get(m[1], ""), str(v))
        for k, v in web["environment"].items()
    }
    done = _gympulse(tmp_path, {**resolved, "GYMPULSE_STORE__PATH": str(tmp_path / "g.db")}, "web")
    assert done.returncode == 2
    assert "is empty" in done.stderr and done.stderr.count("\n") == 1


def _entrypoint(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sh", str(ROOT / "config" / "mosquitto" / "entrypoint.sh")],
        env={
            "PATH": os.environ["PATH"] + ":/usr/sbin",
            "MOSQUITTO_ROOT": str(tmp_path),
            "SITE": "demo",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_mosquitto_entrypoint_refuses_placeholders_and_serves_good_passwords(
    tmp_path: Path,
) -> None:
    require_binary("mosquitto")
    good = {
        "MQTT_INGEST_PASSWORD": "ingest-" + GOOD,
        "MQTT_WEB_PASSWORD": "web-" + GOOD,
        "MQTT_COLLECTOR_PASSWORD": "edge-" + GOOD,
    }
    for name, bad, says in (
        ("MQTT_WEB_PASSWORD", "change-me", "is the placeholder"),
        ("MQTT_INGEST_PASSWORD", "", "is empty"),
        ("MQTT_COLLECTOR_PASSWORD", "edge-secret", "is too short"),
    ):
        proc = _entrypoint(tmp_path, {**good, name: bad})
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert err.strip().splitlines() == [err.strip()] and f"{name} {says}" in err
        assert not (tmp_path / "data").exists()  # stopped before writing anything

    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    port = free_port()
    (tmp_path / "config" / "mosquitto.conf").write_text(
        f"user {pwd.getpwuid(os.getuid()).pw_name}\nlistener {port} 127.0.0.1\n"
        f"allow_anonymous false\npassword_file {tmp_path}/data/passwd\n"
        f"acl_file {ROOT / 'config' / 'mosquitto' / 'acl'}\n"
    )
    proc = _entrypoint(tmp_path, good)
    try:
        wait_port(port, timeout=20)
        url = f"mqtt://127.0.0.1:{port}"
        async with MqttClient(
            MqttSettings(url=url, username="web", password=good["MQTT_WEB_PASSWORD"]), "w"
        ) as ok:
            await ok.wait_connected(timeout=10)
        wrong = MqttSettings(url=url, username="web", password="change-me")
        async with MqttClient(wrong, "x") as refused:
            with pytest.raises(MqttError):
                await refused.wait_connected(timeout=1.5)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
