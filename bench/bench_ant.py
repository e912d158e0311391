"""ANT+ in simulation: what the collector costs per strap, and how many straps one stick takes.

Two parts, both printed with ratios to a baseline measured in the same run:

1. **Cost per strap.** The real collector (``run_collector``: the ANT receiver, disk queue,
   forwarder, a private Mosquitto; Bluetooth off) in this process, fed by a stick at the USB
   boundary (``tests/support/fake_ant.py``, configured as a real stick is) whose N straps
   broadcast at the heart-rate profile's 4.06 Hz (8070/32768 s) in real time. The process's
   CPU time and RSS over the window, for N = 0 (the baseline: the same collector, a stick
   that hears nothing) and the N asked; per strap-second = (CPU(N) - CPU(0)) / (N * s).
   The pages are built here as a current strap sends them (page 4: event time, previous
   event time, beat count, bpm; the page toggle flipped every 4 messages), prebuilt so the
   stick costs next to nothing while the window runs.
2. **Straps per stick.** (a) CPU: one core's worth divided by the CPU per strap-second of
   the largest N (checked: about one sample per strap-second still comes out).
   (b) Air: a stick in continuous scan mode hears every message in range (ANT AN14), so
   what limits it is two straps transmitting at the same moment. Straps are not
   synchronised: each has its own period (8070/32768 s within a crystal tolerance of
   +-50 ppm) and phase, so two straps' packets collide now and then as their phases drift
   through each other. Simulated over ``--air-seconds``: the fraction of broadcasts lost
   (an overlap of two packets loses both) for N straps, with a packet airtime ``--airtime-us``
   (an assumption: the 8-byte payload plus preamble, sync, channel id and CRC at 1 Mbit/s,
   about 150 us; change it to see what the answer depends on). The baseline is one strap
   (no loss). A strap that loses 1 broadcast in 4 still gives its beat count and event
   time in the next one (the profile's accumulated fields), so RR survives losses that do
   not take two broadcasts in a row.

    PYTHONPATH=. .venv/bin/python bench/bench_ant.py [--straps 1,10,40,100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path

from gympulse.collectors.ant_hrm import encode_message
from gympulse.collectors.service import run_collector
from gympulse.settings import AntSettings, CollectorSettings, MqttSettings, Settings
from tests.support.fake_ant import FakeAntStick
from tests.support.procs import Mosquitto

PERIOD_S = 8070 / 32768  # the heart-rate profile's channel period: 4.06 broadcasts/s
RING = 512  # broadcasts prebuilt per strap: 128 s of its beat clock
FRAME = 18  # sync, length, id, channel, 8 payload bytes, 5 channel id bytes, checksum


def strap_pages(number: int) -> bytes:
    """One strap's broadcast frames (with the channel id, as in scan mode) for 128 s of beats
    at about 120 bpm: RR alternately 524 and 500 ticks of 1/1024 s, 256 beats in 131072
    ticks, so the ring closes where the beat count and the event time roll over."""
    phase = number % 97  # a beat clock of its own
    beats = [phase + 512 * j + (12 if j % 2 else 0) for j in range(256)]
    frames = []
    for i in range(RING):
        now = phase + i * 256  # 0.25 s of beat clock per broadcast
        count = sum(1 for b in beats if b <= now)
        last = beats[count - 1]
        prev = beats[count - 2] if count > 1 else beats[-1] - 131072
        toggle = 0x80 if (i // 4) % 2 else 0
        head = (0x04 | toggle, 0xFF, prev & 0xFF, (prev >> 8) & 0xFF)
        payload = bytes((*head, last & 0xFF, (last >> 8) & 0xFF, count & 0xFF, 120))
        data = bytes((0,)) + payload + bytes((0x80, number & 0xFF, number >> 8, 120, 0x01))
        frames.append(encode_message(0x4E, data))
    assert all(len(f) == FRAME for f in frames)
    return b"".join(frames)


class PacedStick(FakeAntStick):
    """The fake stick's configuration handshake; then N straps on the air, read as a USB
    read returns them: every broadcast due since the last read (real time, 4.06 Hz each)."""

    def __init__(self, straps: int) -> None:
        super().__init__([])
        self.rings = [strap_pages(1000 + n) for n in range(straps)]
        self.delivered = 0
        self._t0 = 0.0
        self.opened_scan = threading.Event()  # Open Rx Scan Mode came: broadcasts flow

    def read(self) -> bytes:
        if self.scanning:
            self.opened_scan.set()
        with self._lock:
            if self._out or not self.scanning or not self.rings:
                data, self._out = bytes(self._out), bytearray()
                if not data:
                    time.sleep(0.02)
                return data
        if not self._t0:
            self._t0 = time.monotonic()
        n = len(self.rings)
        time.sleep(0.01)  # a USB read returns every few ms with what came
        due = int((time.monotonic() - self._t0) / PERIOD_S * n)
        chunk = []
        while self.delivered < due:
            k = self.delivered
            at = (k // n) % RING * FRAME
            chunk.append(self.rings[k % n][at : at + FRAME])
            self.delivered += 1
        return b"".join(chunk)


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(straps: int, seconds: float, workdir: Path) -> dict[str, float]:
    broker = Mosquitto(workdir / f"mosquitto-{straps}")
    broker.start()
    stick = PacedStick(straps)
    settings = Settings(
        site="bench",
        mqtt=MqttSettings(url=broker.url),
        collector=CollectorSettings(
            name="bench",
            ble=False,
            state_dir=str(workdir / f"state-{straps}"),
            confirm="broker",  # no ingestion here: the broker's PUBACK confirms
            ant=AntSettings(enabled=True),
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_collector(settings, stop, ant_stick=lambda: stick))
    try:
        await asyncio.to_thread(stick.opened_scan.wait, 60)
        await asyncio.sleep(2.0)  # every strap heard once, queue and broker warm
        cpu0, sent0, rss0 = time.process_time(), stick.delivered, _rss_kb()
        await asyncio.sleep(seconds)
        cpu1, sent1, rss1 = time.process_time(), stick.delivered, _rss_kb()
    finally:
        stop.set()
        summary = await task
        broker.stop()
    published = sum(c["published"] for c in summary.values())
    return {
        "straps": straps,
        "broadcasts_per_s": (sent1 - sent0) / seconds,
        "cpu_s": cpu1 - cpu0,
        "seconds": seconds,
        "rss_kb": rss1,
        "rss_growth_kb": rss1 - rss0,
        "published": published,
    }


def air_loss(straps: int, seconds: float, airtime_us: float, seed: int = 7) -> float:
    """Fraction of broadcasts that overlap another strap's on the air."""
    rng = random.Random(seed)
    starts: list[float] = []
    for _ in range(straps):
        period = PERIOD_S * (1 + rng.uniform(-50e-6, 50e-6))
        t = rng.uniform(0, period)
        while t < seconds:
            starts.append(t)
            t += period
    starts.sort()
    air = airtime_us / 1e6
    lost = 0
    for i, t in enumerate(starts):
        before = i > 0 and t - starts[i - 1] < air
        after = i + 1 < len(starts) and starts[i + 1] - t < air
        lost += before or after
    return lost / max(1, len(starts))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--straps", default="1,10,40,100")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--air-straps", default="1,10,40,60,100,150,200")
    parser.add_argument("--air-seconds", type=float, default=600.0)
    parser.add_argument("--airtime-us", type=float, default=150.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.straps.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-ant-") as tmp:
        base = await run(0, args.seconds, Path(tmp))
        rows = [await run(n, args.seconds, Path(tmp)) for n in counts]
    idle = base["cpu_s"] / base["seconds"]
    print(
        f"baseline (a stick that hears nothing): {100 * idle:.2f} % of one core, "
        f"RSS {base['rss_kb'] / 1024:.1f} MiB"
    )
    print(
        f"{'straps':>6} {'bcast/s':>8} {'CPU %':>6} {'ms CPU/strap-s':>15} "
        f"{'us/bcast':>9} {'RSS MiB':>8} {'KiB/strap':>9}  ratio CPU to baseline"
    )
    for r in rows:
        n = r["straps"]
        cpu_per_s = r["cpu_s"] / r["seconds"]
        extra = max(0.0, cpu_per_s - idle)
        per_strap_ms = 1000 * extra / n
        per_bcast_us = 1e6 * extra / max(1.0, r["broadcasts_per_s"])
        kib = (r["rss_kb"] - base["rss_kb"] - n * RING * FRAME / 1024) / n  # less the rings
        print(
            f"{n:>6.0f} {r['broadcasts_per_s']:>8.1f} {100 * cpu_per_s:>6.2f} "
            f"{per_strap_ms:>15.3f} {per_bcast_us:>9.1f} {r['rss_kb'] / 1024:>8.1f} "
            f"{kib:>9.1f}  {cpu_per_s / idle if idle else float('nan'):.2f}"
        )
    top = rows[-1]
    per_strap = (top["cpu_s"] / top["seconds"] - idle) / top["straps"]
    print(
        f"CPU: one core takes {1 / per_strap:.0f} straps at 4.06 Hz (from {top['straps']:.0f} "
        f"straps: {top['published'] / top['straps'] / (top['seconds'] + 2):.2f} samples "
        "per strap-second published, about 1 expected)"
    )
    print(
        f"air (airtime {args.airtime_us:.0f} us, {args.air_seconds:.0f} s, +-50 ppm): "
        "broadcasts lost to collisions; ratio to 1 strap"
    )
    one = air_loss(1, args.air_seconds, args.airtime_us)
    for n in (int(x) for x in args.air_straps.split(",")):
        loss = air_loss(n, args.air_seconds, args.airtime_us)
        print(f"{n:>6} straps: {100 * loss:6.2f} % lost  (1 strap: {100 * one:.2f} %)")


if __name__ == "__main__":
    asyncio.run(main())
