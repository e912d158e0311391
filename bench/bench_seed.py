"""Benchmark: ``gympulse demo``'s history seed (12 guests, six weeks) on a fresh file.

In one run it measures (a) the whole seed — simulate, encode as batch messages, the
ingestion's decode/validate/stamp, the store's write, the journal, and ``analyze`` — and
(b) the baseline: only simulating the same samples. It prints both in wall-clock and CPU
seconds, the ratio (a)/(b), and the load average (other work on the machine stretches wall
time, not CPU time). Target: (a) well under a minute on a 2-core machine.

    .venv/bin/python bench/bench_seed.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
import zoneinfo
from pathlib import Path

from gympulse.collectors import simulator
from gympulse.collectors.history import retreat_history, window_samples
from gympulse.pipeline.seed import seed_history
from gympulse.settings import Settings, StoreSettings


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    tz = "Europe/Amsterdam"
    now = dt.datetime.now(zoneinfo.ZoneInfo(tz))
    profiles = simulator.make_profiles(12, 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store=StoreSettings(path=str(Path(tmp) / "seed.db")), timezone=tz)
        wall, cpu = time.perf_counter(), _cpu()
        report = asyncio.run(seed_history(settings, profiles, now=now))
        seed_wall, seed_cpu = time.perf_counter() - wall, _cpu() - cpu
    history = retreat_history(profiles, now=now)
    wall, cpu = time.perf_counter(), _cpu()
    n = sum(len(window_samples(w, 1)) for w in history.windows)
    sim_wall, sim_cpu = time.perf_counter() - wall, _cpu() - cpu
    print(f"samples: {report.samples} stored ({n} simulated), {report.classes} classes")
    print(f"(a) seed:      {seed_wall:6.1f} s wall, {seed_cpu:6.1f} s CPU")
    print(f"(b) simulate:  {sim_wall:6.1f} s wall, {sim_cpu:6.1f} s CPU")
    print(f"ratio (a)/(b): {seed_cpu / sim_cpu:.1f} (CPU)")
    print(f"load average:  {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
