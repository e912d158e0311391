"""The site stack of docker-compose.yml, started natively the way the compose file says.

No Docker engine runs on these machines, so each service of the compose file is started as
the program its image runs, with the compose file's own environment (``${VAR}`` from an
``.env`` made from .env.example), commands, entrypoints and config files:

- **volumes**: a named volume is a temp dir shared by every service that mounts it; a bind
  mount is the repo file itself, copied into the service's own temp root. Container paths
  in the environment and in the mounted config files and scripts are rewritten to where
  the mounts are here (longest path first) — nothing else in them changes.
- **ports**: every container port a service publishes or is reached on (``//name:port`` in
  another service's environment) gets a free loopback port; ``listener PORT`` lines and
  URLs are rewritten to it, ``0.0.0.0`` to ``127.0.0.1``.
- **images**: ``eclipse-mosquitto`` runs the compose entrypoint as root (so Mosquitto drops
  to the ``mosquitto`` user itself, as in the image); ``influxdb`` is Debian's influxd with
  the users and grants the image's ``init-influxdb.sh`` makes from the environment (see
  :func:`init_influxdb`); ``grafana/grafana-oss`` is the fake of tests/support/grafana.py
  with the mounted provisioning; ``gympulse:latest`` is this checkout's ``gympulse``
  (the image's ENTRYPOINT) with the compose ``command`` or ``entrypoint``; ``caddy`` is
  Debian's caddy with the compose ``command`` and the image's ``XDG_DATA_HOME=/data`` and
  ``XDG_CONFIG_HOME=/config``. Any other image is an error: a service nobody taught this
  harness to run is a service the test forgot.
- **networks**: a fixed ``ipv4_address`` of a service is 127.0.0.1 here (where every
  service listens), in the environment and the mounted files alike; ``http_port PORT``
  lines (Caddy's global option) are rewritten like ``listener PORT`` lines.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.grafana import FakeGrafana
from tests.support.influxd import Influxd
from tests.support.procs import free_port, require_binary, wait_port

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_file(workdir: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """.env as an operator makes it (docs/deploy.md): ``scripts/make-env``, then the
    settings the operator edits (``overrides``)."""
    out = workdir / ".env"
    made = subprocess.run(
        ["sh", str(ROOT / "scripts/make-env"), "", str(out)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    values: dict[str, str] = {}
    for line in out.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    values.update(overrides or {})
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m[1], m[2], m[3] or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op[0] == ":")
        if op and op.endswith("?") and unset_or_empty:
            raise KeyError(f"${{{name}}}: {arg}")
        if op and op.endswith("-") and unset_or_empty:
            return arg
        return value or ""

    return _VAR.sub(one, text).replace("$$", "$")


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        interpolate((ROOT / "docker-compose.yml").read_text(), env)
    )
    return data


def as_env(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return dict(item.split("=", 1) for item in value)
    return {k: "" if v is None else str(v) for k, v in (value or {}).items()}


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    root: Path  # this service's own filesystem root for bind mounts
    mounts: dict[str, Path] = field(default_factory=dict)  # container path -> here
    sources: dict[str, str] = field(default_factory=dict)  # container path -> bind source
    ports: dict[int, int] = field(default_factory=dict)  # container port -> loopback port
    proc: subprocess.Popen[bytes] | None = None

    @property
    def image(self) -> str:
        return str(self.spec.get("image", ""))

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"


class SiteStack:
    """Every service of the compose file (profiles only when asked), in one temp dir."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        profiles: tuple[str, ...] = (),
        ports: Mapping[str, Mapping[int, int]] | None = None,
    ) -> None:
        """``ports``: loopback ports chosen by the caller (service -> container -> here)."""
        self.env = dict(env)
        self.fixed_ports = ports or {}
        self.compose = load_compose(self.env)
        # 0755: the mosquitto user must reach its files, as in the container.
        self.dir = Path(tempfile.mkdtemp(prefix="gympulse-site-"))
        self.dir.chmod(0o755)
        self.volumes: dict[str, Path] = {}
        self.services: dict[str, Service] = {}
        for name, spec in self.compose["services"].items():
            wanted = spec.get("profiles")
            if wanted and not set(wanted) & set(profiles):
                continue
            self.services[name] = Service(name, spec, self.dir / "services" / name)
        self.tools = {
            name: Service(name, spec, self.dir / "services" / name)
            for name, spec in self.compose["services"].items()
            if name not in self.services and "tools" in (spec.get("profiles") or [])
        }
        for service in [*self.services.values(), *self.tools.values()]:
            self._ports(service)
        for service in [*self.services.values(), *self.tools.values()]:
            self._mount(service)
        self.influxd: Influxd | None = None
        self.grafana: FakeGrafana | None = None

    # ------------------------------------------------------------ translation

    def _ports(self, service: Service) -> None:
        service.ports.update(self.fixed_ports.get(service.name, {}))
        for entry in service.spec.get("ports", []):
            container = int(str(entry).rsplit(":", 1)[-1].split("/")[0])
            service.ports.setdefault(container, free_port())
        for other in self.compose["services"].values():
            for value in as_env(other.get("environment")).values():
                for m in re.finditer(rf"//{re.escape(service.name)}:(\d+)", value):
                    service.ports.setdefault(int(m[1]), free_port())

    def _mount(self, service: Service) -> None:
        service.root.mkdir(parents=True, exist_ok=True)
        service.root.chmod(0o755)
        # Outer mounts first: a bind mount inside a named volume lands inside it.
        entries = [str(e).split(":")[:2] for e in service.spec.get("volumes", [])]
        for source, target in sorted(entries, key=lambda e: len(e[1])):
            if source.startswith("./"):
                here = service.root / target.lstrip("/")
                here.parent.mkdir(parents=True, exist_ok=True)
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, here, dirs_exist_ok=True)
                elif origin.exists():
                    shutil.copy2(origin, here)
                service.mounts[target] = here
                service.sources[target] = source
            elif source.startswith("/"):
                continue  # host devices (the collector's D-Bus, USB): not here
            else:
                volume = self.volumes.get(source)
                if volume is None:
                    volume = self.dir / "volumes" / source
                    volume.mkdir(parents=True)
                    volume.chmod(0o755)
                    self.volumes[source] = volume
                # Mounted into the service's tree, so paths relative to a common root
                # (an entrypoint's ${MOSQUITTO_ROOT:-/mosquitto}) find it too.
                here = service.root / target.lstrip("/")
                here.parent.mkdir(parents=True, exist_ok=True)
                here.symlink_to(volume, target_is_directory=True)
                service.mounts[target] = here

    def rewrite(self, service: Service, text: str) -> str:
        """Container paths, service host names and ports as they are here."""
        # One pass over every mount target and their common root (``/mosquitto``), each
        # a whole path component; a service's mounts all live under ``service.root``.
        places = {target: str(here) for target, here in service.mounts.items()}
        common = os.path.commonpath(list(places)) if places else "/"
        if common != "/" and all(
            Path(here) == service.root / t.lstrip("/") for t, here in places.items()
        ):
            places.setdefault(common, str(service.root / common.lstrip("/")))
        if places:
            keys = "|".join(re.escape(k) for k in sorted(places, key=len, reverse=True))
            text = re.sub(rf"(?<![\w.])({keys})(?![\w.-])", lambda m: places[m[1]], text)
        for other in [*self.services.values(), *self.tools.values()]:
            for container, port in other.ports.items():
                text = text.replace(f"//{other.name}:{container}", f"//127.0.0.1:{port}")
        for address in self.fixed_addresses():
            text = re.sub(rf"(?<![\w.]){re.escape(address)}(?![\w.])", "127.0.0.1", text)
        return text.replace("0.0.0.0", "127.0.0.1")

    def fixed_addresses(self) -> list[str]:
        """Every ``networks: NAME: ipv4_address:`` of the compose file."""
        out = []
        for spec in self.compose["services"].values():
            networks = spec.get("networks")
            if isinstance(networks, dict):
                out += [n["ipv4_address"] for n in networks.values() if n and "ipv4_address" in n]
        return out

    def environment(self, service: Service) -> dict[str, str]:
        env = {
            k: self.rewrite(service, v) for k, v in as_env(service.spec.get("environment")).items()
        }
        published = {str(c): str(p) for c, p in service.ports.items()}
        for key, value in env.items():
            if key.endswith("PORT") and value in published:
                env[key] = published[value]
        return env

    def rewrite_mounted_files(self, service: Service) -> None:
        for here in service.mounts.values():
            files = [here] if here.is_file() else [p for p in here.rglob("*") if p.is_file()]
            for f in files:
                if f.suffix in (".crt", ".key", ".json") or f.stat().st_size > 1_000_000:
                    continue
                text = f.read_text()
                new = self.rewrite(service, text)
                for container, port in service.ports.items():
                    new = re.sub(
                        rf"^listener {container}\b.*$",
                        f"listener {port} 127.0.0.1",
                        new,
                        flags=re.MULTILINE,
                    )
                    new = re.sub(
                        rf"^(\s*)http_port {container}$",
                        rf"\g<1>http_port {port}",
                        new,
                        flags=re.MULTILINE,
                    )
                if new != text:
                    f.write_text(new)

    def bind(self, source: str, contents: Path) -> None:
        """The host folder ``source`` (``./config/mosquitto/certs``) holds what ``contents``
        holds, for every service that mounts it (as the operator's make-certs.sh run)."""
        for service in [*self.services.values(), *self.tools.values()]:
            for target, bound in service.sources.items():
                if bound == source:
                    here = service.mounts[target]
                    shutil.rmtree(here)
                    shutil.copytree(contents, here)
                    here.chmod(0o755)

    # ------------------------------------------------------------ start

    def order(self) -> list[Service]:
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            for dep in self.services[name].spec.get("depends_on", {}) or {}:
                if dep in self.services:
                    visit(dep)
            done.append(name)

        for name in self.services:
            visit(name)
        return [self.services[n] for n in done]

    def start(self, only: set[str] | None = None) -> None:
        """Every service in dependency order (``only``: just those)."""
        for service in self.order():
            if only is None or service.name in only:
                self.start_service(service)

    def start_service(self, service: Service) -> None:
        image = service.image
        if image.startswith("eclipse-mosquitto:"):
            self._start_mosquitto(service)
        elif image.startswith("influxdb:1."):
            self._start_influxdb(service)
        elif image.startswith("grafana/grafana"):
            self._start_grafana(service)
        elif image.startswith("gympulse:"):
            service.proc = self._gympulse(service, detach=True)
        elif image.startswith("caddy:"):
            self._start_caddy(service)
        else:
            raise NotImplementedError(
                f"service {service.name}: no native runner for image {image!r}"
                " (tests/support/site_stack.py)"
            )

    def _popen(
        self, service: Service, argv: list[str], env: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        log = open(service.log, "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            argv,
            env={"PATH": os.environ["PATH"], "HOME": str(service.root), **env},
            cwd=service.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return proc

    def _start_mosquitto(self, service: Service) -> None:
        require_binary("mosquitto")
        # The image's /mosquitto/data belongs to the mosquitto user (a fresh named volume
        # takes that ownership from the image).
        mosquitto = pwd.getpwnam("mosquitto")
        for target, here in service.mounts.items():
            if target == "/mosquitto/data":
                os.chown(here, mosquitto.pw_uid, mosquitto.pw_gid)
        self.rewrite_mounted_files(service)
        entrypoint = [self.rewrite(service, part) for part in service.spec["entrypoint"]]
        service.proc = self._popen(service, entrypoint, self.environment(service))
        for port in service.ports.values():
            self._wait(service, port)

    def _start_influxdb(self, service: Service) -> None:
        env = self.environment(service)
        auth = env.get("INFLUXDB_HTTP_AUTH_ENABLED", "").lower() == "true"
        data = service.mounts["/var/lib/influxdb"]
        server = Influxd(data, auth=auth, bootstrap_admin=False, port=service.ports[8086])
        server.start()
        init_influxdb(server, env)
        self.influxd = server

    def _start_grafana(self, service: Service) -> None:
        env = self.environment(service)
        fake = FakeGrafana(admin=(env["GF_SECURITY_ADMIN_USER"], env["GF_SECURITY_ADMIN_PASSWORD"]))
        self.rewrite_mounted_files(service)  # the data source's http://influxdb:8086
        fake.provision(service.mounts["/etc/grafana/provisioning"], env, service.mounts)
        fake.start(port=service.ports[3000])
        self.grafana = fake

    def _start_caddy(self, service: Service) -> None:
        require_binary("caddy")
        self.rewrite_mounted_files(service)  # the certificates' /certs, http_port
        env = {
            **self.environment(service),
            "XDG_DATA_HOME": str(service.mounts["/data"]),  # the image's ENV
            "XDG_CONFIG_HOME": str(service.mounts["/config"]),
        }
        argv = [self.rewrite(service, str(p)) for p in service.spec["command"]]
        service.proc = self._popen(service, argv, env)
        for port in service.ports.values():
            self._wait(service, port)

    def gympulse_argv(self, service: Service) -> list[str]:
        exe = str(Path(sys.executable).with_name("gympulse"))
        if "entrypoint" in service.spec:
            return [
                self.rewrite(service, p).replace("gympulse ", f"{exe} ")
                for p in service.spec["entrypoint"]
            ]
        return [exe, *(self.rewrite(service, str(p)) for p in service.spec.get("command", []))]

    def _gympulse(
        self, service: Service, *, detach: bool, args: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        argv = self.gympulse_argv(service)
        if args is not None:
            argv = [argv[0], *args]
        proc = self._popen(service, argv, self.environment(service))
        for port in service.ports.values():
            self._wait(service, port, proc)
        return proc

    def run_tool(self, name: str, *args: str, timeout: float = 120) -> str:
        """``docker compose run --rm NAME [ARGS]``: the one-shot, its output."""
        service = self.tools.get(name) or self.services[name]
        argv = self.gympulse_argv(service)
        if args:
            argv = [argv[0], *args]
        result = subprocess.run(
            argv,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(service.root),
                **self.environment(service),
            },
            cwd=service.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def _wait(
        self, service: Service, port: int, proc: subprocess.Popen[bytes] | None = None
    ) -> None:
        """Until ``port`` listens; fails at once when the service's process exits."""
        proc = proc or service.proc
        deadline = time.monotonic() + 60
        while True:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(
                    f"{service.name} exited {proc.returncode}:\n{self.logs(service)}"
                )
            try:
                wait_port(port, timeout=0.5)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{service.name} did not listen on {port}:\n{self.logs(service)}"
                    ) from None

    def logs(self, service: Service) -> str:
        return service.log.read_text(errors="replace")[-4000:] if service.log.exists() else ""

    def url(self, service: str, container_port: int, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.services[service].ports[container_port]}"

    def running(self) -> dict[str, int | None]:
        return {
            s.name: (s.proc.poll() if s.proc is not None else None) for s in self.services.values()
        }

    def stop(self) -> None:
        for service in reversed(self.order()):
            if service.proc is not None and service.proc.poll() is None:
                os.killpg(service.proc.pid, signal.SIGTERM)
                try:
                    service.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(service.proc.pid, signal.SIGKILL)
                    service.proc.wait(timeout=10)
        if self.influxd is not None:
            self.influxd.stop()
        if self.grafana is not None:
            self.grafana.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def init_influxdb(server: Influxd, env: Mapping[str, str]) -> None:
    """The statements the official image's ``init-influxdb.sh`` (influxdata-docker,
    influxdb/1.11/init-influxdb.sh) runs on a fresh data dir, from the same variables:
    with auth on and ``INFLUXDB_ADMIN_USER`` set, that user ``WITH ALL PRIVILEGES``; then
    ``CREATE DATABASE $INFLUXDB_DB``; ``INFLUXDB_USER``: ``GRANT ALL`` on the database;
    ``INFLUXDB_WRITE_USER``: ``GRANT WRITE``; ``INFLUXDB_READ_USER``: ``GRANT READ``
    (each after ``REVOKE ALL PRIVILEGES``); then ``/docker-entrypoint-initdb.d/*.iql``."""
    admin, admin_pw = env.get("INFLUXDB_ADMIN_USER", ""), env.get("INFLUXDB_ADMIN_PASSWORD", "")
    db = env.get("INFLUXDB_DB", "")
    if server.auth and admin:
        server.query(
            f"CREATE USER \"{admin}\" WITH PASSWORD '{admin_pw}' WITH ALL PRIVILEGES",
            authenticate=False,
        )
        server.admin = (admin, admin_pw)
    if db:
        server.query(f"CREATE DATABASE {db}")
    if not (server.auth and admin):
        return
    for prefix, grant in (
        ("INFLUXDB_USER", "ALL"),
        ("INFLUXDB_WRITE_USER", "WRITE"),
        ("INFLUXDB_READ_USER", "READ"),
    ):
        user = env.get(prefix, "")
        if not user:
            continue
        password = env.get(f"{prefix}_PASSWORD", "")
        server.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
        server.query(f'REVOKE ALL PRIVILEGES FROM "{user}"')
        if db:
            server.query(f'GRANT {grant} ON "{db}" TO "{user}"')
