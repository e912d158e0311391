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
    frame = athlete_frame([ANNA], [age_year(NEW_YEAR)])
    assert frame["hr_max"][0] == pytest.approx(tanaka_2026)


def test_a_session_counts_in_the_year_it_started() -> None:
    """Two workouts of Anna, one ending just before New Year (UTC), one just after, in one
    analytics run: each session's HRmax (and so its zones) is that of its own year — the
    run once took the year of "now" for every session in its window."""
    import polars as pl

    from gympulse.pipeline.analytics.sessions import summarize, utc_year
    from gympulse.pipeline.stores.base import SAMPLE_COLUMNS

    def workout(start: int) -> list[dict[str, object]]:
        return [
            {"sensor": "strap-1", "athlete_id": ANNA.id, "ts": start + k * 1000, "bpm": 165,
             "rr_ms": [], "contact": True}
            for k in range(20 * 60)
        ]  # fmt: skip

    before = NEW_YEARS_EVE - 30 * 60_000  # 23:30 on 31 December
    after = NEW_YEAR + 6 * 3_600_000  # 06:00 on 1 January
    samples = pl.DataFrame(workout(before) + workout(after), schema=dict(SAMPLE_COLUMNS))
    frame = athlete_frame([ANNA], [2025, 2026])
    summary = summarize(samples, frame)
    refs = dict(zip(summary["start_ms"].to_list(), summary["hr_max_ref"].to_list(), strict=True))
    assert refs == {
        before: pytest.approx(ANNA.hr_max_at(before)),
        after: pytest.approx(ANNA.hr_max_at(after)),
    }
    assert refs[before] != pytest.approx(refs[after])
    years = pl.DataFrame({"ts": [NEW_YEARS_EVE, NEW_YEAR, 0]}).select(utc_year(pl.col("ts")))
    assert years["ts"].to_list() == [age_year(NEW_YEARS_EVE), age_year(NEW_YEAR), age_year(0)]
