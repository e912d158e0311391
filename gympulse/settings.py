"""Settings: one typed object from a TOML file plus ``GYMPULSE_*`` environment variables.

Precedence: defaults < TOML file < environment. Nested keys use a double underscore:
``GYMPULSE_MQTT__URL=mqtt://broker:1883``, ``GYMPULSE_STORE__BACKEND=influxdb``.
Secrets (passwords, tokens) are read only from the environment; a secret found in the TOML
file is refused. Settings are never written back to disk.

``config/gympulse.example.toml`` lists every setting with its default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

ENV_PREFIX = "GYMPULSE_"
SECRET_KEYS = frozenset({"password", "token", "secret_key"})


def is_secret(key: str) -> bool:
    """password, token, secret_key and any ``*_password`` / ``*_token``."""
    return key in SECRET_KEYS or key.endswith(("_password", "_token"))


# A secret shorter than this, or one of these placeholders, is refused at start (issue 18):
# `.env.example` once shipped "change-me", and a copied example must not become the site's key.
MIN_SECRET_CHARS = 16
PLACEHOLDERS = frozenset(
    {"change-me", "changeme", "change_me", "replace-me", "secret", "password", "example", "xxx"}
)
MAKE_ENV_HINT = "scripts/make-env writes a .env with random secrets"


class MqttSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str = "mqtt://127.0.0.1:1883"
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    username: str = ""  # a collector: "{site}/{collector}" (config/mosquitto/acl)
    password: str = ""  # environment only: GYMPULSE_MQTT__PASSWORD
    # mqtts:// URLs: the CA file that signed the broker's certificate; "": the system CAs.
    tls_ca: str = ""
    keepalive_s: int = 30
    # Non-empty: ingestion subscribes as $share/{group}/... (needs MQTT 5 or Mosquitto).
    shared_group: str = ""


class InfluxSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v1"
    database: str = "gympulse"
    retention_policy: str = ""
    username: str = ""
    password: str = ""  # environment only
    token: str = ""  # environment only (v2, or v1-compat token auth)
    org: str = ""
    bucket: str = ""
    timeout_s: float = 10.0
    gzip: bool = True
    batch_points: int = 5000  # points per /write request
    retries: int = 4  # on 5xx / timeouts / connection errors, then StoreUnavailable
    backoff_initial_s: float = 0.2  # doubled per retry, jittered, capped at backoff_max_s
    backoff_max_s: float = 5.0
    create_database: bool = True  # v1: CREATE DATABASE on open (needs an admin user)


class StoreSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    path: str = "gympulse.db"
    influxdb: InfluxSettings = msgspec.field(default_factory=InfluxSettings)


class IngestSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    client_id: str = "gympulse-ingest"
    batch_size: int = 1000
    flush_ms: int = 200
    # At least a day: 0 or less would make `gympulse retention` delete every sample.
    retention_days: Annotated[int, msgspec.Meta(ge=1)] = 400
    metrics_port: int = 0  # 0: no metrics endpoint
    metrics_host: str = "127.0.0.1"
    # The largest FIT file `gympulse import` and the upload pages take (a 10-hour ride with
    # power and HRV is about 5 MB); the upload route's own body limit, above the web's 1 MB.
    fit_max_mb: int = 16


class SimulatorSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    participants: int = 12
    collector: str = "sim"
    seed: int = 1
    # Probability per participant-second of a contact loss / strap drop-out starting.
    contact_loss_rate: float = 0.002
    dropout_rate: float = 0.001
    # Samples wait on disk here until confirmed (as a collector's); "": in memory only.
    state_dir: str = ""
    confirm: Literal["ingest", "broker"] = "ingest"  # as collector.confirm
    # The first N participants ride an indoor bike (bike-1, ...): machine samples beside HR.
    bikes: int = 0


class WebSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    stale_after_s: float = 5.0
    secret_key: str = ""  # environment only; generated per process if empty
    # The address guests and TVs use to reach this server (links, QR codes), e.g.
    # "https://pulse.example-retreat.nl"; empty: the address the coach's browser used.
    public_url: str = ""
    # Networks (CIDR) that see the live board without a board link or login; empty: none.
    board_trusted_networks: list[str] = msgspec.field(default_factory=list)
    # Reverse proxies (addresses or CIDR) whose X-Forwarded-For / -Proto are believed; from
    # anyone else they are ignored. Empty (the default): nobody's, the peer address counts.
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    language: str = ""  # "en" or "nl": the live board's language; empty: the browser's
    # The live board's per-class points target: this many points per minute of the class
    # (2 = on average the "moderate" zone 2 for the whole class; 45 min -> 90 points).
    points_per_class_minute: float = 2.0
    # What the shared screen shows (dashboards/board_privacy.py): "full" (names, heart rate,
    # kcal; class summary with kcal, peak HR and HRR60), "zones" (board names, zone and
    # points only) or "initials" (as zones, with initials). Guests' own pages stay full.
    board_privacy: Literal["full", "initials", "zones"] = "full"

    def __post_init__(self) -> None:
        import ipaddress

        for name, networks in (
            ("board_trusted_networks", self.board_trusted_networks),
            ("trusted_proxies", self.trusted_proxies),
        ):
            for network in networks:
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as err:
                    raise ValueError(f"web.{name}: {err}") from err


class MorningSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Morning readings (gympulse.pipeline.analytics.morning documents every rule)."""

    duration_s: int = 180  # countdown of a reading on the guest page and the station (60-300)
    min_beats: int = 20  # fewer clean RR intervals: refused, "please measure again"
    min_coverage: float = 0.7  # RR intervals must cover this share of the window
    max_corrected_pct: float = 5.0  # more corrected beats than this: refused
    max_no_contact_pct: float = 10.0  # more samples without skin contact: refused
    wait_for_samples_s: float = 10.0  # at the end, wait this long for the last samples
    rest_margin_bpm: float = 15.0  # mean HR this far above the person's resting HR: refused
    rest_max_hr_bpm: float = 100.0  # ... or above this without a resting reference
    rest_max_drift_bpm: float = 8.0  # HR drifting this much in the window: not settled
    rest_after_training_s: int = 1800  # training in this long before the reading: refused
    auto: bool = True  # propose resting windows (automatic fallback) after each analyze
    trust_automatic: bool = False  # count automatic windows without a coach's confirmation
    auto_from_hour: int = 4  # site time
    auto_until_hour: int = 11
    auto_min_s: int = 120
    auto_max_s: int = 300
    auto_tolerance_bpm: float = 10.0  # resting range = resting HR ± this


def _consent_required_default() -> bool:
    # The default follows the environment, so a Settings made in code agrees with one loaded
    # by load() (gympulse's own test suite runs with GYMPULSE_CONSENT__REQUIRED=false).
    return os.environ.get(ENV_PREFIX + "CONSENT__REQUIRED", "true").strip().lower() not in (
        "false", "0", "no", "off",
    )  # fmt: skip


class ConsentSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Consent per domain (pipeline/consent.py, docs/privacy.md "Consent")."""

    # Guests who were in the registry before this release recorded consent: "ask" (the
    # default) — they count as not having consented until they answer, like every new
    # guest; "given" — the site collected their consent before (on paper, at check-in) and
    # they count as having consented to every domain until they or a coach record otherwise.
    # New guests always start without consent.
    existing_guests: Literal["ask", "given"] = "ask"
    # false turns the consent rules off (everyone counts as having consented): for
    # gympulse's test suite and a one-person install only, never for a site with guests.
    required: bool = msgspec.field(default_factory=_consent_required_default)


class GrafanaSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str = "http://127.0.0.1:3000"  # where gympulse reaches Grafana's API
    # Grafana as guests' browsers reach it (its root_url), for the links handed to guests;
    # empty: ``url``. In compose ``url`` is the container-only http://grafana:3000.
    public_url: str = ""
    username: str = ""  # with password; or a service-account token instead
    password: str = ""  # environment only: GYMPULSE_GRAFANA__PASSWORD
    token: str = ""  # environment only: GYMPULSE_GRAFANA__TOKEN
    # How Grafana reaches InfluxDB (its own network view); empty: the store's influxdb.url.
    influx_url: str = ""
    influx_username: str = ""  # a read-only InfluxDB user for Grafana
    influx_password: str = ""  # environment only


class SmtpSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The mail server the coaches' morning email goes through (``gympulse coach-email``).
    Empty host: no email is sent."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # "starttls" (port 587), "tls" (implicit, port 465), "none"
    username: str = ""  # with password; empty: no login
    password: str = ""  # environment only: GYMPULSE_SMTP__PASSWORD
    sender: str = "gympulse@localhost"  # the From address
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError("smtp.security: one of starttls, tls, none")


class AntSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """ANT+ straps through one USB ANT stick in continuous scan mode (collectors/ant.py)."""

    enabled: bool = False
    stick: Literal["usb"] = "usb"  # the first ANTUSB2 / ANTUSB-m stick openant finds
    silence_s: float = 4.0  # no broadcast for this long: "lost"
    # ANT device number (as printed by `gympulse scan --ant`) -> alias; empty: every strap
    allow: dict[str, str] = msgspec.field(default_factory=dict)


class CollectorSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str = "edge"
    ble: bool = True  # false: ANT+ only (collector.ant), no Bluetooth adapter opened
    central: Literal["bleak", "bumble"] = "bleak"
    adapters: list[str] = msgspec.field(default_factory=lambda: ["hci0"])
    transport: str = ""  # bumble: "usb:0", "serial:/dev/ttyUSB0", "tcp-client:HOST:PORT"
    max_connections: int = 7
    allow: dict[str, str] = msgspec.field(default_factory=dict)  # address -> alias
    state_dir: str = "gympulse-collector"
    queue_max_samples: int = 7 * 24 * 3600 * 40
    scan_seconds: float = 5.0
    # When a sample may leave the disk queue: "ingest" once the ingestion service's stored
    # watermark covers it (survives a broker that forgets what it acknowledged); "broker"
    # on the broker's PUBACK (a site without gympulse ingestion).
    confirm: Literal["ingest", "broker"] = "ingest"
    ant: AntSettings = msgspec.field(default_factory=AntSettings)


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    site: str = "demo"
    timezone: str = "UTC"  # IANA name of the site's zone: where a training day starts and ends
    log_level: str = "WARNING"
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    simulator: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    morning: MorningSettings = msgspec.field(default_factory=MorningSettings)
    collector: CollectorSettings = msgspec.field(default_factory=CollectorSettings)
    grafana: GrafanaSettings = msgspec.field(default_factory=GrafanaSettings)
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    consent: ConsentSettings = msgspec.field(default_factory=ConsentSettings)


class SettingsError(ValueError):
    pass


def _find_secrets(data: Mapping[str, Any], path: str = "") -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, Mapping):
            found += _find_secrets(value, here)
        elif is_secret(key) and value:
            found.append(here)
    return found


def _set_path(data: dict[str, Any], keys: list[str], value: str) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise SettingsError(f"{'.'.join(keys)}: {key} is not a section")
        node = child
    node[keys[-1]] = value


def _env_value(name: str, value: str) -> Any:
    """A list setting from the environment is written as in TOML: ``["10.0.0.2"]``."""
    if not value.lstrip().startswith("["):
        return value
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{name}: not a TOML list: {err}") from err


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            keys = name[len(ENV_PREFIX) :].lower().split("__")
            _set_path(data, keys, _env_value(name, value))
    return data


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings. ``path`` None means defaults + environment only."""
    file_data: dict[str, Any] = {}
    if path is not None:
        try:
            file_data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise SettingsError(f"cannot read settings file {path}: {err}") from err
        secrets = _find_secrets(file_data)
        if secrets:
            raise SettingsError(
                f"secrets belong in the environment, not in {path}: {', '.join(secrets)} "
                f"(use {ENV_PREFIX}SECTION__KEY)"
            )
    env_data = _env_overrides(os.environ if environ is None else environ)
    merged = _merge(file_data, env_data)
    try:
        # Environment values are strings; strict=False lets "8000" become 8000, "true" True.
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as err:
        raise SettingsError(f"invalid settings: {err}") from err
    problem = weak_secret(settings)
    if problem:
        raise SettingsError(problem)
    return settings


def _env_name(path: str) -> str:
    return ENV_PREFIX + path.upper().replace(".", "__")


def _secret_values(data: Mapping[str, Any], path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, Mapping):
            found += _secret_values(value, here)
        elif is_secret(key) and isinstance(value, str):
            found.append((here, value))
    return found


def _needed_secrets(settings: Settings) -> list[str]:
    """Secrets that must be set: a user without its password, a web app served to the
    network without its signing key (an empty one is made per process: fine on one machine)."""
    needed = []
    if settings.mqtt.username and not settings.mqtt.password:
        needed.append("mqtt.password")
    influx = settings.store.influxdb
    if influx.username and not influx.password and not influx.token:
        needed.append("store.influxdb.password")
    grafana = settings.grafana
    if grafana.username and not grafana.password and not grafana.token:
        needed.append("grafana.password")
    if grafana.influx_username and not grafana.influx_password:
        needed.append("grafana.influx_password")
    if settings.smtp.username and not settings.smtp.password:
        needed.append("smtp.password")
    if not settings.web.secret_key and settings.web.host not in ("127.0.0.1", "::1", "localhost"):
        needed.append("web.secret_key")
    return needed


def weak_secret(settings: Settings) -> str:
    """One line naming the first secret that is a placeholder, too short or missing; "" if none."""
    for path, value in _secret_values(msgspec.to_builtins(settings)):
        if not value:
            continue
        if value.strip().lower() in PLACEHOLDERS:
            name = _env_name(path)
            return f"{name} is the placeholder {value!r}: set a real secret ({MAKE_ENV_HINT})"
        if len(value) < MIN_SECRET_CHARS:
            return (
                f"{_env_name(path)} is too short ({len(value)} characters, at least "
                f"{MIN_SECRET_CHARS}): set a real secret ({MAKE_ENV_HINT})"
            )
    for path in _needed_secrets(settings):
        return f"{_env_name(path)} is empty: set a real secret ({MAKE_ENV_HINT})"
    return ""


def _without_secrets(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_secrets(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if not is_secret(key)
    }


def defaults_as_toml_dict() -> dict[str, Any]:
    """Every non-secret setting with its default, for the example file and its test."""
    return _without_secrets(msgspec.to_builtins(Settings()))
