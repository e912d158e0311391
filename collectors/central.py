"""The Central boundary: what the strap manager needs from a Bluetooth LE stack.

Two implementations, chosen by ``collector.central`` through :data:`CENTRALS`:

- ``bleak`` (:mod:`collectors.central_bleak`): BlueZ / CoreBluetooth / WinRT through bleak,
  one :class:`Central` per adapter (``hci0``, ``hci1``, ...);
- ``bumble`` (:mod:`collectors.central_bumble`): bumble's own host on an HCI transport
  (``usb:0``, ``serial:/dev/ttyUSB0``, ``tcp-client:HOST:PORT``), no BlueZ or D-Bus.

A :class:`Central` scans for the Heart Rate Service and connects; a :class:`StrapLink` is
one connected strap: subscribe to 0x2A37, read the battery and RSSI, disconnect, and a
callback when the link drops. Everything above this boundary (decoding, seq, availability,
publishing) is the same for both stacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = [
    "BATTERY_LEVEL",
    "BATTERY_SERVICE",
    "CENTRALS",
    "HR_MEASUREMENT",
    "HR_SERVICE",
    "Central",
    "CentralError",
    "ConnectFailed",
    "Found",
    "NoAdapter",
    "NoPermission",
    "StrapLink",
    "make_central",
    "normalise_address",
]

HR_SERVICE: Final = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT: Final = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION: Final = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL: Final = "00002a19-0000-1000-8000-00805f9b34fb"


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


def normalise_address(address: str) -> str:
    """``a0-9e-1a-12-34-56`` / ``A0:9E:1A:12:34:56/P`` -> ``A0:9E:1A:12:34:56``."""
    return address.split("/")[0].strip().upper().replace("-", ":")


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

    async def disconnect(self) -> None: ...


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
    "bleak": "collectors.central_bleak:BleakCentral",
    "bumble": "collectors.central_bumble:BumbleCentral",
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
