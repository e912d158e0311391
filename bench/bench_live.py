"""Live board benchmark: 60 simulated straps at 1 Hz, 5 headless browsers on /live.

Measures, in the same run:
- board: delay from MQTT publish (the sample's ``ts``, stamped just before publishing) to
  the SSE event arriving in each page (``window.gympulseOnTile``, the page's clock);
- baseline: the same delay for a bare MQTT subscriber in this process, i.e. the broker
  path alone — the ratio shows the board's own overhead;
- server CPU: psutil on the ``gympulse web`` process over the measurement window.

Targets (issue 5): p99 < 250 ms, server < 25 % of one core.

Run from the repo root:
``PYTHONPATH=. .venv/bin/python bench/bench_live.py [--seconds 30] [--straps 60] [--browsers 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from playwright.async_api import async_playwright

from gympulse import contract
from gympulse.collectors.simulator import make_profiles
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings
from tests.support.procs import Mosquitto, free_port, wait_port
from tests.test_web_support import CHROMIUM, CHROMIUM_ARGS, SITE, board_token, seed_athletes

RECORD = """
window.__delays = [];
window.gympulseOnTile = (d) => { if (d.state === 'live') window.__delays.push(Date.now() - d.ts); };
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def publish(url: str, straps: int, seconds: float, stop: asyncio.Event) -> int:
    profiles = make_profiles(straps, 11)
    async with MqttClient(MqttSettings(url=url), "bench-pub") as mqtt:
        await mqtt.wait_connected()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        sent = 0
        i = 0
        while not stop.is_set() and loop.time() - t0 < seconds:
            pending = []
            for k, p in enumerate(profiles):
                # Spread the straps over the second, as real straps are.
                await asyncio.sleep(max(0.0, t0 + i + k / straps - loop.time()))
                sample = contract.HrSample(p.sensor, contract.now_ms(), i, 100 + (i + k) % 60)
                topic = contract.hr_topic(SITE, "bench", p.sensor)
                pending.append(mqtt.publish_nowait(topic, contract.encode(sample)))
                sent += 1
            await asyncio.gather(*pending)
            i += 1
    return sent


async def baseline_subscriber(url: str, delays: list[float], stop: asyncio.Event) -> None:
    filters = contract.subscription(SITE, "hr")
    async with MqttClient(
        MqttSettings(url=url), "bench-sub", subscriptions=[(f, 0) for f in filters]
    ) as mqtt:
        async for msg in mqtt.messages(until=stop):
            now = contract.now_ms()
            for s in contract.decode_samples(msg.payload):
                delays.append(now - s.ts)


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="gympulse-bench-"))
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    db = work / "gympulse.db"
    seed_athletes(db, make_profiles(args.straps, 11), contract.now_ms() - 60_000)
    tv_token = board_token(db)  # the live board opens with a board link
    port = free_port()
    env = {
        **os.environ,
        "GYMPULSE_SITE": SITE,
        "GYMPULSE_MQTT__URL": broker.url,
        "GYMPULSE_STORE__PATH": str(db),
    }
    server = start_server(port, env)
    try:
        wait_port(port, 30)
        proc = psutil.Process(server.pid)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for _ in range(args.browsers):
                page = await browser.new_page(viewport={"width": 1920, "height": 1080})
                await page.add_init_script(RECORD)
                await page.goto(f"http://127.0.0.1:{port}/board/{tv_token}")  # opens /live
                pages.append(page)
            stop = asyncio.Event()
            base_delays: list[float] = []
            sub = asyncio.create_task(baseline_subscriber(broker.url, base_delays, stop))
            await asyncio.sleep(1.0)
            proc.cpu_percent(None)
            cpu_t0 = time.monotonic()
            sent = await publish(broker.url, args.straps, args.seconds, stop)
            await asyncio.sleep(1.0)
            cpu = proc.cpu_percent(None)
            window = time.monotonic() - cpu_t0
            stop.set()
            await sub
            board: list[float] = []
            for page in pages:
                board += await page.evaluate("window.__delays")
            await browser.close()
    finally:
        server.terminate()
        server.wait(10)
        broker.kill()

    print(f"{args.straps} straps x {args.seconds:.0f} s at 1 Hz = {sent} samples published;")
    print(
        f"{args.browsers} browsers received {len(board)} tile events;"
        f" baseline got {len(base_delays)}"
    )
    for name, values in (
        ("baseline (bare MQTT subscriber)", base_delays),
        ("board (MQTT->SSE->page)", board),
    ):
        print(
            f"  {name:34s} median {statistics.median(values):6.1f} ms"
            f"  p99 {pct(values, 0.99):6.1f} ms  max {max(values):6.1f} ms"
        )
    ratio_med = statistics.median(board) / max(statistics.median(base_delays), 0.1)
    ratio_p99 = pct(board, 0.99) / max(pct(base_delays, 0.99), 0.1)
    print(f"  ratio board/baseline: median x{ratio_med:.1f}, p99 x{ratio_p99:.1f}")
    print(f"  server CPU: {cpu:.1f} % of one core over {window:.0f} s")
    print(
        f"  targets: p99 < 250 ms -> {'OK' if pct(board, 0.99) < 250 else 'MISSED'};"
        f" CPU < 25 % -> {'OK' if cpu < 25 else 'MISSED'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--straps", type=int, default=60)
    parser.add_argument("--browsers", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
