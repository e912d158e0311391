"""Readiness: what an athlete's morning readings mean, as pure functions on plain rows.

Sources (docs/design.md, "Analytics conventions"):

- Plews, Laursen, Stanley, Kilding & Buchheit (2013), *Training adaptation and heart rate
  variability in elite endurance athletes: opening the door to effective monitoring*,
  Sports Med 43:773–781 — the 7-day rolling mean of ln RMSSD judged against the athlete's
  own normal range (the smallest worthwhile change, about 0.5 SD; here ± 1 SD of the
  60-day daily values, the conservative band of Kiviniemi/Plews-style HRV-guided training).
- Buchheit (2014), *Monitoring training status with HR measures: do all roads lead to
  Rome?*, Front Physiol 5:73 — resting/morning HR and HRV move in opposite directions with
  accumulated fatigue; a falling HRV with a rising resting HR is the pattern of concern,
  while a rising HRV and falling resting HR accompany positive adaptation (with the caveat
  that very high HRV with very low HR can also mean parasympathetic saturation: we call it
  a good sign, never an alarm).

The rules (one documented variant):

- **Baseline**: from the ``baselines`` rows (``gympulse.pipeline.analytics.daily``): the
  normal range is ``mean60 ± sd60`` of the daily ln RMSSD (and resting HR) values; it
  exists only once the 60-day window holds at least 7 daily values. Before that the state is
  ``building`` with the number of daily readings so far: "building your baseline: N of 7" —
  no judgment, never "normal".
- **Direction**: the 7-day rolling mean (``roll7``) *below* the ln RMSSD range is a concern
  (``hrv_below``), above it a good sign (``hrv_above``); resting HR *above* its range is a
  concern (``hr_rest_above``), below it a good sign (``hr_rest_below``).
- **Daily status** (:func:`daily_status`): points of concern are added up —
  ``hrv_below`` 2, ``hr_rest_above`` 2, today's reading alone below the ln RMSSD range 1
  (``hrv_low_today``), today's wellness check-in total ≤ 12 of 25 or any answer 1 of 5
  (``wellness_low``) 1, the last session's RPE ≥ 8 (``hard_session``) 1, ACWR > 1.5
  (``acwr_high``) 1, form < −30 (``form_low``) 1 — and good signs subtract one each
  (``hrv_above``, ``hr_rest_below``). Level: ≥ 3 ``rest`` ("an easier day would do you
  good"), 1–2 ``watch``, otherwise ``ok`` when some concern was outweighed by good signs,
  ``good`` when only good signs were seen, ``ok`` when the baseline exists and nothing
  stands out, ``building`` when it does not. Every point comes with its reason.
- **Care** (``mood_very_low``): today's mood answered 1 of 5 ("very low"). At a retreat
  for burnout and depression that is not a training number but a person to see today: the
  status carries ``care``, the guest's reply acknowledges it and offers a coach, and the
  squad lists the guest first, above every attention score.
- **Squad order**: care first, then attention score descending, then name — a declining
  guest above an improving one, a guest with a concern above one still building a baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

BASELINE_MIN_READINGS = 7
MOOD_VERY_LOW = 1  # the check-in's "very low" (1 of 5): a coach's care today
WELLNESS_LOW_TOTAL = 12
RPE_HARD = 8.0

Direction = Literal["building", "below", "normal", "above"]
Level = Literal["rest", "watch", "ok", "good", "building"]

CONCERN_POINTS = {
    "hrv_below": 2,
    "hr_rest_above": 2,
    "hrv_low_today": 1,
    "wellness_low": 1,
    "hard_session": 1,
    "acwr_high": 1,
    "form_low": 1,
    "mood_very_low": 1,
}
GOOD_SIGNS = ("hrv_above", "hr_rest_below")


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Range:
    """One measure against its normal range."""

    state: Direction
    readings: int  # daily values in the last 60 days
    mean: float | None = None
    sd: float | None = None
    roll7: float | None = None
    today: float | None = None

    @property
    def low(self) -> float | None:
        return None if self.mean is None or self.sd is None else self.mean - self.sd

    @property
    def high(self) -> float | None:
        return None if self.mean is None or self.sd is None else self.mean + self.sd


def measure_range(rows: Sequence[Mapping[str, Any]], name: str, flag: str | None = None) -> Range:
    """``name`` (``ln_rmssd`` or ``hr_rest``) of the latest ``baselines`` row against its
    range. ``rows``: the athlete's baseline rows, oldest first (the last 60 are counted).
    ``flag``: the row's stored out-of-range flag column, used when ``roll7`` is missing."""
    readings = sum(1 for r in rows[-60:] if _num(r.get(name)) is not None)
    if not rows:
        return Range("building", 0)
    last = rows[-1]
    mean, sd = _num(last.get(f"{name}_mean60")), _num(last.get(f"{name}_sd60"))
    roll7, today = _num(last.get(f"{name}_roll7")), _num(last.get(name))
    if mean is None or sd is None:  # fewer than 7 daily values in the 60-day window
        return Range("building", readings, today=today)
    state: Direction = "normal"
    value = roll7 if roll7 is not None else today
    if value is not None and value < mean - sd:
        state = "below"
    elif value is not None and value > mean + sd:
        state = "above"
    elif flag and last.get(flag) and value is not None:
        state = "below" if value < mean else "above"
    return Range(state, readings, mean, sd, roll7, today)


@dataclass(frozen=True, slots=True)
class Status:
    """One athlete's daily status: ``level``, ``score`` (attention points, good signs
    subtracted) and the ``reasons`` behind it, concerns first."""

    level: Level
    score: int
    reasons: tuple[str, ...]
    hrv: Range
    hr_rest: Range
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def readings(self) -> int:
        return self.hrv.readings

    @property
    def care(self) -> bool:
        """Today's mood was "very low": a coach sees this guest first, today."""
        return "mood_very_low" in self.reasons


def daily_status(
    baselines: Sequence[Mapping[str, Any]],
    *,
    wellness: Mapping[str, int] | None = None,
    last_rpe: float | None = None,
    acwr: float | None = None,
    tsb: float | None = None,
) -> Status:
    """The status of the athlete's latest day (module docstring). ``baselines``: the
    athlete's rows, oldest first; ``wellness``: today's answers (sleep, stress, mood, energy,
    soreness, 1–5, 5 = best) or None; ``last_rpe``: CR-10 of the last session."""
    hrv = measure_range(baselines, "ln_rmssd", "flag_hrv")
    rest = measure_range(baselines, "hr_rest", "flag_hr_rest")
    reasons: list[str] = []
    good: list[str] = []
    details: dict[str, Any] = {}
    if hrv.state == "below":
        reasons.append("hrv_below")
    elif hrv.state == "above":
        good.append("hrv_above")
    if (
        hrv.state != "below"
        and hrv.today is not None
        and hrv.low is not None
        and hrv.today < hrv.low
    ):
        reasons.append("hrv_low_today")
    if rest.state == "above":
        reasons.append("hr_rest_above")
    elif rest.state == "below":
        good.append("hr_rest_below")
    if wellness:
        total = sum(int(v) for v in wellness.values())
        details["wellness_total"] = total
        if total <= WELLNESS_LOW_TOTAL or min(int(v) for v in wellness.values()) <= 1:
            reasons.append("wellness_low")
        if int(wellness.get("mood", 0) or 0) == MOOD_VERY_LOW:
            reasons.insert(0, "mood_very_low")
    if last_rpe is not None:
        details["last_rpe"] = last_rpe
        if last_rpe >= RPE_HARD:
            reasons.append("hard_session")
    if acwr is not None and acwr > 1.5:
        reasons.append("acwr_high")
    if tsb is not None and tsb < -30:
        reasons.append("form_low")
    score = sum(CONCERN_POINTS[r] for r in reasons) - len(good)
    level: Level
    if score >= 3:
        level = "rest"
    elif score >= 1:
        level = "watch"
    elif reasons:  # concerns outweighed by good signs
        level = "ok"
    elif good:
        level = "good"
    elif hrv.state == "building":
        level = "building"
    else:
        level = "ok"
    return Status(level, score, tuple(reasons + good), hrv, rest, details)


def attention_key(status: Status, name: str) -> tuple[bool, int, int, str]:
    """Sort key for the squad: a guest in need of care (a very low mood today) first; then
    most attention points; among equals, those with any concern before those without; then
    by name."""
    concerns = sum(1 for r in status.reasons if r in CONCERN_POINTS)
    return (not status.care, -status.score, -concerns, name)
