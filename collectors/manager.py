"""The strap manager: find straps, keep them connected, publish every notification.

One :class:`StrapManager` drives one or more :class:`~gympulse.collectors.central.Central` (one per
adapter). Per adapter it scans for the Heart Rate Service, connects up to
``max_connections`` straps (one connection attempt at a time: controllers allow one pending
LE connection), subscribes to 0x2A37 and reads the battery. Each notification is stamped
with the arrival time (UTC ms, strictly increasing per sensor), decoded, numbered with a
per-sensor ``seq`` that survives restarts, and handed to the :class:`Forwarder` (machines,
power meters and speed/cadence sensors the same way, as machine samples).

Availability (retained, on change):

- ``connected``: subscribed, and the last notification had contact (or no contact bit);
- ``no-contact``: the strap says the electrodes have no skin contact. Such notifications
  carry a stale or zero bpm, so they are *not* published as samples: no phantom heart rate
  ever reaches the live board, however long the strap keeps repeating it;
- ``lost``: the link dropped, or no notification for :data:`SILENCE_S` seconds (a strap
  out of range may take longer than that to time out at the link layer).

A strap that drops is retried with capped, jittered exponential backoff whenever a scan
sees it again; it comes back without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from gympulse import contract
from gympulse.backoff import Backoff
from gympulse.collectors.buffer import Forwarder, SeqAllocator
from gympulse.collectors.central import (
    Central,
    CentralError,
    ConnectFailed,
    Found,
    MachineLink,
    StrapLink,
    strap_model,
)
from gympulse.collectors.central import normalise_address as _addr
from gympulse.collectors.hrm import MalformedMeasurement, decode
from gympulse.collectors.machines import MachineReader, family_of
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.contract import AvailabilityState, HrSample, MachineSample, SensorInfo
from gympulse.settings import Settings

log = logging.getLogger(__name__)

SILENCE_S = 4.0  # no notification for this long: "lost" (the contract asks within 5 s)
SILENCE_DISCONNECT_S = 20.0  # ... and for this long: drop the link and reconnect
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a connection that lasted this long resets the backoff
CONNECT_TIMEOUT_S = 10.0
INFO_REFRESH_S = 300.0
IDLE_POLL_S = 1.0
LOG_EVERY_S = 60.0


STRAP_BACKOFF = Backoff(BACKOFF_BASE_S, BACKOFF_MAX_S)  # 0.5 s, 1 s, 2 s, ... up to 30 s


@dataclass
class StrapCounters:
    notifications: int = 0
    published: int = 0
    malformed: int = 0
    partial: int = 0
    no_contact: int = 0
    out_of_range: int = 0
    rr_dropped: int = 0
    connects: int = 0
    drops: int = 0


@dataclass
class Strap:
    sensor: str
    address: str
    name: str = ""
    adapter: str = ""
    rssi: int | None = None
    battery_pct: int | None = None
    model: str = ""  # from the Device Information Service, else the advertised name
    location: str | None = None  # Body Sensor Location: "Chest", ...; None when not told
    link: StrapLink | None = None
    connecting: bool = False
    availability: AvailabilityState | None = None
    connected_at: float = 0.0
    last_notification: float = 0.0
    last_ts: int = 0
    failures: int = 0
    next_attempt: float = 0.0
    last_info_at: float = 0.0
    refreshing: bool = False  # an info refresh is reading GATT now (one at a time)
    last_complaint: float = -LOG_EVERY_S
    counters: StrapCounters = field(default_factory=StrapCounters)
    family: str = "hr"  # "hr" (a strap), or "machine", "power", "csc" (machine extension)
    reader: MachineReader | None = None


class StrapManager:
    def __init__(
        self,
        settings: Settings,
        centrals: list[Central],
        forwarder: Forwarder,
        publisher: CollectorPublisher,
        seqs: SeqAllocator,
        *,
        clock_ms: Callable[[], int] = contract.now_ms,
    ) -> None:
        self.settings = settings.collector
        self.centrals = centrals
        self.forwarder = forwarder
        self.publisher = publisher
        self.seqs = seqs
        self.clock_ms = clock_ms
        self.straps: dict[str, Strap] = {}  # by normalised address
        self.allow = {
            _addr(a): contract.normalise_sensor_id(alias or a)
            for a, alias in self.settings.allow.items()
        }
        self._tasks: set[asyncio.Task[object]] = set()
        self._closing = False
        self.watchdog_rounds = 0  # rounds the watchdog has made (tests wait on it)

    # ------------------------------------------------------------------ identity

    def sensor_for(self, address: str) -> str | None:
        """The sensor id of a strap, or None when an allow-list exists and it is not on it."""
        address = _addr(address)
        if self.allow:
            return self.allow.get(address)
        return contract.normalise_sensor_id(address)

    def connected_on(self, central: Central) -> int:
        return sum(
            1
            for s in self.straps.values()
            if (s.link is not None or s.connecting) and s.adapter == central.adapter
        )

    def _background(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background publish failed: %s", task.exception())

    # ------------------------------------------------------------------ availability

    def _set_availability(self, strap: Strap, state: AvailabilityState) -> None:
        if strap.availability == state:
            return
        strap.availability = state
        log.info("%s (%s): %s", strap.sensor, strap.address, state)
        self._background(self.publisher.availability(strap.sensor, state, self.clock_ms()))

    def _publish_info(self, strap: Strap) -> None:
        strap.last_info_at = time.monotonic()
        info = SensorInfo(
            name=strap.name,
            model=strap.model or strap.name,
            battery_pct=strap.battery_pct,
            rssi=strap.rssi,
            location=strap.location,
        )
        self._background(self.publisher.info(strap.sensor, info))

    # ------------------------------------------------------------------ notifications

    def on_value(self, strap: Strap, value: bytes) -> None:
        """One 0x2A37 notification, called on the event loop as it arrives."""
        ts = max(self.clock_ms(), strap.last_ts + 1)  # arrival time, unique per sensor
        strap.last_ts = ts
        strap.last_notification = time.monotonic()
        c = strap.counters
        c.notifications += 1
        try:
            m = decode(value)
        except MalformedMeasurement as err:
            c.malformed += 1
            self._complain(strap, f"malformed notification {value.hex()}: {err}")
            return
        if m.partial:
            c.partial += 1
        if m.contact is False:
            c.no_contact += 1
            self._set_availability(strap, "no-contact")
            return
        self._set_availability(strap, "connected")
        if not contract.BPM_MIN <= m.bpm <= contract.BPM_MAX:
            c.out_of_range += 1
            self._complain(strap, f"bpm {m.bpm} outside {contract.BPM_MIN}-{contract.BPM_MAX}")
            return
        rr = [ms for ms in m.rr_ms if contract.RR_MIN_MS <= ms <= contract.RR_MAX_MS]
        c.rr_dropped += len(m.rr_ms) - len(rr)
        sample = HrSample(
            sensor=strap.sensor,
            ts=ts,
            seq=self.seqs.next(strap.sensor),
            bpm=m.bpm,
            rr_ms=rr,
            contact=m.contact,
            energy_kj=m.energy_kj,
        )
        self.forwarder.put(sample)
        c.published += 1

    def on_machine_value(self, strap: Strap, characteristic: int, value: bytes) -> None:
        """One notification of a machine's data characteristic, called on the event loop.
        Handed to the :class:`Forwarder` like a heart-rate sample: on disk until ingestion's
        watermark covers it (the session's power analytics need every value), then sent on
        its machine / power topic."""
        ts = max(self.clock_ms(), strap.last_ts + 1)
        strap.last_ts = ts
        strap.last_notification = time.monotonic()
        c = strap.counters
        c.notifications += 1
        reader = strap.reader = strap.reader or MachineReader()
        try:
            kind, fields = reader.read(characteristic, value, time.monotonic())
        except (MalformedMeasurement, KeyError) as err:
            c.malformed += 1
            self._complain(strap, f"malformed notification {value.hex()}: {err!r}")
            return
        self._set_availability(strap, "connected")
        if not fields:
            return  # e.g. the first CSC value: a rate needs two
        sample = MachineSample(
            sensor=strap.sensor, ts=ts, seq=self.seqs.next(strap.sensor), kind=kind, **fields
        )
        self.forwarder.put(sample)
        c.published += 1

    def _complain(self, strap: Strap, message: str) -> None:
        now = time.monotonic()
        if now - strap.last_complaint >= LOG_EVERY_S:
            strap.last_complaint = now
            log.warning("%s: %s (logged once a minute)", strap.sensor, message)

    # ------------------------------------------------------------------ connections

    def _on_disconnect(self, strap: Strap) -> None:
        strap.link = None
        strap.counters.drops += 1
        if time.monotonic() - strap.connected_at >= STABLE_AFTER_S:
            strap.failures = 0
        strap.failures += 1
        strap.next_attempt = time.monotonic() + STRAP_BACKOFF.delay(strap.failures)
        if not self._closing:
            log.warning(
                "%s (%s) disconnected; retry in %.1f s",
                strap.sensor,
                strap.address,
                strap.next_attempt - time.monotonic(),
            )
            self._set_availability(strap, "lost")

    async def _connect(self, central: Central, found: Found, sensor: str) -> None:
        strap = self.straps.get(found.address)
        if strap is None:
            strap = self.straps[found.address] = Strap(sensor=sensor, address=found.address)
        strap.name = found.name or strap.name
        strap.rssi = found.rssi
        strap.family = family_of(found.services)
        strap.adapter = central.adapter
        strap.connecting = True
        try:
            link = await central.connect(
                found, lambda: self._on_disconnect(strap), connect_timeout_s=CONNECT_TIMEOUT_S
            )
            try:
                strap.last_notification = time.monotonic()
                strap.connected_at = time.monotonic()
                if strap.family == "hr":
                    await link.subscribe_hr(lambda value: self.on_value(strap, value))
                elif isinstance(link, MachineLink):
                    await link.subscribe_machine(
                        lambda uuid, value: self.on_machine_value(strap, uuid, value)
                    )
                else:
                    raise ConnectFailed(
                        f"a {strap.family} device, and this central connects straps only"
                    )
                strap.link = link
                strap.counters.connects += 1
                with contextlib.suppress(Exception):
                    strap.battery_pct = await link.read_battery()
                with contextlib.suppress(Exception):
                    strap.rssi = await link.read_rssi() or strap.rssi
                await self._read_details(strap, link)
            except Exception:
                await link.disconnect()
                raise
        except (CentralError, Exception) as err:  # one strap's trouble never stops the rest
            strap.failures += 1
            strap.next_attempt = time.monotonic() + STRAP_BACKOFF.delay(strap.failures)
            log.warning(
                "%s (%s): %s; retry in %.1f s",
                sensor,
                found.address,
                err,
                strap.next_attempt - time.monotonic(),
            )
            return
        finally:
            strap.connecting = False
        log.info("%s (%s, %s) connected on %s", sensor, found.address, found.name, central.adapter)
        if strap.availability in (None, "lost"):
            self._set_availability(strap, "connected")
        self._publish_info(strap)

    async def _read_details(self, strap: Strap, link: StrapLink) -> None:
        """Body Sensor Location and Device Information, once per connection. All optional:
        a strap without them (or that fails to answer) keeps the advertised name as model."""
        try:
            details = await asyncio.wait_for(link.read_details(), CONNECT_TIMEOUT_S)
        except Exception as err:
            log.info("%s: no location / device information (%r)", strap.sensor, err)
            return
        strap.location = details.location
        strap.model = strap_model(details.manufacturer, details.model_number, strap.name)

    def _wanted(self, central: Central) -> bool:
        if self.connected_on(central) >= self.settings.max_connections:
            return False
        if not self.allow:
            return True
        return any(
            (s := self.straps.get(a)) is None or (s.link is None and not s.connecting)
            for a in self.allow
        )

    async def _adapter_loop(self, central: Central) -> None:
        while not self._closing:
            if not self._wanted(central):
                await asyncio.sleep(IDLE_POLL_S)
                continue
            try:
                found = await central.scan(self.settings.scan_seconds)
            except CentralError as err:
                log.warning("scan on %s failed: %s", central.adapter, err)
                await asyncio.sleep(IDLE_POLL_S)
                continue
            for f in found:
                if self.connected_on(central) >= self.settings.max_connections:
                    break
                sensor = self.sensor_for(f.address)
                if sensor is None:
                    continue
                strap = self.straps.get(f.address)
                if strap is not None and (
                    strap.link is not None
                    or strap.connecting
                    or time.monotonic() < strap.next_attempt
                ):
                    continue
                await self._connect(central, f, sensor)

    async def _watchdog(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.5)
            self.watchdog_rounds += 1
            now = time.monotonic()
            for strap in list(self.straps.values()):
                if strap.link is None:
                    continue
                silent = now - strap.last_notification
                if silent >= SILENCE_S:
                    self._set_availability(strap, "lost")
                if silent >= SILENCE_DISCONNECT_S:
                    log.warning("%s silent for %.0f s: reconnecting", strap.sensor, silent)
                    link, strap.link = strap.link, None
                    self._background(link.disconnect())
                elif now - strap.last_info_at >= INFO_REFRESH_S and not strap.refreshing:
                    strap.refreshing = True  # the next round must not start a second one
                    self._background(self._refresh_info(strap))

    async def _refresh_info(self, strap: Strap) -> None:
        """Battery and RSSI read again, each for at most ``CONNECT_TIMEOUT_S``: one refresh
        per strap at a time (a slow GATT read was joined by a new one every round)."""
        try:
            link = strap.link
            if link is None:
                return
            with contextlib.suppress(Exception):
                strap.battery_pct = await asyncio.wait_for(link.read_battery(), CONNECT_TIMEOUT_S)
            with contextlib.suppress(Exception):
                rssi = await asyncio.wait_for(link.read_rssi(), CONNECT_TIMEOUT_S)
                strap.rssi = rssi or strap.rssi
            self._publish_info(strap)
        finally:
            strap.refreshing = False

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for central in self.centrals:
                group.create_task(self._adapter_loop(central))
            group.create_task(self._watchdog())

    async def close(self) -> None:
        """Disconnect every strap and mark it lost."""
        self._closing = True
        for strap in self.straps.values():
            if strap.link is not None:
                link, strap.link = strap.link, None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(link.disconnect(), 2)
            self._set_availability(strap, "lost")

    def summary(self) -> dict[str, dict[str, int]]:
        return {s.sensor: vars(s.counters).copy() for s in self.straps.values()}
