"""Energy expenditure from heart rate.

Keytel, Goedecke, Noakes et al. (2005), *Prediction of energy expenditure from heart rate
monitoring during submaximal exercise*, J Sports Sci 23(3):289–297, the equations without
VO2max (kJ/min; HR in bpm, weight in kg, age in years):

- men:   EE = −55.0969 + 0.6309·HR + 0.1988·weight + 0.2017·age
- women: EE = −20.4022 + 0.4472·HR − 0.1263·weight + 0.074·age

kcal/min = EE / 4.184; a negative value (low HR) is clamped to 0. When the sex is not
known, gympulse uses the mean of the two equations.
"""

from __future__ import annotations

KJ_PER_KCAL = 4.184
MALE = (-55.0969, 0.6309, 0.1988, 0.2017)
FEMALE = (-20.4022, 0.4472, -0.1263, 0.074)


def _coefficients(sex: str | None) -> tuple[float, float, float, float]:
    if sex == "male":
        return MALE
    if sex == "female":
        return FEMALE
    if sex is None:
        return (
            (MALE[0] + FEMALE[0]) / 2,
            (MALE[1] + FEMALE[1]) / 2,
            (MALE[2] + FEMALE[2]) / 2,
            (MALE[3] + FEMALE[3]) / 2,
        )
    raise ValueError(f"sex must be 'male', 'female' or None, got {sex!r}")


def keytel_kcal_per_min(bpm: float, weight_kg: float, age: float, sex: str | None) -> float:
    """kcal per minute at heart rate ``bpm`` (Keytel 2005, without VO2max), ≥ 0."""
    c0, c_hr, c_w, c_age = _coefficients(sex)
    kj = c0 + c_hr * bpm + c_w * weight_kg + c_age * age
    return max(0.0, kj / KJ_PER_KCAL)


def keytel_coefficients_kcal(sex: str | None) -> tuple[float, float, float, float]:
    """(intercept, HR, weight, age) coefficients in kcal/min, for vectorised use."""
    return tuple(c / KJ_PER_KCAL for c in _coefficients(sex))  # type: ignore[return-value]
