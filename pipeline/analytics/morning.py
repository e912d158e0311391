"""Morning readings: one reading computed from the samples of its window, the quality
rule that refuses a bad one, and the automatic rule that proposes resting windows.

A **morning reading** is a 1–5 min window in which the athlete lies or sits still wearing a
strap (docs/design.md, "Analytics conventions"). From the RR intervals of the samples in the window:

- the RR series is corrected with the artifact correction of
  :mod:`gympulse.pipeline.analytics.hrv` (Lipponen & Tarvainen 2019 detection, documented
  deviations there), exactly as session RMSSD is;
- ``rmssd`` over the corrected series, ``ln_rmssd`` = its natural log (Plews et al. 2013
  use ln RMSSD because RMSSD is skewed);
- ``hr_rest`` = 60000 / mean of the corrected RR series;
- ``n_corrected`` = input intervals the correction replaced, split or merged.

**Quality rule** (:class:`QualityRules`, settings ``[morning]``). A reading is refused,
with a reason the pages translate into a kind request to repeat, when

- ``no-signal``: no sample at all in the window (strap off, out of range, not streaming);
- ``no-contact``: more than ``max_no_contact_pct`` (default 10 %) of the samples say the
  strap has no skin contact (dry electrodes, strap loose);
- ``too-few-beats``: fewer than ``min_beats`` (default 20) RR intervals with contact, or
  they cover less than ``min_coverage`` (default 70 %) of the window (the strap sent no RR
  for a while). Ultra-short ln RMSSD from 10 s to 1 min agrees well with 5-min values at
  rest (Esco & Flatt 2014, J Sports Sci Med 13:535; Munoz et al. 2015, PLoS ONE
  10:e0138921), so 20 beats is a floor, not the aim: the page asks for 3 min;
- ``too-many-corrected``: more than ``max_corrected_pct`` (default 5 %) of the intervals
  needed correction. Above a few percent of corrected beats RMSSD is no longer trustworthy
  (Kubios HRV user guide; Peltola 2012, Front Physiol 3:148): people move, talk or the
  strap slips, and the honest answer is to measure again.

**Rest rule** (:class:`RestRules`, :func:`rest_refusal`). A reading that passed the quality
rule must still look like rest, or it would move the person's baseline the wrong way: a
reading tapped during a class said "ln RMSSD 1.95 · 146 bpm" and put an improving guest on
"watch". HRV4Training asks for the reading right after waking, lying or seated, before
coffee or training; Plews et al. (2013, Sports Med 43:773) and Buchheit (2014, Front Physiol
5:73) read morning ln RMSSD as a *resting* measure whose day-to-day changes are small (a few
percent), so one reading taken in motion outweighs weeks of real ones. Refused when

- ``after-training``: in the ``after_training_s`` (30 min) before the reading the person's
  strap sent at least ``training_min_s`` (60) samples at the resting reference + 30 bpm
  or more (exercise, not rest; HR and HRV need tens of minutes to return after it);
- ``not-at-rest``: the reading's mean HR is more than ``margin_bpm`` (15) above the
  person's resting reference — the median resting HR of their last counted readings (at
  least 3, of the last 60 days), else their profile's resting HR; with neither, above
  ``max_hr_bpm`` (100: resting tachycardia);
- ``not-settled``: the heart rate still drifts during the window: the mean of its last
  third differs from the mean of its middle third by more than ``max_drift_bpm`` (8); the
  first third is the settling-in time and is not judged.

**Automatic fallback** (:func:`resting_windows`). For a guest who wore a strap in the
morning but took no reading, a window is *proposed* when: it lies between 04:00 and 11:00
site time (``[morning] auto_from_hour``/``auto_until_hour``), it is at least 2 min long
(``auto_min_s``; at most ``auto_max_s`` = 5 min is taken), every sample in it has skin
contact, no gap between samples exceeds 5 s, the heart rate (centred mean of 11 samples:
at rest it swings with breathing) stays within the athlete's resting range (resting HR ±
``auto_tolerance_bpm``, default 10 bpm; the resting HR is the mean of
the athlete's counted readings of the last 60 days, else the profile's resting HR — with
neither, nothing is proposed), and it overlaps no training (a detected workout or a class).
Among the qualifying windows of a day the one with the lowest mean heart rate is proposed,
one per athlete per day, and only on days without a reading. A proposal is shown to the
coach and counts only once confirmed, or at once when ``[morning] trust_automatic`` is set.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

REFUSALS = (
    "no-signal", "no-contact", "too-few-beats", "too-many-corrected",
    "after-training", "not-at-rest", "not-settled",
)  # fmt: skip
MAX_GAP_MS = 5_000
SMOOTH_SAMPLES = 11


@dataclass(frozen=True, slots=True)
class QualityRules:
    """When a reading is refused (module docstring)."""

    min_beats: int = 20
    min_coverage: float = 0.7
    max_corrected_pct: float = 5.0
    max_no_contact_pct: float = 10.0


@dataclass(frozen=True, slots=True)
class RestRules:
    """When a reading does not look like rest (module docstring, "Rest rule")."""

    margin_bpm: float = 15.0
    max_hr_bpm: float = 100.0
    max_drift_bpm: float = 8.0
    after_training_s: int = 1800
    training_margin_bpm: float = 30.0
    training_min_s: int = 60
    reference_min_readings: int = 3
    unknown_rest_bpm: float = 65.0  # the training threshold's base without any reference


@dataclass(frozen=True, slots=True)
class RrResult:
    """The HRV of one RR series after artifact correction."""

    n_beats: int  # input intervals
    n_rr: int  # corrected intervals
    n_corrected: int
    rmssd: float | None
    ln_rmssd: float | None
    hr_rest: float | None


@dataclass(frozen=True, slots=True)
class ReadingValues:
    """What a reading measured (accepted by the quality rule)."""

    n_samples: int
    n_beats: int
    n_rr: int
    n_corrected: int
    rmssd: float
    ln_rmssd: float
    hr_rest: float

    @property
    def corrected_pct(self) -> float:
        return 100.0 * self.n_corrected / self.n_beats if self.n_beats else 0.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a window is not a reading: one of :data:`REFUSALS`, and the numbers behind it."""

    reason: str
    detail: str


def rr_reading(rr_ms: Sequence[float]) -> RrResult:
    """ln RMSSD, RMSSD, resting HR and corrected-beat count of an RR series (ms): the one
    analytics function every reading goes through."""
    import numpy as np

    from gympulse.pipeline.analytics import hrv

    x = np.asarray([float(v) for v in rr_ms if v and v > 0], dtype=np.float64)
    if x.size < 3:
        mean = float(x.mean()) if x.size else 0.0
        return RrResult(int(x.size), int(x.size), 0, None, None, 60000.0 / mean if mean else None)
    beats = hrv.annotate_artifacts(x)
    stats = hrv.rmssd_by_group(beats)
    value, reps = hrv.corrected(beats)
    n_rr = int(reps.sum())
    mean_rr = float((value * reps).sum()) / n_rr if n_rr else 0.0
    rmssd = stats["rmssd"][0]
    rmssd_f = None if rmssd is None else float(rmssd)
    return RrResult(
        n_beats=int(x.size),
        n_rr=n_rr,
        n_corrected=int(stats["n_corrected"][0]),
        rmssd=rmssd_f,
        ln_rmssd=math.log(rmssd_f) if rmssd_f else None,
        hr_rest=60000.0 / mean_rr if mean_rr > 0 else None,
    )


def window_rr(window: pl.DataFrame) -> list[int]:
    """The RR intervals (ms) of the samples with skin contact (or none reported), in time
    order."""
    import polars as pl

    kept = window.filter(pl.col("contact").is_null() | pl.col("contact")).sort("ts")
    rr = kept.select(pl.col("rr_ms").explode()).drop_nulls().to_series()
    return [int(v) for v in rr.to_list() if v > 0]


def compute_reading(
    window: pl.DataFrame, start_ms: int, end_ms: int, rules: QualityRules | None = None
) -> ReadingValues | Refusal:
    """The reading of the samples (``Store.query_samples`` columns) with start ≤ ts < end,
    or why it is refused (module docstring)."""
    import polars as pl

    rules = rules or QualityRules()
    w = window.filter((pl.col("ts") >= start_ms) & (pl.col("ts") < end_ms))
    if w.is_empty():
        return Refusal("no-signal", "no samples in the window")
    no_contact = w.filter(pl.col("contact").is_not_null() & ~pl.col("contact")).height
    pct = 100.0 * no_contact / w.height
    if pct > rules.max_no_contact_pct:
        return Refusal("no-contact", f"{pct:.0f} % of the samples without skin contact")
    rr = window_rr(w)
    covered = sum(rr) / max(1, end_ms - start_ms)
    if len(rr) < rules.min_beats or covered < rules.min_coverage:
        return Refusal(
            "too-few-beats",
            f"{len(rr)} beats covering {100 * covered:.0f} % of the window"
            f" (need {rules.min_beats} and {100 * rules.min_coverage:.0f} %)",
        )
    result = rr_reading(rr)
    corrected_pct = 100.0 * result.n_corrected / result.n_beats
    if corrected_pct > rules.max_corrected_pct:
        return Refusal(
            "too-many-corrected",
            f"{result.n_corrected} of {result.n_beats} beats corrected ({corrected_pct:.1f} %,"
            f" at most {rules.max_corrected_pct:g} %)",
        )
    if result.rmssd is None or result.ln_rmssd is None or result.hr_rest is None:
        return Refusal("too-few-beats", "no beat-to-beat variation could be computed")
    return ReadingValues(
        n_samples=w.height,
        n_beats=result.n_beats,
        n_rr=result.n_rr,
        n_corrected=result.n_corrected,
        rmssd=result.rmssd,
        ln_rmssd=result.ln_rmssd,
        hr_rest=result.hr_rest,
    )


def resting_reference(
    recent_hr_rest: Sequence[float], profile_hr_rest: float | None, rules: RestRules
) -> float | None:
    """The person's resting HR to judge a reading against: the median of their recent
    counted readings' resting HR (at least ``reference_min_readings``), else the profile's."""
    values = sorted(v for v in recent_hr_rest if v and v > 0)
    if len(values) >= rules.reference_min_readings:
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return profile_hr_rest if profile_hr_rest and profile_hr_rest > 0 else None


def rest_refusal(
    window: pl.DataFrame,
    start_ms: int,
    end_ms: int,
    values: ReadingValues,
    reference_bpm: float | None,
    before: pl.DataFrame,
    rules: RestRules | None = None,
) -> Refusal | None:
    """Why an accepted reading does not look like rest, or None (module docstring, "Rest
    rule"). ``window``: the reading's samples; ``before``: the person's samples of the
    ``after_training_s`` before ``start_ms``."""
    import polars as pl

    rules = rules or RestRules()
    training_bpm = (reference_bpm or rules.unknown_rest_bpm) + rules.training_margin_bpm
    lead_in = before.filter(
        (pl.col("ts") < start_ms)
        & (pl.col("ts") >= start_ms - rules.after_training_s * 1000)
        & (pl.col("contact").is_null() | pl.col("contact"))
        & (pl.col("bpm") >= training_bpm)
    )
    if lead_in.height >= rules.training_min_s:
        return Refusal(
            "after-training",
            f"{lead_in.height} samples at {training_bpm:.0f} bpm or more in the"
            f" {rules.after_training_s // 60} min before",
        )
    ceiling = reference_bpm + rules.margin_bpm if reference_bpm else rules.max_hr_bpm
    if values.hr_rest > ceiling:
        usual = f"usual {reference_bpm:.0f}" if reference_bpm else "no resting reference"
        return Refusal(
            "not-at-rest", f"mean {values.hr_rest:.0f} bpm, above {ceiling:.0f} ({usual})"
        )
    w = window.filter(
        (pl.col("ts") >= start_ms)
        & (pl.col("ts") < end_ms)
        & (pl.col("contact").is_null() | pl.col("contact"))
    ).sort("ts")
    if w.height >= 6:
        third = (end_ms - start_ms) / 3
        middle = w.filter(pl.col("ts") >= start_ms + third, pl.col("ts") < start_ms + 2 * third)
        last = w.filter(pl.col("ts") >= start_ms + 2 * third)
        if middle.height and last.height:
            m = float(middle["bpm"].mean())  # type: ignore[arg-type]
            e = float(last["bpm"].mean())  # type: ignore[arg-type]
            if abs(e - m) > rules.max_drift_bpm:
                return Refusal(
                    "not-settled", f"heart rate went from {m:.0f} to {e:.0f} bpm in the window"
                )
    return None


# ---------------------------------------------------------------------- automatic fallback


@dataclass(frozen=True, slots=True)
class AutoRule:
    """The automatic fallback (module docstring)."""

    from_hour: int = 4
    until_hour: int = 11
    min_s: int = 120
    max_s: int = 300
    tolerance_bpm: float = 10.0


def _zone(tz: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return dt.UTC if tz == "UTC" else ZoneInfo(tz)


def resting_windows(
    samples: pl.DataFrame,
    resting_hr: float,
    busy: Sequence[tuple[int, int]] = (),
    *,
    tz: str = "UTC",
    rule: AutoRule | None = None,
) -> list[tuple[int, int]]:
    """Proposed reading windows [start_ms, end_ms) in one athlete's ``samples``: at most one
    per local day, the qualifying window with the lowest mean heart rate (module docstring).
    ``busy``: training intervals [start_ms, end_ms] (sessions, classes)."""
    rule = rule or AutoRule()
    zone = _zone(tz)
    lo, hi = resting_hr - rule.tolerance_bpm, resting_hr + rule.tolerance_bpm
    raw = sorted(
        (int(ts), int(bpm), contact)
        for ts, bpm, contact in samples.select("ts", "bpm", "contact").iter_rows()
    )
    # Heart rate at rest swings with breathing (±10 bpm beat to beat): judge the range on
    # the centred mean of 11 samples, as a strap's own display smooths it.
    cum = [0]
    for _, bpm, _ in raw:
        cum.append(cum[-1] + bpm)
    half = SMOOTH_SAMPLES // 2
    rows = []
    for i, (ts, _, contact) in enumerate(raw):
        lo_i, hi_i = max(0, i - half), min(len(raw), i + half + 1)
        rows.append((ts, round((cum[hi_i] - cum[lo_i]) / (hi_i - lo_i)), contact))
    best: dict[dt.date, tuple[float, int, int]] = {}
    run: list[tuple[int, int]] = []

    def qualifies(ts: int, bpm: int, contact: bool | None) -> bool:
        local = dt.datetime.fromtimestamp(ts / 1000, zone)
        return (
            contact is not False
            and rule.from_hour <= local.hour < rule.until_hour
            and lo <= bpm <= hi
            and not any(s <= ts <= e for s, e in busy)
        )

    def close_run() -> None:
        if len(run) < 2 or run[-1][0] - run[0][0] < rule.min_s * 1000:
            return
        # Slide a window of max_s (or the whole run) and keep the lowest mean bpm.
        span = rule.max_s * 1000
        j = 0
        total = 0
        for i in range(len(run)):
            while j < len(run) and run[j][0] - run[i][0] <= span:
                total += run[j][1]
                j += 1
            if run[j - 1][0] - run[i][0] < rule.min_s * 1000:
                break
            mean = total / (j - i)
            start, end = run[i][0], run[j - 1][0] + 1000
            day = dt.datetime.fromtimestamp(start / 1000, zone).date()
            if day not in best or mean < best[day][0]:
                best[day] = (mean, start, end)
            total -= run[i][1]

    for ts, bpm, contact in rows:
        if not qualifies(ts, bpm, contact):
            close_run()
            run = []
            continue
        if run and ts - run[-1][0] > MAX_GAP_MS:
            close_run()
            run = []
        run.append((ts, bpm))
    close_run()
    return [(start, end) for _, start, end in (best[d] for d in sorted(best))]
