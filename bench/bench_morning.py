"""Benchmark: what finishing a morning reading costs the server, against its floor.

A guest's reading ends when the page's countdown does; the server then reads the window's
samples, applies the quality rule, corrects the artifacts, keeps the reading (journal,
``morning_readings``) and recomputes the athlete's baselines. This measures, on a real
SQLite store holding ``--days`` days of 1 Hz samples of ``--athletes`` guests (a 3-min
morning reading of a published resting RR series on each day):

(a) the floor: ``Store.query_samples`` of the 3-min window alone;
(b) :func:`gympulse.pipeline.readings.take_reading` of the same window (everything the
    server does before the page shows the result).

It prints both medians and the ratio (b)/(a); what the guest waits after the countdown is
(b) plus one HTTP round trip (the browser test measured the whole wait: under a second).

    .venv/bin/python bench/bench_morning.py            # 20 guests × 60 days
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from gympulse.pipeline import readings
from gympulse.pipeline.analytics.morning import Refusal
from gympulse.pipeline.consent import record_all
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pyhrv_sample_nni_short.txt"
DAY_MS = 86_400_000
T0 = 1_767_250_800_000  # 2026-01-01 07:00 UTC


def _per_second(rr: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    seconds: list[list[int]] = []
    t = 0
    for x in rr:
        t += x
        k = (t - 1) // 1000
        while len(seconds) <= k:
            seconds.append([])
        seconds[k].append(x)
    return [(round(60000 * len(g) / sum(g)) if g else 60, tuple(g)) for g in seconds]


async def main(athletes: int, days: int, repeats: int) -> None:
    rr = [int(v) for v in DATA.read_text().split()]
    beats = _per_second(rr)[:180]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        registry = Registry(db)
        ids = [registry.add_athlete(f"Guest {i}", hr_rest=66) for i in range(athletes)]
        registry.close()
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            for a in ids:  # they said yes: their morning readings may be kept
                record_all(conn, a, "bench", since_ms=0)
        store = SqliteStore(db)
        await store.open()
        for a in ids:
            batch = WriteBatch()
            for d in range(days):
                start = T0 + d * DAY_MS
                batch.samples += [
                    StoredSample("demo", "c", f"strap-{a}", start + k * 1000, start + k, bpm,
                                 rb, True, None, a)
                    for k, (bpm, rb) in enumerate(beats)
                ]  # fmt: skip
            await store.write(batch)
        journal = Journal(db)
        floor, full = [], []
        last = T0 + (days - 1) * DAY_MS
        for i in range(repeats):
            a = ids[i % len(ids)]
            t = time.perf_counter()
            await store.query_samples(last, last + 180_000, sensors=[f"strap-{a}"])
            floor.append(time.perf_counter() - t)
            t = time.perf_counter()
            got = await readings.take_reading(
                store, journal, a, last, last + 180_000, method="station", sensor=f"strap-{a}"
            )
            full.append(time.perf_counter() - t)
            assert not isinstance(got, Refusal), got
        journal.close()
        await store.close()
    a_ms, b_ms = statistics.median(floor) * 1000, statistics.median(full) * 1000
    print(f"store: {athletes} guests × {days} days of 3-min readings")
    print(f"(a) query the window      {a_ms:8.2f} ms (median of {repeats})")
    print(f"(b) take_reading          {b_ms:8.2f} ms")
    print(f"ratio (b)/(a)             {b_ms / a_ms:8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=20)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.athletes, args.days, args.repeats))
