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

from gympulse.collectors.central import (
    BATTERY_LEVEL,
    BODY_SENSOR_LOCATION,
    HR_MEASUREMENT,
    HR_SERVICE,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
    ConnectFailed,
    MachineLink,
    NoAdapter,
    NoPermission,
    StrapDetails,
    decode_text,
    strap_model,
)
from gympulse.collectors.central_bleak import (
    BleakCentral,
    Discovery,
    classify,
    found_from_discovery,
)
from gympulse.collectors.hrm import decode

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
    # readable characteristics besides the battery; a missing key: the strap lacks it
    values: ClassVar[dict[str, bytes]] = {}
    refuse: ClassVar[set[str]] = set()  # characteristics whose read fails (ATT error)
    notifiable: ClassVar[set[str] | None] = None  # None: any; else only these exist

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
        if self.notifiable is not None and uuid not in self.notifiable:
            raise BleakCharacteristicNotFoundError(uuid)
        self.notify[uuid] = callback

    async def read_gatt_char(self, uuid: str) -> bytearray:
        if uuid in self.refuse:
            raise BleakError(f"Failed to read characteristic {uuid}: Protocol Error 0x02")
        value = self.battery if uuid == BATTERY_LEVEL else self.values.get(uuid)
        if value is None:
            raise BleakCharacteristicNotFoundError(uuid)
        return bytearray(value)

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
    FakeBleakClient.values = {}
    FakeBleakClient.refuse = set()
    FakeBleakClient.notifiable = None


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


async def test_the_device_map_holds_only_the_last_scans_straps() -> None:
    """5,000 advertisers passing by (rotating private addresses, phones) over many scans:
    the map of connectable devices holds the last scan's straps and machines only."""
    scans = iter(range(1_000))

    async def discover(seconds: float, adapter_name: str) -> Discovery:
        n = next(scans)
        crowd: Discovery = {}
        for i in range(5):
            addr = f"7A:00:00:{n // 256:02X}:{n % 256:02X}:{i:02X}"  # a new one each time
            crowd[addr] = (BLEDevice(addr, None, {}), adv("", -80, []))
        return {**crowd, **discovery()}

    c = BleakCentral(
        "hci1", client_class=cast(type[BleakClient], FakeBleakClient), discover=discover
    )
    for _ in range(1_000):
        found = {f.address: f for f in await c.scan(0.1)}
    assert set(c._devices) == set(found) == {POLAR, GARMIN}
    await c.connect(found[POLAR], lambda: None)  # still connectable from the map


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


async def test_location_and_device_information_are_read_once_connected() -> None:
    c = central()
    found = {f.address: f for f in await c.scan(1.0)}
    FakeBleakClient.values = {
        BODY_SENSOR_LOCATION: b"\x01",
        MANUFACTURER_NAME: b"Polar Electro Oy",
        MODEL_NUMBER: b"H10\x00",  # NUL padded, as some firmwares send it
    }
    link = await c.connect(found[POLAR], lambda: None)
    assert await link.read_details() == StrapDetails("Chest", "Polar Electro Oy", "H10")

    FakeBleakClient.values = {BODY_SENSOR_LOCATION: b"\x2a"}  # reserved; no DIS at all
    assert await link.read_details() == StrapDetails("unknown", None, None)
    FakeBleakClient.values = {}  # none of the optional characteristics
    assert await link.read_details() == StrapDetails(None, None, None)
    FakeBleakClient.values = {BODY_SENSOR_LOCATION: b"\x02", MODEL_NUMBER: b"HRM-Dual"}
    FakeBleakClient.refuse = {BODY_SENSOR_LOCATION}  # a read that fails is "not told"
    assert await link.read_details() == StrapDetails(None, None, "HRM-Dual")


@pytest.mark.parametrize(
    ("manufacturer", "model_number", "advertised", "model"),
    [
        ("Polar Electro Oy", "H10", "Polar H10 12345678", "Polar H10"),
        ("Garmin International", "HRM-Dual", "HRM-Dual:123", "Garmin HRM-Dual"),
        ("Wahoo Fitness", "Wahoo TICKR FIT", "TICKR FIT 1A2B", "Wahoo TICKR FIT"),
        (None, "H9", "Polar H9 1", "H9"),
        ("CooSpo", None, "HW807 0042", "HW807 0042"),  # no model number: the advertised name
        (None, None, "HRM-Dual:123", "HRM-Dual:123"),
        ("Magene", None, "", "Magene"),
    ],
)
def test_model_from_device_information(
    manufacturer: str | None, model_number: str | None, advertised: str, model: str
) -> None:
    assert strap_model(manufacturer, model_number, advertised) == model


def test_device_information_text() -> None:
    assert decode_text(None) is None
    assert decode_text(b"") is None
    assert decode_text(b"\x00\x00") is None
    assert decode_text(b" H10 \x00") == "H10"
    assert decode_text(b"Polar\xff") == "Polar\ufffd"  # not UTF-8: replaced, never raises


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


BIKE = "C1:4D:00:00:00:01"
INDOOR_BIKE_DATA = "00002ad2-0000-1000-8000-00805f9b34fb"


async def test_machines_are_found_and_their_data_subscribed() -> None:
    """An indoor bike advertising the Fitness Machine Service (16-bit form, as some stacks
    report it) is found beside the straps with its service, and the link subscribes to the
    data characteristics it has (Indoor Bike Data), handing on (uuid16, bytes)."""
    scan = discovery()
    scan[BIKE] = (BLEDevice(BIKE, "KICKR", {}), adv("KICKR BIKE", -60, ["1826", "180a"]))
    scan[LAMP] = (BLEDevice(LAMP, "Lamp", {}), adv("Lamp", -40, ["180f"]))  # battery only
    found = {f.address: f for f in found_from_discovery(scan, "hci0")}
    assert set(found) == {POLAR, GARMIN, BIKE}
    assert found[BIKE].services == {0x1826}
    assert found[POLAR].services == {0x180D}

    async def discover(seconds: float, adapter_name: str) -> Discovery:
        return scan

    c = BleakCentral(
        "hci0", client_class=cast(type[BleakClient], FakeBleakClient), discover=discover
    )
    await c.scan(1.0)
    FakeBleakClient.notifiable = {INDOOR_BIKE_DATA}
    link = await c.connect(found[BIKE], lambda: None)
    assert isinstance(link, MachineLink)
    got: list[tuple[int, bytes]] = []
    assert await link.subscribe_machine(lambda u, v: got.append((u, v))) == [0x2AD2]
    (client,) = FakeBleakClient.instances
    client.notify[INDOOR_BIKE_DATA](object(), bytearray.fromhex("4402da020201220100"))
    assert got == [(0x2AD2, bytes.fromhex("4402da020201220100"))]
    FakeBleakClient.notifiable = set()  # a device with none of them
    bare = await c.connect(found[BIKE], lambda: None)
    assert isinstance(bare, MachineLink)
    with pytest.raises(ConnectFailed):
        await bare.subscribe_machine(lambda u, v: None)
