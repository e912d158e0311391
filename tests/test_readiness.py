"""Baseline states, flag directions and the daily status on worked examples: an improving
guest, a declining guest and a new guest, with the numbers computed by hand.

Each long-stay guest has 45 consecutive mornings: 40 alternating 4.0 / 4.2 (ln RMSSD) and
55 / 57 bpm (resting HR), then 5 mornings that move away from that.

Declining guest, last 5 mornings ln RMSSD 3.6 and resting HR 63:
- ln RMSSD: mean = (20·4.0 + 20·4.2 + 5·3.6) / 45 = 182 / 45 = 4.04444;
  Σx² = 20·16 + 20·17.64 + 5·12.96 = 737.6; SD² = (737.6 − 182²/45) / 44 = 0.0343434,
  SD = 0.185320; range [3.85912, 4.22976]; 7-day mean = (4.0 + 4.2 + 5·3.6) / 7 = 3.74286,
  below the range: a concern.
- resting HR: mean = (20·55 + 20·57 + 5·63) / 45 = 2555 / 45 = 56.7778;
  Σx² = 20·3025 + 20·3249 + 5·3969 = 145325; SD² = (145325 − 2555²/45) / 44 = 5.85859,
  SD = 2.42045; range [54.3573, 59.1982]; 7-day mean = (55 + 57 + 5·63) / 7 = 61, above the
  range: a concern.

Improving guest, last 5 mornings ln RMSSD 4.6 and resting HR 51:
- ln RMSSD: mean = 187 / 45 = 4.15556; Σx² = 672.8 + 5·21.16 = 778.6;
  SD² = (778.6 − 187²/45) / 44 = 0.0343434 (the same SD); range [3.97024, 4.34088];
  7-day mean = (4.0 + 4.2 + 5·4.6) / 7 = 4.45714, above: a good sign.
- resting HR: mean = 2495 / 45 = 55.4444; Σx² = 125480 + 5·2601 = 138485;
  SD² = (138485 − 2495²/45) / 44 = 3.43434, SD = 1.85320; range [53.5912, 57.2976];
  7-day mean = (55 + 57 + 5·51) / 7 = 52.4286, below: a good sign.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from gympulse.pipeline.analytics.daily import baselines
from gympulse.pipeline.analytics.readiness import attention_key, daily_status, measure_range

DAY0 = dt.date(2026, 1, 1)


def _rows(hrv: list[float], rest: list[float]) -> list[dict[str, object]]:
    readings = pl.DataFrame(
        {
            "athlete_id": [1] * len(hrv),
            "date": [DAY0 + dt.timedelta(days=i) for i in range(len(hrv))],
            "ln_rmssd": hrv,
            "hr_rest": rest,
        }
    )
    metrics = pl.DataFrame(
        schema={"athlete_id": pl.Int64, "date": pl.Date, "acwr_ewma": pl.Float64,
                "tsb": pl.Float64}
    )  # fmt: skip
    return baselines(readings, metrics, 0).sort("date").to_dicts()


DECLINING = _rows([4.0, 4.2] * 20 + [3.6] * 5, [55.0, 57.0] * 20 + [63.0] * 5)
IMPROVING = _rows([4.0, 4.2] * 20 + [4.6] * 5, [55.0, 57.0] * 20 + [51.0] * 5)
NEW = _rows([4.1, 3.9, 4.3], [58.0, 60.0, 59.0])


def test_declining_guest() -> None:
    hrv = measure_range(DECLINING, "ln_rmssd")
    assert hrv.mean == pytest.approx(182 / 45)
    assert hrv.sd == pytest.approx(0.0343434**0.5, rel=1e-5)
    assert hrv.roll7 == pytest.approx(3.742857, rel=1e-6)
    assert (hrv.state, hrv.readings) == ("below", 45)
    rest = measure_range(DECLINING, "hr_rest")
    assert rest.mean == pytest.approx(2555 / 45)
    assert rest.sd == pytest.approx(5.85859**0.5, rel=1e-5)
    assert rest.roll7 == pytest.approx(61.0)
    assert rest.state == "above"
    assert DECLINING[-1]["flag_hrv"] is True and DECLINING[-1]["flag_hr_rest"] is True
    status = daily_status(DECLINING)
    assert status.reasons == ("hrv_below", "hr_rest_above")
    assert (status.level, status.score) == ("rest", 4)


def test_improving_guest_has_good_signs_not_flags() -> None:
    hrv = measure_range(IMPROVING, "ln_rmssd")
    assert hrv.mean == pytest.approx(187 / 45)
    assert hrv.roll7 == pytest.approx(4.457143, rel=1e-6)
    assert hrv.state == "above"
    rest = measure_range(IMPROVING, "hr_rest")
    assert rest.sd == pytest.approx(3.43434**0.5, rel=1e-5)
    assert rest.roll7 == pytest.approx(52.428571, rel=1e-6)
    assert rest.state == "below"
    # Directional flags: leaving the range the good way raises none.
    assert IMPROVING[-1]["flag_hrv"] is False and IMPROVING[-1]["flag_hr_rest"] is False
    assert IMPROVING[-1]["flags"] == ""
    status = daily_status(IMPROVING)
    assert status.reasons == ("hrv_above", "hr_rest_below")
    assert (status.level, status.score) == ("good", -2)


def test_new_guest_is_building_never_normal() -> None:
    status = daily_status(NEW)
    assert (status.level, status.readings, status.score) == ("building", 3, 0)
    assert status.hrv.state == "building" and status.hr_rest.state == "building"
    assert NEW[-1]["ln_rmssd_mean60"] is None
    # The 7th morning makes the baseline: the state is a judgment from then on.
    seven = _rows([4.1, 3.9, 4.3, 4.0, 4.2, 4.1, 4.1], [58.0, 60.0, 59.0, 59.0, 58.0, 60.0, 59.0])
    assert measure_range(seven, "ln_rmssd").state == "normal"
    assert daily_status(seven).level == "ok"
    assert daily_status([]).level == "building"


def test_wellness_and_rpe_join_the_status_with_reasons() -> None:
    low = {"sleep": 1, "stress": 3, "mood": 3, "energy": 2, "soreness": 3}  # total 12, a 1
    status = daily_status(NEW, wellness=low, last_rpe=9.0)
    assert status.reasons == ("wellness_low", "hard_session")
    assert (status.level, status.score) == ("watch", 2)
    assert status.details == {"wellness_total": 12, "last_rpe": 9.0}
    fine = {"sleep": 4, "stress": 4, "mood": 4, "energy": 4, "soreness": 4}
    assert daily_status(DECLINING, wellness=fine, last_rpe=4.0).level == "rest"
    # An improving guest who slept badly after a hard session: the concerns are listed, the
    # good signs outweigh them.
    mixed = daily_status(IMPROVING, wellness=low, last_rpe=9.0)
    assert mixed.reasons == ("wellness_low", "hard_session", "hrv_above", "hr_rest_below")
    assert (mixed.level, mixed.score) == ("ok", 0)


def test_squad_order_puts_the_declining_guest_first() -> None:
    statuses = {
        "Anna (improving)": daily_status(IMPROVING),
        "Bram (new)": daily_status(NEW),
        "Zoe (declining)": daily_status(DECLINING),
        "Carla (new, slept badly)": daily_status(
            NEW, wellness={"sleep": 1, "stress": 2, "mood": 2, "energy": 2, "soreness": 3}
        ),
    }
    order = sorted(statuses, key=lambda n: attention_key(statuses[n], n))
    assert order == ["Zoe (declining)", "Carla (new, slept badly)", "Bram (new)",
                     "Anna (improving)"]  # fmt: skip


def test_a_very_low_mood_is_care_and_comes_first() -> None:
    very_low = {"sleep": 4, "stress": 4, "mood": 1, "energy": 4, "soreness": 4}  # total 17
    status = daily_status(IMPROVING, wellness=very_low)
    assert status.care and status.reasons[0] == "mood_very_low"
    assert "wellness_low" in status.reasons  # an answer of 1, as before
    low = {"sleep": 1, "stress": 2, "mood": 2, "energy": 2, "soreness": 3}
    assert not daily_status(NEW, wellness=low).care  # low, but not "very low" mood
    statuses = {"Zoe (declining)": daily_status(DECLINING), "Anna (mood 1)": status}
    order = sorted(statuses, key=lambda n: attention_key(statuses[n], n))
    assert order == ["Anna (mood 1)", "Zoe (declining)"]  # above 4 attention points


def test_one_outlier_does_not_widen_the_normal_range() -> None:
    """29 steady mornings (55 / 57 bpm, ln RMSSD 4.0 / 4.2) and, on day 21, one reading
    taken while moving (158 bpm, ln RMSSD 1.95): the range is that of the 29 others
    (mean ± SD computed here by hand with statistics), not 34–79 bpm."""
    import statistics

    hrv, rest = [4.0, 4.2] * 15, [55.0, 57.0] * 15
    hrv[20], rest[20] = 1.95, 158.0
    last = _rows(hrv, rest)[-1]
    clean_rest = rest[:20] + rest[21:]
    clean_hrv = hrv[:20] + hrv[21:]
    assert last["hr_rest_mean60"] == pytest.approx(statistics.fmean(clean_rest))
    assert last["hr_rest_sd60"] == pytest.approx(statistics.stdev(clean_rest))
    assert last["ln_rmssd_mean60"] == pytest.approx(statistics.fmean(clean_hrv))
    assert last["ln_rmssd_sd60"] == pytest.approx(statistics.stdev(clean_hrv))
