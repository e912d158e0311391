"""HRR60 (end of exercise of a detected workout, plausibility) and samples without skin
contact, on worked examples: every expected value is arithmetic on the series below.

The athlete: HRmax 190, resting HR 60 (reserve 130), female, 60 kg, 34 years. Detection
threshold 60 + 20 % · 130 = 86 bpm; moderate intensity from 60 + 40 % · 130 = 112 bpm."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
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


def test_end_of_exercise_is_the_onset_of_the_last_decay() -> None:
    # 10 s at 150, then −2 bpm a second from 148 (t = 10) down to 100 (t = 34), then 100.
    t = list(range(60))
    bpm = [150] * 10 + [150 - 2 * (i + 1) for i in range(25)] + [100] * 25
    # The decay starts after t = 9, the last 150.
    assert recovery.end_of_exercise(t, bpm, 112.0) == (9, 150.0)
    # One beat's spike inside the effort moves nothing (the median of 5 ignores it).
    bpm2 = [*bpm[:5], 175, *bpm[6:]]
    assert recovery.end_of_exercise(t, bpm2, 112.0) == (9, 150.0)
    # 40 s at 150 after a harder effort at 175: the end is the last effort's (longer than
    # half a minute: the median of the minute before it is 150), not the higher peak.
    bpm3 = [175] * 30 + [150] * 40 + [150 - 2 * (i + 1) for i in range(25)] + [100] * 25
    assert recovery.end_of_exercise(range(len(bpm3)), bpm3, 112.0) == (69, 150.0)
    # A recovery that stays above moderate for minutes: 172 bpm toward 95 (time constant
    # 70 s) never falls below 112 until t = 114 s after the end; the end is still found at
    # its onset: t = 120, 171 bpm, the first second of the fall (1 bpm: within the rule's
    # tolerance), not t = 180 as before.
    rec = [round(95 + 77 * math.exp(-i / 70)) for i in range(300)]
    bpm4 = [172] * 120 + rec[1:]
    assert recovery.end_of_exercise(range(len(bpm4)), bpm4, 112.0) == (120, 171.0)
    # Never moderate: no end of exercise.
    assert recovery.end_of_exercise(t, [100] * 60, 112.0) is None


TAUS_S = (30.0, 45.0, 70.0, 90.0, 120.0)
REST_LEVELS = (60.0, 95.0)
PEAKS = (150.0, 165.0, 172.0, 185.0)


def _workout(peak: float, rest_level: float, tau: float, seed: int) -> list[int]:
    """5-min warm-up from 90 bpm, 15 min at ``peak`` with a beat-to-beat wobble (SD 1 bpm),
    then 10 min of exponential recovery toward ``rest_level`` with time constant ``tau``
    (SD 0.4 bpm), all rounded to whole bpm as a strap sends them. The end of exercise is
    t = 1199 s; the true HRR60 is (peak − rest_level)·(1 − e^(−60/tau))."""
    rng = np.random.default_rng(seed)
    warm = np.linspace(90.0, peak, 300)
    effort = peak + rng.normal(0.0, 1.0, 900)
    s = np.arange(1, 601)
    recovery_ = rest_level + (peak - rest_level) * np.exp(-s / tau) + rng.normal(0.0, 0.4, 600)
    return [int(v) for v in np.round(np.concatenate([warm, effort, recovery_]))]


@pytest.mark.parametrize("tau", TAUS_S)
@pytest.mark.parametrize("rest_level", REST_LEVELS)
def test_hrr60_of_synthetic_recoveries_is_within_2_bpm(tau: float, rest_level: float) -> None:
    # The athlete's resting HR is 60 (moderate from 112): toward 95 bpm the recovery stays
    # above moderate for 0.5–2.5 min, the case the old rule (peak before the last moderate
    # sample) got wrong by 10–40 bpm.
    for peak in PEAKS:
        for seed in range(3):
            bpm = _workout(peak, rest_level, tau, seed)
            row = _one(_frame(bpm))
            true = (peak - rest_level) * (1 - math.exp(-60.0 / tau))
            assert row["hrr60_note"] is None, (peak, seed)
            assert row["hrr60"] == pytest.approx(true, abs=2.0), (peak, seed)
            end = row["exercise_end_ms"]
            assert isinstance(end, int) and abs(end - (T0 + 1199 * 1000)) <= 5000


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
    # then 100 for 10 min. The first second of the decline (149) is within the rule's 1 bpm
    # of the effort, the second (148) is not: the end is t = 1200.
    bpm = [150] * 1200 + [149 - i for i in range(50)] + [100] * 600
    row = _one(_frame(bpm))
    assert row["exercise_end_ms"] == T0 + 1200 * 1000
    assert row["hrr60"] == 49.0  # 149 at t = 1200, 100 at t = 1260


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
