"""The bleak central: BlueZ on Linux (one adapter per :class:`BleakCentral`), CoreBluetooth
on macOS, WinRT on Windows.

Connections go through ``bleak_retry_connector.establish_connection`` with the
:class:`~bleak.backends.device.BLEDevice` from the scan (never a bare address: macOS only
knows UUIDs, and BlueZ needs the device object it saw on the chosen adapter). The mapping
between bleak and the :mod:`gympulse.collectors.central` boundary lives in small functions that the
tests drive with a fake ``BleakClient`` (there is no radio on a build machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakError,
)
from bleak_retry_connector import establish_connection

from gympulse.collectors.central import (
    BATTERY_LEVEL,
    BODY_SENSOR_LOCATION,
    HR_MEASUREMENT,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
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

Discovery = dict[str, tuple[BLEDevice, AdvertisementData]]
Discover = Callable[[float, str], Awaitable[Discovery]]
_DENIED = {
    BleakBluetoothNotAvailableReason.DENIED_BY_USER,
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
    BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
}
_DBUS_DENIED = ("AccessDenied", "NotPermitted", "NotAuthorized")


def _adapter_args(adapter: str) -> dict[str, Any]:
    if sys.platform.startswith("linux") and adapter:
        return {"bluez": {"adapter": adapter}}
    return {}


_BASE_UUID = "-0000-1000-8000-00805f9b34fb"
# Heart Rate, and the machines' services (Fitness Machine, Cycling Power, CSC).
_WANTED = (0x180D, *MACHINE_SERVICES)
_DATA_UUIDS = {c: f"0000{c:04x}{_BASE_UUID}" for c in DATA_CHARACTERISTICS}


def _short(uuid: str) -> int | None:
    """A 16-bit SIG UUID from ``"180d"`` or ``"0000180d-0000-1000-8000-00805f9b34fb"``."""
    text = uuid.lower()
    if len(text) == 4:
        return int(text, 16)
    if text.startswith("0000") and text.endswith(_BASE_UUID):
        return int(text[4:8], 16)
    return None


async def bleak_discover(seconds: float, adapter: str) -> Discovery:
    """The real scan: BlueZ filters on the services, other platforms we filter ourselves."""
    return await BleakScanner.discover(
        seconds,
        return_adv=True,
        service_uuids=[f"0000{s:04x}{_BASE_UUID}" for s in _WANTED],
        **_adapter_args(adapter),
    )


def classify(err: BaseException, adapter: str) -> CentralError:
    """Turn what bleak / BlueZ / D-Bus raise into the boundary's errors, with a hint."""
    text = str(err)
    if isinstance(err, BleakBluetoothNotAvailableError):
        if err.reason in _DENIED:
            return NoPermission(f"Bluetooth access denied on {adapter}: {text}")
        if err.reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return NoAdapter(f"adapter {adapter} is powered off: run `bluetoothctl power on`")
        return NoAdapter(f"no Bluetooth adapter {adapter}: {text}")
    if isinstance(err, BleakDBusError):
        if any(word in err.dbus_error for word in _DBUS_DENIED):
            return NoPermission(
                f"BlueZ refused {adapter} ({err.dbus_error}): add the user to the "
                "'bluetooth' group, see collectors/README.md"
            )
        if "NotReady" in err.dbus_error:
            return NoAdapter(f"adapter {adapter} is not ready (powered off?): {text}")
        return NoAdapter(f"BlueZ error on {adapter}: {text}")
    if isinstance(err, PermissionError):
        return NoPermission(f"no permission to use Bluetooth ({adapter}): {text}")
    if isinstance(err, FileNotFoundError | ConnectionRefusedError):
        return NoAdapter(f"no BlueZ / D-Bus system bus here ({text}); is bluetoothd running?")
    if isinstance(err, BleakError) and "not found" in text.lower():
        return NoAdapter(f"Bluetooth adapter {adapter!r} not found: {text}")
    return NoAdapter(f"Bluetooth unavailable on {adapter}: {text}")


def found_from_discovery(discovery: Discovery, adapter: str) -> list[Found]:
    """Straps (advertising 0x180D) and machines (Fitness Machine, Cycling Power, CSC) from
    a scan, strongest first; ``services`` says which of those each advertised."""
    found: list[Found] = []
    for device, adv in discovery.values():
        services = frozenset(s for u in adv.service_uuids if (s := _short(u)) in _WANTED)
        if not services:
            continue
        found.append(
            Found(
                address=normalise_address(device.address),
                name=adv.local_name or device.name or "",
                rssi=adv.rssi,
                adapter=adapter,
                services=services,
            )
        )
    return sorted(found, key=lambda f: -(f.rssi if f.rssi is not None else -999))


class BleakStrap:
    def __init__(self, client: BleakClient, address: str) -> None:
        self._client = client
        self._address = address

    @property
    def address(self) -> str:
        return self._address

    async def subscribe_hr(self, handler: NotificationHandler) -> None:
        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            handler(bytes(data))

        try:
            await self._client.start_notify(HR_MEASUREMENT, on_notify)
        except (BleakError, TimeoutError, EOFError) as err:
            raise ConnectFailed(f"cannot subscribe to {self._address}: {err}") from err

    async def subscribe_machine(self, handler: MachineHandler) -> list[int]:
        """Notifications of every machine data characteristic the device has."""
        subscribed = []
        for uuid16, uuid in _DATA_UUIDS.items():

            def on_notify(
                _char: BleakGATTCharacteristic, data: bytearray, uuid16: int = uuid16
            ) -> None:
                handler(uuid16, bytes(data))

            try:
                await self._client.start_notify(uuid, on_notify)
            except BleakCharacteristicNotFoundError:
                continue
            except (BleakError, TimeoutError, EOFError) as err:
                raise ConnectFailed(f"cannot subscribe to {self._address}: {err}") from err
            subscribed.append(uuid16)
        if not subscribed:
            raise ConnectFailed(f"{self._address} has no machine data characteristic")
        return subscribed

    async def read_battery(self) -> int | None:
        try:
            value = await self._client.read_gatt_char(BATTERY_LEVEL)
        except BleakCharacteristicNotFoundError:
            return None
        return value[0] if value else None

    async def _read_optional(self, uuid: str) -> bytes | None:
        """An optional characteristic: None when the strap lacks it or refuses the read."""
        try:
            return bytes(await self._client.read_gatt_char(uuid))
        except BleakCharacteristicNotFoundError:
            return None
        except (BleakError, TimeoutError, EOFError) as err:
            log.debug("%s: reading %s failed: %s", self._address, uuid, err)
            return None

    async def read_details(self) -> StrapDetails:
        return details_from_values(
            await self._read_optional(BODY_SENSOR_LOCATION),
            await self._read_optional(MANUFACTURER_NAME),
            await self._read_optional(MODEL_NUMBER),
        )

    async def read_rssi(self) -> int | None:
        return None  # bleak has no RSSI of a connection; the manager keeps the scan's

    async def disconnect(self) -> None:
        with contextlib.suppress(BleakError, TimeoutError, EOFError):
            await self._client.disconnect()


class BleakCentral:
    """A Central on one adapter through bleak."""

    def __init__(
        self,
        adapter: str,
        *,
        client_class: type[BleakClient] = BleakClient,
        discover: Discover = bleak_discover,
    ) -> None:
        self._adapter = adapter
        self._client_class = client_class
        self._discover = discover
        self._devices: dict[str, BLEDevice] = {}

    @property
    def adapter(self) -> str:
        return self._adapter

    async def open(self) -> None:
        """Check the adapter works with a short scan (BlueZ reports a missing adapter or a
        D-Bus policy refusal only when used)."""
        await self.scan(0.2)

    async def close(self) -> None:
        self._devices.clear()

    async def scan(self, seconds: float) -> list[Found]:
        try:
            discovery = await self._discover(seconds, self._adapter)
        except (BleakError, OSError) as err:
            raise classify(err, self._adapter) from err
        found = found_from_discovery(discovery, self._adapter)
        # Only what the last scan found that we could connect to: every phone, lamp and
        # rotating private address of every scan would otherwise stay here for good.
        seen = {normalise_address(d.address): d for d, _ in discovery.values()}
        self._devices = {f.address: seen[f.address] for f in found if f.address in seen}
        return found

    async def connect(
        self, found: Found, on_disconnect: Callable[[], None], connect_timeout_s: float = 10.0
    ) -> StrapLink:
        device = self._devices.get(found.address)
        if device is None:
            raise ConnectFailed(f"{found.address} was not seen by a scan on {self._adapter}")
        fired = False

        def disconnected(_client: BleakClient) -> None:
            nonlocal fired
            if not fired:
                fired = True
                on_disconnect()

        try:
            client = await asyncio.wait_for(
                establish_connection(
                    self._client_class,
                    device,
                    found.name or found.address,
                    disconnected_callback=disconnected,
                    max_attempts=2,
                    **_adapter_args(self._adapter),
                ),
                connect_timeout_s * 3,
            )
        except (BleakError, TimeoutError, OSError, EOFError) as err:
            raise ConnectFailed(f"cannot connect to {found.address}: {err}") from err
        return BleakStrap(client, found.address)
