"""Cycling Power Measurement (0x2A63, Cycling Power Service 0x1818) decoder: pure.

Layout (Cycling Power Service 1.1, little endian), fields in this order::

    flags                       uint16
    instantaneous power         sint16  W                 always
    pedal power balance         uint8   0.5 %             bit 0
      (bit 1: the balance refers to the left pedal; no field)
    accumulated torque          uint16  1/32 N·m          bit 2
      (bit 3: torque source is the crank, else the wheel; no field)
    wheel revolution data       uint32 cumulative revs, uint16 last event 1/2048 s   bit 4
    crank revolution data       uint16 cumulative revs, uint16 last event 1/1024 s   bit 5
    extreme force magnitudes    sint16 max, sint16 min, N                           bit 6
    extreme torque magnitudes   sint16 max, sint16 min, 1/32 N·m                   bit 7
    extreme angles              uint12 max, uint12 min, degrees (3 octets)          bit 8
    top dead spot angle         uint16  degrees           bit 9
    bottom dead spot angle      uint16  degrees           bit 10
    accumulated energy          uint16  kJ                bit 11
      (bit 12: offset compensation indicator; no field)   bits 13-15 reserved

Accept / partial / reject as :mod:`gympulse.collectors.hrm`. Cadence comes from two
consecutive crank revolution pairs: :func:`gympulse.collectors.gatt_fields.revolution_rate`
(16-bit revolutions, 1/1024 s); wheel speed from the wheel pairs (32-bit, 1/2048 s).
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
)

__all__ = [
    "CRANK_TIME_PER_S",
    "CYCLING_POWER_MEASUREMENT",
    "CYCLING_POWER_SERVICE",
    "WHEEL_TIME_PER_S",
    "CyclingPowerMeasurement",
    "MalformedMeasurement",
    "decode",
    "encode",
]

CYCLING_POWER_SERVICE: Final = 0x1818
CYCLING_POWER_MEASUREMENT: Final = 0x2A63
WHEEL_TIME_PER_S: Final = 2048
CRANK_TIME_PER_S: Final = 1024

BALANCE_LEFT: Final = 1 << 1
TORQUE_FROM_CRANK: Final = 1 << 3
OFFSET_COMPENSATION: Final = 1 << 12

_TABLE: Final = (
    Group(None, (Field("power_w", "s16"),)),
    Group(0, (Field("pedal_balance_pct", "u8", 2),)),
    Group(2, (Field("accumulated_torque_nm", "u16", 32),)),
    Group(4, (Field("wheel_revs", "u32"), Field("wheel_event_time", "u16"))),
    Group(5, (Field("crank_revs", "u16"), Field("crank_event_time", "u16"))),
    Group(6, (Field("max_force_n", "s16"), Field("min_force_n", "s16"))),
    Group(7, (Field("max_torque_nm", "s16", 32), Field("min_torque_nm", "s16", 32))),
    Group(8, (Field("extreme_angles", "u24"),)),
    Group(9, (Field("top_dead_spot_deg", "u16"),)),
    Group(10, (Field("bottom_dead_spot_deg", "u16"),)),
    Group(11, (Field("accumulated_energy_kj", "u16"),)),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CyclingPowerMeasurement:
    flags: int
    power_w: int
    pedal_balance_pct: float | None
    balance_left: bool  # the balance is the left pedal's share (else unknown side)
    accumulated_torque_nm: float | None
    torque_from_crank: bool
    wheel_revs: int | None
    wheel_event_time: int | None  # 1/2048 s ticks, rolls over at 65536
    crank_revs: int | None
    crank_event_time: int | None  # 1/1024 s ticks, rolls over at 65536
    max_force_n: int | None
    min_force_n: int | None
    max_torque_nm: float | None
    min_torque_nm: float | None
    max_angle_deg: int | None
    min_angle_deg: int | None
    top_dead_spot_deg: int | None
    bottom_dead_spot_deg: int | None
    accumulated_energy_kj: int | None
    offset_compensation: bool
    partial: bool


def decode(data: bytes) -> CyclingPowerMeasurement:
    """Decode one Cycling Power Measurement notification value."""
    if len(data) < 4:
        raise MalformedMeasurement(f"cycling power: {len(data)} bytes, flags and power need 4")
    flags, values, partial = decode_fields(data, 2, _TABLE, "cycling power")
    angles = values.pop("extreme_angles")
    return CyclingPowerMeasurement(
        flags=flags,
        balance_left=bool(flags & BALANCE_LEFT),
        torque_from_crank=bool(flags & TORQUE_FROM_CRANK),
        offset_compensation=bool(flags & OFFSET_COMPENSATION),
        max_angle_deg=None if angles is None else angles & 0xFFF,
        min_angle_deg=None if angles is None else angles >> 12,
        partial=partial,
        **values,
    )


def encode(value: CyclingPowerMeasurement) -> bytes:
    """The notification value that decodes to ``value`` (its ``flags`` say which fields)."""
    values = {f.name: getattr(value, f.name) for f in fields(value)}
    values["extreme_angles"] = (
        None
        if value.max_angle_deg is None
        else (value.max_angle_deg & 0xFFF) | ((value.min_angle_deg or 0) & 0xFFF) << 12
    )
    return encode_fields(value.flags, 2, _TABLE, values)
