"""TRIMP, sRPE and the daily performance model against the published definitions.

Expected values are written out as arithmetic on the published constants (Morton 1990,
GoldenCheetah's PMC, Williams 2017, Foster 1998) and the one seeding rule (the weighted mean
of the days so far, pipeline/analytics/load.py), or computed with the standard library,
never taken from the code under test."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import polars as pl
import pytest

from gympulse.pipeline.analytics.load import banister_trimp, edwards_trimp, performance, srpe_load

D0 = dt.date(2024, 1, 1)


def _daily(loads: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [D0 + dt.timedelta(days=i) for i in range(len(loads))], "load": loads}
    )


def test_banister_trimp_morton_1990_coefficients() -> None:
    # 60 min at HRavg 150, HRrest 60, HRmax 190: x = 90/130.
    x = 90 / 130
    assert banister_trimp(60, 150, 60, 190, "male") == pytest.approx(
        60 * x * 0.64 * math.exp(1.92 * x)
    )
    assert banister_trimp(60, 150, 60, 190, "female") == pytest.approx(
        60 * x * 0.86 * math.exp(1.67 * x)
    )
    # x = 0.5 exactly: 30 · 0.5 · 0.64 · e^0.96 = 9.6 · 2.6116965 = 25.07229
    assert banister_trimp(30, 125, 60, 190, "male") == pytest.approx(25.07229, abs=1e-4)
    # Unknown sex: the mean of the two published variants.
    assert banister_trimp(30, 125, 60, 190, None) == pytest.approx(
        (30 * 0.5 * 0.64 * math.exp(0.96) + 30 * 0.5 * 0.86 * math.exp(0.835)) / 2
    )


def test_banister_trimp_edge_cases() -> None:
    assert banister_trimp(60, 55, 60, 190, "male") == 0.0  # HRavg below resting
    assert banister_trimp(60, 60, 60, 190, "female") == 0.0  # equal to resting
    assert banister_trimp(0, 150, 60, 190, "male") == 0.0
    at_max = banister_trimp(10, 190, 60, 190, "male")
    assert at_max == pytest.approx(10 * 0.64 * math.exp(1.92))
    assert banister_trimp(10, 200, 60, 190, "male") > at_max  # above HRmax: not capped
    with pytest.raises(ValueError):
        banister_trimp(10, 150, 190, 190, "male")
    with pytest.raises(ValueError):
        banister_trimp(10, 150, 60, 190, "other")


def test_edwards_trimp_weights_minutes_by_zone() -> None:
    # HRmax 200: 10 min at 55 % (zone 1), 10 at 75 % (3), 10 at 95 % (5), 5 at 40 % (0),
    # 1 min above HRmax (5): 10·1 + 10·3 + 10·5 + 0 + 1·5 = 95.
    bpm = [110] * 600 + [150] * 600 + [190] * 600 + [80] * 300 + [205] * 60
    assert edwards_trimp(bpm, 1.0, 200) == pytest.approx(95.0)
    assert edwards_trimp([], 1.0, 200) == 0.0


def test_srpe_load_foster_2001() -> None:
    assert srpe_load(7, 60) == 420
    assert srpe_load(0, 30) == 0
    with pytest.raises(ValueError):
        srpe_load(11, 60)


def _weighted(loads: list[float], k: float) -> list[float]:
    """The renormalised exponentially weighted mean of the days so far, written out."""
    out = []
    for t in range(len(loads)):
        weights = [(1 - k) ** (t - i) for i in range(t + 1)]
        out.append(sum(w * x for w, x in zip(weights, loads, strict=False)) / sum(weights))
    return out


K_CTL, K_ATL = 1 - math.exp(-1 / 42), 1 - math.exp(-1 / 7)


def test_one_seeding_rule_a_constant_load_reads_steady_from_the_first_shown_day() -> None:
    # A constant load L: CTL = ATL = L, TSB 0 and ACWR 1 as soon as each is shown (a zero
    # seed made every newcomer "fatigued"; a first-day seed gave ACWR 1.00 on day 1).
    out = performance(_daily([50.0] * 60))
    assert out["history_days"].to_list() == list(range(1, 61))
    assert out["atl"][:6].is_null().all() and out["atl"][6] == pytest.approx(50.0)
    assert out["acwr_ewma"][:27].is_null().all() and out["acwr_rolling"][:27].is_null().all()
    assert out["acwr_ewma"][27] == pytest.approx(1.0)
    assert out["acwr_rolling"][27] == pytest.approx(1.0)
    assert out["ctl"][:41].is_null().all() and out["ctl"][41] == pytest.approx(50.0)
    assert out["tsb"][:42].is_null().all() and out["tsb"][42] == pytest.approx(0.0)


def test_pmc_is_the_weighted_mean_of_the_days_so_far() -> None:
    # One load of 100 on day 0, then rest: X_t = 100 · (1 − k)^t · k / (1 − (1 − k)^(t+1)).
    out = performance(_daily([100.0] + [0.0] * 59))
    for t in (6, 10, 59):
        expect = 100 * (1 - K_ATL) ** t * K_ATL / (1 - (1 - K_ATL) ** (t + 1))
        assert out["atl"][t] == pytest.approx(expect)
    for t in (41, 59):
        expect = 100 * (1 - K_CTL) ** t * K_CTL / (1 - (1 - K_CTL) ** (t + 1))
        assert out["ctl"][t] == pytest.approx(expect)
    # Form on day t is yesterday's fitness minus yesterday's fatigue.
    assert out["tsb"][50] == pytest.approx(out["ctl"][49] - out["atl"][49])
    loads = [float((i * 37) % 130) for i in range(90)]
    out = performance(_daily(loads))
    assert out["ctl"].to_list()[41:] == pytest.approx(_weighted(loads, K_CTL)[41:])
    assert out["atl"].to_list()[6:] == pytest.approx(_weighted(loads, K_ATL)[6:])


def test_a_long_history_agrees_with_goldencheetah() -> None:
    # GoldenCheetah's PMC, X_t = X_{t−1} + (L_t − X_{t−1}) · k seeded at 0: after a year the
    # seed's weight (1 − k)^(t+1) is gone and the two agree.
    loads = [float((i * 53) % 170) for i in range(400)]
    gc = 0.0
    for x in loads:
        gc += (x - gc) * K_CTL
    assert performance(_daily(loads))["ctl"][399] == pytest.approx(gc, rel=1e-4)


def test_a_steady_routine_reads_steady_form_and_ratio() -> None:
    # Seven weeks of the same week (5 sessions): form near 0, ACWR near 1 — not "fatigued"
    # with an "undertrained" ratio, as the old seeds made every guest.
    week = [100.0, 0.0, 120.0, 80.0, 0.0, 150.0, 0.0]
    out = performance(_daily(week * 7)).tail(7)
    assert abs(statistics.fmean(out["tsb"].to_list())) < 5
    assert out["acwr_rolling"].to_list() == pytest.approx([1.0] * 7)
    assert all(0.8 < v < 1.2 for v in out["acwr_ewma"].to_list())


def test_acwr_ewma_williams_2017() -> None:
    # λa = 2/8, λc = 2/29, each the weighted mean of the days so far.
    loads = [float((i * 29) % 110) for i in range(40)]
    out = performance(_daily(loads))
    acute, chronic = _weighted(loads, 2 / 8), _weighted(loads, 2 / 29)
    for t in (27, 33, 39):
        assert out["acwr_ewma"][t] == pytest.approx(acute[t] / chronic[t])


def test_acwr_rolling_coupled_from_day_28() -> None:
    loads = [float(i % 5 * 20) for i in range(40)]
    out = performance(_daily(loads))
    assert out["acwr_rolling"][:27].is_null().all()
    for t in (27, 39):
        expect = statistics.fmean(loads[t - 6 : t + 1]) / statistics.fmean(loads[t - 27 : t + 1])
        assert out["acwr_rolling"][t] == pytest.approx(expect)


def test_monotony_and_strain_foster_1998() -> None:
    week = [300.0, 0.0, 450.0, 300.0, 0.0, 600.0, 200.0]
    out = performance(_daily(week))
    monotony = statistics.fmean(week) / statistics.pstdev(week)
    assert out["monotony"][:6].is_null().all()
    assert out["monotony"][6] == pytest.approx(monotony)
    assert out["strain"][6] == pytest.approx(sum(week) * monotony)


def test_constant_load_monotony_is_undefined_not_a_crash() -> None:
    out = performance(_daily([80.0] * 30))
    assert out["monotony"].is_null().all()
    assert out["strain"].is_null().all()
    assert out["acwr_ewma"][29] == pytest.approx(1.0)


def test_days_without_training_are_filled_with_zero() -> None:
    daily = pl.DataFrame({"date": [D0, D0 + dt.timedelta(days=9)], "load": [100.0, 40.0]})
    out = performance(daily)
    assert out.height == 10
    assert out["load"].to_list() == [100.0] + [0.0] * 8 + [40.0]
    assert out["atl"][9] == pytest.approx(_weighted(out["load"].to_list(), K_ATL)[9])
    # No training at all: chronic load 0, every ratio undefined.
    rest = performance(_daily([0.0] * 50))
    assert rest["acwr_ewma"].is_null().all() and rest["acwr_rolling"].is_null().all()
    assert (rest["ctl"][41:] == 0).all()


def test_performance_per_group_and_empty() -> None:
    a = _daily([100.0] + [0.0] * 9).with_columns(athlete_id=pl.lit(1))
    b = _daily([0.0] * 5 + [60.0]).with_columns(athlete_id=pl.lit(2))
    out = performance(pl.concat([a, b]), by=["athlete_id"])
    one = out.filter(pl.col("athlete_id") == 1)
    two = out.filter(pl.col("athlete_id") == 2)
    assert one.height == 10 and two.height == 6
    assert one["atl"][9] == pytest.approx(_weighted([100.0] + [0.0] * 9, K_ATL)[9])
    assert two["history_days"][5] == 6 and two["atl"][5] is None  # its own history
    empty = performance(pl.DataFrame(schema={"date": pl.Date, "load": pl.Float64}))
    assert empty.is_empty() and "ctl" in empty.columns
