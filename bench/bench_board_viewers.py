"""Live board under many viewers: ``--straps`` straps at 1 Hz, ``--viewers`` SSE viewers of
/api/live/stream (the board's event stream, what each TV or phone on the board holds open).

Measures, in the same run:
- viewers: delay from publish (the sample's ``ts``, stamped just before publishing) to the
  tile event arriving at each viewer, read by ``--viewer-procs`` processes of their own so
  the viewers never compete with the publisher;
- baseline: the same delay for a bare MQTT subscriber in this process (the broker path
  alone): the ratio shows the board's own cost.

Target (issue 24, item 4): 300 viewers, p95 under 0.5 s.

Run from the repo root:
``PYTHONPATH=. .venv/bin/python bench/bench_board_viewers.py [--viewers 300] [--straps 20]``
``[--seconds 20] [--viewer-procs 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gympulse import contract
from gympulse.collectors.simulator import Profile, make_profiles
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings
from tests.support.procs import Mosquitto
from tests.support.web import board_token, consent_all, seed_athletes, web_server

# A viewer process: N raw SSE connections; prints one delay (ms) per received live tile.
VIEWERS = r"""
import asyncio, re, sys, time
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n, seconds = int(sys.argv[4]), float(sys.argv[5])
TS = re.compile(rb'"ts":(\d+)')
delays = []
async def viewer(stop):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/live/stream HTTP/1.1\r\nHost: {host}\r\nCookie: gp_board={token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    buf = b""
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 0.5)
        except TimeoutError:
            continue
        if not chunk:
            break
        now = time.time_ns() // 1_000_000
        buf += chunk
        *events, buf = buf.split(b"\n\n")
        for event in events:
            if b"event: tile" in event and b'"state":"live"' in event:
                m = TS.search(event)
                if m:
                    delays.append(now - int(m.group(1)))
    writer.close()
async def main():
    stop = asyncio.Event()
    tasks = [asyncio.create_task(viewer(stop)) for _ in range(n)]
    print("READY", flush=True)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(" ".join(map(str, delays)), flush=True)
asyncio.run(main())
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-viewers-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "mosquitto")
        broker.start()
        try:
            db = root / "gympulse.db"
            profiles = make_profiles(args.straps, 5)
            consent_all(db, seed_athletes(db, profiles, contract.now_ms() - 60_000).values())
            token = board_token(db)
            with web_server(broker.url, db) as base:
                host, port = base.removeprefix("http://").split(":")
                await measure(args, broker.url, host, int(port), token, profiles)
        finally:
            broker.stop()


async def measure(
    args: argparse.Namespace, url: str, host: str, port: int, token: str, profiles: list[Profile]
) -> None:
    per = args.viewers // args.viewer_procs
    viewer_args = (host, str(port), token, str(per), str(args.seconds + 3))
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", VIEWERS, *viewer_args, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(args.viewer_procs)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"READY"
    baseline: list[float] = []
    sub = MqttClient(
        MqttSettings(url=url), "bench-baseline",
        subscriptions=[(f, 0) for f in contract.subscription("demo")],
    )  # fmt: skip
    async with sub, MqttClient(MqttSettings(url=url), "bench-pub") as pub:
        await sub.wait_subscribed()
        await pub.wait_connected()

        async def consume() -> None:
            async for msg in sub.messages():
                now = contract.now_ms()
                with contextlib.suppress(Exception):
                    for s in contract.decode_samples(msg.payload):
                        baseline.append(now - s.ts)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(2)  # the viewers' streams are open
        seq = 0
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            tick = time.monotonic()
            seq += 1
            for p in profiles:
                s = contract.HrSample(p.sensor, contract.now_ms(), seq, 120 + seq % 30, [500])
                await pub.publish(contract.hr_topic("demo", "bench", p.sensor), contract.encode(s))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        consumer.cancel()
    delays: list[float] = []
    for proc in procs:
        out, _ = await proc.communicate()
        line = out.decode().strip().splitlines()[-1] if out.strip() else ""
        delays += [float(v) for v in line.split()]
    expected = args.viewers // args.viewer_procs * args.viewer_procs * len(profiles) * seq
    print(f"viewers {args.viewers}, straps {args.straps}, {seq} s of samples")
    print(f"tile events received: {len(delays)} of {expected} expected")
    if not delays or not baseline:
        print("no delays measured")
        return
    p50, p95, p99 = (pct(delays, q) for q in (0.5, 0.95, 0.99))
    b50, b95 = pct(baseline, 0.5), pct(baseline, 0.95)
    print(f"viewers:  p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  mean "
          f"{statistics.fmean(delays):.0f} ms")  # fmt: skip
    print(f"baseline: p50 {b50:.0f} ms  p95 {b95:.0f} ms (bare MQTT subscriber)")
    print(f"ratio p95 viewers/baseline: {p95 / max(b95, 1.0):.1f}  (target p95 < 500 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--straps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--viewer-procs", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
