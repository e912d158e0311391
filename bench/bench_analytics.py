"""Benchmark: session summaries + daily metrics over a synthetic year, polars vs pandas.

The synthetic year: ``100 × scale`` athletes × ``--days`` days × 60 min of 1 Hz samples
with one RR interval each. The issue's "≈ 13 M samples" is 10 athletes × 365 days × 3600
(100 athletes × 365 days × 3600 s would be 131 M), so the default scale is 0.1 — 13.1 M
samples; ``--scale 1`` runs the 131 M version. In one run it measures

(a) the full recompute with polars (:func:`gympulse.pipeline.analytics.sessions.summarize`,
    :func:`gympulse.pipeline.analytics.daily.daily_loads` and ``daily_metrics``);
(b) the incremental update after one new day: summaries of that day's samples, then the
    daily model of every athlete again (what ``gympulse analyze`` computes for one new
    day; store I/O is not part of (a), (b) or (c));
(c) the same full recompute written the straightforward pandas way (groupby/apply per
    athlete and per session, the artifact correction with a pandas rolling median and
    per-block quartiles — the same block thresholds as :mod:`gympulse.pipeline.analytics.hrv`).

(d) ``gympulse analyze --full`` as a child process on a real SQLite store holding the
    synthetic samples, chunked (``--chunk-days``, default 7) and, for comparison, in one
    chunk (the whole history as one frame, as before the chunking), at growing numbers of
    days (``--store-days``): wall time and the child's peak RSS (``wait4``). Chunked, the
    peak stays flat as the days grow (it depends on athletes × chunk days), so the
    measured peak at a few weeks is the peak for a year; in one chunk it grows with
    athletes × days.

It prints the ratio (c)/(a), (b) in seconds and the peak memory (max RSS) after the
polars phases and at the end, then (d) next to (c). Targets: ratio ≥ 10, (b) < 1 s,
peak < 4 GB (also for (d) at 100 athletes).

    .venv/bin/python bench/bench_analytics.py --scale 0.05     # quick
    .venv/bin/python bench/bench_analytics.py                  # the ≈13 M sample year
    .venv/bin/python bench/bench_analytics.py --skip-pandas --skip-memory-phases \
        --store-athletes 100 --store-days 7,14,28             # (d) at 100 athletes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra
import polars as pl

from gympulse.pipeline.analytics import daily, hrv, sessions
from gympulse.pipeline.analytics.load import MORTON

DAY_MS = 86_400_000
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def athletes_frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    return pl.DataFrame(
        {
            "athlete_id": np.arange(1, n + 1, dtype=np.int64),
            "hr_max": rng.integers(175, 200, n).astype(np.float64),
            "hr_rest": rng.integers(48, 70, n).astype(np.float64),
            "sex": np.where(np.arange(n) % 2 == 0, "male", "female"),
            "weight_kg": rng.uniform(55, 95, n),
            "age": rng.integers(20, 60, n).astype(np.float64),
        },
        schema={k: v for k, v in sessions.athlete_schema().items() if k != "year"},  # every year
    )


def synthetic_samples(n_athletes: int, days: range, minutes: int = 60) -> pl.DataFrame:
    """One ``minutes`` workout at 18:00 UTC per athlete per day, 1 Hz, with RR.

    Generated one athlete at a time (so the temporaries stay small) and concatenated."""
    per = minutes * 60
    rng = np.random.default_rng(days.start + 7)
    day = np.repeat(np.array(list(days), dtype=np.int64), per)
    sec = np.tile(np.arange(per, dtype=np.int64), len(days))
    ts = int(START.timestamp() * 1000) + day * DAY_MS + 18 * 3_600_000 + sec * 1000
    wave = 140 + 25 * np.sin(sec / 300.0)
    parts = []
    for athlete in range(1, n_athletes + 1):
        bpm = np.clip(wave + (athlete % 7) * 2 + rng.normal(0, 2, sec.size), 60, 210)
        bpm = bpm.astype(np.int32)
        rr = np.round(60000.0 / bpm + rng.normal(0, 6, sec.size)).astype(np.int32)
        # 0.1 % of beats are artifacts: a missed beat (double interval).
        rr[rng.random(sec.size) < 0.001] *= 2
        parts.append(
            pl.DataFrame(
                {
                    "sensor": pl.repeat(str(athlete), sec.size, eager=True),
                    "athlete_id": pl.repeat(athlete, sec.size, dtype=pl.Int64, eager=True),
                    "ts": ts,
                    "bpm": bpm,
                    "rr_ms": pl.Series(rr).reshape((-1, 1)).cast(pl.List(pl.Int32)),
                    "contact": np.ones(sec.size, dtype=bool),
                }
            )
        )
    return pl.concat(parts, rechunk=True)


def polars_full(samples: pl.DataFrame, athletes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    summary = sessions.summarize(samples, athletes)
    loads = daily.daily_loads(summary)
    return summary, daily.daily_metrics(loads, None, 0)


def polars_incremental(
    new: pl.DataFrame, athletes: pl.DataFrame, loads: pl.DataFrame
) -> pl.DataFrame:
    summary = sessions.summarize(new, athletes)
    all_loads = pl.concat([loads, daily.daily_loads(summary)])
    return daily.daily_metrics(all_loads, None, 0)


# ----------------------------------------------------------------- the pandas baseline


def _pd_qd(s: pd.Series) -> pd.Series:
    """Quartile deviation per block of about 91 beats (as :func:`hrv.block_ids`)."""
    n = len(s)
    n_blocks = max(1, math.floor(n / hrv.QD_WINDOW + 0.5))
    block = np.arange(n) * n_blocks // n
    q = s.groupby(block).quantile([0.25, 0.75]).unstack()
    return pd.Series(((q[0.75] - q[0.25]) / 2.0).to_numpy()[block], index=s.index)


def _pd_rmssd(rr: np.ndarray) -> tuple[float, int]:
    """Lipponen–Tarvainen detection and correction as in the module, in pandas."""
    x = pd.Series(rr.astype(float))
    d = x.diff()
    d.iloc[0] = d.iloc[1:].mean()
    med = x.rolling(hrv.MEDIAN_WINDOW, center=True, min_periods=1).median()
    th1 = (hrv.ALPHA * _pd_qd(d.abs())).clip(lower=1e-9)
    m = x - med
    m = m.where(m >= 0, 2 * m)
    th2 = (hrv.ALPHA * _pd_qd(m.abs())).clip(lower=1e-9)
    dn, mn = d / th1, m / th2
    p1, n1, n2 = dn.shift(1).fillna(0), dn.shift(-1).fillna(0), dn.shift(-2).fillna(0)
    s12 = np.where(dn > 0, np.maximum(p1, n1), np.minimum(p1, n1))
    s22 = np.where(dn >= 0, np.minimum(n1, n2), np.maximum(n1, n2))
    ect = ((dn > 1) & (s12 < -hrv.C1 * dn - hrv.C2)) | ((dn < -1) & (s12 > -hrv.C1 * dn + hrv.C2))
    is_long = (dn > 1) & (s22 < -1)
    is_short = (dn < -1) & (s22 > 1)
    ls = (is_long | (mn.abs() > 3) | is_short) & ~ect
    extra = ls & is_short & ((x + x.shift(-1) - med).abs() < th2)
    missed = ls & ~extra & is_long & ((x / 2 - med).abs() < th2)
    merged = extra.shift(1, fill_value=False)
    xs, meds = x.to_numpy(), med.to_numpy()
    f_merged, f_extra, f_missed = merged.to_numpy(), extra.to_numpy(), missed.to_numpy()
    f_fix = (ect | ls).to_numpy()
    out: list[float] = []
    for i in range(len(xs)):
        if f_merged[i]:
            continue
        if f_extra[i]:
            out.append(xs[i] + xs[i + 1])
        elif f_missed[i]:
            out += [xs[i] / 2, xs[i] / 2]
        elif f_fix[i]:
            out.append(meds[i])
        else:
            out.append(xs[i])
    diffs = np.diff(np.array(out))
    n_corr = int((ect | ls | merged).sum())
    return (float(np.sqrt(np.mean(diffs**2))) if diffs.size else math.nan), n_corr


def _pd_zone(bpm: float, hr_max: float) -> int:
    return sum(1 for pct in (50, 60, 70, 80, 90) if bpm * 100 >= pct * hr_max)


def _pd_session(g: pd.DataFrame) -> pd.Series:
    a = g.iloc[0]
    zones = g["bpm"].apply(lambda b: _pd_zone(b, a["hr_max"]))
    minutes = (g["ts"].max() - g["ts"].min()) / 60000.0
    hr_avg = g["bpm"].mean()
    x = (hr_avg - a["hr_rest"]) / (a["hr_max"] - a["hr_rest"])
    ca, cb = MORTON[a["sex"]]
    if a["sex"] == "male":
        kj = -55.0969 + 0.6309 * g["bpm"] + 0.1988 * a["weight_kg"] + 0.2017 * a["age"]
    else:
        kj = -20.4022 + 0.4472 * g["bpm"] - 0.1263 * a["weight_kg"] + 0.074 * a["age"]
    rmssd, n_corr = _pd_rmssd(np.concatenate(g["rr_ms"].to_numpy()))
    row: dict[str, Any] = {
        "start_ms": g["ts"].min(),
        "end_ms": g["ts"].max(),
        "hr_avg": hr_avg,
        "hr_max": g["bpm"].max(),
        "trimp_banister": minutes * x * ca * math.exp(cb * x) if hr_avg > a["hr_rest"] else 0.0,
        "trimp_edwards": zones.sum() / 60.0,
        "kcal": (kj / 4.184).clip(lower=0).sum() / 60.0,
        "points": zones.sum() / 60.0,
        "rmssd": rmssd,
        "n_corrected": n_corr,
    }
    for z in range(6):
        row[f"zone{z}_s"] = int((zones == z).sum())
    return pd.Series(row)


def _pd_detect(g: pd.DataFrame) -> pd.DataFrame:
    a = g.iloc[0]
    thr = a["hr_rest"] + 0.2 * (a["hr_max"] - a["hr_rest"])
    active = g[g["contact"] & (g["bpm"] >= thr)]
    run = (active["ts"].diff().fillna(sessions.AUTO_GAP_MS) >= sessions.AUTO_GAP_MS).cumsum()
    bounds = active.groupby(run)["ts"].agg(["min", "max"])
    bounds = bounds[bounds["max"] - bounds["min"] >= sessions.AUTO_MIN_MS]
    g = g.copy()
    g["session"] = -1
    for start, end in bounds.itertuples(index=False):
        g.loc[(g["ts"] >= start) & (g["ts"] <= end), "session"] = start
    return g[g["session"] >= 0]


def pandas_full(samples: pd.DataFrame, athletes: pd.DataFrame) -> pd.DataFrame:
    frame = samples.merge(athletes, on="athlete_id").sort_values(["athlete_id", "ts"])
    frame = (
        frame.groupby("athlete_id", group_keys=True)
        .apply(_pd_detect)
        .reset_index(level=0)
        .reset_index(drop=True)
    )
    summary = frame.groupby(["athlete_id", "session"]).apply(_pd_session).reset_index()
    summary["date"] = pd.to_datetime(summary["start_ms"], unit="ms").dt.normalize()
    loads = summary.groupby(["athlete_id", "date"])["trimp_banister"].sum()

    def model(s: pd.Series) -> pd.DataFrame:
        s = s.droplevel(0).asfreq("D", fill_value=0.0)
        out = pd.DataFrame({"load": s})
        ctl, atl, rows = 0.0, 0.0, []
        kc, ka = 1 - math.exp(-1 / 42), 1 - math.exp(-1 / 7)
        for v in s:
            tsb = ctl - atl
            ctl += (v - ctl) * kc
            atl += (v - atl) * ka
            rows.append((ctl, atl, tsb))
        out[["ctl", "atl", "tsb"]] = rows
        acute = s.ewm(alpha=2 / 8, adjust=False).mean()
        chronic = s.ewm(alpha=2 / 29, adjust=False).mean()
        out["acwr_ewma"] = acute / chronic.where(chronic > 0)
        out["acwr_rolling"] = s.rolling(7).mean() / s.rolling(28).mean().where(lambda c: c > 0)
        sd = s.rolling(7).std(ddof=0)
        out["monotony"] = s.rolling(7).mean() / sd.where(sd > 1e-9)
        out["strain"] = s.rolling(7).sum() * out["monotony"]
        return out

    return loads.groupby(level=0).apply(model)


# ----------------------------------------------- (d) analyze --full on a real store


def _store_with_samples(folder: Path, n_athletes: int, days: range) -> Path:
    """A SQLite store (the real schema, made by SqliteStore) with the synthetic samples
    of ``days`` (day numbers from START) and a registry with the athletes; appends when
    the file exists."""
    from gympulse.pipeline.consent import record_all
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores.sqlite import SqliteStore

    db = folder / "gympulse.db"
    if not db.exists():
        registry = Registry(db)
        athletes = athletes_frame(n_athletes)
        for row in athletes.iter_rows(named=True):
            registry.add_athlete(
                f"A{row['athlete_id']}",
                birth_year=2024 - int(row["age"]),
                sex=row["sex"],
                weight_kg=row["weight_kg"],
                hr_max=int(row["hr_max"]),
                hr_rest=int(row["hr_rest"]),
            )
        registry.close()
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            for a in athletes["athlete_id"].to_list():  # they said yes: analysed
                record_all(conn, a, "bench", since_ms=0)

        async def schema() -> None:
            store = SqliteStore(db)
            await store.open()
            await store.close()

        asyncio.run(schema())
    conn = sqlite3.connect(db)
    for d in days:  # one day at a time: the generator's frames stay small
        frame = synthetic_samples(n_athletes, range(d, d + 1))
        rr = [",".join(map(str, r)) for r in frame["rr_ms"].to_list()]
        conn.executemany(
            "INSERT OR IGNORE INTO samples (sensor, ts, seq, site, collector, bpm, rr, contact,"
            " energy_kj, athlete_id) VALUES (?,?,?,'gym','bench',?,?,1,NULL,?)",
            zip(
                frame["sensor"].to_list(),
                frame["ts"].to_list(),
                frame["ts"].to_list(),
                frame["bpm"].to_list(),
                rr,
                frame["athlete_id"].to_list(),
                strict=True,
            ),
        )
        conn.commit()
    conn.close()
    return db


def _analyze_child(db: Path, chunk_days: int) -> tuple[float, float, str]:
    """``gympulse analyze --full`` in a child process: (seconds, peak RSS in MB, output)."""
    config = db.parent / "gympulse.toml"
    config.write_text(f'timezone = "UTC"\n[store]\npath = "{db}"\n')
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), "analyze", "--full",
         "--chunk-days", str(chunk_days)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"analyze failed:\n{out}")
    proc.returncode = 0
    return seconds, usage.ru_maxrss / 1024.0, out.strip().splitlines()[-1]


def store_phase(n_athletes: int, day_counts: list[int], chunk_days: int) -> list[str]:
    """(d): analyze --full, chunked and in one chunk, on stores of growing length."""
    lines = []
    today = (dt.datetime.now(dt.UTC) - START).days
    first = today - max(day_counts)  # the synthetic days end yesterday
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = 0
        for days in sorted(day_counts):
            t0 = time.perf_counter()
            db = _store_with_samples(folder, n_athletes, range(first + written, first + days))
            written = days
            samples = n_athletes * days * 3600
            print(
                f"(d) store: {n_athletes} athletes x {days} days = {samples:,} samples"
                f" (written in {time.perf_counter() - t0:.1f} s, {db.stat().st_size / 1e9:.2f} GB)"
            )
            for label, chunk in ((f"chunked ({chunk_days} d)", chunk_days), ("one chunk", 100_000)):
                seconds, peak, out = _analyze_child(db, chunk)
                line = (
                    f"(d) analyze --full, {label:>13}: {days:4d} days {seconds:8.1f} s"
                    f"  peak RSS {peak:7.0f} MB  ({samples / seconds / 1e3:,.0f} k samples/s)"
                )
                print(line + f"  [{out}]")
                lines.append(line)
    return lines


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Without pyarrow: numpy columns, lists as Python lists (the straightforward way)."""
    return pd.DataFrame(
        {
            c: (frame[c].to_list() if frame.schema[c] == pl.List(pl.Int32) else frame[c].to_numpy())
            for c in frame.columns
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=0.1, help="fraction of 100 athletes (0.1: 13 M samples)"
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument(
        "--skip-memory-phases", action="store_true", help="run only (d), the store phase"
    )
    parser.add_argument(
        "--store-athletes", type=int, default=None, help="(d): athletes (default: as --scale)"
    )
    parser.add_argument(
        "--store-days", default="7,14,28", help="(d): comma-separated numbers of days ('' skips)"
    )
    parser.add_argument("--chunk-days", type=int, default=7, help="(d): analyze --chunk-days")
    args = parser.parse_args()
    n = max(1, round(100 * args.scale))
    store_lines: list[str] = []
    if args.store_days:
        # First, while this process is small (the children's peaks are their own anyway).
        store_lines = store_phase(
            args.store_athletes or n,
            [int(d) for d in args.store_days.split(",")],
            args.chunk_days,
        )
    if args.skip_memory_phases:
        return
    athletes = athletes_frame(n)
    samples = synthetic_samples(n, range(args.days))
    new_day = synthetic_samples(n, range(args.days, args.days + 1))
    print(f"synthetic: {n} athletes x {args.days} days x 60 min = {samples.height:,} samples")

    t0 = time.perf_counter()
    summary, metrics = polars_full(samples, athletes)
    t_full = time.perf_counter() - t0
    print(
        f"(a) polars full recompute:   {t_full:8.2f} s  ({summary.height:,} sessions,"
        f" {metrics.height:,} daily rows)"
    )

    loads = daily.daily_loads(summary)
    t0 = time.perf_counter()
    inc = polars_incremental(new_day, athletes, loads)
    t_inc = time.perf_counter() - t0
    print(f"(b) incremental, one new day: {t_inc:8.3f} s  ({inc.height:,} daily rows)")
    peak_polars = _peak_mb()
    print(f"peak memory after polars:    {peak_polars:8.0f} MB")

    if not args.skip_pandas:
        pdf = _to_pandas(samples)
        pd_athletes = _to_pandas(athletes)
        del samples
        t0 = time.perf_counter()
        baseline = pandas_full(pdf, pd_athletes)
        t_pd = time.perf_counter() - t0
        print(f"(c) pandas groupby/apply:    {t_pd:8.2f} s  ({len(baseline):,} daily rows)")
        print(f"ratio (c)/(a):               {t_pd / t_full:8.1f}x  (target >= 10)")
        print(
            f"(c) pandas baseline: {t_pd:.1f} s for {n * args.days * 3600:,} samples"
            f" ({n * args.days * 3600 / t_pd / 1e3:,.0f} k samples/s, in memory, no store I/O);"
            f" bench process peak {_peak_mb():.0f} MB"
        )
    for line in store_lines:
        print(line)
    print(
        f"(b) {t_inc:.3f} s (target < 1 s); peak memory {_peak_mb():.0f} MB overall,"
        f" {peak_polars:.0f} MB for the polars phases (target < 4096 MB)"
    )


if __name__ == "__main__":
    main()
