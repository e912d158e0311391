"""The bumble central: bumble's own host stack on an HCI transport, no BlueZ, no D-Bus.

``transport`` is any bumble transport string: ``usb:0`` (a USB dongle detached from the
kernel driver), ``serial:/dev/ttyUSB0`` (a UART HCI controller), ``tcp-client:HOST:PORT``
(HCI over TCP, e.g. a controller exposed by another process; the tests use this with
bumble's virtual controllers). One transport is one adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

from bumble import core, hci
from bumble.core import UUID
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import (
    GATT_BATTERY_LEVEL_CHARACTERISTIC,
    GATT_BATTERY_SERVICE,
    GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC,
    GATT_DEVICE_INFORMATION_SERVICE,
    GATT_HEART_RATE_MEASUREMENT_CHARACTERISTIC,
    GATT_HEART_RATE_SERVICE,
    GATT_MANUFACTURER_NAME_STRING_CHARACTERISTIC,
    GATT_MODEL_NUMBER_STRING_CHARACTERISTIC,
)
from bumble.transport import open_transport
from bumble.transport.common import Transport, TransportInitError, TransportSpecError

from gympulse.collectors.central import (
    CentralError,
    ConnectFailed,
    Found,
    MachineHandler,
    NoAdapter,
    NoPermission,
    NotificationHandler,
    StrapDetails,
    StrapLink,
    details_from_values,
    normalise_address,
)
from gympulse.collectors.machines import DATA_CHARACTERISTICS, MACHINE_SERVICES

log = logging.getLogger(__name__)

_SERVICE_LISTS = (
    core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    core.AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
)
_NAMES = (core.AdvertisingData.COMPLETE_LOCAL_NAME, core.AdvertisingData.SHORTENED_LOCAL_NAME)
POWER_ON_TIMEOUT_S = 10.0
# Read once per connection when the strap has them (all optional).
_DETAILS = (
    GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC,
    GATT_MANUFACTURER_NAME_STRING_CHARACTERISTIC,
    GATT_MODEL_NUMBER_STRING_CHARACTERISTIC,
)


# Devices worth connecting: heart-rate straps, and fitness machines, power meters and
# speed/cadence sensors (wire contract machine extension).
_WANTED_SERVICES: dict[int, UUID] = {
    0x180D: GATT_HEART_RATE_SERVICE,
    **{s: UUID.from_16_bits(s) for s in MACHINE_SERVICES},
}
_MACHINE_SERVICE_UUIDS = [UUID.from_16_bits(s) for s in MACHINE_SERVICES]
_MACHINE_DATA_UUIDS = {UUID.from_16_bits(c): c for c in DATA_CHARACTERISTICS}


def _advertised_services(advertisement: Advertisement) -> frozenset[int]:
    """The wanted 16-bit services an advertisement lists (empty: not one of ours)."""
    found: set[int] = set()
    for kind in _SERVICE_LISTS:
        uuids = advertisement.data.get(kind)
        if isinstance(uuids, list):
            found.update(short for short, uuid in _WANTED_SERVICES.items() if uuid in uuids)
    return frozenset(found)


def _name(advertisement: Advertisement) -> str:
    for kind in _NAMES:
        name = advertisement.data.get(kind)
        if name:
            return str(name)
    return ""


class BumbleStrap:
    """A connected strap over bumble's GATT client."""

    def __init__(self, connection: Connection, peer: Peer, address: str) -> None:
        self._connection = connection
        self._peer = peer
        self._address = address
        self._hr: Any = None
        self._battery: Any = None
        self._details: dict[UUID, Any] = {}
        self._machine: dict[int, Any] = {}  # data characteristic UUID16 -> characteristic

    @property
    def address(self) -> str:
        return self._address

    async def discover(self, machine: bool = False) -> None:
        """Discover a strap's services, or with ``machine`` a fitness machine's, power
        meter's or speed/cadence sensor's."""
        services = [GATT_BATTERY_SERVICE, GATT_DEVICE_INFORMATION_SERVICE]
        services += _MACHINE_SERVICE_UUIDS if machine else [GATT_HEART_RATE_SERVICE]
        await self._peer.discover_services(services)
        wanted = [GATT_BATTERY_LEVEL_CHARACTERISTIC, *_DETAILS]
        wanted += (
            list(_MACHINE_DATA_UUIDS) if machine else [GATT_HEART_RATE_MEASUREMENT_CHARACTERISTIC]
        )
        chars = await self._peer.discover_characteristics(uuids=wanted)
        for char in chars:
            if char.uuid == GATT_HEART_RATE_MEASUREMENT_CHARACTERISTIC:
                self._hr = char
            elif char.uuid == GATT_BATTERY_LEVEL_CHARACTERISTIC:
                self._battery = char
            elif char.uuid in _DETAILS:
                self._details.setdefault(char.uuid, char)
            elif char.uuid in _MACHINE_DATA_UUIDS:
                self._machine.setdefault(_MACHINE_DATA_UUIDS[char.uuid], char)
        if machine and not self._machine:
            raise ConnectFailed(f"{self._address} has no machine data characteristic")
        if not machine and self._hr is None:
            raise ConnectFailed(f"{self._address} has no Heart Rate Measurement characteristic")

    async def subscribe_hr(self, handler: NotificationHandler) -> None:
        def on_value(value: bytes) -> None:
            handler(bytes(value))

        await self._peer.subscribe(self._hr, on_value)

    async def subscribe_machine(self, handler: MachineHandler) -> list[int]:
        if not self._machine:
            raise ConnectFailed(f"{self._address} has no machine data characteristic")
        for uuid16, char in self._machine.items():

            def on_value(value: bytes, uuid16: int = uuid16) -> None:
                handler(uuid16, bytes(value))

            await self._peer.subscribe(char, on_value)
        return sorted(self._machine)

    async def read_battery(self) -> int | None:
        if self._battery is None:
            return None
        value = await self._peer.read_value(self._battery)
        return value[0] if value else None

    async def _read_optional(self, uuid: UUID) -> bytes | None:
        char = self._details.get(uuid)
        if char is None:
            return None
        try:
            return bytes(await self._peer.read_value(char))
        except (core.BaseBumbleError, hci.HCI_Error, TimeoutError) as err:
            log.debug("%s: reading %s failed: %r", self._address, uuid, err)
            return None

    async def read_details(self) -> StrapDetails:
        values = [await self._read_optional(uuid) for uuid in _DETAILS]
        return details_from_values(*values)

    async def read_rssi(self) -> int | None:
        try:
            rssi = await cast(Any, self._connection).get_rssi()
        except (core.BaseBumbleError, hci.HCI_Error):
            return None
        return int(rssi) if rssi is not None and rssi != 127 else None

    async def disconnect(self) -> None:
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, asyncio.CancelledError):
            await self._connection.disconnect()


class BumbleCentral:
    """A Central on one bumble HCI transport."""

    def __init__(self, transport: str) -> None:
        self._spec = transport
        self._transport: Transport | None = None
        self._device: Device | None = None
        self._addresses: dict[str, hci.Address] = {}
        self._connect_lock = asyncio.Lock()

    @property
    def adapter(self) -> str:
        return self._spec

    async def open(self) -> None:
        if not self._spec:
            raise NoAdapter(
                "the bumble central needs an HCI transport: set collector.transport or pass "
                "--transport (usb:0, serial:/dev/ttyUSB0, tcp-client:HOST:PORT)"
            )
        try:
            self._transport = await open_transport(self._spec)
        except PermissionError as err:
            raise NoPermission(
                f"no permission to open HCI transport {self._spec!r}: {err} (for usb:N add a "
                "udev rule giving your user the dongle, see collectors/README.md)"
            ) from err
        except (OSError, TransportInitError, TransportSpecError, ValueError) as err:
            raise NoAdapter(f"cannot open HCI transport {self._spec!r}: {err}") from err
        except Exception as err:  # libusb (usb1) errors have their own hierarchy
            if type(err).__name__ == "USBErrorAccess":
                raise NoPermission(
                    f"no permission to open USB HCI transport {self._spec!r}: {err} (add a "
                    "udev rule for the dongle, see collectors/README.md)"
                ) from err
            raise NoAdapter(f"cannot open HCI transport {self._spec!r}: {err!r}") from err
        self._device = Device.with_hci(
            "gympulse-collector",
            hci.Address.generate_static_address(),
            self._transport.source,
            self._transport.sink,
        )
        try:
            await asyncio.wait_for(self._device.power_on(), POWER_ON_TIMEOUT_S)
        except (TimeoutError, core.BaseBumbleError, hci.HCI_Error) as err:
            await self.close()
            raise NoAdapter(f"the controller on {self._spec!r} does not answer: {err!r}") from err

    async def close(self) -> None:
        if self._device is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._device.power_off(), 2)
            self._device = None
        if self._transport is not None:
            with contextlib.suppress(Exception):
                await self._transport.close()
            self._transport = None

    def _require(self) -> Device:
        if self._device is None:
            raise CentralError("the central is not open")
        return self._device

    async def scan(self, seconds: float) -> list[Found]:
        device = self._require()
        names: dict[str, str] = {}
        rssi: dict[str, int] = {}
        services: dict[str, frozenset[int]] = {}

        def on_advertisement(advertisement: Advertisement) -> None:
            address = normalise_address(str(advertisement.address))
            self._addresses[address] = advertisement.address
            names[address] = _name(advertisement) or names.get(address, "")
            if advertisement.rssi != Advertisement.RSSI_NOT_AVAILABLE:
                rssi[address] = advertisement.rssi
            advertised = _advertised_services(advertisement)
            if advertised:
                services[address] = advertised

        device.on(device.EVENT_ADVERTISEMENT, on_advertisement)
        try:
            async with self._connect_lock:
                await device.start_scanning(filter_duplicates=False)
                try:
                    await asyncio.sleep(seconds)
                finally:
                    await device.stop_scanning()
        finally:
            device.remove_listener(device.EVENT_ADVERTISEMENT, on_advertisement)
        found = [
            Found(a, names.get(a, ""), rssi.get(a), self._spec, services=svc)
            for a, svc in services.items()
        ]
        return sorted(found, key=lambda f: -(f.rssi if f.rssi is not None else -999))

    async def connect(
        self, found: Found, on_disconnect: Callable[[], None], connect_timeout_s: float = 10.0
    ) -> StrapLink:
        device = self._require()
        address = self._addresses.get(found.address) or hci.Address(found.address)
        async with self._connect_lock:  # one pending LE connection per controller
            try:
                connection = await device.connect(address, timeout=connect_timeout_s)
            except (core.BaseBumbleError, hci.HCI_Error, TimeoutError) as err:
                raise ConnectFailed(f"cannot connect to {found.address}: {err!r}") from err
        fired = False

        def disconnected(*_args: object) -> None:
            nonlocal fired
            if not fired:
                fired = True
                on_disconnect()

        connection.on(connection.EVENT_DISCONNECTION, disconnected)
        strap = BumbleStrap(connection, Peer(connection), found.address)
        try:
            machine = bool(found.services) and 0x180D not in found.services
            await asyncio.wait_for(strap.discover(machine), connect_timeout_s)
        except (core.BaseBumbleError, hci.HCI_Error, TimeoutError) as err:
            await strap.disconnect()
            raise ConnectFailed(f"service discovery failed on {found.address}: {err!r}") from err
        except ConnectFailed:
            await strap.disconnect()
            raise
        return strap
