"""Heart rate variability: time-domain measures and RR artifact correction.

Conventions (``docs/design.md``, "Analytics conventions"; Task Force of the ESC/NASPE 1996,
*Heart rate variability: standards of measurement*, Circulation 93:1043):

- RR intervals in ms; ``mean_hr`` = 60000 / mean(RR); ``sdnn`` with ddof = 1;
  ``rmssd`` over the N − 1 successive differences; ``pnn50`` in percent
  = 100 · count(|ΔRR| > 50 ms) / (N − 1).

Artifact correction follows the detection rules of Lipponen & Tarvainen (2019),
*A robust algorithm for heart rate variability time series artefact correction using
novel beat classification*, J. Med. Eng. Technol. 43(3):173–181 — the method in Kubios
HRV (also implemented as ``signal_fixpeaks(method="kubios")`` in NeuroKit2):

- dRR_j = RR_j − RR_{j−1}, normalised by Th1 = 5.2 · quartile deviation of |dRR|;
- mRR_j = RR_j − median of the 11 surrounding beats (negative values doubled), normalised
  by Th2 = 5.2 · quartile deviation of |mRR|;
- subspaces S12 / S22 from the neighbouring dRR, with c1 = 0.13 and c2 = 0.17;
- a beat is *ectopic* (short–long or long–short pair), *long*, *short*, *missed*
  (RR/2 close to the median: a beat was not detected) or *extra* (RR_j + RR_{j+1} close to
  the median: a spurious beat split one interval).

**Documented deviation 1 — block thresholds.** Lipponen & Tarvainen take the quartile
deviation (QD = (Q3 − Q1)/2) over a *sliding* window of the 91 beats around each beat.
Here the series (each session or recording separately) is cut into ``max(1, round(n/91))``
equal consecutive blocks of about 91 beats (61–136), and every beat uses the QD of its own
block. Reason: the sliding 91-beat quantiles (four per beat) were 70 % of the cost of a
year's session summaries — a sliding quantile keeps a sorted window per beat, a block
quantile sorts each block once (about 10× cheaper) — and the threshold keeps what it is
for: it follows the variability of the last ~1.5 min of beats, and one artefact moves a
quartile of ~91 values by at most one rank in either form. Evidence that the detection is
still good enough: ``tests/test_analytics_hrv.py`` injects an ectopic, a missed and an
extra beat into a real RR series (pyhrv's sample) and gets each classed at its position
and the RMSSD back within 10 % of the clean value (the criterion of docs/design.md), leaves a
regular breathing-rhythm series practically untouched, and checks the block boundaries
against a hand-computed example.

**Documented deviation 2 — correction.** Kubios interpolates with a cubic spline; here
ectopic, long and short intervals are replaced by the 11-beat median; a missed beat's
interval is split in two equal halves; an extra beat's interval is merged with the
following one.

The rules are evaluated over one flat series in which each group (session, recording) is
a contiguous run of rows, taken in chunks of whole groups (numpy, with polars for the
block quartiles): shifts are masked at group edges, the 11-beat median is a partial sort
of each window (exact, shrinking at group edges like a per-group rolling median), and the
full rule set runs only for candidate beats (|dRR| > Th1 or |mRR| > 3·Th2) — every other
beat is normal by construction. The same code corrects one morning recording or every
session of a year. :func:`rmssd_by_group` gives the RMSSD of the corrected series without
materialising it (a missed beat's two halves are equal, so its inner difference is 0; a
merged interval disappears). ``bench/bench_analytics.py`` computes the same thing per
session the straightforward pandas way, and the two agree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

# Lipponen & Tarvainen 2019, section 2.
ALPHA = 5.2  # threshold multiplier of the quartile deviation
C1 = 0.13
C2 = 0.17
QD_WINDOW = 91  # beats for the time-varying thresholds
MEDIAN_WINDOW = 11  # beats for the local median
CHUNK_BEATS = 1 << 19  # beats classified per call (whole groups)

# Beat classes (CorrectedRR.flags and the ``_kind`` column).
OK, ECTOPIC, LONG, SHORT, MISSED, EXTRA, MERGED = range(7)
FLAG_NAMES = ("", "ectopic", "long", "short", "missed", "extra", "merged")


@dataclass(frozen=True, slots=True)
class HrvSummary:
    """Time-domain HRV of an RR series. Undefined values are None (n < 2 for SD/RMSSD)."""

    n: int
    mean_rr: float | None
    sdnn: float | None
    rmssd: float | None
    pnn50: float | None
    mean_hr: float | None


@dataclass(frozen=True, slots=True)
class CorrectedRR:
    """A corrected RR series.

    ``rr_ms``: corrected intervals, rounded half up; ``flags``: one name per *input*
    interval ("" = kept, else one of ``FLAG_NAMES``; the second interval of an extra-beat
    pair is "merged"); ``n_corrected``: input intervals that were replaced, split or merged.
    """

    rr_ms: tuple[int, ...]
    n_corrected: int
    flags: tuple[str, ...]


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def time_domain(rr_ms: Sequence[float]) -> HrvSummary:
    """Mean RR, SDNN, RMSSD, pNN50 and mean HR of ``rr_ms`` (Task Force 1996 definitions)."""
    rr = [float(x) for x in rr_ms]
    n = len(rr)
    if n == 0:
        return HrvSummary(0, None, None, None, None, None)
    mean_rr = math.fsum(rr) / n
    mean_hr = 60000.0 / mean_rr if mean_rr > 0 else None
    if n < 2:
        return HrvSummary(n, mean_rr, None, None, None, mean_hr)
    sdnn = math.sqrt(math.fsum((x - mean_rr) ** 2 for x in rr) / (n - 1))
    diffs = [b - a for a, b in itertools.pairwise(rr)]
    rmssd = math.sqrt(math.fsum(d * d for d in diffs) / len(diffs))
    pnn50 = 100.0 * sum(1 for d in diffs if abs(d) > 50.0) / len(diffs)
    return HrvSummary(n, mean_rr, sdnn, rmssd, pnn50, mean_hr)


def block_ids(
    sizes: np.ndarray, pos: np.ndarray | None = None, size_of: np.ndarray | None = None
) -> np.ndarray:
    """Threshold block of every beat of consecutive groups of ``sizes`` beats: each group
    cut into ``max(1, round(size / QD_WINDOW))`` equal consecutive blocks, numbered 0, 1, …
    across all groups (see the module docstring, deviation 1). ``pos`` (each beat's index
    in its group) and ``size_of`` (its group's size) may be passed when already known."""
    import numpy as np

    sizes = np.asarray(sizes, dtype=np.int64)
    if size_of is None:
        size_of = np.repeat(sizes, sizes)
    if pos is None:
        pos = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(sizes) - sizes, sizes
        )
    n_blocks = np.maximum(1, np.floor(sizes / QD_WINDOW + 0.5).astype(np.int64))
    blocks: np.ndarray = np.repeat(np.cumsum(n_blocks) - n_blocks, sizes)
    blocks += pos * np.repeat(n_blocks, sizes) // np.maximum(size_of, 1)
    return blocks


@dataclass(frozen=True, slots=True)
class Beats:
    """An RR series with every beat classified (:func:`annotate_artifacts`): ``rr`` (ms,
    float64), ``group`` (dense group number 0, 1, … in order of appearance), ``kind``
    (int8 beat class, see ``FLAG_NAMES``) and ``med`` (the 11-beat median)."""

    rr: np.ndarray
    group: np.ndarray
    kind: np.ndarray
    med: np.ndarray


def _median11(x: np.ndarray, g: np.ndarray, pos: np.ndarray, size_of: np.ndarray) -> np.ndarray:
    """The centred 11-beat median of every beat within its group, the window shrinking at
    the group's edges (as ``rolling_median(11, min_samples=1, center=True)`` per group).
    Interior beats: a partial sort of each window over the flat series in cache-sized
    chunks (RR in ms is exact in float32); beats within 5 of an edge: polars' rolling
    median over the first and last 11 beats of their group."""
    import numpy as np
    import polars as pl

    n, w = x.size, MEDIAN_WINDOW
    half = w // 2
    med = np.empty(n)
    if n >= w:
        a = x.astype(np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(a, w)
        step = 1 << 16
        for lo in range(0, n - w + 1, step):
            chunk = windows[lo : lo + step]
            med[lo + half : lo + half + len(chunk)] = np.partition(chunk, half, axis=1)[:, half]
    left = size_of - pos
    near = np.flatnonzero((pos < w) | (left <= w))
    tail = (left[near] <= w) & (size_of[near] > 2 * w)
    sub = 2 * g[near] + tail
    near_med = (
        pl.DataFrame({"x": x[near], "sub": sub})
        .select(pl.col("x").rolling_median(w, min_samples=1, center=True).over("sub"))
        .to_series()
        .to_numpy()
    )
    edge = (pos[near] < half) | (left[near] <= half)
    med[near[edge]] = near_med[edge]
    return med


def annotate_artifacts(rr: pl.Series | np.ndarray, group: np.ndarray | None = None) -> Beats:
    """Classify every beat of a flat RR series.

    ``rr``: one interval per row (ms); ``group``: an integer per row, each group's rows
    contiguous and in time order (None: one group). Shifts are masked at group edges; the
    11-beat median is computed per group (shrinking at its edges); thresholds per block
    (:func:`block_ids`). The full rule set is evaluated only for the candidate beats
    (|dRR| > Th1 or |mRR| > 3·Th2): every other beat is normal by construction."""
    import numpy as np
    import polars as pl

    x = np.asarray(rr.to_numpy() if isinstance(rr, pl.Series) else rr, dtype=np.float64)
    n = x.size
    if group is None or n == 0:
        starts = np.zeros(min(n, 1), dtype=np.int64)
    else:
        change = np.empty(n, dtype=bool)
        change[:1] = True
        np.not_equal(group[1:], group[:-1], out=change[1:])
        starts = np.flatnonzero(change)
        del change
    sizes = np.diff(starts, append=n)
    g = np.repeat(np.arange(starts.size, dtype=np.int32), sizes)
    kind = np.empty(n, dtype=np.int8)
    med = np.empty(n)
    # Whole groups at a time, about CHUNK_BEATS per call: the arrays of a call stay small
    # enough to be reused by the allocator instead of being mapped afresh every time.
    i = 0
    while i < starts.size:
        lo = int(starts[i])
        j = max(i + 1, int(np.searchsorted(starts, lo + CHUNK_BEATS, side="right")))
        hi = int(starts[j]) if j < starts.size else n
        kind[lo:hi], med[lo:hi] = _classify(x[lo:hi], starts[i:j] - lo)
        i = j
    return Beats(x, g, kind, med)


def _classify(x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beat classes and 11-beat medians of ``x``, whose groups start at ``starts``."""
    import numpy as np
    import polars as pl

    n = x.size
    sizes = np.diff(starts, append=n)
    ends = starts + sizes - 1
    g = np.repeat(np.arange(starts.size, dtype=np.int64), sizes)
    pos = np.arange(n, dtype=np.int64)
    pos -= np.repeat(starts, sizes)
    size_of = np.repeat(sizes, sizes)
    # dRR; a group's first beat gets the group's mean dRR, (last − first)/(n − 1).
    d = np.empty(n)
    d[1:] = x[1:] - x[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        d[starts] = np.where(sizes > 1, (x[ends] - x[starts]) / (sizes - 1), 0.0)
    med = _median11(x, g, pos, size_of)
    m = x - med
    np.multiply(m, 2.0, out=m, where=m < 0)
    blk = block_ids(sizes, pos, size_of)
    del pos, size_of
    q = (
        pl.DataFrame({"blk": blk, "d": d, "m": m})
        .group_by("blk")
        .agg(
            *(
                pl.col(c).abs().quantile(p, "linear").alias(f"{c}{p}")
                for c in ("d", "m")
                for p in (0.25, 0.75)
            )
        )
        .sort("blk")
    )
    th1_blk = np.maximum(ALPHA * (q["d0.75"].to_numpy() - q["d0.25"].to_numpy()) / 2.0, 1e-9)
    th2_blk = np.maximum(ALPHA * (q["m0.75"].to_numpy() - q["m0.25"].to_numpy()) / 2.0, 1e-9)
    del q
    # Normalised in place: d becomes dRR/Th1, m becomes mRR/Th2.
    buf = np.take(th1_blk, blk)
    dn = np.divide(d, buf, out=d)
    np.take(th2_blk, blk, out=buf)
    mn = np.divide(m, buf, out=m)
    candidate = np.abs(dn, out=buf) > 1
    candidate |= np.abs(mn, out=buf) > 3
    c = np.flatnonzero(candidate)
    del buf, candidate
    kind = np.zeros(n, dtype=np.int8)
    if c.size:
        gc = g[c]
        end_c = ends[gc]

        def at(k: int, values: np.ndarray, fill: float) -> np.ndarray:
            """``values`` k beats after (k < 0: before) each candidate, in its group."""
            j = c + k
            inside = (j >= starts[gc]) & (j <= end_c)
            return np.where(inside, values[np.clip(j, 0, n - 1)], fill)

        dc, xc, medc, th2c = dn[c], x[c], med[c], th2_blk[blk[c]]
        prev1, next1, next2 = at(-1, dn, 0.0), at(1, dn, 0.0), at(2, dn, 0.0)
        s12 = np.where(dc > 0, np.maximum(prev1, next1), np.minimum(prev1, next1))
        s22 = np.where(dc >= 0, np.minimum(next1, next2), np.maximum(next1, next2))
        ectopic = ((dc > 1) & (s12 < -C1 * dc - C2)) | ((dc < -1) & (s12 > -C1 * dc + C2))
        is_long = (dc > 1) & (s22 < -1)
        is_short = (dc < -1) & (s22 > 1)
        long_or_short = is_long | (np.abs(mn[c]) > 3) | is_short
        missed = np.abs(xc / 2.0 - medc) < th2c
        extra = np.abs(xc + at(1, x, np.nan) - medc) < th2c  # NaN (no next beat): False
        kc = np.select(
            [
                ectopic,
                long_or_short & is_short & extra,
                long_or_short & is_long & missed,
                long_or_short & (xc > medc),
                long_or_short,
            ],
            [ECTOPIC, EXTRA, MISSED, LONG, SHORT],
            OK,
        )
        kind[c] = kc
        # The interval after an extra beat is merged into it, whatever it was classed as.
        after = c[(kc == EXTRA) & (c < end_c)] + 1
        kind[after] = MERGED
    return kind, med


def corrected(beats: Beats) -> tuple[np.ndarray, np.ndarray]:
    """Each input interval's corrected value and how often it occurs in the corrected
    series (2 for a missed beat's halves, 0 for a merged interval)."""
    return _corrected(beats.rr, beats.kind, beats.med)


def _corrected(x: np.ndarray, kind: np.ndarray, med: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    value = x.copy()
    reps = np.ones(x.size, dtype=np.int8)
    fixed = np.flatnonzero(kind != OK)
    k = kind[fixed]
    repl = fixed[(k == ECTOPIC) | (k == LONG) | (k == SHORT)]
    value[repl] = med[repl]
    ex = fixed[k == EXTRA]
    value[ex] = x[ex] + x[ex + 1]  # an extra beat is never a group's last (see above)
    mi = fixed[k == MISSED]
    value[mi] = x[mi] / 2.0
    reps[mi] = 2
    reps[fixed[k == MERGED]] = 0
    return value, reps


def rmssd_by_group(beats: Beats) -> pl.DataFrame:
    """Per group of an :func:`annotate_artifacts` series (``_g``, 0, 1, …): ``n_rr``
    (corrected intervals), ``n_corrected`` (input intervals replaced, split or merged),
    ``sumsq`` (Σ squared successive differences of the corrected series) and ``rmssd``.
    Whole groups at a time, about ``CHUNK_BEATS`` per step."""
    import numpy as np
    import polars as pl

    g = beats.group
    n_groups = int(g[-1]) + 1 if g.size else 0
    starts = np.searchsorted(g, np.arange(n_groups))
    sumsq = np.zeros(n_groups)
    n_rr = np.zeros(n_groups, dtype=np.int64)
    n_corrected = np.zeros(n_groups, dtype=np.int64)
    i = 0
    while i < n_groups:
        lo = int(starts[i])
        j = max(i + 1, int(np.searchsorted(starts, lo + CHUNK_BEATS, side="right")))
        hi = int(starts[j]) if j < n_groups else g.size
        kind = beats.kind[lo:hi]
        value, reps = _corrected(beats.rr[lo:hi], kind, beats.med[lo:hi])
        local = g[lo:hi] - i
        kept = reps > 0
        v, gk = value[kept], local[kept]
        same = gk[1:] == gk[:-1]
        step = (v[1:] - v[:-1])[same]
        sumsq[i:j] = np.bincount(gk[1:][same], weights=step * step, minlength=j - i)
        n_rr[i:j] = np.bincount(local, weights=reps, minlength=j - i)
        n_corrected[i:j] = np.bincount(local[kind != OK], minlength=j - i)
        i = j
    with np.errstate(divide="ignore", invalid="ignore"):
        rmssd = np.sqrt(sumsq / (n_rr - 1))
    return pl.DataFrame(
        {
            "_g": np.arange(n_groups, dtype=np.int64),
            "n_rr": n_rr,
            "n_corrected": n_corrected,
            "sumsq": sumsq,
            "rmssd": pl.Series(rmssd).set(pl.Series(n_rr < 2), None),
        }
    )


def correct_artifacts(rr_ms: Sequence[float]) -> CorrectedRR:
    """Detect and correct ectopic, long/short, missed and extra beats (Lipponen & Tarvainen
    2019 detection rules with block thresholds; see the module docstring)."""
    import numpy as np

    if len(rr_ms) < 3:
        return CorrectedRR(tuple(round_half_up(x) for x in rr_ms), 0, ("",) * len(rr_ms))
    beats = annotate_artifacts(np.array([float(x) for x in rr_ms]))
    value, reps = corrected(beats)
    kinds = beats.kind.tolist()
    fixed = [
        round_half_up(v)
        for v, r in zip(value.tolist(), reps.tolist(), strict=True)
        for _ in range(r)
    ]
    return CorrectedRR(
        tuple(fixed),
        sum(1 for k in kinds if k != OK),
        tuple(FLAG_NAMES[k] for k in kinds),
    )
