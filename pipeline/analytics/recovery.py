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
found no sample 60 s later. The rule (:func:`end_of_exercise`):

1. *Exercise* is heart rate at or above moderate intensity, HRrest + 40 % of the
   heart-rate reserve — the lower bound of "moderate" in the ACSM position stand (Garber
   et al. 2011, *Quantity and quality of exercise for developing and maintaining
   cardiorespiratory, musculoskeletal, and neuromotor fitness in apparently healthy
   adults*, Med Sci Sports Exerc 43(7):1334–1359, Table 4: moderate = 40–59 % HRR).
   Everything after the workout's last such sample is cool-down (light intensity).
2. Heart rate starts falling the moment exercise stops, so the last moderate sample lies
   some seconds *after* the stop. The end of exercise is the sample with the highest heart
   rate in the 60 s up to and including that last moderate sample (the latest one on a
   tie): the peak from which the final decline starts — "HR at the end of exercise" is
   the peak exercise HR in Cole et al. 1999.
3. A workout that never reaches moderate intensity has no end of exercise and no HRR60
   (reason ``light``): a recovery from a walk says nothing about fitness.

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
PEAK_WINDOW_S = 60.0  # the peak before the last moderate sample

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


def end_of_exercise(
    t: Sequence[float] | np.ndarray,
    bpm: Sequence[float] | np.ndarray,
    moderate: float,
    window: float = PEAK_WINDOW_S,
) -> int | None:
    """Index of the end of exercise in a detected workout's samples (``t`` ascending, in
    seconds; in ms pass ``window`` = 60 000), or None when no sample reaches ``moderate``
    bpm (rule in the module docstring)."""
    import numpy as np

    times = np.asarray(t, dtype=np.float64)
    b = np.asarray(bpm, dtype=np.float64)
    hits = np.flatnonzero(b >= moderate)
    if not hits.size:
        return None
    last = int(hits[-1])
    first = int(np.searchsorted(times, times[last] - window, side="left"))
    peak = b[first : last + 1]
    # The latest sample with the window's highest heart rate.
    return first + int(peak.size - 1 - np.argmax(peak[::-1]))


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
