"""A published resting RR series (pyhrv's sample, tests/data/README.md) as a strap would
send it: one notification per second carrying the RR intervals that ended in that second."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def pyhrv_rr() -> list[int]:
    """337 RR intervals (ms) of a real recording at rest (mean HR ≈ 67 bpm)."""
    return [int(v) for v in (DATA / "pyhrv_sample_nni_short.txt").read_text().split()]


def per_second(rr: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """(bpm, RR intervals) for each second, second k holding the intervals whose beat fell
    in [k, k + 1) s after the first beat. The bpm is 60000 / mean of that second's
    intervals (the previous second's when none ended in it)."""
    seconds: list[list[int]] = []
    t = 0
    for x in rr:
        t += x
        k = (t - 1) // 1000
        while len(seconds) <= k:
            seconds.append([])
        seconds[k].append(x)
    out: list[tuple[int, tuple[int, ...]]] = []
    bpm = round(60000 / rr[0])
    for group in seconds:
        if group:
            bpm = round(60000 * len(group) / sum(group))
        out.append((bpm, tuple(group)))
    return out
