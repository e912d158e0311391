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
from dataclasses import dataclass
from enum import StrEnum

from gympulse import contract
from gympulse.pipeline.sqlite_db import SqliteDatabase, new_id
from gympulse.settings import ConsentSettings

__all__ = ["DOMAINS", "Consents", "Decision", "Domain", "Policy", "holders_of", "record_all"]


class Domain(StrEnum):
    LIVE = "live"  # live class heart rate: stored samples, the board's tile, class summaries
    MORNING = "morning"  # morning HRV readings
    WELLNESS = "wellness"  # the wellness and mood check-in
    STRENGTH = "strength"  # the strength log
    GRAFANA = "grafana"  # a shared Grafana dashboard of her data


DOMAINS: tuple[Domain, ...] = tuple(Domain)


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


def record_all(conn: sqlite3.Connection, athlete_id: int, by_whom: str) -> None:
    """Every domain given, stamped now: only for made-up guests (``gympulse demo``)."""
    now = contract.now_ms()
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
