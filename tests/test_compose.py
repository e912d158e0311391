"""docker-compose.yml, the Mosquitto and Grafana config files, and .env.example.

The YAML is parsed and checked structurally (services, images, volumes, profiles, mounts
that exist, every ${VAR} defined in .env.example, every GYMPULSE_* variable a real
setting), and Compose itself validates it: Debian's ``docker-compose`` 1.29 (scripts/test
installs it; no Docker engine is needed for ``config``) checks the file against the
Compose schema. 1.29 predates the top-level ``name:`` of Compose v2 and refuses it, so it
checks the file with that one line taken out, and must refuse the file as shipped —
which is why docs/deploy.md asks for Compose v2. tests/test_site_stack.py starts the
services the file describes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.settings import load
from tests.support.procs import require_binary

ROOT = Path(__file__).resolve().parent.parent
GYMPULSE_ROLES = {"ingest", "web", "analyze", "retention", "grafana-sync", "collector"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_services_and_images() -> None:
    c = compose()
    services = c["services"]
    assert set(services) == {"mosquitto", "influxdb", "grafana", "caddy"} | GYMPULSE_ROLES
    assert re.fullmatch(r"influxdb:1\.11\.\d+", services["influxdb"]["image"])  # pinned
    assert "influxdb-data:/var/lib/influxdb" in services["influxdb"]["volumes"]
    named = set(c["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
            elif not source.startswith("/"):
                assert source in named, source
    grafana_env = services["grafana"]["environment"]
    assert grafana_env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana_env["GF_DASHBOARDS_MIN_REFRESH_INTERVAL"] == "1s"  # the live board's 1 s
    assert services["collector"]["profiles"] == ["collector"]
    assert services["collector"]["network_mode"] == "host"
    assert any("/var/run/dbus" in v for v in services["collector"]["volumes"])
    for role in GYMPULSE_ROLES:
        assert services[role]["build"] == "." and services[role]["image"] == "gympulse:latest"
    assert services["ingest"]["command"] == ["ingest"]
    assert services["web"]["command"] == ["web"]
    assert "gympulse analyze" in " ".join(services["analyze"]["entrypoint"])
    assert "gympulse retention" in " ".join(services["retention"]["entrypoint"])
    assert services["grafana-sync"]["profiles"] == ["tools"]
    assert services["grafana-sync"]["command"] == ["grafana", "sync"]
    assert services["ingest"]["depends_on"]["influxdb"]["condition"] == "service_healthy"


def test_every_variable_is_in_env_example_and_no_secret_is_committed() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = env_example()
    assert used <= set(example), used - set(example)
    for key, value in example.items():
        if "PASSWORD" in key or "SECRET" in key:
            assert value == "", key  # scripts/make-env fills them (tests/test_secrets.py)


def test_gympulse_environment_is_valid_settings() -> None:
    example = env_example()
    for role in GYMPULSE_ROLES:
        env = compose()["services"][role]["environment"]
        resolved = {
            k: re.sub(r"\$\{([A-Z_0-9]+)[^}]*\}", lambda m: example[m[1]] or "x" * 16, str(v))
            for k, v in env.items()
        }
        settings = load(environ=resolved)  # raises on any unknown GYMPULSE_* key
        assert settings.site == example["SITE"]
        if role != "collector":
            assert settings.store.backend == "influxdb"
            assert settings.store.influxdb.url == "http://influxdb:8086"
            assert settings.store.influxdb.username == example["INFLUXDB_USER"]
            assert settings.store.influxdb.password == "x" * 16  # the example's is empty
            # Grafana's admin user only where Grafana is administered.
            has_admin = settings.grafana.username == example["GRAFANA_ADMIN_USER"]
            assert has_admin == (role == "grafana-sync"), role


def test_mosquitto_config_and_acl() -> None:
    conf = {}
    for line in (ROOT / "config/mosquitto/mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            conf[key] = value
    assert conf["allow_anonymous"] == "false"
    assert conf["persistence"] == "true"
    assert int(conf["max_queued_messages"]) >= 1_000_000  # hours of a full class
    assert conf["acl_file"] == "/mosquitto/config/acl"
    acl = [
        line.strip()
        for line in (ROOT / "config/mosquitto/acl").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert acl == [
        *(f"pattern write gympulse/v1/%u/{kind}" for kind in ("status", "batch")),
        *(
            f"pattern write gympulse/v1/%u/+/{kind}"
            for kind in ("availability", "info", "hr", "machine", "power")
        ),
        "pattern read gympulse/v1/%u/stored",
        "user ingest",
        "topic read gympulse/v1/#",
        "topic write gympulse/v1/+/+/stored",
        "user web",
        "topic read gympulse/v1/#",
    ]


def test_grafana_provisioning_matches_the_code() -> None:
    ds = yaml.safe_load(
        (ROOT / "config/grafana/provisioning/datasources/gympulse.yaml").read_text()
    )
    (source,) = ds["datasources"]
    assert source["uid"] == gd.DATASOURCE_UID and source["type"] == "influxdb"
    assert source["jsonData"]["dbName"] == "gympulse"
    provider = yaml.safe_load(
        (ROOT / "config/grafana/provisioning/dashboards/gympulse.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/gympulse"
    files = sorted((ROOT / "config/grafana/dashboards").glob("*.json"))
    generated = {b.uid: b.model for b in gd.staff_dashboards()}
    assert [f.stem for f in files] == sorted(generated)
    for f in files:
        assert json.loads(f.read_text()) == generated[f.stem], (
            f"{f.name} is stale: python -m gympulse.dashboards.grafana.dashboards "
            "config/grafana/dashboards"
        )


def _compose_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose config -q`` of ``text`` in a copy of the repo's layout."""
    docker_compose = require_binary("docker-compose")
    (tmp_path / "docker-compose.yml").write_text(text)
    env = tmp_path / ".env"
    if not env.exists():  # as the operator makes it: random secrets (docs/deploy.md)
        made = subprocess.run(["sh", str(ROOT / "scripts/make-env"), "", str(env)])
        assert made.returncode == 0
    for mount in ("config",):
        link = tmp_path / mount
        if not link.exists():
            link.symlink_to(ROOT / mount)
    return subprocess.run(
        [docker_compose, "--profile", "tools", "--profile", "collector", "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_docker_compose_validates_the_file(tmp_path: Path) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    without_name = re.sub(r"^name: .*\n", "", text, count=1, flags=re.MULTILINE)
    assert without_name != text and "name" not in yaml.safe_load(without_name)
    result = _compose_config(tmp_path, without_name)
    assert result.returncode == 0, result.stderr
    # The shipped file needs Compose v2: 1.29 refuses its top-level name.
    refused = _compose_config(tmp_path, text)
    assert refused.returncode != 0 and "'name'" in refused.stderr, refused.stderr
    broken = without_name.replace("    restart: unless-stopped\n", "    restart: [1, 2]\n", 1)
    assert _compose_config(tmp_path, broken).returncode != 0  # it does check the schema


def test_mosquitto_tls_is_included_only_with_certificates() -> None:
    conf = (ROOT / "config/mosquitto/mosquitto.conf").read_text()
    assert "listener 8883" not in conf
    assert conf.rstrip().endswith("include_dir /mosquitto/data/conf.d")
    tls = (ROOT / "config/mosquitto/tls.conf").read_text()
    assert "listener 8883" in tls and "/mosquitto/data/tls/server.key" in tls
    mosquitto = compose()["services"]["mosquitto"]
    assert "./config/mosquitto/tls.conf:/mosquitto/config/tls.conf:ro" in mosquitto["volumes"]


def test_the_web_app_is_published_only_through_caddy() -> None:
    """Issue 18 item 1: web has no published port; caddy publishes 80 and 443, mounts the
    shipped Caddyfile and the site's certificates, and is the one address web believes
    X-Forwarded-* from (tests/test_site_stack.py runs it)."""
    services = compose()["services"]
    web, caddy = services["web"], services["caddy"]
    assert "ports" not in web
    assert caddy["image"] == "caddy:2"
    assert sorted(caddy["ports"]) == ["443:443", "443:443/udp", "80:80"]
    assert "./config/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert "./config/mosquitto/certs:/certs:ro" in caddy["volumes"]
    assert (
        caddy["environment"]["WEB_UPSTREAM"]
        == f"http://web:{web['environment']['GYMPULSE_WEB__PORT']}"
    )
    (network,) = [n for n in caddy["networks"] if n != "default"]
    address = caddy["networks"][network]["ipv4_address"]
    assert network in web["networks"] and "default" in web["networks"]
    settings = load(
        environ={
            "GYMPULSE_WEB__TRUSTED_PROXIES": web["environment"]["GYMPULSE_WEB__TRUSTED_PROXIES"]
        }
    )
    assert settings.web.trusted_proxies == [address]
    # Nobody else is on that network: only caddy's X-Forwarded-For can reach web there.
    others = [n for n, s in services.items() if network in (s.get("networks") or {})]
    assert sorted(others) == ["caddy", "web"]
    assert web["environment"]["GYMPULSE_WEB__PUBLIC_URL"] == "${WEB_PUBLIC_URL:?set in .env}"
    assert env_example()["WEB_PUBLIC_URL"].startswith("https://")
