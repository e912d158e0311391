"""ANT+ heart-rate straps through one USB ANT stick in continuous scan mode.

A Bluetooth adapter holds about 7 connections; an ANT stick in continuous scan mode listens
on the ANT+ frequency all the time and hears every strap in the room without pairing to any
(ANT Message Protocol and Usage, "continuous scanning mode"). Its messages are decoded by
the pure :mod:`gympulse.collectors.ant_hrm`; what comes out is the same
:class:`~gympulse.contract.HrSample` the Bluetooth straps give, through the same disk queue,
forwarder, seq reservations and watermarks (``run_collector`` runs this receiver next to the
strap manager).

The boundary is :class:`AntDriver`: open, blocking read (a short timeout, ``b""`` when
nothing came), write, close. :class:`UsbStick` is the real one, openant's USB drivers
(ANTUSB2 0fcf:1008, ANTUSB-m 0fcf:1009); tests swap in a fake stick at exactly this seam.
The blocking USB reads run in one reader thread; whole messages reach the event loop in one
``call_soon_threadsafe`` per USB read.

The stick is configured as the ANT+ heart-rate profile says a receiver opens its channel
(network 0 with the ANT+ network key, RF channel 57, device type 120, wildcard device number
and transmission type), with the channel id added to every message (Lib Config 0x80), then
``Open Rx Scan Mode``. The sensor id is ``ant-<device number>`` (the 20-bit extended number),
or its alias from ``collector.ant.allow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from gympulse import contract
from gympulse.collectors.ant_hrm import (
    HR_DEVICE_TYPE,
    AntMessage,
    BeatTracker,
    MalformedPage,
    broadcast_of,
    encode_message,
    parse_frames,
)
from gympulse.collectors.buffer import Forwarder, SeqAllocator
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.contract import AvailabilityState, HrSample, SensorInfo
from gympulse.settings import AntSettings

__all__ = [
    "AntDriver",
    "AntError",
    "AntReceiver",
    "AntStrap",
    "NoStick",
    "UsbStick",
    "configure_scan",
    "make_stick",
    "scan_ant",
    "sensor_of",
]

log = logging.getLogger(__name__)

# ANT message ids (ANT Message Protocol and Usage rev 5.1, section 9).
RESET_SYSTEM: Final = 0x4A
STARTUP: Final = 0x6F
SET_NETWORK_KEY: Final = 0x46
ASSIGN_CHANNEL: Final = 0x42
CHANNEL_ID: Final = 0x51
CHANNEL_RF_FREQ: Final = 0x45
LIB_CONFIG: Final = 0x6E
OPEN_RX_SCAN_MODE: Final = 0x5B
CHANNEL_RESPONSE: Final = 0x40
RESPONSE_NO_ERROR: Final = 0x00
CHANNEL_TYPE_RECEIVE: Final = 0x00
ANT_PLUS_FREQUENCY: Final = 57  # 2457 MHz
LIB_CONFIG_CHANNEL_ID: Final = 0x80
RESPONSE_TIMEOUT_S: Final = 2.0
INFO_REFRESH_S: Final = 300.0
LOG_EVERY_S: Final = 60.0

# ANT+ manufacturer ids (the FIT profile's "manufacturer" table) of common strap makers.
MANUFACTURERS: Final[dict[int, str]] = {
    1: "Garmin",
    15: "Dynastream",
    23: "Suunto",
    32: "Wahoo",
    123: "Polar",
}


class AntError(RuntimeError):
    """The ANT stick refused something; the message is meant for the person at the console."""


class NoStick(AntError):
    """No ANT USB stick found, or it cannot be opened (permissions: see collectors/README.md)."""


class AntDriver(Protocol):
    """One ANT stick at the USB boundary."""

    def open(self) -> None: ...

    def read(self) -> bytes:
        """Whatever the stick sent; blocks at most about a second, ``b""`` when nothing came."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class UsbStick:
    """openant's USB driver (pyusb): the first ANTUSB2 / ANTUSB-m stick."""

    def __init__(self) -> None:
        try:
            from openant.base.driver import DriverNotFound, find_driver
        except ImportError as err:
            raise NoStick(f"ANT+ needs openant: pip install 'gympulse[ant]' ({err})") from err
        import usb.core

        try:
            self._driver = find_driver()
        except DriverNotFound:
            raise NoStick("no ANT USB stick (ANTUSB2 0fcf:1008, ANTUSB-m 0fcf:1009)") from None
        except usb.core.NoBackendError:
            raise NoStick("no libusb for the ANT stick: apt install libusb-1.0-0") from None
        except usb.core.USBError as err:  # EACCES without the udev rule
            raise NoStick(f"the ANT stick cannot be used: {err}") from err
        self._timeout = usb.core.USBTimeoutError

    def open(self) -> None:
        try:
            self._driver.open()
        except Exception as err:  # pyusb: USBError (EACCES), ValueError (gone)
            raise NoStick(f"the ANT stick cannot be opened: {err}") from err

    def read(self) -> bytes:
        try:
            return bytes(self._driver.read())
        except self._timeout:
            return b""

    def write(self, data: bytes) -> None:
        self._driver.write(data)

    def close(self) -> None:
        self._driver.close()


STICKS: Final[dict[str, str]] = {"usb": "gympulse.collectors.ant:UsbStick"}


def make_stick(kind: str) -> AntDriver:
    module_name, _, factory = STICKS[kind].partition(":")
    made: AntDriver = getattr(importlib.import_module(module_name), factory)()
    return made


def ant_plus_network_key() -> bytes:
    """The ANT+ network key, as openant ships it (the key is ANT's, handed out under the
    ANT+ adopter terms; it is not ours to copy into this repository)."""
    try:
        from openant.devices import ANTPLUS_NETWORK_KEY
    except ImportError as err:
        raise NoStick(f"ANT+ needs openant: pip install 'gympulse[ant]' ({err})") from err
    return bytes(ANTPLUS_NETWORK_KEY)


class _Link:
    """Serial framing over an :class:`AntDriver` (blocking: the reader thread's)."""

    def __init__(self, driver: AntDriver) -> None:
        self.driver = driver
        self._rest = b""
        self.skipped = 0

    def read(self) -> list[AntMessage]:
        data = self.driver.read()
        if not data:
            return []
        messages, self._rest, skipped = parse_frames(self._rest + data)
        self.skipped += skipped
        return messages

    def command(self, msg_id: int, data: bytes, *, expect: int | None = None) -> None:
        """Send one command and wait for its channel response (or ``expect``)."""
        self.driver.write(encode_message(msg_id, data))
        deadline = time.monotonic() + RESPONSE_TIMEOUT_S
        while time.monotonic() < deadline:
            for m in self.read():
                if expect is not None and m.msg_id == expect:
                    return
                if m.msg_id == CHANNEL_RESPONSE and len(m.data) >= 3 and m.data[1] == msg_id:
                    if m.data[2] != RESPONSE_NO_ERROR:
                        raise AntError(f"the ANT stick refused 0x{msg_id:02x}: code {m.data[2]}")
                    return
        raise AntError(f"the ANT stick did not answer 0x{msg_id:02x}")


def configure_scan(link: _Link, network_key: bytes) -> None:
    """Reset the stick and open continuous scan mode for ANT+ heart-rate straps."""
    link.command(RESET_SYSTEM, b"\x00", expect=STARTUP)
    link.command(SET_NETWORK_KEY, b"\x00" + network_key)
    link.command(ASSIGN_CHANNEL, bytes((0, CHANNEL_TYPE_RECEIVE, 0)))
    link.command(CHANNEL_ID, bytes((0, 0, 0, HR_DEVICE_TYPE, 0)))  # wildcard number, trans
    link.command(CHANNEL_RF_FREQ, bytes((0, ANT_PLUS_FREQUENCY)))
    link.command(LIB_CONFIG, bytes((0, LIB_CONFIG_CHANNEL_ID)))
    link.command(OPEN_RX_SCAN_MODE, b"\x00")


def sensor_of(number: int, allow: dict[str, str]) -> str | None:
    """``ant-12345``, or the alias; None when an allow-list exists and the strap is not on it."""
    if allow:
        alias = allow.get(str(number))
        return contract.normalise_sensor_id(alias) if alias else None
    return f"ant-{number}"


@dataclass
class AntCounters:
    broadcasts: int = 0
    malformed: int = 0
    published: int = 0
    missed_beats: int = 0
    rr_dropped: int = 0
    out_of_range: int = 0


@dataclass
class AntStrap:
    number: int
    sensor: str
    tracker: BeatTracker = field(default_factory=BeatTracker)
    availability: AvailabilityState | None = None
    last_heard: float = 0.0
    last_ts: int = 0
    last_info_at: float = -INFO_REFRESH_S
    last_complaint: float = -LOG_EVERY_S
    counters: AntCounters = field(default_factory=AntCounters)


class AntReceiver:
    """Every ANT+ heart-rate strap one stick hears -> samples on the forwarder."""

    def __init__(
        self,
        settings: AntSettings,
        forwarder: Forwarder,
        publisher: CollectorPublisher,
        seqs: SeqAllocator,
        *,
        stick: Callable[[], AntDriver] | None = None,
        network_key: Callable[[], bytes] = ant_plus_network_key,
        clock_ms: Callable[[], int] = contract.now_ms,
    ) -> None:
        self.settings = settings
        self.forwarder = forwarder
        self.publisher = publisher
        self.seqs = seqs
        self.clock_ms = clock_ms
        self._make_stick = stick or (lambda: make_stick(settings.stick))
        self._network_key = network_key
        self.allow = {k.strip(): v for k, v in settings.allow.items()}
        self.straps: dict[int, AntStrap] = {}
        self.ignored: set[int] = set()
        self.skipped_frames = 0
        self._stop = threading.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._driver: AntDriver | None = None
        self._reading: asyncio.Future[None] | None = None
        self._closing = False

    async def open(self) -> None:
        """Find, open and configure the stick (raises :class:`NoStick` / :class:`AntError`)."""

        def blocking() -> AntDriver:
            driver = self._make_stick()
            driver.open()
            try:
                configure_scan(_Link(driver), self._network_key())
            except BaseException:
                driver.close()
                raise
            return driver

        self._driver = await asyncio.to_thread(blocking)

    def _background(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _set_availability(self, strap: AntStrap, state: AvailabilityState) -> None:
        if strap.availability == state:
            return
        strap.availability = state
        log.info("%s (ANT %d): %s", strap.sensor, strap.number, state)
        self._background(self.publisher.availability(strap.sensor, state, self.clock_ms()))

    def _publish_info(self, strap: AntStrap) -> None:
        strap.last_info_at = time.monotonic()
        t = strap.tracker
        brand = MANUFACTURERS.get(t.manufacturer_id or -1, "")
        model = f"{brand} ANT+ strap".strip() if brand else "ANT+ strap"
        if t.model_number is not None:
            model = f"{model} (model {t.model_number})"
        info = SensorInfo(name=f"ANT+ {strap.number}", model=model, battery_pct=t.battery_pct)
        self._background(self.publisher.info(strap.sensor, info))

    def _complain(self, strap: AntStrap, message: str) -> None:
        now = time.monotonic()
        if now - strap.last_complaint >= LOG_EVERY_S:
            strap.last_complaint = now
            log.warning("%s (ANT %d): %s", strap.sensor, strap.number, message)

    def on_messages(self, messages: list[AntMessage], arrived_ms: int) -> None:
        """Messages of one USB read, on the event loop."""
        now = time.monotonic()
        for message in messages:
            if message.msg_id != 0x4E:
                continue  # channel events (RX fail in scan mode, ...): nothing to do
            try:
                b = broadcast_of(message)
            except MalformedPage:
                self.skipped_frames += 1
                continue
            if b.device_type & 0x7F != HR_DEVICE_TYPE:
                continue  # the pairing bit (0x80) aside, not a heart-rate monitor
            number = b.extended_number
            strap = self.straps.get(number)
            if strap is None:
                if number in self.ignored:
                    continue
                sensor = sensor_of(number, self.allow)
                if sensor is None:
                    self.ignored.add(number)
                    log.info("ANT+ strap %d is not on collector.ant.allow: ignored", number)
                    continue
                strap = self.straps[number] = AntStrap(number, sensor)
            self._on_broadcast(strap, b.payload, arrived_ms, now)

    def _on_broadcast(self, strap: AntStrap, payload: bytes, arrived_ms: int, now: float) -> None:
        c = strap.counters
        c.broadcasts += 1
        strap.last_heard = now
        try:
            out = strap.tracker.feed(payload)
        except MalformedPage as err:
            c.malformed += 1
            self._complain(strap, f"malformed page {payload.hex()}: {err}")
            return
        self._set_availability(strap, "connected")
        if out.info_changed or now - strap.last_info_at >= INFO_REFRESH_S:
            self._publish_info(strap)
        if out.bpm is None:
            return
        c.missed_beats += out.missed_beats
        if not contract.BPM_MIN <= out.bpm <= contract.BPM_MAX:
            c.out_of_range += 1
            self._complain(strap, f"bpm {out.bpm} outside {contract.BPM_MIN}-{contract.BPM_MAX}")
            return
        rr = [ms for ms in out.rr_ms if contract.RR_MIN_MS <= ms <= contract.RR_MAX_MS]
        c.rr_dropped += len(out.rr_ms) - len(rr)
        ts = max(arrived_ms, strap.last_ts + 1)  # arrival time, unique per sensor
        strap.last_ts = ts
        sample = HrSample(
            sensor=strap.sensor, ts=ts, seq=self.seqs.next(strap.sensor), bpm=out.bpm, rr_ms=rr
        )
        self.forwarder.put(sample)
        c.published += 1

    def _reader(self, driver: AntDriver, loop: asyncio.AbstractEventLoop) -> None:
        link = _Link(driver)
        while not self._stop.is_set():
            try:
                messages = link.read()
            except Exception as err:  # the stick was pulled out, ...
                log.error("reading the ANT stick failed: %s", err)
                loop.call_soon_threadsafe(self._stop.set)
                return
            if messages:
                loop.call_soon_threadsafe(self.on_messages, messages, contract.now_ms())
            self.skipped_frames += link.skipped
            link.skipped = 0

    async def _watchdog(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for strap in self.straps.values():
                if now - strap.last_heard >= self.settings.silence_s:
                    self._set_availability(strap, "lost")

    async def run(self) -> None:
        """Read until :meth:`close`; ends with :class:`AntError` when the stick fails."""
        if self._driver is None:
            await self.open()
        assert self._driver is not None
        loop = asyncio.get_running_loop()
        self._reading = reader = asyncio.ensure_future(
            asyncio.to_thread(self._reader, self._driver, loop)
        )
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            await asyncio.shield(reader)
            if not self._closing:
                raise AntError("the ANT stick stopped answering")
        finally:
            self._stop.set()
            watchdog.cancel()

    async def close(self) -> None:
        """Stop reading, mark every strap lost, close the stick."""
        self._closing = True
        self._stop.set()
        if self._reading is not None:  # the reader thread returns within one read timeout
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._reading)
        for strap in self.straps.values():
            self._set_availability(strap, "lost")
        driver, self._driver = self._driver, None
        if driver is not None:
            await asyncio.to_thread(driver.close)

    def summary(self) -> dict[str, dict[str, int]]:
        return {s.sensor: vars(s.counters).copy() for s in self.straps.values()}


@dataclass
class _Heard:
    number: int
    tracker: BeatTracker = field(default_factory=BeatTracker)
    broadcasts: int = 0
    bpm: int | None = None


async def scan_ant(
    settings: AntSettings, seconds: float, *, stick: Callable[[], AntDriver] | None = None
) -> list[dict[str, Any]]:
    """``gympulse scan --ant``: every ANT+ heart-rate strap the stick hears in ``seconds``,
    with its sensor id, last heart rate, battery, maker and broadcasts per second (a strap
    at the edge of the stick's range loses broadcasts: well under 4/s)."""
    make = stick or (lambda: make_stick(settings.stick))
    allow = {k.strip(): v for k, v in settings.allow.items()}

    def blocking() -> list[_Heard]:
        driver = make()
        driver.open()
        try:
            link = _Link(driver)
            configure_scan(link, ant_plus_network_key())
            heard: dict[int, _Heard] = {}
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for m in link.read():
                    try:
                        b = broadcast_of(m)
                    except MalformedPage:
                        continue
                    if b.device_type & 0x7F != HR_DEVICE_TYPE:
                        continue
                    h = heard.setdefault(b.extended_number, _Heard(b.extended_number))
                    h.broadcasts += 1
                    with contextlib.suppress(MalformedPage):
                        h.tracker.feed(b.payload)
                        h.bpm = b.payload[7] or h.bpm
            return sorted(heard.values(), key=lambda h: -h.broadcasts)
        finally:
            driver.close()

    rows: list[dict[str, Any]] = []
    for h in await asyncio.to_thread(blocking):
        t = h.tracker
        rows.append(
            {
                "device_number": h.number,
                "sensor": sensor_of(h.number, allow),  # None: not on collector.ant.allow
                "bpm": h.bpm,
                "battery_pct": t.battery_pct,
                "manufacturer": MANUFACTURERS.get(t.manufacturer_id or -1),
                "legacy": t.legacy,
                "per_second": round(h.broadcasts / seconds, 1) if seconds > 0 else None,
            }
        )
    return rows
