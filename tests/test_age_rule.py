"""One rule for a person's age (issue 20 item 7): the UTC calendar year of the moment the
heart rate was measured (pipeline/domain.py ``age_year``), used alike by ingestion's
%HRmax stamp, analytics' session parameters and the pages' HRmax — so a sample just
before and just after New Year (UTC) get the ages of their own years everywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gympulse.pipeline.analytics.sessions import athlete_frame
from gympulse.pipeline.domain import Athlete, age_year
from gympulse.pipeline.ingest import Snapshot
from gympulse.pipeline.registry import Registry


def _ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp() * 1000)


NEW_YEARS_EVE = _ms("2025-12-31T23:59:59")
NEW_YEAR = _ms("2026-01-01T00:00:00")
ANNA = Athlete(1, "Anna", 1990, "female", 60.0, None, 58)


def test_the_year_is_the_utc_year_of_the_moment() -> None:
    assert age_year(NEW_YEARS_EVE) == 2025
    assert age_year(NEW_YEAR) == 2026
    assert age_year(0) == 1970
    assert ANNA.age_at(NEW_YEARS_EVE) == 35 and ANNA.age_at(NEW_YEAR) == 36


def test_ingestion_analytics_and_pages_agree(tmp_path: Path) -> None:
    tanaka_2025, tanaka_2026 = 208 - 0.7 * 35, 208 - 0.7 * 36
    assert ANNA.hr_max_at(NEW_YEARS_EVE) == pytest.approx(tanaka_2025)
    assert ANNA.hr_max_at(NEW_YEAR) == pytest.approx(tanaka_2026)
    registry = Registry(tmp_path / "gympulse.db")
    anna = registry.add_athlete("Anna", birth_year=1990, sex="female", hr_rest=58)
    snapshot = Snapshot.of(registry)
    registry.close()
    assert snapshot.hr_max(anna, NEW_YEARS_EVE) == pytest.approx(tanaka_2025)
    assert snapshot.hr_max(anna, NEW_YEAR) == pytest.approx(tanaka_2026)
    frame = athlete_frame([ANNA], age_year(NEW_YEAR))
    assert frame["hr_max"][0] == pytest.approx(tanaka_2026)
