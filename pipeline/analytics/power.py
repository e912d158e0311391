"""Power analytics of a session: average and normalized power, work, intensity factor, TSS.

Pure functions on plain data (the machine samples of the wire contract's machine extension,
as the store returns them). Definitions (Allen & Coggan, *Training and Racing with a Power
Meter*, 2nd ed. 2010):

- the power series is taken at 1 Hz over the session: each second holds the latest sample
  of at most :data:`HOLD_S` seconds before it, else 0 W (a machine that stops sending is a
  rider who stopped pedalling, not one who holds their last watts);
- **average power** = mean of that series (W); **work** = its sum in joules / 1000 (kJ);
- **normalized power** (NP) = the 4th root of the mean of the 4th powers of the 30-second
  rolling average of the series (needs at least 30 s; None for shorter sessions);
- with a functional threshold power (FTP, in the athlete's profile): **intensity factor**
  IF = NP / FTP and **training stress score** TSS = duration_s × NP × IF / (FTP × 3600) ×
  100 — one hour at FTP is 100. Without an FTP both are None.

How power load meets heart-rate load in the daily model (never summed twice): the daily
performance model (:func:`gympulse.pipeline.analytics.load.performance`) runs on one load
unit at a time. ``daily_metrics.load`` is, and stays, the day's Banister TRIMP from heart
rate, which every session with a strap has whether or not there was a machine. TSS is
another unit of the same sessions (a spin class has both a TRIMP from the strap and a TSS
from the bike), so adding it to TRIMP would count that class twice: :func:`daily_tss` gives
the day's TSS as its own series (``power_tss``) for a coach who wants the model on power
(``performance(frame.rename({"power_tss": "load"}))``), exactly as session-RPE load is kept
beside TRIMP and never added to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

HOLD_S = 3
NP_WINDOW_S = 30


@dataclass(frozen=True, slots=True)
class PowerSummary:
    seconds: int  # length of the 1 Hz series
    avg_power_w: float
    np_w: float | None
    work_kj: float
    ftp_w: int | None
    intensity_factor: float | None
    tss: float | None


def per_second(
    ts_ms: Sequence[int], watts: Sequence[float | None], start_ms: int, end_ms: int
) -> list[float]:
    """The 1 Hz power series of [start_ms, end_ms]: second ``i`` (at start_ms + i·1000) is
    the latest sample at or before it within :data:`HOLD_S` s, else 0. Samples must be
    sorted by time; samples without power are skipped."""
    points = [(t, float(w)) for t, w in zip(ts_ms, watts, strict=True) if w is not None]
    out: list[float] = []
    j = -1
    n = (end_ms - start_ms) // 1000 + 1
    for i in range(max(0, n)):
        now = start_ms + i * 1000
        while j + 1 < len(points) and points[j + 1][0] <= now:
            j += 1
        if j >= 0 and now - points[j][0] <= HOLD_S * 1000:
            out.append(points[j][1])
        else:
            out.append(0.0)
    return out


def normalized_power(series: Sequence[float]) -> float | None:
    """NP of a 1 Hz series: 4th root of the mean 4th power of the 30 s rolling mean."""
    if len(series) < NP_WINDOW_S:
        return None
    window = sum(series[:NP_WINDOW_S])
    fourth = (window / NP_WINDOW_S) ** 4
    count = 1
    for i in range(NP_WINDOW_S, len(series)):
        window += series[i] - series[i - NP_WINDOW_S]
        fourth += (max(window, 0.0) / NP_WINDOW_S) ** 4
        count += 1
    return float((fourth / count) ** 0.25)


def summarize(series: Sequence[float], ftp_w: int | None) -> PowerSummary:
    seconds = len(series)
    avg = sum(series) / seconds if seconds else 0.0
    np_w = normalized_power(series)
    intensity = tss = None
    if ftp_w and np_w is not None:
        intensity = np_w / ftp_w
        tss = seconds * np_w * intensity / (ftp_w * 3600) * 100
    return PowerSummary(
        seconds=seconds,
        avg_power_w=avg,
        np_w=np_w,
        work_kj=sum(series) / 1000,
        ftp_w=ftp_w,
        intensity_factor=intensity,
        tss=tss,
    )


def session_power(
    sessions: pl.DataFrame, machine: pl.DataFrame, ftp: Mapping[int, int | None]
) -> pl.DataFrame:
    """One row (``SESSION_POWER`` columns) per session with power: ``sessions`` has
    ``athlete_id``, ``session_id``, ``date``, ``start_ms``, ``end_ms``; ``machine`` the
    store's machine samples (``athlete_id``, ``ts``, ``power_w``); ``ftp`` the athletes'
    FTP in W (None when not set). A session without a single power sample has no row."""
    import polars as pl

    power = machine.filter(pl.col("power_w").is_not_null() & pl.col("athlete_id").is_not_null())
    rows = []
    for a, sid, date, start, end in sessions.select(
        "athlete_id", "session_id", "date", "start_ms", "end_ms"
    ).iter_rows():
        mine = power.filter(
            (pl.col("athlete_id") == a) & (pl.col("ts") >= start) & (pl.col("ts") <= end)
        ).sort("ts")
        if not mine.height:
            continue
        s = summarize(
            per_second(mine["ts"].to_list(), mine["power_w"].to_list(), start, end), ftp.get(a)
        )
        rows.append(
            {
                "athlete_id": a,
                "session_id": sid,
                "date": date,
                "start_ms": start,
                "seconds": s.seconds,
                "avg_power_w": s.avg_power_w,
                "np_w": s.np_w,
                "work_kj": s.work_kj,
                "ftp_w": s.ftp_w,
                "intensity_factor": s.intensity_factor,
                "tss": s.tss,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "athlete_id": pl.Int64,
            "session_id": pl.String,
            "date": pl.Date,
            "start_ms": pl.Int64,
            "seconds": pl.Int64,
            "avg_power_w": pl.Float64,
            "np_w": pl.Float64,
            "work_kj": pl.Float64,
            "ftp_w": pl.Int64,
            "intensity_factor": pl.Float64,
            "tss": pl.Float64,
        },
    )


def daily_tss(session_power_rows: pl.DataFrame) -> pl.DataFrame:
    """The day's power load: Σ TSS per (athlete_id, date) as ``power_tss`` (sessions
    without an FTP count nothing). A separate series, never added to the TRIMP ``load``."""
    import polars as pl

    return (
        session_power_rows.group_by("athlete_id", "date")
        .agg(pl.col("tss").fill_null(0.0).sum().alias("power_tss"))
        .sort("athlete_id", "date")
    )
