"""Flag-driven GATT characteristic values, decoded and encoded from one field table: pure.

Many SIG characteristics (Fitness Machine data, Cycling Power, CSC) are a flags field
followed by optional fields, each present when its flag bit is set (or, for the FTMS
"More Data" bit, when it is clear), in a fixed order. A :class:`Group` is the fields one bit
switches on; a characteristic is a tuple of groups in wire order.

The rules are those of the heart-rate decoder (:mod:`gympulse.collectors.hrm`):

- a missing or short flags field, or a field that its flags announce but that is cut
  short, raises :class:`MalformedMeasurement` (the whole value is rejected);
- bytes after the last announced field are dropped and the result is marked ``partial``
  (every complete field is still worth keeping);
- reserved flag bits are ignored.

A field whose raw value is the spec's "data not available" sentinel decodes to ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from gympulse.collectors.hrm import MalformedMeasurement

__all__ = [
    "Field",
    "Group",
    "MalformedMeasurement",
    "decode_fields",
    "encode_fields",
    "revolution_rate",
]

Fmt = Literal["u8", "u16", "s16", "u24", "u32"]
_SIZE: Final[dict[str, int]] = {"u8": 1, "u16": 2, "s16": 2, "u24": 3, "u32": 4}
_SIGNED: Final = frozenset({"s16"})


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    fmt: Fmt
    divisor: int = 1  # value = raw / divisor (an int when 1, else a float)
    na: int | None = None  # raw value meaning "data not available" -> None


@dataclass(frozen=True, slots=True)
class Group:
    bit: int | None  # None: always present
    fields: tuple[Field, ...]
    inverted: bool = False  # present when the bit is CLEAR (FTMS "More Data")

    def present(self, flags: int) -> bool:
        if self.bit is None:
            return True
        is_set = bool(flags >> self.bit & 1)
        return not is_set if self.inverted else is_set


def _read(data: bytes, offset: int, fmt: Fmt) -> int:
    size = _SIZE[fmt]
    return int.from_bytes(data[offset : offset + size], "little", signed=fmt in _SIGNED)


def decode_fields(
    data: bytes, flags_size: int, groups: tuple[Group, ...], what: str
) -> tuple[int, dict[str, Any], bool]:
    """Decode ``data``: (flags, {field name: value or None}, partial)."""
    size = len(data)
    if size < flags_size:
        raise MalformedMeasurement(f"{what}: {size} bytes, the flags field needs {flags_size}")
    flags = int.from_bytes(data[:flags_size], "little")
    offset = flags_size
    values: dict[str, Any] = {}
    for group in groups:
        present = group.present(flags)
        for field in group.fields:
            if not present:
                values[field.name] = None
                continue
            need = _SIZE[field.fmt]
            if size < offset + need:
                raise MalformedMeasurement(
                    f"{what}: {field.name} announced but cut short ({size} bytes)"
                )
            raw = _read(data, offset, field.fmt)
            offset += need
            if field.na is not None and raw == field.na:
                values[field.name] = None
            elif field.divisor == 1:
                values[field.name] = raw
            else:
                values[field.name] = raw / field.divisor
    return flags, values, size > offset


def encode_fields(
    flags: int, flags_size: int, groups: tuple[Group, ...], values: Mapping[str, Any]
) -> bytes:
    """The inverse of :func:`decode_fields` for the fields ``flags`` announce. A ``None``
    value of an announced field is written as its "not available" sentinel."""
    out = bytearray(flags.to_bytes(flags_size, "little"))
    for group in groups:
        if not group.present(flags):
            continue
        for field in group.fields:
            value = values[field.name]
            if value is None:
                if field.na is None:
                    raise ValueError(f"{field.name} is announced but None and has no sentinel")
                raw = field.na
            else:
                raw = round(value * field.divisor)
            out += raw.to_bytes(_SIZE[field.fmt], "little", signed=field.fmt in _SIGNED)
    return bytes(out)


def revolution_rate(
    previous: tuple[int, int] | None,
    current: tuple[int, int],
    *,
    revs_bits: int,
    time_per_s: int = 1024,
) -> float | None:
    """Revolutions per minute between two (cumulative revolutions, last event time) pairs.

    Both counters roll over: revolutions at ``2**revs_bits`` (16 for crank, 32 for wheel),
    the event time at 2**16 ticks of ``1/time_per_s`` s (1/1024 s; 1/2048 s for the Cycling
    Power wheel). ``None`` when there is no earlier pair or no new event (same event time:
    the sensor has seen no revolution since, so the rate is not known from these two).
    One rollover of each counter between two notifications is handled; a sensor sends
    several notifications a second, so more cannot happen at cycling speeds.
    """
    if previous is None:
        return None
    revs = (current[0] - previous[0]) % (1 << revs_bits)
    ticks = (current[1] - previous[1]) % (1 << 16)
    if ticks == 0:
        return None
    return revs * 60.0 * time_per_s / ticks
