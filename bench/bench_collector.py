"""Collector cost per strap: N virtual straps -> collector subprocess -> Mosquitto.

Runs the real collector (``python -m gympulse.cli collect``, bumble central over
HCI-over-TCP) against bumble virtual straps in this process and a private Mosquitto, and
reads the collector's CPU time from /proc while every strap notifies. Prints CPU % of one
core per strap and µs per notification, as ratios to the first configuration measured in
the same run (never an absolute threshold).

    .venv/bin/python -m bench.bench_collector [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
import tempfile
from pathlib import Path

from tests.support.procs import Mosquitto
from tests.support.virtual_straps import StrapField, Watcher

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def measure(n: int, rate_hz: float, seconds: float, workdir: Path) -> dict[str, float]:
    broker = Mosquitto(workdir / f"mosquitto-{n}-{rate_hz:g}")
    broker.start()
    adapters = max(1, math.ceil(n / 7))  # 7 connections per adapter, the default
    field = StrapField(n, rate_hz=rate_hz, adapters=adapters)
    await field.start()
    watcher = Watcher(broker.url, "bench")
    await watcher.start()
    config = workdir / f"bench-{n}-{rate_hz:g}.toml"
    config.write_text(
        f'site = "bench"\n[mqtt]\nurl = "{broker.url}"\n'
        f'[collector]\nname = "bench"\ncentral = "bumble"\ntransport = "{field.transport}"\n'
        f'state_dir = "{workdir / f"state-{n}-{rate_hz:g}"}"\nscan_seconds = 0.3\n'
        'confirm = "broker"\n'  # no ingestion in this bench: the broker's PUBACK confirms
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.cli",
        "--config",
        str(config),
        "collect",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await watcher.until(lambda: all(s.subscribed for s in field.straps), within_s=120)
        await asyncio.sleep(1.0)
        sent0 = sum(len(s.sent) for s in field.straps)
        cpu0 = cpu_seconds(proc.pid)
        await asyncio.sleep(seconds)
        cpu1 = cpu_seconds(proc.pid)
        sent1 = sum(len(s.sent) for s in field.straps)
        field.pause()
        await watcher.until(lambda: watcher.got.total() >= sent1, within_s=60)
    finally:
        proc.terminate()
        await proc.wait()
        await watcher.stop()
        await field.stop()
        broker.stop()
    notifications = sent1 - sent0
    cpu = cpu1 - cpu0
    return {
        "straps": n,
        "adapters": adapters,
        "rate_hz": rate_hz,
        "notifications_per_s": notifications / seconds,
        "cpu_pct": 100 * cpu / seconds,
        "cpu_pct_per_strap": 100 * cpu / seconds / n,
        "us_per_notification": 1e6 * cpu / max(1, notifications),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    logging.getLogger("bumble").setLevel(logging.ERROR)
    runs = [(1, 1.0), (12, 1.0), (40, 1.0), (12, 20.0)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, rate in runs:
            results.append(await measure(n, rate, args.seconds, Path(tmp)))
    base = results[0]
    print(
        f"{'straps':>6} {'adapters':>8} {'rate':>5} {'notif/s':>8} {'CPU %':>6} "
        f"{'%/strap':>8} {'us/notif':>9}  ratio us/notif vs 1 strap"
    )
    for r in results:
        print(
            f"{r['straps']:>6.0f} {r['adapters']:>8.0f} {r['rate_hz']:>5.0f} "
            f"{r['notifications_per_s']:>8.1f} {r['cpu_pct']:>6.2f} "
            f"{r['cpu_pct_per_strap']:>8.3f} {r['us_per_notification']:>9.0f}  "
            f"{r['us_per_notification'] / base['us_per_notification']:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
