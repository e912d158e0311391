"""HRR60 (end of exercise of a detected workout, plausibility) and samples without skin
contact, on worked examples: every expected value is arithmetic on the series below.

The athlete: HRmax 190, resting HR 60 (reserve 130), female, 60 kg, 34 years. Detection
threshold 60 + 20 % · 130 = 86 bpm; moderate intensity from 60 + 40 % · 130 = 112 bpm."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest

from gympulse.pipeline.analytics import recovery, sessions

T0 = 1_700_000_000_000


def _athletes() -> pl.DataFrame:
    return pl.DataFrame(
        [{"athlete_id": 1, "hr_max": 190.0, "hr_rest": 60.0, "sex": "female",
          "weight_kg": 60.0, "age": 34.0}],
        schema=sessions.athlete_schema(),
    )  # fmt: skip


def _frame(bpm: list[int], contact: Sequence[bool | None] | None = None) -> pl.DataFrame:
    """One sample per second from T0, RR = 60000 / bpm."""
    n = len(bpm)
    return pl.DataFrame(
        {
            "sensor": ["s1"] * n,
            "athlete_id": [1] * n,
            "ts": [T0 + i * 1000 for i in range(n)],
            "bpm": bpm,
            "rr_ms": [[round(60000 / b)] for b in bpm],
            "contact": list(contact) if contact is not None else [True] * n,
        },
        schema={
            "sensor": pl.String,
            "athlete_id": pl.Int64,
            "ts": pl.Int64,
            "bpm": pl.Int32,
            "rr_ms": pl.List(pl.Int32),
            "contact": pl.Boolean,
        },
    )


def _one(frame: pl.DataFrame, classes: pl.DataFrame | None = None) -> dict[str, object]:
    summary = sessions.summarize(frame, _athletes(), classes)
    assert summary.height == 1
    return summary.row(0, named=True)


# ------------------------------------------------------------------ pure functions


def test_moderate_threshold_is_40_percent_of_the_reserve() -> None:
    assert recovery.moderate_threshold(60, 190) == pytest.approx(112.0)


def test_end_of_exercise_is_the_peak_before_the_last_moderate_sample() -> None:
    # 10 s at 150, then −2 bpm a second from 148 (t = 10) down to 100 (t = 34), then 100.
    t = list(range(60))
    bpm = [150] * 10 + [150 - 2 * (i + 1) for i in range(25)] + [100] * 25
    # Last sample ≥ 112: t = 28 (150 − 2·19 = 112). The peak of the 60 s before it: 150,
    # latest at t = 9.
    assert bpm[28] == 112 and bpm[29] == 110
    assert recovery.end_of_exercise(t, bpm, 112.0) == 9
    # A later, higher peak within the window wins.
    bpm2 = [*bpm[:5], 160, *bpm[6:]]
    assert recovery.end_of_exercise(t, bpm2, 112.0) == 5
    # The window is 60 s: a peak 61 s before the last moderate sample does not count.
    t3 = [0, 61, 62]
    assert recovery.end_of_exercise(t3, [170, 130, 120], 112.0) == 1
    # Never moderate: no end of exercise.
    assert recovery.end_of_exercise(t, [100] * 60, 112.0) is None


def test_checked_hrr60_keeps_only_plausible_drops() -> None:
    assert recovery.checked_hrr60(150.0, 100.0, 60.0) == (50.0, None)
    assert recovery.checked_hrr60(150.0, 150.0, 60.0) == (0.0, None)
    assert recovery.checked_hrr60(120.0, 153.0, 60.0) == (None, recovery.ROSE)
    assert recovery.checked_hrr60(150.0, 55.0, 60.0) == (None, recovery.BELOW_REST)
    assert recovery.checked_hrr60(150.0, None, 60.0) == (None, recovery.NO_SIGNAL)
    assert recovery.checked_hrr60(None, 100.0, 60.0) == (None, recovery.NO_SIGNAL)


# ------------------------------------------------------------------ through summarize


def test_detected_workout_hrr60_is_measured_from_the_end_of_exercise() -> None:
    # 20 min at 150, a 3-min cool-down walk at 100 (above the 86 bpm detection threshold,
    # so still in the session, below moderate), then 5 min sitting at 70 with the strap on.
    bpm = [150] * 1200 + [100] * 180 + [70] * 300
    row = _one(_frame(bpm))
    assert row["end_ms"] == T0 + 1379 * 1000  # the session runs to the end of the walk
    # End of exercise: the last 150 sample (t = 1199); 60 s later (t = 1259) the walk, 100.
    assert row["exercise_end_ms"] == T0 + 1199 * 1000
    assert row["hrr60"] == 50.0 and row["hrr60_note"] is None


def test_detected_workout_hrr60_with_a_gradual_decline() -> None:
    # 150 until t = 1199, then −1 bpm a second (149 at t = 1200) down to 100 (t = 1249),
    # then 100 for 10 min. Last ≥ 112: t = 1237; the peak of its minute is 150 at t = 1199.
    bpm = [150] * 1200 + [149 - i for i in range(50)] + [100] * 600
    row = _one(_frame(bpm))
    assert row["exercise_end_ms"] == T0 + 1199 * 1000
    assert row["hrr60"] == 50.0  # 150 at t = 1199, 100 at t = 1259


def test_light_workout_has_no_hrr60_and_says_why() -> None:
    row = _one(_frame([100] * 900 + [70] * 120))  # 15 min above 86 but below 112
    assert row["hrr60"] is None and row["hrr60_note"] == recovery.LIGHT
    assert row["exercise_end_ms"] is None


def test_strap_taken_off_after_the_workout_is_no_signal() -> None:
    # 15 min at 150, then the strap lies on the bench: no contact, 0-ish readings.
    bpm = [150] * 900 + [40] * 120
    row = _one(_frame(bpm, [True] * 900 + [False] * 120))
    assert row["hrr60"] is None and row["hrr60_note"] == recovery.NO_SIGNAL


def _class(start_s: int, end_s: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"class_id": [7], "start_ms": [T0 + start_s * 1000], "end_ms": [T0 + end_s * 1000]}
    )


def test_negative_hrr60_is_no_value_with_a_reason() -> None:
    # A 5-min class at 120; afterwards the guest goes on running at 153: HR rose by 33.
    row = _one(_frame([120] * 300 + [153] * 120), _class(0, 300))
    assert row["kind"] == "class" and row["end_ms"] == T0 + 299 * 1000
    assert row["hrr60"] is None and row["hrr60_note"] == recovery.ROSE


def test_hrr60_below_resting_hr_is_implausible() -> None:
    row = _one(_frame([120] * 300 + [50] * 120), _class(0, 300))
    assert row["hrr60"] is None and row["hrr60_note"] == recovery.BELOW_REST
    # The same class with a plausible drop to 90: 30 bpm.
    row = _one(_frame([120] * 300 + [90] * 120), _class(0, 300))
    assert row["hrr60"] == 30.0 and row["hrr60_note"] is None


def test_samples_without_contact_count_nowhere() -> None:
    # 20 min at 150 with contact, except minute 10 (t = 600..659): contact lost, the strap
    # reports 170 (zone 4). Without contact those 60 s are no signal, like a drop-out.
    bpm = [150] * 600 + [170] * 60 + [150] * 540
    contact: list[bool | None] = [True] * 600 + [False] * 60 + [None] * 540  # None = unknown
    row = _one(_frame(bpm, contact))
    kcal_150 = (-20.4022 + 0.4472 * 150 - 0.1263 * 60 + 0.074 * 34) / 4.184
    assert row["n_samples"] == 1140
    assert row["hr_avg"] == 150.0 and row["hr_max"] == 150
    # 150 / 190 = 79 %: zone 3 for all 1140 s; nothing in zone 4.
    assert row["zone3_s"] == 1140 and row["zone4_s"] == 0
    assert row["trimp_edwards"] == pytest.approx(1140 * 3 / 60)
    assert row["points"] == pytest.approx(1140 * 3 / 60)
    assert row["kcal"] == pytest.approx(1140 * kcal_150 / 60)
    # Banister on the session's span (t = 0..1199, a lost minute is a gap in it) at 150.
    x = (150 - 60) / 130
    assert row["trimp_banister"] == pytest.approx(
        1199 / 60 * x * 0.86 * 2.718281828459045 ** (1.67 * x)
    )
    # The RR series holds only the contact samples' 400 ms intervals: RMSSD 0.
    assert row["n_rr"] == 1140 and row["rmssd"] == 0.0


def test_a_run_without_contact_is_not_a_workout() -> None:
    frame = _frame([150] * 900, [False] * 900)
    assert sessions.summarize(frame, _athletes()).is_empty()
