"""Consent per domain (GDPR Art. 9(2)(a), Art. 7): each guest decides, domain by domain,
whether gympulse may store and show that kind of her data (``docs/privacy.md``, "Consent").

- Explicit: a decision is a row written when she (or a coach, for her) presses "yes" or
  "no"; nothing is pre-ticked, and a guest without a decision has not consented.
- Stamped with server time (:func:`gympulse.contract.now_ms`) and who recorded it.
- As easy to withdraw as to give: the same one press, and the latest decision counts at
  once — the table's trigger bumps the registry's change counter, so ingestion and the
  live board of every process see it with their next look at the counter.
- Kept as a history (``consent_events``): what she decided when is part of her export and
  goes with her erasure.

``consent.existing_guests`` decides for the guests who were in the registry before this
file began recording consent (``consent_start``): "ask" (they count as not having
consented, like new guests) or "given" (the site collected their consent before). New
guests always start without consent. ``consent.required = false`` turns the rules off.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from gympulse import contract
from gympulse.pipeline.sqlite_db import SqliteDatabase, new_id
from gympulse.settings import ConsentSettings

__all__ = [
    "DOMAINS", "FOREVER_MS", "SHOWN_WITH", "Consents", "Decision", "Domain", "Period", "Policy",
    "Shown", "ShownCache", "consent_periods", "holders_of", "record_all", "shown_now",
    "storable_now",
]  # fmt: skip

T = TypeVar("T")
FOREVER_MS = 2**62  # the end of a consent that still stands


class Domain(StrEnum):
    LIVE = "live"  # live class heart rate: stored samples, the board's tile, class summaries
    MORNING = "morning"  # morning HRV readings
    WELLNESS = "wellness"  # the wellness and mood check-in
    STRENGTH = "strength"  # the strength log
    GRAFANA = "grafana"  # a shared Grafana dashboard of her data


DOMAINS: tuple[Domain, ...] = tuple(Domain)

# The one rule of what is shown (to a coach, on the squad, "today" and the coaches' email,
# in a coach's CSV of a whole table, on her own pages): a place of a person's data (a table
# of :mod:`gympulse.pipeline.personal_data`) is shown only for the people who consent *now*
# to one of its domains. Withdrawing hides what was stored before at once; her own export
# (a right of access) still holds everything, and only erasure deletes it. Places not named
# here are not of a consent domain (her profile, coach notes, the consent history, the
# access log). Readers apply it through :func:`shown_now` in the data-access layer
# (``dashboards/data.py``, ``dashboards/consent_shown.py``), never page by page.
SHOWN_WITH: dict[str, tuple[Domain, ...]] = {
    "samples": (Domain.LIVE, Domain.MORNING),  # stored under either (ingest.Snapshot)
    "machine_samples": (Domain.LIVE,),
    "session_summary": (Domain.LIVE,),
    "session_power": (Domain.LIVE,),
    "daily_metrics": (Domain.LIVE,),  # load, fitness, form: from the sessions
    "session_rpe": (Domain.LIVE,),  # how hard a class felt
    "morning_readings": (Domain.MORNING,),
    "morning_recordings": (Domain.MORNING,),
    "baselines": (Domain.MORNING,),  # ln RMSSD and resting HR: from the morning readings
    "wellness": (Domain.WELLNESS,),
    "strength_sets": (Domain.STRENGTH,),
}


@dataclass(frozen=True, slots=True)
class Decision:
    domain: Domain
    given: bool
    ts_ms: int  # 0: nobody decided; the site's setting for existing guests applies
    by_whom: str
    assumed: bool = False  # from consent.existing_guests = "given", not a recorded answer


@dataclass(frozen=True, slots=True)
class Policy:
    """The site's rules (settings ``[consent]``)."""

    required: bool = True
    existing_given: bool = False

    @classmethod
    def of(cls, settings: ConsentSettings) -> Policy:
        return cls(required=settings.required, existing_given=settings.existing_guests == "given")


def _latest(conn: sqlite3.Connection, athlete_id: int) -> dict[Domain, tuple[bool, int, str]]:
    rows = conn.execute(
        "SELECT domain, given, ts_ms, by_whom FROM consent_events WHERE id IN"
        " (SELECT MAX(id) FROM consent_events WHERE athlete_id = ? GROUP BY domain)",
        (athlete_id,),
    ).fetchall()
    return {Domain(d): (bool(g), int(ts), str(by)) for d, g, ts, by in rows}


def _existing(conn: sqlite3.Connection, athlete_id: int) -> bool:
    """Whether the guest was in the registry before this file began recording consent."""
    row = conn.execute(
        "SELECT 1 FROM athletes, consent_start WHERE athletes.id = ?"
        " AND athletes.created_ms < consent_start.ts_ms",
        (athlete_id,),
    ).fetchone()
    return row is not None


def decisions_of(conn: sqlite3.Connection, athlete_id: int, policy: Policy) -> list[Decision]:
    """Her standing decision per domain, in :data:`DOMAINS` order."""
    latest = _latest(conn, athlete_id)
    assumed = policy.existing_given and _existing(conn, athlete_id)
    out = []
    for domain in DOMAINS:
        if domain in latest:
            given, ts, by = latest[domain]
            out.append(Decision(domain, given, ts, by))
        else:
            out.append(Decision(domain, assumed, 0, "", assumed=assumed))
    return out


def holders_of(conn: sqlite3.Connection, domain: Domain, policy: Policy) -> frozenset[int] | None:
    """The athletes who consented to ``domain`` now; None when the site has no consent
    rules (``consent.required = false``: everyone)."""
    if not policy.required:
        return None
    given = {
        int(a)
        for a, g in conn.execute(
            "SELECT athlete_id, given FROM consent_events WHERE id IN"
            " (SELECT MAX(id) FROM consent_events WHERE domain = ? GROUP BY athlete_id)",
            (domain.value,),
        )
        if g
    }
    if policy.existing_given:
        given |= {
            int(a)
            for (a,) in conn.execute(
                "SELECT athletes.id FROM athletes, consent_start"
                " WHERE athletes.created_ms < consent_start.ts_ms AND NOT EXISTS"
                " (SELECT 1 FROM consent_events e WHERE e.athlete_id = athletes.id"
                " AND e.domain = ?)",
                (domain.value,),
            )
        }
    return frozenset(given)


@dataclass(frozen=True, slots=True)
class Shown:
    """Who may be shown what now (:data:`SHOWN_WITH`): the holders of each domain; None
    when the site has no consent rules (everyone)."""

    holders: Mapping[Domain, frozenset[int]] | None

    def ids(self, place: str) -> frozenset[int] | None:
        """The people whose rows of ``place`` are shown; None: everyone's."""
        domains = SHOWN_WITH.get(place)
        if self.holders is None or domains is None:
            return None
        return frozenset().union(*(self.holders.get(d, frozenset()) for d in domains))

    def allows(self, athlete_id: int | None, place: str) -> bool:
        """A row of nobody (an unassigned strap's sample) is nobody's health data."""
        ids = self.ids(place)
        return ids is None or athlete_id is None or athlete_id in ids

    def keep(self, place: str, rows: Iterable[T], athlete_of: str = "athlete_id") -> list[T]:
        """The rows of ``place`` that may be shown (their ``athlete_of`` attribute)."""
        ids = self.ids(place)
        if ids is None:
            return list(rows)
        return [r for r in rows if getattr(r, athlete_of) is None or getattr(r, athlete_of) in ids]


def shown_now(conn: sqlite3.Connection, policy: Policy) -> Shown:
    """The consent standing now, for :class:`Shown` (one read of the history)."""
    if not policy.required:
        return Shown(None)
    holders = {}
    for domain in DOMAINS:
        found = holders_of(conn, domain, policy)
        holders[domain] = found if found is not None else frozenset()
    return Shown(holders)


class ShownCache:
    """:func:`shown_now`, read again only when the registry's change counter has moved
    (every consent decision bumps it, in any process: the table's trigger), so a page
    about 30 guests reads the history once, not once per guest. Used on the file's owner
    thread only (one call at a time)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._version: int | None = None
        self._shown = Shown(None)

    def get(self, conn: sqlite3.Connection) -> Shown:
        if not self.policy.required:
            return Shown(None)
        row = conn.execute("SELECT n FROM registry_version WHERE id = 0").fetchone()
        version = None if row is None else int(row[0])
        # The counter first, then the history: what is kept is never older than its mark.
        if version is None or version != self._version:
            self._shown = shown_now(conn, self.policy)
            self._version = version
        return self._shown


def storable_now(conn: sqlite3.Connection, policy: Policy) -> frozenset[int] | None:
    """Wearers whose heart rate may be stamped with them now (live class or morning HRV:
    the two uses of one strap's samples); None: no consent rules."""
    live = holders_of(conn, Domain.LIVE, policy)
    morning = holders_of(conn, Domain.MORNING, policy)
    if live is None or morning is None:
        return None
    return live | morning


Period = tuple[int, int]  # [from_ms, to_ms)


def consent_periods(
    conn: sqlite3.Connection, domain: Domain, policy: Policy
) -> dict[int, list[Period]] | None:
    """The analytics' rule (``docs/privacy.md``, "Consent"): per athlete who consents to
    ``domain`` *now*, the spans of time in which she had consented, from her history — a
    sample counts only when it lies in one (consent at the time of the sample *and* now).
    An existing guest under ``existing_guests = "given"`` counts from the beginning until
    her first recorded decision. People who withdrew have no span at all. None: the site
    has no consent rules."""
    holders = holders_of(conn, domain, policy)
    if holders is None:
        return None
    existing: set[int] = set()
    if policy.existing_given:
        existing = {
            int(a)
            for (a,) in conn.execute(
                "SELECT athletes.id FROM athletes, consent_start"
                " WHERE athletes.created_ms < consent_start.ts_ms"
            )
        }
    events: dict[int, list[tuple[bool, int]]] = {}
    for a, g, ts in conn.execute(
        "SELECT athlete_id, given, ts_ms FROM consent_events WHERE domain = ? ORDER BY id",
        (domain.value,),
    ):
        events.setdefault(int(a), []).append((bool(g), int(ts)))
    out: dict[int, list[Period]] = {}
    for athlete in sorted(holders):
        spans: list[Period] = []
        opened: int | None = 0 if athlete in existing else None
        for given, ts in events.get(athlete, []):
            if given and opened is None:
                opened = ts
            elif not given and opened is not None:
                if ts > opened:
                    spans.append((opened, ts))
                opened = None
        if opened is not None:
            spans.append((opened, FOREVER_MS))
        out[athlete] = spans
    return out


def record_all(
    conn: sqlite3.Connection, athlete_id: int, by_whom: str, *, since_ms: int | None = None
) -> None:
    """Every domain given, stamped now (or ``since_ms``: the start of a made-up history):
    only for made-up guests (``gympulse demo``)."""
    now = contract.now_ms() if since_ms is None else since_ms
    conn.executemany(
        "INSERT INTO consent_events (athlete_id, domain, given, ts_ms, by_whom)"
        " VALUES (?, ?, 1, ?, ?)",
        [(athlete_id, d.value, now, by_whom) for d in DOMAINS],
    )


class Consents(SqliteDatabase):
    """The consent history in the store file (its own table; one owner per process)."""

    def record(self, athlete_id: int, domain: Domain, given: bool, by_whom: str) -> int:
        """Write one decision, stamped now; returns its id."""
        return new_id(
            self.conn.execute(
                "INSERT INTO consent_events (athlete_id, domain, given, ts_ms, by_whom)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (athlete_id, Domain(domain).value, int(given), contract.now_ms(), by_whom),
            )
        )

    def decisions(self, athlete_id: int, policy: Policy) -> list[Decision]:
        return decisions_of(self.conn, athlete_id, policy)

    def allows(self, athlete_id: int, domain: Domain, policy: Policy) -> bool:
        """Whether her data of ``domain`` may be stored and shown now."""
        if not policy.required:
            return True
        for d in decisions_of(self.conn, athlete_id, policy):
            if d.domain is domain:
                return d.given
        return False
