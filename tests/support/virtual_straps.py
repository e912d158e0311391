"""Virtual heart-rate straps: bumble peripherals with the standard Heart Rate, Battery and
Device Information services on a virtual radio (``bumble.link.LocalLink``), reachable over
HCI-over-TCP, notifying what the simulator's participants do.

:class:`StrapField` owns the link, N straps (one virtual controller each) and a TCP server
speaking HCI (H4 framing). Every client that connects to the server gets a fresh virtual
controller on the link, so a collector reaches the straps with the transport string
``tcp-client:127.0.0.1:PORT`` exactly as it would reach a real controller. When a client
goes away (the collector exits or is killed) its controller's connections end with a
supervision timeout, as a real radio's would, and the straps advertise again.

The straps are driven by :func:`gympulse.collectors.simulator.simulate`: strap ``i`` of a field
wears
participant ``i`` of ``make_profiles(n, seed)``, and every tick of the field (``rate_hz``
per second) is one simulated second: each subscribed strap notifies that second's bpm, RR
intervals and contact, encoded by bumble's ``HeartRateService.HeartRateMeasurement`` with
contact detection supported. Each strap records every notification it sent (and the
simulated second it came from), so tests compare what arrived at the broker with what the
radio carried, and that with the simulation.

What the straps say about themselves varies with their number (:data:`STRAP_KINDS`): Body
Sensor Location and Device Information (manufacturer, model number) are optional in the
specs, and some straps leave them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Service
from bumble.host import Host
from bumble.link import LocalLink
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.profiles.heart_rate_service import HeartRateService
from bumble.transport.common import AsyncPipeSink, StreamPacketSource

from gympulse import contract
from gympulse.collectors.hrm import rr_raw_to_ms
from gympulse.collectors.simulator import Profile, SimEvent, make_profiles, simulate
from gympulse.contract import HrSample, SensorInfo
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings

ADVERTISING_INTERVAL_MS = 20.0  # measured: each connection waits about one interval
HR_UUID_LE = bytes([0x0D, 0x18])
BATTERY_UUID_LE = bytes([0x0F, 0x18])
SIM_START_MS = 1_767_225_600_000  # 2026-01-01: the simulated class (its RR depend on it)


@dataclass(frozen=True, slots=True)
class StrapKind:
    """What a strap says about itself, and what the collector must publish in ``info``."""

    location: int | None  # Body Sensor Location value; None: no 0x2A38 characteristic
    manufacturer: str | None  # Device Information; both None: no such service
    model_number: str | None
    want_location: str | None
    want_model: str | None  # None: the advertised name


STRAP_KINDS: tuple[StrapKind, ...] = (
    StrapKind(1, "Polar Electro Oy", "H10", "Chest", "Polar H10"),
    StrapKind(1, "Garmin International", "HRM-Dual", "Chest", "Garmin HRM-Dual"),
    StrapKind(2, "Wahoo Fitness", "Wahoo TICKR FIT", "Wrist", "Wahoo TICKR FIT"),
    StrapKind(None, None, None, None, None),  # a bare strap: the optional parts left out
    StrapKind(9, "CooSpo", None, "unknown", None),  # a reserved location, no model number
)


@dataclass(frozen=True, slots=True)
class Sent:
    """One notification as the strap put it on the air, and what it must decode to."""

    value: bytes
    bpm: int
    rr_ms: tuple[int, ...]
    contact: bool | None
    energy_kj: int | None
    second: int  # the simulated second it reports


def rr_ms_to_raw(ms: int) -> int:
    """ms -> 1/1024 s, rounded to nearest; the decoder's half-up rounding gives ``ms`` back."""
    return (ms * 1024 + 500) // 1000


@dataclass
class VirtualStrap:
    index: int
    address: hci.Address
    name: str
    device: Device
    hr_service: HeartRateService
    profile: Profile
    kind: StrapKind
    battery_pct: int = 87
    contact: bool | None = True  # False: the strap slipped; None: no contact detection
    sends_energy: bool = False
    away: bool = False
    sent: list[Sent] = field(default_factory=list)
    connection: Connection | None = None
    subscribed: bool = False
    last_bpm: int = 0
    connections: int = 0

    @property
    def address_text(self) -> str:
        return self.address.to_string(False)

    @property
    def sensor(self) -> str:
        """The collector's sensor id for this strap (no allow-list: the address)."""
        return self.address_text.lower().replace(":", "-")

    def measurement(self, sample: HrSample) -> HeartRateService.HeartRateMeasurement:
        """The notification for one simulated second. Without skin contact (the simulator's
        contact loss, or :attr:`contact` set False) a strap repeats its last bpm, no RR."""
        slipped = self.contact is False or sample.contact is False
        rr_ms: list[int] = []
        if sample.contact is False:  # the simulator's contact loss repeats a stale bpm itself
            bpm = sample.bpm
        elif slipped:
            bpm = self.last_bpm or sample.bpm
        else:
            bpm, rr_ms = sample.bpm, sample.rr_ms
            self.last_bpm = bpm
        energy = None
        if self.sends_energy and sample.energy_kj is not None:
            energy = min(0xFFFF, sample.energy_kj)  # the field saturates (HRS 1.0, 3.1.1.3)
        return HeartRateService.HeartRateMeasurement(
            heart_rate=bpm,
            sensor_contact_detected=None if self.contact is None else not slipped,
            energy_expended=energy,
            # raw / 1024 is exact in binary floating point: bumble encodes int(rr * 1024)
            rr_intervals=[rr_ms_to_raw(ms) / 1024 for ms in rr_ms] or None,
        )

    async def advertise(self) -> None:
        await self.device.start_advertising(
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    async def notify(self, second: int, sample: HrSample) -> None:
        connection = self.connection
        if connection is None or not self.subscribed or self.away:
            return
        m = self.measurement(sample)
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
                second=second,
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


def simulated_class(
    n: int, seed: int, contact_loss_rate: float = 0.0, dropout_rate: float = 0.0
) -> Iterator[list[SimEvent]]:
    """The simulation a :class:`StrapField` of ``n`` straps plays, one list per second."""
    return simulate(
        make_profiles(n, seed),
        start_ms=SIM_START_MS,
        seconds=None,
        seed=seed,
        seq_base=0,
        contact_loss_rate=contact_loss_rate,
        dropout_rate=dropout_rate,
    )


class StrapField:
    """N virtual straps on one LocalLink; every tick (``rate_hz`` per second) is one second
    of the simulated class. ``seed`` defaults to ``first``, so two fields differ. Contact
    losses and drop-outs of the simulator are off unless asked for: a drop-out is silence
    (no notifications) on a link that stays up, a contact loss a stale bpm with contact
    false."""

    def __init__(
        self,
        n: int,
        *,
        rate_hz: float = 1.0,
        first: int = 0,
        name: str = "sim",
        adapters: int = 1,
        seed: int | None = None,
        contact_loss_rate: float = 0.0,
        dropout_rate: float = 0.0,
    ) -> None:
        self.n = n
        self.adapters = adapters
        self.rate_hz = rate_hz
        self.first = first
        self.name = name
        self.seed = first if seed is None else seed
        self.profiles = make_profiles(n, self.seed)
        self.rates = (contact_loss_rate, dropout_rate)
        self._class = simulated_class(n, self.seed, *self.rates)
        self.second = 0  # the next simulated second
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.straps: list[VirtualStrap] = []
        self.ports: list[int] = []
        self._servers: list[asyncio.Server] = []
        self._driver: asyncio.Task[None] | None = None
        self._host_controllers: set[Controller] = set()
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
        return {s.sensor: s for s in self.straps}

    async def _make_strap(self, index: int, profile: Profile) -> VirtualStrap:
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
        kind = STRAP_KINDS[index % len(STRAP_KINDS)]
        hr_service = HeartRateService(
            read_heart_rate_measurement=lambda _c: HeartRateService.HeartRateMeasurement(60),
            body_sensor_location=(
                None
                if kind.location is None
                else HeartRateService.BodySensorLocation(kind.location)
            ),
        )
        strap = VirtualStrap(index, address, device.name, device, hr_service, profile, kind)
        strap.sends_energy = index % 2 == 1
        battery = BatteryService(read_battery_level=lambda _c: strap.battery_pct)
        services: list[Service] = [hr_service, battery]
        if kind.manufacturer is not None or kind.model_number is not None:
            services.append(
                DeviceInformationService(
                    manufacturer_name=kind.manufacturer, model_number=kind.model_number
                )
            )
        device.add_services(services)
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
        for i, profile in zip(range(self.first, self.first + self.n), self.profiles, strict=True):
            self.straps.append(await self._make_strap(i, profile))
        for _ in range(self.adapters):
            server = await asyncio.get_running_loop().create_server(self._protocol, "127.0.0.1", 0)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._driver = asyncio.create_task(self._drive())

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1 / self.rate_hz
        tick = loop.time()
        by_profile = {p.sensor: strap for p, strap in zip(self.profiles, self.straps, strict=True)}
        while self.running:
            if not self.paused:
                # The class goes on whether or not a strap is connected; a drop-out of the
                # simulator is a second without a sample.
                second, self.second = self.second, self.second + 1
                for event in next(self._class):
                    if event.sample is not None:
                        await by_profile[event.sensor].notify(second, event.sample)
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


WATCHER_BARRIER = "barrier"  # the marker :meth:`Watcher.barrier` publishes; never a strap


class Watcher:
    """A persistent-session MQTT subscriber on every collector topic of one site."""

    def __init__(self, url: str, site: str, client_id: str = "test-watcher") -> None:
        self.url, self.site = url, site
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
            max_backoff_s=0.5,
        )
        self.got = Received()
        self._tasks: list[asyncio.Task[None]] = []
        self._exit = contextlib.AsyncExitStack()

    async def start(self) -> None:
        await self._exit.enter_async_context(self.client)
        self._tasks = [asyncio.create_task(self._pump())]
        await self.client.wait_connected()
        # Subscribed before the first collector publishes: nothing may slip past unseen.
        await asyncio.wait_for(self.client.subscribed.wait(), 10)

    async def _pump(self) -> None:
        async for msg in self.client.messages():
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

    async def barrier(self) -> None:
        """Publish a marker from a client of its own and wait until it has arrived, then
        forget it: Mosquitto queues a subscriber's messages in the order it accepted them,
        so everything acknowledged before the marker (a duplicate included) has arrived by
        then -- instead of a sleep that "shows nothing more came". Stop the publisher under
        test first, so that nothing of it is still on its way."""
        marker = HrSample(WATCHER_BARRIER, contract.now_ms(), time.monotonic_ns(), 60)
        async with MqttClient(MqttSettings(url=self.url), f"barrier-{marker.seq}") as mqtt:
            await mqtt.wait_connected()
            topic = contract.hr_topic(self.site, "barrier", marker.sensor)
            await mqtt.publish(topic, contract.encode(marker))
        await self.until(lambda: WATCHER_BARRIER in self.got.samples)
        del self.got.samples[WATCHER_BARRIER]

    async def stop(self) -> None:
        await self._exit.aclose()  # the pump's message iteration ends
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def check_simulation(field: StrapField) -> int:
    """Assert that every strap of ``field`` sent what the simulator said its participant did
    in that second: bpm, RR intervals (through 1/1024 s and back), contact, energy (odd straps
    only). Plays the simulation again from its seed; returns the notifications checked."""
    last = max((x.second for s in field.straps for x in s.sent), default=-1)
    by_sensor = {p.sensor: strap for p, strap in zip(field.profiles, field.straps, strict=True)}
    want: dict[tuple[str, int], HrSample] = {}
    simulation = simulated_class(field.n, field.seed, *field.rates)
    for second, events in enumerate(itertools.islice(simulation, last + 1)):
        for event in events:
            if event.sample is not None:
                want[(by_sensor[event.sensor].sensor, second)] = event.sample
    checked = 0
    for strap in field.straps:
        for x in strap.sent:
            sample = want[(strap.sensor, x.second)]
            if x.contact is False:
                continue  # a stale bpm by design
            assert (x.bpm, x.rr_ms) == (sample.bpm, tuple(sample.rr_ms)), (strap.sensor, x)
            assert x.contact is (None if strap.contact is None else True)
            assert x.energy_kj == (sample.energy_kj if strap.sends_energy else None)
            checked += 1
    return checked


def check_stream(strap: VirtualStrap, samples: list[HrSample], *, dedup: bool = False) -> int:
    """Assert that ``samples`` are exactly what ``strap`` sent, once each, in order; except
    notifications with the contact flag false, which the collector must never publish.

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
    want = [(x.bpm, x.rr_ms, x.contact, x.energy_kj) for x in strap.sent if x.contact is not False]
    assert len(got) == len(want), f"{strap.address_text}: {len(got)} received, {len(want)} sent"
    assert got == want, f"{strap.address_text}: received samples differ from what was sent"
    seqs = [s.seq for s in samples]
    stamps = [s.ts for s in samples]
    assert all(a < b for a, b in itertools.pairwise(seqs)), "seq not increasing"
    assert all(a < b for a, b in itertools.pairwise(stamps)), "ts not increasing"
    return repeats
