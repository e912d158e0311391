"""Heart-rate recovery.

HRR60 = HR at the end of exercise − HR 60 s later (Cole, Blackstone, Pashkow et al. 1999,
*Heart-rate recovery immediately after exercise as a predictor of mortality*, N Engl J Med
341:1351; Daanen et al. 2012 for athletes). Both heart rates are linearly interpolated
between the neighbouring samples; there is no value when no sample lies within ±2 s of
the end or of end + 60 s (``docs/design.md``). Only samples with skin contact count: a
``contact = false`` sample is no signal (the caller drops them), so "the strap stayed on"
means a sample with contact lies within ±2 s of end + 60 s.

**End of exercise.** For a class it is the class's last sample. A detected workout has no
"stop" button, and its samples run on through the cool-down for as long as the heart rate
stays above the detection threshold (20 % of the heart-rate reserve): taking its last
sample as the end measured the recovery after the cool-down (9 bpm instead of 54), or
found no sample 60 s later. Taking the peak in the minute before the last moderate sample
(the rule until December 2026) failed whenever the recovery itself stayed above moderate
intensity for more than a minute — the normal case for a fit person: a peak of 172 bpm
recovering toward 95 bpm (time constant 70 s) gave 15 instead of 44. The rule
(:func:`end_of_exercise`):

1. *Exercise* is heart rate at or above moderate intensity, HRrest + 40 % of the
   heart-rate reserve — the lower bound of "moderate" in the ACSM position stand (Garber
   et al. 2011, *Quantity and quality of exercise for developing and maintaining
   cardiorespiratory, musculoskeletal, and neuromotor fitness in apparently healthy
   adults*, Med Sci Sports Exerc 43(7):1334–1359, Table 4: moderate = 40–59 % HRR).
   A workout that never reaches it has no end of exercise and no HRR60 (reason
   ``light``): a recovery from a walk says nothing about fitness. Nothing after the last
   moderate sample can be the end of exercise.
2. The heart rate is smoothed by a centred running median of 5 samples (one beat-to-beat
   wobble or a dropped beat moves a median by nothing; a corner — steady effort, then the
   fall — keeps its place, which a mean would blur by seconds).
3. Heart rate falls from the moment exercise stops and keeps falling (Cole et al. 1999;
   Buchheit 2014, *Monitoring training status with HR measures: do all roads lead to
   Rome?*, Front Physiol 5:73 — HRR is taken from the end of exercise, the decay's
   onset). Walking back from the last moderate sample, the end of exercise is the latest
   sample that (a) is not more than 1 bpm below any later smoothed heart rate up to the
   last moderate sample — everything after it falls — and (b) is not more than 1 bpm below
   the median of the minute before it — the effort was still going on. Inside the decay,
   (b) fails as soon as the heart rate has fallen 1 bpm below the effort's level, so the
   end is found within a second or two of the onset whatever the speed of the recovery
   and however long it stays above moderate; the heart rate at the end is the smoothed one.
   Checked on synthetic recoveries (time constants 30–120 s, from peaks of 150–185 bpm
   toward 60 and 95 bpm, with beat-to-beat wobble): within 2 bpm of the true HRR60
   (``tests/test_analytics_recovery.py``).

**Plausibility** (:func:`checked_hrr60`). A value is only a result when it is physically
possible: a negative drop (the heart rate rose: exercise resumed, or an artefact) gives no
value with reason ``rose``; a heart rate 60 s later *below the athlete's resting HR* is not
a recovery but an artefact (reason ``below-rest``); no sample with contact near end + 60 s
is reason ``no-signal``. The reason is stored next to the empty value
(``session_summary.hrr60_note``) so the coach can see why there is none.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

RECOVERY_S = 60.0
TOLERANCE_S = 2.0
MODERATE_RESERVE_FRACTION = 0.40  # ACSM (Garber et al. 2011): moderate from 40 % HRR
EFFORT_WINDOW_S = 60.0  # the effort's level: median of the minute before a candidate end
SMOOTH_SAMPLES = 5  # centred running median
END_TOLERANCE_BPM = 1.0

# Why a session has no HRR60 (``session_summary.hrr60_note``).
NO_SIGNAL = "no-signal"  # no sample with contact within ±2 s of end (+ 60 s)
ROSE = "rose"  # heart rate 60 s later was higher than at the end of exercise
BELOW_REST = "below-rest"  # heart rate 60 s later below the resting HR: implausible
LIGHT = "light"  # a detected workout that never reached moderate intensity
REASONS = (NO_SIGNAL, ROSE, BELOW_REST, LIGHT)


def hr_at(t_s: Sequence[float], bpm: Sequence[float], at_s: float) -> float | None:
    """Heart rate at ``at_s`` by linear interpolation; None when no sample lies within
    ±2 s of ``at_s``. ``t_s`` must be ascending."""
    n = len(t_s)
    if n == 0 or n != len(bpm):
        return None
    i = bisect.bisect_left(t_s, at_s)
    if i < n and t_s[i] == at_s:
        return float(bpm[i])
    if not any(0 <= j < n and abs(t_s[j] - at_s) <= TOLERANCE_S for j in (i - 1, i)):
        return None
    if i == 0:
        return float(bpm[0])
    if i == n:
        return float(bpm[-1])
    t0, t1, b0, b1 = t_s[i - 1], t_s[i], bpm[i - 1], bpm[i]
    return float(b0 + (b1 - b0) * (at_s - t0) / (t1 - t0))


def hrr60(t_s: Sequence[float], bpm: Sequence[float], end_s: float) -> float | None:
    """HR at ``end_s`` minus HR at ``end_s + 60`` (bpm), or None (see module docstring)."""
    at_end = hr_at(t_s, bpm, end_s)
    later = hr_at(t_s, bpm, end_s + RECOVERY_S)
    if at_end is None or later is None:
        return None
    return at_end - later


def moderate_threshold(hr_rest: float, hr_max: float) -> float:
    """HRrest + 40 % of the heart-rate reserve (bpm): the start of moderate intensity."""
    return hr_rest + MODERATE_RESERVE_FRACTION * (hr_max - hr_rest)


def smoothed(bpm: np.ndarray) -> np.ndarray:
    """Centred running median of :data:`SMOOTH_SAMPLES` samples (edges repeat the first
    and last sample)."""
    import numpy as np

    half = SMOOTH_SAMPLES // 2
    if bpm.size < SMOOTH_SAMPLES:
        return bpm.astype(np.float64)
    padded = np.pad(bpm.astype(np.float64), half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, SMOOTH_SAMPLES)
    return np.asarray(np.median(windows, axis=1), dtype=np.float64)


def end_of_exercise(
    t: Sequence[float] | np.ndarray,
    bpm: Sequence[float] | np.ndarray,
    moderate: float,
    window: float = EFFORT_WINDOW_S,
) -> tuple[int, float] | None:
    """(index, smoothed bpm) of the end of exercise in a detected workout's samples (``t``
    ascending, in seconds; in ms pass ``window`` = 60 000), or None when no sample reaches
    ``moderate`` bpm (rule in the module docstring)."""
    import numpy as np

    times = np.asarray(t, dtype=np.float64)
    b = np.asarray(bpm, dtype=np.float64)
    hits = np.flatnonzero(b >= moderate)
    if not hits.size:
        return None
    last = int(hits[-1])
    s = smoothed(b[: last + 1])
    later_max = np.maximum.accumulate(s[::-1])[::-1]
    for k in range(last, -1, -1):
        if s[k] < later_max[k] - END_TOLERANCE_BPM:
            continue
        first = int(np.searchsorted(times, times[k] - window, side="left"))
        if s[k] >= float(np.median(s[first : k + 1])) - END_TOLERANCE_BPM:
            return k, float(s[k])
    raise AssertionError("unreachable: the latest maximum passes (a) and (b)")


def checked_hrr60(
    hr_end: float | None, hr_later: float | None, hr_rest: float
) -> tuple[float | None, str | None]:
    """(HRR60, None) when it is a plausible result, else (None, reason)."""
    if hr_end is None or hr_later is None:
        return None, NO_SIGNAL
    if hr_later > hr_end:
        return None, ROSE
    if hr_later < hr_rest:
        return None, BELOW_REST
    return hr_end - hr_later, None
