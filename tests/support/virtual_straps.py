"""Virtual heart-rate straps: bumble peripherals with the standard Heart Rate and Battery
services on a virtual radio (``bumble.link.LocalLink``), reachable over HCI-over-TCP.

:class:`StrapField` owns the link, N straps (one virtual controller each) and a TCP server
speaking HCI (H4 framing). Every client that connects to the server gets a fresh virtual
controller on the link, so a collector reaches the straps with the transport string
``tcp-client:127.0.0.1:PORT`` exactly as it would reach a real controller. When a client
goes away (the collector exits or is killed) its controller's connections end with a
supervision timeout, as a real radio's would, and the straps advertise again.

Each strap records every notification it sent to a subscribed central, so tests compare
what arrived at the broker with what the radio carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.heart_rate_service import HeartRateService
from bumble.transport.common import AsyncPipeSink, StreamPacketSource

from collectors.hrm import rr_raw_to_ms
from gympulse import contract
from gympulse.contract import HrSample, SensorInfo
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings

ADVERTISING_INTERVAL_MS = 20.0  # MEASURED.md: connections wait about one interval each
HR_UUID_LE = bytes([0x0D, 0x18])
BATTERY_UUID_LE = bytes([0x0F, 0x18])


@dataclass(frozen=True, slots=True)
class Sent:
    """One notification as the strap put it on the air, and what it must decode to."""

    value: bytes
    bpm: int
    rr_ms: tuple[int, ...]
    contact: bool | None
    energy_kj: int | None


def heart_rate_curve(t: float, index: int) -> float:
    """A class: warm-up towards a working level, intervals on top, one offset per strap."""
    base = 65 + 3 * (index % 7)
    work = 55 * (1 - math.exp(-t / 45))
    intervals = 18 * math.sin(2 * math.pi * t / (30 + index))
    return base + work + intervals


@dataclass
class VirtualStrap:
    index: int
    address: hci.Address
    name: str
    device: Device
    hr_service: HeartRateService
    battery_pct: int = 87
    contact: bool | None = True
    sends_energy: bool = False
    away: bool = False
    sent: list[Sent] = field(default_factory=list)
    connection: Connection | None = None
    subscribed: bool = False
    energy: int = 0
    connections: int = 0

    @property
    def address_text(self) -> str:
        return self.address.to_string(False)

    def measurement(self, t: float) -> HeartRateService.HeartRateMeasurement:
        bpm = round(heart_rate_curve(t, self.index))
        rr_raw = round(60 * 1024 / bpm)
        self.energy += 1
        return HeartRateService.HeartRateMeasurement(
            heart_rate=bpm,
            sensor_contact_detected=self.contact,
            energy_expended=self.energy if self.sends_energy else None,
            # raw / 1024 is exact in binary floating point: bumble encodes int(rr * 1024)
            rr_intervals=[rr_raw / 1024],
        )

    async def advertise(self) -> None:
        await self.device.start_advertising(
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    async def notify(self, t: float) -> None:
        connection = self.connection
        if connection is None or not self.subscribed or self.away:
            return
        m = self.measurement(t)
        value = bytes(m)
        await self.device.notify_subscriber(
            connection, self.hr_service.heart_rate_measurement_characteristic, m
        )
        self.sent.append(
            Sent(
                value=value,
                bpm=m.heart_rate,
                rr_ms=tuple(rr_raw_to_ms(round(rr * 1024)) for rr in m.rr_intervals or ()),
                contact=m.sensor_contact_detected,
                energy_kj=m.energy_expended,
            )
        )

    async def drop(self) -> None:
        """Walk out of range: the link ends and the strap stops advertising."""
        self.away = True
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self.connection is not None:
            await self.connection.disconnect()

    async def come_back(self) -> None:
        self.away = False
        await self.advertise()


class StrapField:
    """N virtual straps on one LocalLink, driven at ``rate_hz`` notifications per second."""

    def __init__(
        self, n: int, *, rate_hz: float = 1.0, first: int = 0, name: str = "sim", adapters: int = 1
    ) -> None:
        self.n = n
        self.adapters = adapters
        self.rate_hz = rate_hz
        self.first = first
        self.name = name
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.straps: list[VirtualStrap] = []
        self.ports: list[int] = []
        self._servers: list[asyncio.Server] = []
        self._driver: asyncio.Task[None] | None = None
        self._host_controllers: set[Controller] = set()
        self._t0 = 0.0
        self.running = True
        self.paused = False

    @property
    def transports(self) -> list[str]:
        """One HCI-over-TCP endpoint per adapter; each client gets its own controller."""
        return [f"tcp-client:127.0.0.1:{port}" for port in self.ports]

    @property
    def transport(self) -> str:
        """All adapters as one ``collector.transport`` setting (comma separated)."""
        return ",".join(self.transports)

    def pause(self) -> None:
        """Stop sending notifications (the links stay up)."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def by_sensor(self) -> dict[str, VirtualStrap]:
        return {s.address_text.lower().replace(":", "-"): s for s in self.straps}

    async def _make_strap(self, index: int) -> VirtualStrap:
        # A random static address: two top bits set, the strap number in the low bytes.
        address = hci.Address(
            f"C0:9E:1A:{(index >> 16) & 0xFF:02X}:{(index >> 8) & 0xFF:02X}:{index & 0xFF:02X}",
            hci.Address.RANDOM_DEVICE_ADDRESS,
        )
        controller = Controller(f"strap-{index}", link=self.link)
        device = Device(
            name=f"{self.name.upper()} HR {index:03d}",
            address=address,
            host=Host(controller, AsyncPipeSink(controller)),
        )
        hr_service = HeartRateService(
            read_heart_rate_measurement=lambda _c: HeartRateService.HeartRateMeasurement(60),
            body_sensor_location=HeartRateService.BodySensorLocation.CHEST,
        )
        strap = VirtualStrap(index, address, device.name, device, hr_service)
        strap.sends_energy = index % 2 == 1
        battery = BatteryService(read_battery_level=lambda _c: strap.battery_pct)
        device.add_services([hr_service, battery])
        device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        HR_UUID_LE + BATTERY_UUID_LE,
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, device.name.encode()),
                ]
            )
        )
        await device.power_on()

        def on_connection(connection: Connection) -> None:
            strap.connection = connection
            strap.subscribed = False
            strap.connections += 1

            def on_disconnection(*_args: object) -> None:
                strap.connection = None
                strap.subscribed = False
                if not strap.away and self.running:
                    asyncio.get_running_loop().create_task(strap.advertise())

            connection.on(connection.EVENT_DISCONNECTION, on_disconnection)

        def on_subscription(connection: object, notify: bool, indicate: bool) -> None:
            if connection is strap.connection or getattr(connection, "connection", None) is (
                strap.connection
            ):
                strap.subscribed = notify

        device.on(device.EVENT_CONNECTION, on_connection)
        hr_service.heart_rate_measurement_characteristic.on("subscription", on_subscription)
        await strap.advertise()
        return strap

    async def start(self) -> None:
        for i in range(self.first, self.first + self.n):
            self.straps.append(await self._make_strap(i))
        for _ in range(self.adapters):
            server = await asyncio.get_running_loop().create_server(self._protocol, "127.0.0.1", 0)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._t0 = asyncio.get_running_loop().time()
        self._driver = asyncio.create_task(self._drive())

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1 / self.rate_hz
        tick = loop.time()
        while self.running:
            t = loop.time() - self._t0
            if not self.paused:
                for strap in self.straps:
                    await strap.notify(t)
            tick += period
            await asyncio.sleep(max(0.0, tick - loop.time()))

    def _protocol(self) -> asyncio.Protocol:
        return _HciServerProtocol(self)

    def attach_host(self, transport: asyncio.Transport) -> tuple[StreamPacketSource, Controller]:
        source = StreamPacketSource()
        sink = _TransportSink(transport)
        controller = Controller(
            f"host-{len(self._host_controllers)}",
            host_source=source,
            host_sink=sink,
            link=self.link,
        )
        self._host_controllers.add(controller)
        return source, controller

    def detach_host(self, controller: Controller) -> None:
        """The host side vanished: its links time out on the straps' side."""
        for connection in list(controller.le_connections.values()):
            with contextlib.suppress(Exception):
                connection.send_ll_control_pdu(
                    ll.TerminateInd(hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)
                )
        controller.le_connections.clear()
        with contextlib.suppress(KeyError):
            self.link.remove_controller(controller)
        self._host_controllers.discard(controller)

    async def stop(self) -> None:
        self.running = False
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
        for server in self._servers:
            server.close()
        for controller in list(self._host_controllers):
            self.detach_host(controller)


class _TransportSink:
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport: asyncio.Transport | None = transport

    def on_packet(self, packet: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(packet)


class _HciServerProtocol(asyncio.Protocol):
    def __init__(self, field: StrapField) -> None:
        self.field = field
        self.source: StreamPacketSource | None = None
        self.controller: Controller | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.source, self.controller = self.field.attach_host(transport)

    def data_received(self, data: bytes) -> None:
        if self.source is not None:
            self.source.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.controller is not None:
            self.field.detach_host(self.controller)
            self.controller = None


# --------------------------------------------------------------------------- the far side


@dataclass
class Received:
    """What a subscriber saw, in arrival order."""

    samples: dict[str, list[HrSample]] = field(default_factory=dict)
    availability: dict[str, list[str]] = field(default_factory=dict)
    info: dict[str, SensorInfo] = field(default_factory=dict)
    status: list[str] = field(default_factory=list)
    messages: int = 0

    def total(self) -> int:
        return sum(len(v) for v in self.samples.values())


class Watcher:
    """A persistent-session MQTT subscriber on every collector topic of one site."""

    def __init__(self, url: str, site: str, client_id: str = "test-watcher") -> None:
        filters = [
            *contract.subscription(site, "hr"),
            *contract.subscription(site, "availability"),
            *contract.subscription(site, "info"),
            *contract.subscription(site, "status"),
        ]
        self.client = MqttClient(
            MqttSettings(url=url),
            client_id,
            subscriptions=[(f, 1) for f in filters],
            persistent=True,
        )
        self.got = Received()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.client.run(max_backoff_s=0.5)),
            asyncio.create_task(self._pump()),
        ]
        await self.client.wait_connected()

    async def _pump(self) -> None:
        while True:
            msg = await self.client.messages.get()
            topic = contract.parse_topic(msg.topic)
            got = self.got
            got.messages += 1
            if topic.kind in ("hr", "batch"):
                for sample in contract.decode_samples(msg.payload):
                    got.samples.setdefault(sample.sensor, []).append(sample)
            elif topic.kind == "availability" and topic.sensor and msg.payload:
                state = contract.decode_availability(msg.payload).state
                got.availability.setdefault(topic.sensor, []).append(state)
            elif topic.kind == "info" and topic.sensor and msg.payload:
                got.info[topic.sensor] = contract.decode_info(msg.payload)
            elif topic.kind == "status":
                got.status.append(contract.decode_status(msg.payload).state)

    async def until(self, condition: Callable[[], bool], within_s: float = 60.0) -> None:
        """Wait for a condition on what arrived; a generous deadline, never a measurement."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(f"condition not met within {within_s} s: {self.got.total()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.client.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def check_stream(strap: VirtualStrap, samples: list[HrSample], *, dedup: bool = False) -> int:
    """Assert that ``samples`` are exactly what ``strap`` sent, once each, in order.

    With ``dedup`` the check is made on the ingestion's view: first occurrence per (sensor, ts)
    (a replay after a crash may repeat a message the broker stored but never acknowledged).
    Returns the number of repeats removed.
    """
    repeats = 0
    if dedup:
        seen: dict[int, HrSample] = {}
        unique: list[HrSample] = []
        for s in samples:
            if s.ts in seen:
                assert seen[s.ts] == s, f"two different samples share ts {s.ts}"
                repeats += 1
                continue
            seen[s.ts] = s
            unique.append(s)
        samples = unique
    got = [(s.bpm, tuple(s.rr_ms), s.contact, s.energy_kj) for s in samples]
    want = [(x.bpm, x.rr_ms, x.contact, x.energy_kj) for x in strap.sent]
    assert len(got) == len(want), f"{strap.address_text}: {len(got)} received, {len(want)} sent"
    assert got == want, f"{strap.address_text}: received samples differ from what was sent"
    seqs = [s.seq for s in samples]
    stamps = [s.ts for s in samples]
    assert all(a < b for a, b in itertools.pairwise(seqs)), "seq not increasing"
    assert all(a < b for a, b in itertools.pairwise(stamps)), "ts not increasing"
    return repeats
