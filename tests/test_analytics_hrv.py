"""HRV time domain and artifact correction on a real RR series (pyhrv's sample, see
tests/data/README.md), against the values pyhrv itself exported for that series."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import numpy as np
import pytest

from gympulse.pipeline.analytics.hrv import (
    annotate_artifacts,
    block_ids,
    correct_artifacts,
    rmssd_by_group,
    time_domain,
)

DATA = Path(__file__).parent / "data"


def _series() -> list[int]:
    return [int(line) for line in (DATA / "pyhrv_sample_nni_short.txt").read_text().split()]


def _expected() -> dict[str, float]:
    raw = json.loads((DATA / "pyhrv_sample_nni_short_expected.json").read_text())
    return {k: v for k, v in raw.items() if isinstance(v, float)}


def test_time_domain_matches_pyhrv_export() -> None:
    rr = _series()
    exp = _expected()
    s = time_domain(rr)
    assert s.n == exp["nni_counter"] == len(rr)
    assert s.mean_rr == pytest.approx(exp["nni_mean"], rel=1e-12)
    assert s.sdnn == pytest.approx(exp["sdnn"], rel=1e-12)
    assert s.rmssd == pytest.approx(exp["rmssd"], rel=1e-12)
    assert s.pnn50 == pytest.approx(exp["pnn50"], rel=1e-12)
    assert s.pnn50 == pytest.approx(100 * exp["nn50"] / (exp["nni_counter"] - 1))
    # DESIGN: mean HR = 60000 / mean RR (pyhrv's hr_mean averages beat-wise HR instead).
    assert s.mean_hr == pytest.approx(60000 / exp["nni_mean"], rel=1e-12)


def test_time_domain_matches_numpy() -> None:
    rr = np.array(_series()[:120], dtype=float)
    s = time_domain(rr.tolist())
    d = np.diff(rr)
    assert s.sdnn == pytest.approx(float(np.std(rr, ddof=1)))
    assert s.rmssd == pytest.approx(float(np.sqrt(np.mean(d**2))))
    assert s.pnn50 == pytest.approx(float(100 * np.mean(np.abs(d) > 50)))


def test_time_domain_edge_cases() -> None:
    empty = time_domain([])
    assert empty.n == 0 and empty.mean_rr is None and empty.rmssd is None
    one = time_domain([1000])
    assert one.n == 1 and one.mean_hr == 60.0 and one.sdnn is None and one.rmssd is None
    constant = time_domain([800] * 30)
    assert constant.sdnn == 0.0 and constant.rmssd == 0.0 and constant.pnn50 == 0.0
    assert constant.mean_hr == 75.0


def _inject(rr: list[int]) -> tuple[list[int], dict[str, int]]:
    """An ectopic beat at 50 (premature by 30 %, full compensatory pause at 51), a missed
    beat at 150 (intervals 150 and 151 merged) and an extra beat at 250 (interval split
    40/60) — positions given in the returned, modified series."""
    x = list(rr)
    short = round(x[50] * 0.7)
    x[51] += x[50] - short
    x[50] = short
    x[150:152] = [x[150] + x[151]]
    first = round(x[250] * 0.4)
    x[250:251] = [first, x[250] - first]
    return x, {"ectopic": 50, "missed": 150, "extra": 250}


def test_artifact_correction_restores_rmssd_within_10_percent() -> None:
    clean = _series()
    clean_rmssd = time_domain(clean).rmssd
    assert clean_rmssd is not None
    dirty, where = _inject(clean)
    dirty_rmssd = time_domain(dirty).rmssd
    assert dirty_rmssd is not None
    assert abs(dirty_rmssd - clean_rmssd) / clean_rmssd > 0.2  # the artifacts do matter
    fixed = correct_artifacts(dirty)
    fixed_rmssd = time_domain(fixed.rr_ms).rmssd
    assert fixed_rmssd is not None
    assert abs(fixed_rmssd - clean_rmssd) / clean_rmssd < 0.10
    # Each injected artifact is found where it was put and classed as what it is.
    assert fixed.flags[where["ectopic"]] != "" and fixed.flags[where["ectopic"] + 1] != ""
    assert fixed.flags[where["missed"]] == "missed"
    assert fixed.flags[where["extra"]] == "extra"
    assert fixed.flags[where["extra"] + 1] == "merged"
    # n_corrected counts the 5 injected intervals (ectopic pair, missed, extra pair), plus
    # at most the beats this real series has flagged without injection.
    baseline = correct_artifacts(clean).n_corrected
    assert 5 <= fixed.n_corrected <= 5 + baseline
    assert fixed.n_corrected == sum(1 for f in fixed.flags if f)
    # A missed beat is split in two, an extra beat merged: the beat count comes back.
    assert len(fixed.rr_ms) == len(clean)


def test_artifact_correction_barely_touches_a_regular_series() -> None:
    # Respiratory sinus arrhythmia (a 4.5-beat breathing cycle) with beat-to-beat noise.
    rng = random.Random(3)
    rr = [round(800 + 40 * math.sin(2 * math.pi * i / 4.5) + rng.gauss(0, 8)) for i in range(600)]
    fixed = correct_artifacts(rr)
    assert fixed.n_corrected <= 6  # at most 1 % of the beats
    before, after = time_domain(rr).rmssd, time_domain(fixed.rr_ms).rmssd
    assert before is not None and after is not None
    assert abs(after - before) / before < 0.05


@pytest.mark.parametrize("rr", [[], [900], [900, 910], [800] * 50])
def test_artifact_correction_edge_cases(rr: list[int]) -> None:
    fixed = correct_artifacts(rr)
    assert fixed.rr_ms == tuple(rr)
    assert fixed.n_corrected == 0
    assert len(fixed.flags) == len(rr)


def test_artifact_correction_missed_beat_in_constant_series() -> None:
    rr = [800] * 40 + [1600] + [800] * 40
    fixed = correct_artifacts(rr)
    assert fixed.flags[40] == "missed"
    assert fixed.rr_ms == (800,) * 82
    assert math.isclose(time_domain(fixed.rr_ms).rmssd or 0.0, 0.0)


def test_threshold_blocks_by_hand() -> None:
    # 337 beats → round(3.70) = 4 blocks of 85/84/84/84 (block = pos · 4 // 337);
    # 40 beats → round(0.44) = 0, at least 1 block; 140 beats → round(1.54) = 2 blocks of 70.
    blocks = block_ids(np.array([337, 40, 140])).tolist()
    expected = [0] * 85 + [1] * 84 + [2] * 84 + [3] * 84 + [4] * 40 + [5] * 70 + [6] * 70
    assert blocks == expected


def test_median_per_group_matches_plain_python() -> None:
    # Groups of every edge-case size: shorter than the window, exactly it, twice it, ...
    rng = random.Random(5)
    sizes = [1, 3, 10, 11, 12, 21, 22, 23, 50]
    rr = [float(rng.randint(400, 1200)) for _ in range(sum(sizes))]
    group = np.repeat(np.arange(len(sizes)), sizes)
    beats = annotate_artifacts(np.array(rr), group)
    expected = []
    start = 0
    for size in sizes:
        part = rr[start : start + size]
        for i in range(size):
            expected.append(statistics.median(part[max(0, i - 5) : i + 6]))
        start += size
    assert beats.med.tolist() == expected


def test_rmssd_by_group_matches_each_series_on_its_own() -> None:
    clean = _series()
    dirty, _ = _inject(clean)
    both = np.array(clean + dirty, dtype=float)
    group = np.repeat([7, 3], [len(clean), len(dirty)])
    stats = rmssd_by_group(annotate_artifacts(both, group))
    for row, series in zip(stats.iter_rows(named=True), (clean, dirty), strict=True):
        alone = correct_artifacts(series)
        assert row["n_rr"] == len(alone.rr_ms)
        assert row["n_corrected"] == alone.n_corrected
        diffs = np.diff(np.array(alone.rr_ms, dtype=float))
        # rr_ms is rounded half up; the grouped RMSSD is not: within 0.5 ms per value.
        assert row["rmssd"] == pytest.approx(float(np.sqrt(np.mean(diffs**2))), abs=0.5)
