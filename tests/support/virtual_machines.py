"""Virtual fitness machines and power meters: bumble peripherals with GATT servers for the
Fitness Machine Service (Indoor Bike Data or Rower Data, and the Fitness Machine Feature),
the Cycling Power Service and Cycling Speed and Cadence, on the radio of a
:class:`tests.support.virtual_straps.StrapField` (same ``LocalLink``, same HCI-over-TCP
transports), so one collector finds straps and machines side by side.

Every tick (the field's ``rate_hz``) a subscribed machine notifies one value built from a
deterministic ride (power and cadence a function of the tick), encoded with the project's
own encoders (:func:`gympulse.collectors.ftms.encode`, ...): the decoders are checked
against published captures and pycycling in ``tests/test_machine_decoders.py``; here the
point is the path through the radio, the collector, the broker and the store. Each machine
records what it sent, so tests compare the store with the radio.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from bumble import hci
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from gympulse.collectors import cps, csc, ftms
from tests.support.virtual_straps import ADVERTISING_INTERVAL_MS, StrapField

KINDS = ("bike", "rower", "power", "csc")
_SERVICE = {
    "bike": ftms.FITNESS_MACHINE_SERVICE,
    "rower": ftms.FITNESS_MACHINE_SERVICE,
    "power": cps.CYCLING_POWER_SERVICE,
    "csc": csc.CSC_SERVICE,
}
_DATA = {
    "bike": ftms.INDOOR_BIKE_DATA,
    "rower": ftms.ROWER_DATA,
    "power": cps.CYCLING_POWER_MEASUREMENT,
    "csc": csc.CSC_MEASUREMENT,
}
_NONE: dict[str, Any] = dict.fromkeys(
    (
        "avg_speed_kmh",
        "avg_cadence_rpm",
        "distance_m",
        "resistance",
        "avg_power_w",
        "energy_kcal",
        "energy_per_hour_kcal",
        "energy_per_minute_kcal",
        "heart_rate",
        "met",
        "elapsed_s",
        "remaining_s",
    )
)


def ride(kind: str, tick: int) -> tuple[int, float]:
    """(watts, cadence) of a machine at ``tick``: steady, with a repeating 12-tick surge."""
    surge = tick % 12 >= 9
    if kind == "rower":
        return (230 if surge else 160) + tick % 5, 28.0 if surge else 22.0
    return (320 if surge else 180) + tick % 7, 100.0 if surge else 86.0


@dataclass
class Sent:
    tick: int
    value: bytes
    power_w: int | None
    cadence: float | None


@dataclass
class VirtualMachine:
    index: int
    kind: str
    address: hci.Address
    name: str
    device: Device
    data: Characteristic[bytes]
    connection: Connection | None = None
    subscribed: bool = False
    sent: list[Sent] = field(default_factory=list)
    crank_revs: int = 0
    crank_time: int = 0  # 1/1024 s

    @property
    def sensor(self) -> str:
        return self.address.to_string(False).lower().replace(":", "-")

    def value(self, tick: int, rate_hz: float) -> tuple[bytes, int | None, float | None]:
        power, cadence = ride(self.kind, tick)
        if self.kind == "bike":
            bike = ftms.IndoorBikeData(
                flags=0x0044,  # speed (bit 0 clear), cadence, power
                speed_kmh=round(power / 8, 2),
                cadence_rpm=cadence,
                power_w=power,
                partial=False,
                **_NONE,
            )
            return ftms.encode(bike), power, cadence
        if self.kind == "rower":
            split = round(500 / ((power / 2.8) ** (1 / 3)))  # Concept2's watts <-> pace
            rower = ftms.RowerData(
                flags=0x0028,  # stroke rate + count (bit 0 clear), pace, power
                stroke_rate_spm=cadence,
                stroke_count=tick,
                avg_stroke_rate_spm=None,
                distance_m=None,
                pace_s_per_500m=split,
                avg_pace_s_per_500m=None,
                power_w=power,
                avg_power_w=None,
                resistance=None,
                energy_kcal=None,
                energy_per_hour_kcal=None,
                energy_per_minute_kcal=None,
                heart_rate=None,
                met=None,
                elapsed_s=None,
                remaining_s=None,
                partial=False,
            )
            return ftms.encode(rower), power, cadence
        # crank: one tick lasts 1/rate_hz s of the ride's cadence (event time in 1/1024 s)
        self.crank_revs = (self.crank_revs + 1) % 65536
        self.crank_time = (self.crank_time + round(60 * 1024 / cadence)) % 65536
        if self.kind == "power":
            m = cps.CyclingPowerMeasurement(
                flags=0x0020,
                power_w=power,
                pedal_balance_pct=None,
                balance_left=False,
                accumulated_torque_nm=None,
                torque_from_crank=False,
                wheel_revs=None,
                wheel_event_time=None,
                crank_revs=self.crank_revs,
                crank_event_time=self.crank_time,
                max_force_n=None,
                min_force_n=None,
                max_torque_nm=None,
                min_torque_nm=None,
                max_angle_deg=None,
                min_angle_deg=None,
                top_dead_spot_deg=None,
                bottom_dead_spot_deg=None,
                accumulated_energy_kj=None,
                offset_compensation=False,
                partial=False,
            )
            return cps.encode(m), power, cadence
        c = csc.CscMeasurement(
            flags=0x02,
            wheel_revs=None,
            wheel_event_time=None,
            crank_revs=self.crank_revs,
            crank_event_time=self.crank_time,
            partial=False,
        )
        return csc.encode(c), None, cadence

    async def notify(self, tick: int, rate_hz: float) -> None:
        if self.connection is None or not self.subscribed:
            return
        value, power, cadence = self.value(tick, rate_hz)
        await self.device.notify_subscriber(self.connection, self.data, value)
        self.sent.append(Sent(tick, value, power, cadence))

    async def advertise(self) -> None:
        await self.device.start_advertising(
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )


class MachineRoom:
    """Machines on the radio of ``field``; each ticks at the field's rate."""

    def __init__(self, field: StrapField, kinds: list[str], first: int = 200) -> None:
        self.field = field
        self.kinds = kinds
        self.first = first
        self.machines: list[VirtualMachine] = []
        self._driver: asyncio.Task[None] | None = None
        self.running = True

    async def _make(self, index: int, kind: str) -> VirtualMachine:
        address = hci.Address(
            f"C1:4D:00:00:{(index >> 8) & 0xFF:02X}:{index & 0xFF:02X}",
            hci.Address.RANDOM_DEVICE_ADDRESS,
        )
        controller = Controller(f"machine-{index}", link=self.field.link)
        device = Device(
            name=f"GYM {kind.upper()} {index:03d}",
            address=address,
            host=Host(controller, AsyncPipeSink(controller)),
        )
        data: Characteristic[bytes] = Characteristic(
            UUID.from_16_bits(_DATA[kind]),
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions.READABLE,
            b"",
        )
        chars = [data]
        if _SERVICE[kind] == ftms.FITNESS_MACHINE_SERVICE:
            feature = ftms.FitnessMachineFeature(
                machine=frozenset({"cadence", "power"}),
                target_settings=frozenset(),
                partial=False,
            )
            chars.append(
                Characteristic(
                    UUID.from_16_bits(ftms.FITNESS_MACHINE_FEATURE),
                    Characteristic.Properties.READ,
                    Characteristic.Permissions.READABLE,
                    ftms.encode_feature(feature),
                )
            )
        device.add_services([Service(UUID.from_16_bits(_SERVICE[kind]), chars)])
        device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        _SERVICE[kind].to_bytes(2, "little"),
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, device.name.encode()),
                ]
            )
        )
        await device.power_on()
        machine = VirtualMachine(index, kind, address, device.name, device, data)

        def on_connection(connection: Connection) -> None:
            machine.connection = connection
            machine.subscribed = False

            def on_disconnection(*_args: object) -> None:
                machine.connection = None
                machine.subscribed = False
                if self.running:
                    asyncio.get_running_loop().create_task(machine.advertise())

            connection.on(connection.EVENT_DISCONNECTION, on_disconnection)

        def on_subscription(connection: object, notify: bool, indicate: bool) -> None:
            machine.subscribed = notify

        device.on(device.EVENT_CONNECTION, on_connection)
        data.on("subscription", on_subscription)
        await machine.advertise()
        return machine

    async def start(self) -> None:
        for offset, kind in enumerate(self.kinds):
            self.machines.append(await self._make(self.first + offset, kind))
        self._driver = asyncio.create_task(self._drive())

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1 / self.field.rate_hz
        tick_at = loop.time()
        tick = 0
        while self.running:
            for machine in self.machines:
                await machine.notify(tick, self.field.rate_hz)
            tick += 1
            tick_at += period
            await asyncio.sleep(max(0.0, tick_at - loop.time()))

    async def stop(self) -> None:
        self.running = False
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
