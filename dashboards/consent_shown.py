"""The web app's journal and strength log, read under consent: the same files and writes
as :class:`~gympulse.pipeline.journal.Journal` and
:class:`~gympulse.pipeline.strength_log.StrengthLog`, but every read of a person's rows
keeps only the people who consent *now* to that table's domain
(:data:`gympulse.pipeline.consent.SHOWN_WITH`), like :class:`gympulse.dashboards.data.Data`
does for the store. The app's context opens these (``dashboards/web.py``), so the coach's
pages, the squad, "today", the coaches' email and the guest's own pages all read through
them and none can show what a guest withdrew. Her export and erasure read the file
themselves (``pipeline/privacy.py``): her right of access is not a coach's view."""

from __future__ import annotations

from pathlib import Path

from gympulse.pipeline.consent import Policy, ShownCache
from gympulse.pipeline.journal import Journal, MorningRecording, SessionRpe, Wellness
from gympulse.pipeline.strength_log import StrengthLog, StrengthSet

__all__ = ["ShownJournal", "ShownStrength"]


class ShownJournal(Journal):
    def __init__(self, path: str | Path, *, policy: Policy) -> None:
        self.shown = ShownCache(policy)
        super().__init__(path)

    def wellness(
        self, athlete_id: int | None = None, *, updated_since_ms: int = -1
    ) -> list[Wellness]:
        rows = super().wellness(athlete_id, updated_since_ms=updated_since_ms)
        return self.shown.get(self.conn).keep("wellness", rows)

    def session_rpes(
        self, athlete_id: int | None = None, *, updated_since_ms: int = -1
    ) -> list[SessionRpe]:
        rows = super().session_rpes(athlete_id, updated_since_ms=updated_since_ms)
        return self.shown.get(self.conn).keep("session_rpe", rows)

    def morning_recordings(
        self,
        athlete_id: int | None = None,
        *,
        updated_since_ms: int = -1,
        start_ms: int | None = None,
        end_ms: int | None = None,
        status: str | None = None,
    ) -> list[MorningRecording]:
        rows = super().morning_recordings(
            athlete_id,
            updated_since_ms=updated_since_ms,
            start_ms=start_ms,
            end_ms=end_ms,
            status=status,
        )
        return self.shown.get(self.conn).keep("morning_recordings", rows)


class ShownStrength(StrengthLog):
    def __init__(self, path: str | Path, *, policy: Policy) -> None:
        self.shown = ShownCache(policy)
        super().__init__(path)

    def sets(self, athlete_id: int, *, start_ms: int = 0, end_ms: int = 2**62) -> list[StrengthSet]:
        rows = super().sets(athlete_id, start_ms=start_ms, end_ms=end_ms)
        return self.shown.get(self.conn).keep("strength_sets", rows)

    def last_set(self, athlete_id: int, exercise: str) -> StrengthSet | None:
        found = super().last_set(athlete_id, exercise)
        if found is None or not self.shown.get(self.conn).allows(athlete_id, "strength_sets"):
            return None
        return found

    def lift_sets(self, athlete_id: int, exercise: str) -> list[StrengthSet]:
        rows = super().lift_sets(athlete_id, exercise)
        return self.shown.get(self.conn).keep("strength_sets", rows)
