"""Identity: who wore which strap when, and re-applying a corrected assignment."""

from __future__ import annotations

from pathlib import Path

from gympulse.pipeline.assignments import reapply
from gympulse.pipeline.domain import Athlete, strap_label
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore


def test_resolver_follows_assignments_over_time(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    anna = reg.add_athlete("Anna")
    bram = reg.add_athlete("Bram")
    reg.assign("strap-12", anna, 1000, 2000)
    reg.assign("strap-12", bram, 5000)
    r = reg.resolver()
    assert r.athlete_at("strap-12", 999) is None
    assert r.athlete_at("strap-12", 1000) == anna
    assert r.athlete_at("strap-12", 1999) == anna
    assert r.athlete_at("strap-12", 2000) is None  # end is exclusive
    assert r.athlete_at("strap-12", 10**12) == bram
    assert r.athlete_at("strap-3", 1500) is None
    # A new open assignment ends the running one: straps are handed on.
    eva = reg.add_athlete("Eva")
    reg.assign("strap-12", eva, 8000)
    r = reg.resolver()
    assert r.athlete_at("strap-12", 7999) == bram
    assert r.athlete_at("strap-12", 8000) == eva
    assert strap_label("strap-12") == "strap 12"


def test_effective_hr_max_is_measured_else_tanaka() -> None:
    measured = Athlete(1, "A", 1990, "male", 80.0, 195, 50)
    assert measured.effective_hr_max(2026) == 195
    estimated = Athlete(2, "B", 1986, "female", 60.0, None, 55)
    assert estimated.effective_hr_max(2026) == 208 - 0.7 * 40


async def test_a_corrected_assignment_is_reapplied_to_stored_samples(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    reg = Registry(db)
    store = SqliteStore(db)
    await store.open()
    anna = reg.add_athlete("Anna", hr_max=200)
    bram = reg.add_athlete("Bram", hr_max=160)
    reg.assign("strap-12", anna, 0)
    resolver = reg.resolver()
    samples = [
        StoredSample(
            "s", "c", "strap-12", ts, ts, 100, (), True, None, resolver.athlete_at("strap-12", ts)
        )
        for ts in range(0, 10_000, 1000)
    ]
    await store.write(WriteBatch(samples=samples))
    # Bram actually wore it from t=5000 on.
    reg.assign("strap-12", bram, 5000)
    changed = await reapply(reg, store, "strap-12", 0, 10_000)
    assert changed == 5
    frame = await store.query_samples(0, 10_000)
    by_ts = dict(zip(frame["ts"].to_list(), frame["athlete_id"].to_list(), strict=True))
    assert [by_ts[t] for t in range(0, 10_000, 1000)] == [anna] * 5 + [bram] * 5
    # Bram's samples now carry his %HRmax: 100 bpm of 160 = 62.5 % -> 63 (half up), zone 2.
    stamps = {r[0]: r[1:] for r in await store.execute("SELECT ts, pct_max, zone FROM samples")}
    assert stamps[6000] == (63, 2)
    assert await reapply(reg, store, "strap-12", 0, 10_000) == 0  # idempotent
    await store.close()
