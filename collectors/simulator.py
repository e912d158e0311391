"""Simulated participants: realistic class heart rate with beat-to-beat RR intervals.

The model, per participant:

- a profile (resting HR, HRmax, sex, weight, birth year) drawn from adult ranges;
- a class plan: warm-up ramp -> intervals (2 min hard / 1 min easy) -> cool-down, as a
  target in % of heart-rate reserve (Karvonen), repeated for as long as the simulation runs;
- heart rate follows the target with a first-order lag (faster on the way up than down),
  plus slow drift;
- beats are generated one by one: RR = 60000 / HR, modulated by respiratory sinus arrhythmia
  and white noise whose size shrinks with intensity (vagal withdrawal), which puts RMSSD
  around 25-60 ms at rest and under 10 ms near HRmax — the physiological ranges;
- each second the strap reports the beats that ended in it (like a real strap's 0x2A37
  notification), the average bpm, contact, and every so often a contact loss (bpm repeated,
  contact false, no RR) or a drop-out (no notifications at all for 10-40 s).

Everything is deterministic for a given seed. :func:`simulate` yields per-second events for
any clock, so tests run an hour of class in well under a second; :func:`run` publishes them
in real time (or as fast as the broker acknowledges) per the MQTT contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gympulse import contract
from gympulse.collectors.buffer import DiskQueue, Forwarder
from gympulse.collectors.publisher import CollectorPublisher, collector_will
from gympulse.contract import AvailabilityState, HrSample, SensorInfo
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings

log = logging.getLogger(__name__)

# First names by the profile's recorded sex (a name that contradicts it confuses a coach and
# the demo's kcal, which Keytel's equation computes by sex).
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "female": ("Anna", "Chloé", "Eva", "Hanna", "Iris", "Mila", "Olga", "Rosa", "Tess",
               "Vera", "Xena", "Yara", "Zoë"),
    "male": ("Bram", "Daan", "Finn", "Gijs", "Jesse", "Lars", "Noah", "Pieter", "Sem",
             "Umar", "Wout", "Koen", "Ruben"),
}  # fmt: skip
LAST_NAMES = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
    "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
    "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van Dijk", "Kok", "Jacobs",
    "Vermeulen", "van den Berg",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Profile:
    sensor: str
    name: str
    sex: Literal["male", "female"]
    birth_year: int
    weight_kg: float
    hr_rest: int
    hr_max: int
    fitness: float  # 0..1, scales the interval intensity and HRV


def make_profiles(count: int, seed: int, year: int = 2026) -> list[Profile]:
    rng = random.Random(seed)
    profiles = []
    taken = {"female": 0, "male": 0}  # first names given so far, per sex
    for i in range(count):
        sex: Literal["male", "female"] = "female" if rng.random() < 0.5 else "male"
        age = rng.randint(19, 62)
        hr_max = round(208 - 0.7 * age + rng.gauss(0, 5))
        fitness = rng.random()
        hr_rest = round(72 - 18 * fitness + rng.gauss(0, 3))
        weight = rng.gauss(66 if sex == "female" else 80, 8)
        names = FIRST_NAMES[sex]
        k = taken[sex]
        taken[sex] += 1
        first = names[k % len(names)] + ("" if k < len(names) else f" {i}")
        name = f"{first} {LAST_NAMES[(i * 7 + 3) % len(LAST_NAMES)]}"
        profiles.append(
            Profile(
                sensor=f"strap-{i + 1}",
                name=name,
                sex=sex,
                birth_year=year - age,
                weight_kg=round(weight, 1),
                hr_rest=hr_rest,
                hr_max=hr_max,
                fitness=fitness,
            )
        )
    return profiles


def class_target(t_s: float, offset_s: float = 0.0) -> float:
    """Target intensity as a fraction of heart-rate reserve at second ``t_s`` of a 45-min
    class (repeating): 8 min warm-up, 8 × (2 min hard + 1 min easy), 13 min cool-down."""
    t = (t_s + offset_s) % 2700.0
    if t < 480:
        return 0.15 + 0.45 * t / 480
    if t < 480 + 8 * 180:
        phase = (t - 480) % 180
        return 0.85 if phase < 120 else 0.55
    return max(0.1, 0.55 - 0.45 * (t - 1920) / 780)


@dataclass
class StrapState:
    profile: Profile
    rng: random.Random
    hr: float
    next_beat_ms: float = 0.0
    last_bpm: int = 0
    contact_lost_until: int = -1
    dropped_until: int = -1
    energy_j: float = 0.0
    drift: float = 0.0
    phase_offset: float = 0.0
    beats: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """What one strap did in one second: a sample, or a change of availability."""

    sensor: str
    ts: int
    sample: HrSample | None
    availability: AvailabilityState | None


Plan = Callable[[float, float], float]  # (second, phase offset) -> fraction of HR reserve


def at_rest(t_s: float, offset_s: float = 0.0) -> float:
    """Lying or sitting still (a morning reading): heart rate settles at resting."""
    return 0.0


def _step_hr(state: StrapState, t_s: float, plan: Plan = class_target) -> float:
    p = state.profile
    reserve = p.hr_max - p.hr_rest
    target_frac = plan(t_s, state.phase_offset) * (0.9 + 0.15 * p.fitness)
    target = p.hr_rest + reserve * min(target_frac, 1.02) + state.drift
    tau = 18.0 if target > state.hr else 35.0
    state.hr += (target - state.hr) / tau
    state.drift += state.rng.gauss(0, 0.15) - state.drift * 0.01
    return max(35.0, min(float(p.hr_max) + 3, state.hr))


def _beats_until(state: StrapState, end_ms: float, intensity: float) -> list[int]:
    """Generate beats up to ``end_ms``; returns the RR intervals (ms) that ended before it."""
    p = state.profile
    vagal = max(0.05, 1.0 - intensity) * (0.6 + 0.8 * p.fitness)
    rr_list: list[int] = []
    while state.next_beat_ms < end_ms:
        base = 60000.0 / state.hr
        rsa = 0.06 * vagal * base * math.sin(2 * math.pi * 0.25 * state.next_beat_ms / 1000)
        noise = state.rng.gauss(0, 0.025 * vagal * base + 1.5)
        rr = max(contract.RR_MIN_MS, min(contract.RR_MAX_MS, round(base + rsa + noise)))
        state.next_beat_ms += rr
        rr_list.append(rr)
    return rr_list


def simulate(
    profiles: list[Profile],
    *,
    start_ms: int,
    seconds: int | None,
    seed: int,
    seq_base: int,
    contact_loss_rate: float = 0.002,
    dropout_rate: float = 0.001,
    plan: Plan = class_target,
    join_offsets: bool = True,
) -> Iterator[list[SimEvent]]:
    """Yield, for each second, the events of all straps. ``seconds`` None: forever.

    ``plan``: the target intensity over time (default: the interval class; :func:`at_rest`
    for a morning reading). ``join_offsets`` False: everybody starts the plan together.

    ``seq`` of a sample is ``seq_base + second``; using the wall-clock start in ms as the base
    makes ``seq`` strictly increasing across restarts (1 sample/s < 1000/s)."""
    rng = random.Random(seed)
    states = []
    for p in profiles:
        srng = random.Random(rng.getrandbits(64))
        state = StrapState(p, srng, hr=float(p.hr_rest) + srng.uniform(0, 10))
        # Participants join a running class at different points, so a board shows every
        # zone within a minute or two.
        state.phase_offset = srng.uniform(120, 900) if join_offsets else 0.0
        state.next_beat_ms = float(start_ms) + srng.uniform(0, 800)
        states.append(state)
    second = 0
    while seconds is None or second < seconds:
        ts = start_ms + second * 1000
        events: list[SimEvent] = []
        for state in states:
            p = state.profile
            hr = _step_hr(state, float(second), plan)
            intensity = (hr - p.hr_rest) / max(1, p.hr_max - p.hr_rest)
            rr = _beats_until(state, ts + 1000, intensity)
            if second > 5 and state.dropped_until < second and state.rng.random() < dropout_rate:
                state.dropped_until = second + state.rng.randint(10, 40)
                events.append(SimEvent(p.sensor, ts, None, "lost"))
            if state.dropped_until >= second:
                if state.dropped_until == second:
                    events.append(SimEvent(p.sensor, ts + 999, None, "connected"))
                continue
            bpm = round(60000 / (sum(rr) / len(rr))) if rr else round(hr)
            bpm = max(contract.BPM_MIN, min(contract.BPM_MAX, bpm))
            # Keytel-ish energy accumulation only for the energy field's realism (kJ).
            state.energy_j += max(0.0, (hr - 60) * 0.1) * 4184 / 60
            contact: bool = True
            if (
                second > 5
                and state.contact_lost_until < second
                and state.rng.random() < contact_loss_rate
            ):
                state.contact_lost_until = second + state.rng.randint(5, 20)
                events.append(SimEvent(p.sensor, ts, None, "no-contact"))
            if state.contact_lost_until >= second:
                contact = False
                bpm = state.last_bpm or bpm  # straps repeat a stale value without contact
                rr = []
                if state.contact_lost_until == second:
                    events.append(SimEvent(p.sensor, ts + 999, None, "connected"))
            else:
                state.last_bpm = bpm
            sample = HrSample(
                sensor=p.sensor,
                ts=ts - state.rng.randint(0, 39),  # arrival jitter, never in the future
                seq=seq_base + second,
                bpm=bpm,
                rr_ms=rr,
                contact=contact,
                # The strap's uint16 field saturates at 65535 kJ, as the GATT spec says.
                energy_kj=min(contract.MAX_ENERGY_KJ, int(state.energy_j // 1000))
                if second % 10 == 0
                else None,
            )
            events.append(SimEvent(p.sensor, sample.ts, sample, None))
        yield events
        second += 1


async def run(
    mqtt_settings: MqttSettings,
    *,
    site: str,
    collector: str,
    profiles: list[Profile],
    seed: int,
    seconds: int | None = None,
    step_s: float = 1.0,
    start_ms: int | None = None,
    contact_loss_rate: float = 0.002,
    dropout_rate: float = 0.001,
    stop: asyncio.Event | None = None,
    state_dir: str | Path = "",
    confirm: Literal["ingest", "broker"] = "ingest",
    seq_base: int | None = None,
    on_forwarder: Callable[[Forwarder], None] | None = None,
    bikes: int = 0,
) -> int:
    """Publish the simulation per the contract; returns the number of samples published.

    The first ``bikes`` participants ride an indoor bike ``bike-1``, ``bike-2``, ...: each
    of their heart-rate samples comes with a bike sample (watts and cadence that follow the
    effort, :func:`bike_sample`) on the machine topic (wire contract machine extension),
    published directly, not through the disk queue (as the collector does).

    Samples take a collector's path (:class:`~gympulse.collectors.buffer.Forwarder`): on
    disk in ``state_dir`` (a temporary directory when empty) until ``confirm``-ed, replayed after a
    reconnect. With ``seconds`` set, returns once every sample is confirmed (or ``stop``).

    ``step_s`` is the wall time per simulated second: 1.0 is real time, 0 publishes as fast
    as the broker acknowledges (tests, backfills)."""
    stop = stop or asyncio.Event()
    scratch = None if state_dir else tempfile.TemporaryDirectory(prefix="gympulse-sim-")
    queue_dir = Path(state_dir) if state_dir else Path(scratch.name)  # type: ignore[union-attr]
    queue = await asyncio.to_thread(
        DiskQueue, queue_dir / f"{collector}.sqlite3", 7 * 24 * 3600 * max(1, len(profiles))
    )
    loop = asyncio.get_running_loop()
    publishers: list[CollectorPublisher] = []
    background: set[asyncio.Task[None]] = set()

    def on_connect() -> None:  # retained "online" on every (re)connect: ingestion answers it
        for p in publishers:
            task = loop.create_task(p.online())
            background.add(task)
            task.add_done_callback(background.discard)

    published = 0
    riders = {p.sensor: (f"bike-{i + 1}", p) for i, p in enumerate(profiles[: max(0, bikes)])}
    try:
        async with MqttClient(
            mqtt_settings,
            f"gympulse-sim-{collector}",
            will=collector_will(site, collector),
            on_connect=on_connect,
            subscriptions=[(contract.stored_topic(site, collector), 1)]
            if confirm == "ingest"
            else [],
        ) as mqtt:
            pub = CollectorPublisher(mqtt, site, collector)
            publishers.append(pub)
            forwarder = Forwarder(mqtt, pub, queue, confirm=confirm)
            if on_forwarder is not None:
                on_forwarder(forwarder)
            tasks = [
                loop.create_task(forwarder.run(), name="sim-forwarder"),
                loop.create_task(forwarder.watch(until=stop), name="sim-watermarks"),
            ]
            try:
                await mqtt.wait_connected(timeout=30)
                if mqtt.connect_count == 1 and not background:
                    on_connect()
                for p in profiles:
                    await pub.info(
                        p.sensor, SensorInfo(name=f"Sim {p.sensor}", model="gympulse-sim")
                    )
                    await pub.availability(p.sensor, "connected")
                first = contract.now_ms() if start_ms is None else start_ms
                t0 = loop.time()
                for i, events in enumerate(
                    simulate(
                        profiles,
                        start_ms=first,
                        seconds=seconds,
                        seed=seed,
                        seq_base=contract.now_ms() if seq_base is None else seq_base,
                        contact_loss_rate=contact_loss_rate,
                        dropout_rate=dropout_rate,
                    )
                ):
                    if stop.is_set():
                        break
                    if step_s > 0:
                        delay = t0 + i * step_s - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif i % 50 == 0:
                        await asyncio.sleep(0)  # let the sender and the socket run
                    for event in events:
                        if event.availability is not None:
                            task = loop.create_task(
                                _quietly(
                                    pub.availability(event.sensor, event.availability, event.ts)
                                )
                            )
                            background.add(task)
                            task.add_done_callback(background.discard)
                        if event.sample is not None:
                            forwarder.put(event.sample)
                            published += 1
                            ride = riders.get(event.sensor)
                            if ride is not None and event.sample.contact is not False:
                                forwarder.put(bike_sample(ride, event.sample))
                await forwarder.drained(until=stop)
                if mqtt.connected.is_set():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(pub.offline(), 2)
            finally:
                await forwarder.close()
                for task in [*tasks, *background]:
                    task.cancel()
                await asyncio.gather(*tasks, *background, return_exceptions=True)
    finally:
        await asyncio.to_thread(queue.close)
        if scratch is not None:
            scratch.cleanup()
    return published


def bike_sample(ride: tuple[str, Profile], hr: HrSample) -> contract.MachineSample:
    """A rider's bike at the moment of their heart-rate sample: watts grow with the heart
    rate above rest (about 2.5 W per beat, more for the fitter), cadence 70-110 rpm."""
    sensor, profile = ride
    above = max(0, hr.bpm - profile.hr_rest)
    watts = round(above * (2.0 + profile.fitness))
    cadence = min(110.0, 70.0 + above / 3) if watts > 20 else 0.0
    return contract.MachineSample(
        sensor=sensor,
        ts=hr.ts,
        seq=hr.seq,
        kind="bike",
        power_w=min(watts, contract.POWER_MAX_W),
        cadence=round(cadence, 1),
        speed_kmh=round(watts / 8, 2),
    )


async def _quietly(publish: Coroutine[Any, Any, object]) -> None:
    """A side publish (availability) that must never stall or end the simulation."""
    try:
        await publish
    except Exception as err:
        log.info("simulator publish failed: %s", err)
