"""A long-term fitness trend: estimated VO2max from the heart-rate ratio.

Uth, Sørensen, Overgaard & Pedersen (2004), *Estimation of VO2max from the ratio between
HRmax and HRrest — the Heart Rate Ratio Method*, Eur J Appl Physiol 91:111–115:
VO2max ≈ 15.3 · HRmax / HRrest (ml·kg⁻¹·min⁻¹).

This is an ESTIMATE (the paper reports an error of about ±0.7 l/min at the individual
level); show it as a trend of the athlete's own resting HR, never as a lab value.
"""

from __future__ import annotations

UTH_FACTOR = 15.3


def vo2max_uth(hr_max: float, hr_rest: float) -> float:
    """Estimated VO2max (ml/kg/min) = 15.3 · HRmax / HRrest (Uth et al. 2004)."""
    if hr_rest <= 0:
        raise ValueError(f"hr_rest must be positive, got {hr_rest}")
    return UTH_FACTOR * hr_max / hr_rest
