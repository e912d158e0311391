"""Heart Rate Measurement (GATT characteristic 0x2A37) decoder: pure, no BLE library.

Layout (Bluetooth SIG Heart Rate Service 1.0, little endian)::

    flags        uint8   bit 0: heart rate is uint16 (else uint8)
                         bit 1: sensor contact detected (meaningful only when bit 2 is set)
                         bit 2: sensor contact detection supported
                         bit 3: energy expended (uint16, kJ) present
                         bit 4: one or more RR intervals (uint16, 1/1024 s) present
                         bits 5-7: reserved, ignored
    heart rate   uint8 | uint16
    energy       uint16            if bit 3
    rr[0..n]     uint16 each       if bit 4, oldest first, up to the end of the value

What is lenient and what is not: a missing flags byte, a missing or truncated heart rate, or
a flagged but truncated energy field raise :class:`MalformedMeasurement`. An odd RR byte, or
bytes after the heart rate / energy that the flags do not describe, are dropped and the
result is marked ``partial``: every complete field is still worth keeping.

Body Sensor Location (0x2A38, read once per connection, optional in the spec) is a single
uint8: :func:`decode_body_sensor_location`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "BODY_SENSOR_LOCATIONS",
    "HeartRateMeasurement",
    "MalformedMeasurement",
    "decode",
    "decode_body_sensor_location",
    "rr_raw_to_ms",
]

FLAG_HR_UINT16: Final = 0x01
FLAG_CONTACT_DETECTED: Final = 0x02
FLAG_CONTACT_SUPPORTED: Final = 0x04
FLAG_ENERGY: Final = 0x08
FLAG_RR: Final = 0x10

# Body Sensor Location (0x2A38) values, Heart Rate Service 1.0 section 3.2; 7-255 reserved.
BODY_SENSOR_LOCATIONS: Final[dict[int, str]] = {
    0: "Other",
    1: "Chest",
    2: "Wrist",
    3: "Finger",
    4: "Hand",
    5: "Ear Lobe",
    6: "Foot",
}
UNKNOWN_LOCATION: Final = "unknown"


class MalformedMeasurement(ValueError):
    """A notification whose flags, heart rate or flagged energy field is missing or cut short."""


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    bpm: int
    contact: bool | None  # None: the strap does not report contact
    contact_supported: bool
    energy_kj: int | None
    rr_raw: tuple[int, ...]  # 1/1024 s units, oldest first
    rr_ms: tuple[int, ...]  # milliseconds, rounded half up
    partial: bool  # some trailing bytes could not be decoded and were dropped


def rr_raw_to_ms(raw: int) -> int:
    """1/1024 s to ms, rounded half up in exact integer arithmetic (832 -> 813)."""
    return (raw * 1000 + 512) // 1024


def decode(data: bytes) -> HeartRateMeasurement:
    """Decode one Heart Rate Measurement notification value."""
    size = len(data)
    if size < 1:
        raise MalformedMeasurement("empty notification: no flags byte")
    flags = data[0]
    offset = 1
    if flags & FLAG_HR_UINT16:
        if size < offset + 2:
            raise MalformedMeasurement(f"16-bit heart rate truncated ({size} bytes)")
        bpm = data[offset] | data[offset + 1] << 8
        offset += 2
    else:
        if size < offset + 1:
            raise MalformedMeasurement("8-bit heart rate missing")
        bpm = data[offset]
        offset += 1

    contact_supported = bool(flags & FLAG_CONTACT_SUPPORTED)
    contact = bool(flags & FLAG_CONTACT_DETECTED) if contact_supported else None

    energy_kj: int | None = None
    if flags & FLAG_ENERGY:
        if size < offset + 2:
            raise MalformedMeasurement(f"energy expended flagged but truncated ({size} bytes)")
        energy_kj = data[offset] | data[offset + 1] << 8
        offset += 2

    rr_raw: tuple[int, ...] = ()
    partial = False
    if flags & FLAG_RR:
        pairs = (size - offset) // 2
        rr_raw = tuple(data[i] | data[i + 1] << 8 for i in range(offset, offset + 2 * pairs, 2))
        partial = (size - offset) % 2 == 1
    else:
        partial = size > offset

    return HeartRateMeasurement(
        bpm=bpm,
        contact=contact,
        contact_supported=contact_supported,
        energy_kj=energy_kj,
        rr_raw=rr_raw,
        rr_ms=tuple(rr_raw_to_ms(raw) for raw in rr_raw),
        partial=partial,
    )


def decode_body_sensor_location(value: bytes | None) -> str | None:
    """Body Sensor Location (0x2A38) as a name: ``b"\\x01"`` -> ``"Chest"``.

    ``None`` (the strap has no such characteristic: it is optional) stays None; a reserved
    value, or an empty read, is ``"unknown"``. Bytes after the first are ignored (the value
    is one uint8; a longer one comes from a strap that pads it)."""
    if value is None:
        return None
    if not value:
        return UNKNOWN_LOCATION
    return BODY_SENSOR_LOCATIONS.get(value[0], UNKNOWN_LOCATION)
