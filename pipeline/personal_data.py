"""Where a person's data lives: the one declared map that export, erasure and retention
read (``docs/privacy.md``).

Every table of every SQLite file gympulse creates, every time-series measurement and every
place outside the databases is named here exactly once:

- :data:`PLACES` hold a person's rows. Each says where it lives (:class:`Home`), how a row
  belongs to a person (:class:`Link`) and through which column, which columns are secrets
  left out of the export, and which time column retention deletes by.
- :data:`NOT_PERSONAL` are the tables that hold nothing of a guest, each with the reason.
- :data:`ELSEWHERE` are the places outside the databases (Grafana, export files, the
  collector's disk queue) and who takes care of them.

:mod:`gympulse.pipeline.privacy` exports and erases by walking :data:`PLACES`;
``tests/test_erasure.py`` walks the live schema of a filled database and fails on any
table, or any column that can hold a person's id or name, that this map does not name —
so a new table cannot be forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gympulse.pipeline.analytics.tables import TABLES


class Home(StrEnum):
    REGISTRY = "registry"  # the SQLite file at store.path: registry, journal, accounts, lifts
    STORE = "store"  # the configured store: SQLite tables in that file, or InfluxDB
    COLLECTOR = "collector"  # the edge collector's own SQLite file (collector.buffer_path)


class Link(StrEnum):
    ATHLETE = "athlete"  # rows whose ``column`` is the athlete's id
    GUEST_LINK = "guest-link"  # rows whose ``column`` is the id of one of her guest links
    WORN = "worn"  # raw samples stamped with her, or of her strap inside a window she wore
    #                it (``column`` is the sample time)
    STRAP_MESSAGE = "strap-message"  # quarantined messages naming her strap exactly,
    #                received in a window she wore it (plus the replay slack)


@dataclass(frozen=True, slots=True)
class Place:
    name: str  # the SQLite table (and the export file's name)
    home: Home
    link: Link
    column: str
    doc: str
    # Other columns that can name a person, and why they are covered (they go with the row).
    names: dict[str, str] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()  # secrets: erased with the row, never exported
    retention: str | None = None  # time column (ms): rows older than retention_days go
    measurement: str | None = None  # the InfluxDB measurement, when the store is InfluxDB


@dataclass(frozen=True, slots=True)
class NotPersonal:
    name: str
    home: Home
    why: str
    names: dict[str, str] = field(default_factory=dict)  # person-looking columns: why not
    retention: str | None = None


@dataclass(frozen=True, slots=True)
class Elsewhere:
    name: str
    erased_by: str
    doc: str


_ROW = "goes with the row"

# Order matters for erasure: rows that point at another place's rows come first (guest
# links' nonces before the links, everything before ``athletes``).
PLACES: tuple[Place, ...] = (
    # ---- the time-series store (SQLite tables or InfluxDB measurements)
    Place(
        "samples",
        Home.STORE,
        Link.WORN,
        "ts",
        "heart rate and RR, one row per second",
        names={"sensor": "her strap: the windows she wore it", "athlete_id": "stamped wearer"},
        retention="ts",
        measurement="hr",
    ),
    Place(
        "machine_samples",
        Home.STORE,
        Link.WORN,
        "ts",
        "bikes, rowers, power meters",
        names={"sensor": "the machine's sensor: its windows", "athlete_id": "stamped user"},
        retention="ts",
        measurement="machine",
    ),
    Place(
        "quarantine",
        Home.STORE,
        Link.STRAP_MESSAGE,
        "received_ms",
        "malformed messages, raw bytes kept for diagnosis",
        names={"topic": "names the strap (a topic level)", "payload": "may name the strap"},
        retention="received_ms",
        measurement="quarantine",
    ),
    *(
        Place(
            t.name,
            Home.STORE,
            Link.ATHLETE,
            "athlete_id",
            t.doc,
            measurement=t.name,
            names={c: "derived text: " + _ROW for c, kind in t.columns.items() if kind == "String"},
        )
        for t in TABLES
        if "athlete_id" in t.columns
    ),
    # ---- the registry's SQLite file
    Place(
        "guest_token_nonce",
        Home.REGISTRY,
        Link.GUEST_LINK,
        "token_id",
        "what re-derives a guest link to show it again",
        withheld=("nonce",),
    ),
    Place(
        "guest_token_use",
        Home.REGISTRY,
        Link.GUEST_LINK,
        "token_id",
        "when a guest link was last opened",
    ),
    Place(
        "guest_tokens",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "her guest links",
        withheld=("token_hash",),
    ),
    Place(
        "guest_after_stay",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "how long her guest links keep working after her stay, and which coach chose it",
        names={"by_whom": "the coach who chose it: " + _ROW},
    ),
    Place(
        "coach_notes",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "the coach's notes on her",
        names={"author": "the coach who wrote it: " + _ROW, "text": "free text: " + _ROW},
    ),
    Place(
        "strength_sets",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "her lifts (every set, warm-ups flagged)",
        names={"logged_by": "'guest' or 'coach': " + _ROW},
    ),
    Place(
        "wellness",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "daily wellness check-ins",
        names={"note": "free text: " + _ROW},
    ),
    Place("session_rpe", Home.REGISTRY, Link.ATHLETE, "athlete_id", "session RPE ratings"),
    Place(
        "morning_recordings",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "morning readings",
        names={"sensor": "the strap she took it with: " + _ROW},
    ),
    Place(
        "assignments",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "which strap she wore when",
        names={"sensor": "the strap: " + _ROW},
    ),
    Place(
        "consent_events",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "her consent per domain: every decision, when, and who recorded it",
        names={"by_whom": "'guest', or the coach who recorded it: " + _ROW},
    ),
    Place(
        "access_log",
        Home.REGISTRY,
        Link.ATHLETE,
        "athlete_id",
        "who looked at, exported or erased her data, and when; her erasure leaves one"
        " entry naming nobody ('erased on ... by ...', athlete_id NULL)",
        names={"actor": "the coach or operator: " + _ROW, "detail": "the page: " + _ROW},
    ),
    Place(
        "athletes",
        Home.REGISTRY,
        Link.ATHLETE,
        "id",
        "her profile",
        names={"name": _ROW, "display_name": _ROW},
    ),
)

NOT_PERSONAL: tuple[NotPersonal, ...] = (
    NotPersonal("gympulse_schema", Home.STORE, "InfluxDB only: the store's layout version"),
    NotPersonal(
        "sensors",
        Home.REGISTRY,
        "the straps and their labels",
        names={"id": "a strap id", "label": "what the board shows for an unassigned strap"},
    ),
    NotPersonal("registry_version", Home.REGISTRY, "a change counter"),
    NotPersonal(
        "erased_windows",
        Home.REGISTRY,
        "(strap, start, end) spans of erased people, no one named: ingestion refuses late"
        " replays inside them; kept as long as ingestion would accept such a sample",
        names={"sensor": "a strap id, not a person"},
        retention="end_ms",
    ),
    NotPersonal(
        "consent_start",
        Home.REGISTRY,
        "when the file began recording consent (guests before it are the existing ones)",
    ),
    NotPersonal("classes", Home.REGISTRY, "the class schedule", names={"name": "the class's name"}),
    NotPersonal(
        "exercises",
        Home.REGISTRY,
        "the exercise catalogue",
        names={"name_en": "an exercise", "name_nl": "an exercise"},
    ),
    NotPersonal(
        "strength_templates",
        Home.REGISTRY,
        "planned sets per class",
        names={"class_name": "a class"},
    ),
    NotPersonal(
        "web_users",
        Home.REGISTRY,
        "coach accounts (staff, not guests)",
        names={
            "username": "a coach's login",
            "email": "a coach's address for the morning email",
        },
    ),
    NotPersonal(
        "web_sessions",
        Home.REGISTRY,
        "coach logins",
        names={"token_hash": "a coach session", "user_id": "a coach account"},
    ),
    NotPersonal(
        "board_tokens",
        Home.REGISTRY,
        "links of the gym's TV boards",
        names={"token_hash": "a TV's link", "label": "the TV's name"},
    ),
    NotPersonal(
        "sqlite_sequence",
        Home.REGISTRY,
        "SQLite's AUTOINCREMENT counters",
        names={"name": "a table name"},
    ),
    # The collector runs on the edge device; it never knows who wears a strap.
    NotPersonal(
        "queue",
        Home.COLLECTOR,
        "samples waiting for the broker, by strap only; deleted once ingestion confirms them",
        names={"sensor": "a strap id", "payload": "a strap's samples"},
    ),
    NotPersonal(
        "seq", Home.COLLECTOR, "sequence numbers per strap", names={"sensor": "a strap id"}
    ),
    NotPersonal(
        "counters", Home.COLLECTOR, "the collector's counters", names={"name": "a counter's name"}
    ),
    NotPersonal(
        "confirmed",
        Home.COLLECTOR,
        "what ingestion confirmed, per strap",
        names={"sensor": "a strap id"},
    ),
)

ELSEWHERE: tuple[Elsewhere, ...] = (
    Elsewhere(
        "grafana",
        "GrafanaSync.forget_athlete (when [grafana] credentials are set)",
        "her guest dashboard and its public share",
    ),
    Elsewhere(
        "export files",
        "the web app deletes its temporary zip once sent; a zip written"
        " by `gympulse athlete export --out` is the operator's copy",
        "the zip of her data",
    ),
    Elsewhere(
        "logs",
        "nothing to erase: log lines name athlete ids, never names",
        "the processes' logs",
    ),
)


def places(home: Home, *links: Link) -> tuple[Place, ...]:
    """The places of ``home`` (with one of ``links``, when given), in erasure order."""
    return tuple(p for p in PLACES if p.home is home and (not links or p.link in links))


def place(name: str, home: Home) -> Place:
    for p in PLACES:
        if p.name == name and p.home is home:
            return p
    raise KeyError(name)
