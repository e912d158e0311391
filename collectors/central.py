"""The Central boundary: what the strap manager needs from a Bluetooth LE stack.

Two implementations, chosen by ``collector.central`` through :data:`CENTRALS`:

- ``bleak`` (:mod:`gympulse.collectors.central_bleak`): BlueZ / CoreBluetooth / WinRT through bleak,
  one :class:`Central` per adapter (``hci0``, ``hci1``, ...);
- ``bumble`` (:mod:`gympulse.collectors.central_bumble`): bumble's own host on an HCI transport
  (``usb:0``, ``serial:/dev/ttyUSB0``, ``tcp-client:HOST:PORT``), no BlueZ or D-Bus.

A :class:`Central` scans for the Heart Rate Service and connects; a :class:`StrapLink` is
one connected strap: subscribe to 0x2A37, read the battery and RSSI, read once what the
strap says about itself (Body Sensor Location 0x2A38, the Device Information Service's
manufacturer and model: :class:`StrapDetails`), disconnect, and a callback when the link
drops. Everything above this boundary (decoding, seq, availability,
publishing) is the same for both stacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from gympulse.collectors.hrm import decode_body_sensor_location

__all__ = [
    "BATTERY_LEVEL",
    "BATTERY_SERVICE",
    "BODY_SENSOR_LOCATION",
    "CENTRALS",
    "DEVICE_INFORMATION",
    "HR_MEASUREMENT",
    "HR_SERVICE",
    "MANUFACTURER_NAME",
    "MODEL_NUMBER",
    "Central",
    "CentralError",
    "ConnectFailed",
    "Found",
    "NoAdapter",
    "NoPermission",
    "StrapDetails",
    "StrapLink",
    "decode_text",
    "details_from_values",
    "make_central",
    "normalise_address",
    "strap_model",
]

HR_SERVICE: Final = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT: Final = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION: Final = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION: Final = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME: Final = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER: Final = "00002a24-0000-1000-8000-00805f9b34fb"


class CentralError(RuntimeError):
    """Anything the BLE stack refused; the message is meant for the person at the console."""


class NoAdapter(CentralError):
    """The adapter / HCI transport does not exist or cannot be opened."""


class NoPermission(CentralError):
    """The adapter exists but this user may not use it (BlueZ D-Bus policy, USB permissions)."""


class ConnectFailed(CentralError):
    """One strap could not be connected, discovered or subscribed; retried with backoff."""


@dataclass(frozen=True, slots=True)
class Found:
    """A strap seen advertising the Heart Rate Service."""

    address: str  # upper case, colon separated ("A0:9E:1A:12:34:56"); a UUID on macOS
    name: str
    rssi: int | None
    adapter: str
    # 16-bit service UUIDs it advertised (Heart Rate, or a machine's: Fitness Machine,
    # Cycling Power, Cycling Speed and Cadence); empty when the central does not tell.
    services: frozenset[int] = frozenset()


def normalise_address(address: str) -> str:
    """``a0-9e-1a-12-34-56`` / ``A0:9E:1A:12:34:56/P`` -> ``A0:9E:1A:12:34:56``."""
    return address.split("/")[0].strip().upper().replace("-", ":")


@dataclass(frozen=True, slots=True)
class StrapDetails:
    """What a strap says about itself, read once per connection. Every characteristic is
    optional in the specs, so each field is None when the strap lacks it."""

    location: str | None = None  # Body Sensor Location (0x2A38), decoded: "Chest", ...
    manufacturer: str | None = None  # Manufacturer Name String (0x2A29)
    model_number: str | None = None  # Model Number String (0x2A24)


def decode_text(value: bytes | None) -> str | None:
    """A Device Information string (UTF-8, some straps pad with NULs); empty -> None."""
    if value is None:
        return None
    text = value.decode("utf-8", errors="replace").replace("\x00", "").strip()
    return text or None


def details_from_values(
    location: bytes | None, manufacturer: bytes | None, model_number: bytes | None
) -> StrapDetails:
    """The raw values a central read (None: not there) -> :class:`StrapDetails`."""
    return StrapDetails(
        location=decode_body_sensor_location(location),
        manufacturer=decode_text(manufacturer),
        model_number=decode_text(model_number),
    )


def strap_model(manufacturer: str | None, model_number: str | None, advertised: str) -> str:
    """What ``info.model`` says: the brand (first word of the manufacturer name) and the
    model number, ``"Polar Electro Oy"`` + ``"H10"`` -> ``"Polar H10"``; the model number
    alone when it already names the brand; the advertised name when there is no model number
    (the Device Information Service and its characteristics are optional)."""
    if not model_number:
        return advertised or manufacturer or ""
    if not manufacturer:
        return model_number
    brand = manufacturer.split()[0]
    if brand.lower() in model_number.lower():
        return model_number
    return f"{brand} {model_number}"


NotificationHandler = Callable[[bytes], None]


class StrapLink(Protocol):
    """One connected strap."""

    @property
    def address(self) -> str: ...

    async def subscribe_hr(self, handler: NotificationHandler) -> None:
        """Enable 0x2A37 notifications; ``handler`` gets each raw value, called on the loop."""
        ...

    async def read_battery(self) -> int | None:
        """Battery Level (0x2A19) in percent, None when the strap has no Battery Service."""
        ...

    async def read_rssi(self) -> int | None:
        """RSSI of the connection in dBm when the stack can tell, else None."""
        ...

    async def read_details(self) -> StrapDetails:
        """Body Sensor Location and the Device Information Service's manufacturer and model
        number; a characteristic the strap lacks (or refuses to read) is None."""
        ...

    async def disconnect(self) -> None: ...


MachineHandler = Callable[[int, bytes], None]  # (characteristic UUID16, value)


@runtime_checkable
class MachineLink(Protocol):
    """A connected fitness machine, power meter or speed/cadence sensor (a link of a
    central that supports them; the bumble central does)."""

    async def subscribe_machine(self, handler: MachineHandler) -> list[int]:
        """Enable notifications of every data characteristic the device has (Indoor Bike,
        Treadmill, Rower, Cross Trainer Data; Cycling Power Measurement; CSC Measurement).
        Returns their UUIDs; raises ConnectFailed when there is none."""
        ...


class Central(Protocol):
    """One adapter (one HCI controller)."""

    @property
    def adapter(self) -> str: ...

    async def open(self) -> None:
        """Power the adapter up. Raises :class:`NoAdapter` or :class:`NoPermission`."""
        ...

    async def close(self) -> None: ...

    async def scan(self, seconds: float) -> list[Found]:
        """Scan for straps advertising 0x180D for ``seconds``; strongest signal first."""
        ...

    async def connect(
        self, found: Found, on_disconnect: Callable[[], None], connect_timeout_s: float = 10.0
    ) -> StrapLink:
        """Connect, discover the services. ``on_disconnect`` runs once when the link drops.
        Raises :class:`ConnectFailed`."""
        ...


# name -> "module:factory"; the factory takes (adapter or transport, options) and returns a
# Central. Imported lazily so a machine without bumble (or without bleak) still runs the other.
CENTRALS: Final[dict[str, str]] = {
    "bleak": "gympulse.collectors.central_bleak:BleakCentral",
    "bumble": "gympulse.collectors.central_bumble:BumbleCentral",
}


def make_central(kind: str, adapter: str) -> Central:
    """Build the Central named ``kind`` for one adapter (bleak) or HCI transport (bumble)."""
    try:
        target = CENTRALS[kind]
    except KeyError:
        raise CentralError(f"unknown central {kind!r}; choose one of {sorted(CENTRALS)}") from None
    module_name, _, factory_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CentralError(
            f"the {kind} central needs its library: pip install 'gympulse[collector]' ({err})"
        ) from err
    factory: Callable[[str], Central] = getattr(module, factory_name)
    return factory(adapter)
