"""CSC Measurement (0x2A5B, Cycling Speed and Cadence Service 0x1816) decoder: pure.

Layout (Cycling Speed and Cadence Service 1.0, little endian)::

    flags                   uint8   bit 0: wheel revolution data present
                                    bit 1: crank revolution data present
                                    bits 2-7: reserved, ignored
    cumulative wheel revs   uint32  if bit 0
    last wheel event time   uint16  1/1024 s, if bit 0
    cumulative crank revs   uint16  if bit 1
    last crank event time   uint16  1/1024 s, if bit 1

The sensor sends counters, not rates: cadence and speed come from two consecutive values.
:class:`RevolutionTracker` does that with the rollover of each counter (32-bit wheel,
16-bit crank, 16-bit event times). Accept / partial / reject as
:mod:`gympulse.collectors.hrm`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from gympulse.collectors.gatt_fields import (
    Field,
    Group,
    MalformedMeasurement,
    decode_fields,
    encode_fields,
    revolution_rate,
)

__all__ = [
    "CSC_MEASUREMENT",
    "CSC_SERVICE",
    "CscMeasurement",
    "MalformedMeasurement",
    "RevolutionTracker",
    "decode",
    "encode",
    "speed_kmh",
]

CSC_SERVICE: Final = 0x1816
CSC_MEASUREMENT: Final = 0x2A5B
# A sensor that has seen no new revolution for this long is standing still.
STILL_AFTER_S: Final = 3.0

_TABLE: Final = (
    Group(0, (Field("wheel_revs", "u32"), Field("wheel_event_time", "u16"))),
    Group(1, (Field("crank_revs", "u16"), Field("crank_event_time", "u16"))),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CscMeasurement:
    flags: int
    wheel_revs: int | None
    wheel_event_time: int | None  # 1/1024 s ticks
    crank_revs: int | None
    crank_event_time: int | None  # 1/1024 s ticks
    partial: bool


def decode(data: bytes) -> CscMeasurement:
    """Decode one CSC Measurement notification value."""
    flags, values, partial = decode_fields(data, 1, _TABLE, "csc measurement")
    return CscMeasurement(flags=flags, partial=partial, **values)


def encode(value: CscMeasurement) -> bytes:
    values = {f.name: getattr(value, f.name) for f in fields(value)}
    return encode_fields(value.flags, 1, _TABLE, values)


class RevolutionTracker:
    """Revolutions per minute from a stream of (cumulative revs, last event time) pairs.

    Pure: the caller passes its clock (seconds, monotonic). A repeated event time means "no
    revolution since": the last rate stands, until ``STILL_AFTER_S`` without a new event,
    then the rate is 0 (the rider stopped pedalling).
    """

    def __init__(self, revs_bits: int, time_per_s: int = 1024) -> None:
        self.revs_bits = revs_bits
        self.time_per_s = time_per_s
        self._last: tuple[int, int] | None = None
        self._last_change_s: float | None = None
        self._rate: float | None = None

    def update(self, revs: int, event_time: int, now_s: float) -> float | None:
        current = (revs, event_time)
        if self._last is not None and event_time == self._last[1]:
            if self._last_change_s is not None and now_s - self._last_change_s >= STILL_AFTER_S:
                self._rate = 0.0
            return self._rate
        rate = revolution_rate(
            self._last, current, revs_bits=self.revs_bits, time_per_s=self.time_per_s
        )
        self._last = current
        self._last_change_s = now_s
        if rate is not None:
            self._rate = rate
        return self._rate


def speed_kmh(wheel_rpm: float, circumference_m: float) -> float:
    """Speed from wheel revolutions per minute and the wheel's circumference (2.105 m for
    a 700x25c road tyre)."""
    return wheel_rpm * circumference_m * 60.0 / 1000.0
