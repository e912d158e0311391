"""The simulator: deterministic, physiological, and publishing per the contract."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gympulse import contract
from gympulse.collectors.simulator import SimEvent, make_profiles, simulate
from gympulse.mqtt import MqttClient, Received
from gympulse.settings import MqttSettings
from tests.support.pipeline import wait_for
from tests.support.procs import Mosquitto

START = 1_790_000_000_000


def _run(seed: int, seconds: int = 2700, n: int = 12) -> list[list[SimEvent]]:
    profiles = make_profiles(n, seed)
    return [
        list(events)
        for events in simulate(profiles, start_ms=START, seconds=seconds, seed=seed, seq_base=1)
    ]


def test_same_seed_same_class_other_seed_other_class() -> None:
    assert _run(7, 300) == _run(7, 300)
    assert _run(7, 300) != _run(8, 300)


def test_profiles_are_adult_and_plausible() -> None:
    for p in make_profiles(50, 2):
        assert 40 <= p.hr_rest <= 85
        assert 160 <= p.hr_max <= 210
        assert 1960 <= p.birth_year <= 2010
        assert p.sex in ("male", "female")


def test_heart_rate_and_rr_are_physiological() -> None:
    profiles = make_profiles(12, 5)
    per_sensor: dict[str, list[contract.HrSample]] = {}
    for events in simulate(profiles, start_ms=START, seconds=2700, seed=5, seq_base=1):
        for e in events:
            if e.sample is not None:
                per_sensor.setdefault(e.sensor, []).append(e.sample)
    for p in profiles:
        samples = per_sensor[p.sensor]
        live = [s for s in samples if s.contact]
        bpm = np.array([s.bpm for s in live])
        assert bpm.min() >= p.hr_rest - 10
        assert bpm.max() <= p.hr_max + 5
        assert bpm.max() >= p.hr_rest + 0.6 * (p.hr_max - p.hr_rest)  # the intervals are hard
        # bpm agrees with the beats reported in the same second
        for s in live[::97]:
            if s.rr_ms:
                assert abs(s.bpm - 60000 / np.mean(s.rr_ms)) <= 1
        # RMSSD (Task Force 1996) over calm and hard stretches of one minute
        rmssd = []
        for i in range(0, len(live) - 60, 60):
            rr = np.array([r for s in live[i : i + 60] for r in s.rr_ms], dtype=float)
            hr = 60000 / rr.mean()
            rmssd.append((hr, float(np.sqrt(np.mean(np.diff(rr) ** 2)))))
        calm = [v for hr, v in rmssd if hr < p.hr_rest + 25]
        hard = [v for hr, v in rmssd if hr > p.hr_rest + 0.75 * (p.hr_max - p.hr_rest)]
        if calm:
            assert 10 <= float(np.median(calm)) <= 90
        if hard:
            assert float(np.median(hard)) < 15


def test_seq_and_ts_increase_and_contact_loss_shows_no_beats() -> None:
    events = [e for batch in _run(3) for e in batch]
    last: dict[str, tuple[int, int]] = {}
    lost = no_contact = 0
    for e in events:
        if e.availability == "lost":
            lost += 1
        if e.sample is None:
            continue
        s = e.sample
        if s.sensor in last:
            assert s.seq > last[s.sensor][0]
            assert s.ts > last[s.sensor][1]
        last[s.sensor] = (s.seq, s.ts)
        if s.contact is False:
            no_contact += 1
            assert s.rr_ms == []
        contract.validate_sample(s, now=START + 3_600_000)
    assert lost > 0 and no_contact > 0  # a 45-min class of 12 has drop-outs and contact loss


@pytest.mark.slow  # a real Mosquitto
async def test_status_is_retained_and_the_last_will_says_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    env = {**os.environ, "GYMPULSE_MQTT__URL": mosquitto.url, "GYMPULSE_SITE": "gym-a"}
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "gympulse.cli", "simulate", "--participants", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    status_topic = contract.status_topic("gym-a", "sim")
    seen: list[Received] = []

    async def observe() -> None:
        async with MqttClient(
            MqttSettings(url=mosquitto.url),
            f"watch-{os.getpid()}",
            subscriptions=[(status_topic, 1), ("gympulse/v1/gym-a/sim/+/availability", 1)],
        ) as watcher:
            async for message in watcher.messages():
                seen.append(message)

    def status_states() -> list[str]:
        return [contract.decode_status(m.payload).state for m in seen if m.topic == status_topic]

    task = asyncio.create_task(observe())
    try:
        await wait_for(lambda: "online" in status_states(), 20, "online status")
        await wait_for(
            lambda: len([m for m in seen if "availability" in m.topic]) >= 2, 10, "availability"
        )
        avail = [m for m in seen if m.topic.endswith("/availability")]
        assert {contract.decode_availability(m.payload).state for m in avail} == {"connected"}
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # keepalive 30 s: the broker notices the vanished client within 1.5 × keepalive
        await wait_for(lambda: status_states()[-1] == "offline", 60, "the last will")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_simulate_without_ingestion_confirms_on_puback(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """``--confirm broker``: no ingestion needed; it ends once the broker has every sample."""
    env = {**os.environ, "GYMPULSE_MQTT__URL": mosquitto.url}
    args = ["simulate", "--participants", "2", "--seconds", "5", "--fast", "--confirm", "broker"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gympulse.cli", *args, env=env, stdout=subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert out.decode().strip().endswith("published 10 samples")


def test_demo_names_agree_with_recorded_sex() -> None:
    """Issue 21 item 9: a simulated person's first name matches the sex on record (which
    also drives their kcal), for many seeds; names stay unique."""
    from gympulse.collectors.simulator import FIRST_NAMES, make_profiles

    assert not set(FIRST_NAMES["female"]) & set(FIRST_NAMES["male"])
    for seed in range(20):
        profiles = make_profiles(60, seed)
        assert len({p.name for p in profiles}) == len(profiles)
        for p in profiles:
            assert p.name.split()[0] in FIRST_NAMES[p.sex], (seed, p.name, p.sex)
