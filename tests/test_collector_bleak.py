"""The bleak central's mapping at its boundary: a fake BleakClient (no radio exists on a
build machine), the real ``bleak_retry_connector.establish_connection`` and real bleak types."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar, cast

import pytest
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakError,
)

from collectors.central import (
    BATTERY_LEVEL,
    HR_MEASUREMENT,
    HR_SERVICE,
    ConnectFailed,
    NoAdapter,
    NoPermission,
)
from collectors.central_bleak import (
    BleakCentral,
    Discovery,
    classify,
    found_from_discovery,
)
from collectors.hrm import decode

POLAR = "A0:9E:1A:12:34:56"
GARMIN = "F1:22:33:44:55:66"
LAMP = "11:22:33:44:55:66"


def adv(name: str | None, rssi: int, uuids: list[str]) -> AdvertisementData:
    return AdvertisementData(name, {}, {}, uuids, None, rssi, ())


def discovery() -> Discovery:
    return {
        POLAR: (
            BLEDevice(POLAR, "Polar H10 12345678", {}),
            adv("Polar H10 12345678", -71, [HR_SERVICE.upper()]),
        ),
        GARMIN: (BLEDevice(GARMIN, None, {}), adv("HRM-Dual:123", -55, [HR_SERVICE, "180f"])),
        LAMP: (BLEDevice(LAMP, "Lamp", {}), adv("Lamp", -40, [])),
    }


class FakeBleakClient:
    """Stands in for bleak.BleakClient: records calls, plays notifications on demand."""

    instances: ClassVar[list[FakeBleakClient]] = []
    fail_connects = 0
    battery: bytes | None = b"\x4b"

    def __init__(
        self,
        device: BLEDevice,
        disconnected_callback: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.device = device
        self.disconnected_callback = disconnected_callback
        self.kwargs = kwargs
        self.notify: dict[str, Callable[[Any, bytearray], None]] = {}
        self.connected = False
        self.connect_calls = 0
        FakeBleakClient.instances.append(self)

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self, **kwargs: Any) -> None:
        self.connect_calls += 1
        if FakeBleakClient.fail_connects > 0:
            FakeBleakClient.fail_connects -= 1
            raise BleakError("le-connection-abort-by-local")
        self.connected = True

    async def start_notify(self, uuid: str, callback: Callable[[Any, bytearray], None]) -> None:
        self.notify[uuid] = callback

    async def read_gatt_char(self, uuid: str) -> bytearray:
        assert uuid == BATTERY_LEVEL
        if self.battery is None:
            raise BleakCharacteristicNotFoundError(uuid)
        return bytearray(self.battery)

    async def disconnect(self) -> bool:
        self.connected = False
        return True

    def radio_drops(self) -> None:
        self.connected = False
        if self.disconnected_callback is not None:
            self.disconnected_callback(cast(BleakClient, self))


@pytest.fixture(autouse=True)
def _reset_fake() -> None:
    FakeBleakClient.instances = []
    FakeBleakClient.fail_connects = 0
    FakeBleakClient.battery = b"\x4b"


def central(adapter: str = "hci1") -> BleakCentral:
    async def discover(seconds: float, adapter_name: str) -> Discovery:
        assert adapter_name == adapter
        return discovery()

    return BleakCentral(
        adapter, client_class=cast(type[BleakClient], FakeBleakClient), discover=discover
    )


def test_scan_keeps_heart_rate_straps_strongest_first() -> None:
    found = found_from_discovery(discovery(), "hci1")
    assert [(f.address, f.name, f.rssi, f.adapter) for f in found] == [
        (GARMIN, "HRM-Dual:123", -55, "hci1"),
        (POLAR, "Polar H10 12345678", -71, "hci1"),
    ]


async def test_connect_subscribe_battery_and_disconnect_callback() -> None:
    c = central()
    await c.open()
    found = {f.address: f for f in await c.scan(1.0)}
    drops: list[str] = []
    link = await c.connect(found[POLAR], lambda: drops.append(POLAR))
    (client,) = FakeBleakClient.instances
    # connected with the BLEDevice from the scan, never a bare address, on our adapter
    assert client.device.address == POLAR
    if sys.platform.startswith("linux"):
        assert client.kwargs["bluez"] == {"adapter": "hci1"}
    assert link.address == POLAR

    values: list[bytes] = []
    await link.subscribe_hr(values.append)
    client.notify[HR_MEASUREMENT](object(), bytearray.fromhex("163cf503"))
    assert values == [bytes.fromhex("163cf503")]
    assert type(values[0]) is bytes
    assert decode(values[0]).rr_ms == (989,)

    assert await link.read_battery() == 75
    FakeBleakClient.battery = None
    assert await link.read_battery() is None
    assert await link.read_rssi() is None

    client.radio_drops()
    client.radio_drops()
    assert drops == [POLAR]  # once per link
    await link.disconnect()
    assert not client.connected


async def test_a_flaky_first_attempt_is_retried_by_the_retry_connector() -> None:
    c = central()
    found = {f.address: f for f in await c.scan(1.0)}
    FakeBleakClient.fail_connects = 1
    await c.connect(found[GARMIN], lambda: None)
    assert FakeBleakClient.instances[0].connect_calls == 2


async def test_a_strap_that_never_connects_is_a_connect_failure() -> None:
    c = central()
    found = {f.address: f for f in await c.scan(1.0)}
    FakeBleakClient.fail_connects = 10
    with pytest.raises(ConnectFailed):
        await c.connect(found[GARMIN], lambda: None)


async def test_unknown_strap_is_not_connected_by_address() -> None:
    c = central()
    found = found_from_discovery(discovery(), "hci1")[0]
    with pytest.raises(ConnectFailed, match="not seen"):
        await c.connect(found, lambda: None)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.NO_BLUETOOTH),
            NoAdapter,
        ),
        (
            BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.DENIED_BY_USER),
            NoPermission,
        ),
        (
            BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.POWERED_OFF),
            NoAdapter,
        ),
        (BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", []), NoPermission),
        (BleakDBusError("org.bluez.Error.NotReady", []), NoAdapter),
        (FileNotFoundError(2, "No such file or directory"), NoAdapter),
        (PermissionError(13, "Permission denied"), NoPermission),
        (BleakError("adapter 'hci7' not found"), NoAdapter),
    ],
)
def test_errors_become_clear_boundary_errors(error: BaseException, kind: type) -> None:
    assert isinstance(classify(error, "hci7"), kind)


async def test_open_reports_a_missing_adapter() -> None:
    async def discover(seconds: float, adapter: str) -> Discovery:
        raise BleakError(f"adapter '{adapter}' not found")

    with pytest.raises(NoAdapter, match="hci7"):
        await BleakCentral("hci7", discover=discover).open()
