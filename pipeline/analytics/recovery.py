"""Heart-rate recovery.

HRR60 = HR at the end of exercise − HR 60 s later (Cole, Blackstone, Pashkow et al. 1999,
*Heart-rate recovery immediately after exercise as a predictor of mortality*, N Engl J Med
341:1351; Daanen et al. 2012 for athletes). Both heart rates are linearly interpolated
between the neighbouring samples; there is no value when no sample lies within ±2 s of
the end or of end + 60 s (``DESIGN.md``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

RECOVERY_S = 60.0
TOLERANCE_S = 2.0


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
    return b0 + (b1 - b0) * (at_s - t0) / (t1 - t0)


def hrr60(t_s: Sequence[float], bpm: Sequence[float], end_s: float) -> float | None:
    """HR at ``end_s`` minus HR at ``end_s + 60`` (bpm), or None (see module docstring)."""
    at_end = hr_at(t_s, bpm, end_s)
    later = hr_at(t_s, bpm, end_s + RECOVERY_S)
    if at_end is None or later is None:
        return None
    return at_end - later
