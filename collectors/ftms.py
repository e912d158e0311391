"""Fitness Machine Service (0x1826) decoders: pure, no BLE library.

Characteristics (Bluetooth SIG Fitness Machine Service 1.0 and the GATT Specification
Supplement; all little endian, fields in the order below, each present when its flag bit
is set, except the first group, present when bit 0 "More Data" is CLEAR)::

    Indoor Bike Data 0x2AD2, flags uint16
      bit 0 clear  instantaneous speed   uint16  0.01 km/h
      bit 1        average speed         uint16  0.01 km/h
      bit 2        instantaneous cadence uint16  0.5 /min
      bit 3        average cadence       uint16  0.5 /min
      bit 4        total distance        uint24  m
      bit 5        resistance level      sint16  unitless
      bit 6        instantaneous power   sint16  W
      bit 7        average power         sint16  W
      bit 8        expended energy       uint16 total kcal, uint16 kcal/h, uint8 kcal/min
      bit 9        heart rate            uint8   /min
      bit 10       metabolic equivalent  uint8   0.1
      bit 11       elapsed time          uint16  s
      bit 12       remaining time        uint16  s
    Treadmill Data 0x2ACD, flags uint16
      bit 0 clear  instantaneous speed, bit 1 average speed (uint16, 0.01 km/h)
      bit 2        total distance        uint24  m
      bit 3        inclination           sint16  0.1 %, ramp angle sint16 0.1 degree
      bit 4        elevation gain        uint16 positive, uint16 negative, 0.1 m
      bit 5        instantaneous pace    uint8   0.1 km/min
      bit 6        average pace          uint8   0.1 km/min
      bit 7 energy, bit 8 heart rate, bit 9 MET, bit 10 elapsed, bit 11 remaining
      bit 12       force on belt sint16 N, power output sint16 W
    Rower Data 0x2AD1, flags uint16
      bit 0 clear  stroke rate uint8 0.5 /min, stroke count uint16
      bit 1        average stroke rate   uint8   0.5 /min
      bit 2        total distance        uint24  m
      bit 3        instantaneous pace    uint16  s per 500 m
      bit 4        average pace          uint16  s per 500 m
      bit 5        instantaneous power   sint16  W
      bit 6        average power         sint16  W
      bit 7        resistance level      sint16  unitless
      bit 8 energy, bit 9 heart rate, bit 10 MET, bit 11 elapsed, bit 12 remaining
    Cross Trainer Data 0x2ACE, flags uint24 (three octets)
      bit 0 clear  instantaneous speed, bit 1 average speed (uint16, 0.01 km/h)
      bit 2        total distance        uint24  m
      bit 3        step rate uint16 /min, average step rate uint16 /min
      bit 4        stride count          uint16  0.1
      bit 5        elevation gain        uint16 positive, uint16 negative, m
      bit 6        inclination sint16 0.1 %, ramp angle sint16 0.1 degree
      bit 7        resistance level      sint16  0.1
      bit 8        instantaneous power   sint16  W
      bit 9        average power         sint16  W
      bit 10 energy, bit 11 heart rate, bit 12 MET, bit 13 elapsed, bit 14 remaining
      bit 15       movement direction (no field): 1 = backward
    Fitness Machine Feature 0x2ACC (read): uint32 machine features, uint32 target settings

"Data not available" sentinels decode to None: energy 0xFFFF / 0xFFFF / 0xFF, inclination
and ramp angle 0x7FFF. Accept / partial / reject exactly as :mod:`gympulse.collectors.hrm`
(see :mod:`gympulse.collectors.gatt_fields`). Each notification is decoded on its own: a
machine that splits its data over several notifications ("More Data") yields several
values, each with the fields it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from gympulse.collectors.gatt_fields import (
    Field,
    Group,
    MalformedMeasurement,
    decode_fields,
    encode_fields,
)

__all__ = [
    "CROSS_TRAINER_DATA",
    "FITNESS_MACHINE_FEATURE",
    "FITNESS_MACHINE_SERVICE",
    "INDOOR_BIKE_DATA",
    "MACHINE_FEATURES",
    "ROWER_DATA",
    "TARGET_SETTING_FEATURES",
    "TREADMILL_DATA",
    "CrossTrainerData",
    "FitnessMachineFeature",
    "IndoorBikeData",
    "MalformedMeasurement",
    "RowerData",
    "TreadmillData",
    "decode_cross_trainer",
    "decode_feature",
    "decode_indoor_bike",
    "decode_rower",
    "decode_treadmill",
    "encode",
    "encode_feature",
]

FITNESS_MACHINE_SERVICE: Final = 0x1826
TREADMILL_DATA: Final = 0x2ACD
CROSS_TRAINER_DATA: Final = 0x2ACE
ROWER_DATA: Final = 0x2AD1
INDOOR_BIKE_DATA: Final = 0x2AD2
FITNESS_MACHINE_FEATURE: Final = 0x2ACC

U16_NA: Final = 0xFFFF
U8_NA: Final = 0xFF
S16_NA: Final = 0x7FFF


def _energy(bit: int) -> Group:
    return Group(
        bit,
        (
            Field("energy_kcal", "u16", na=U16_NA),
            Field("energy_per_hour_kcal", "u16", na=U16_NA),
            Field("energy_per_minute_kcal", "u8", na=U8_NA),
        ),
    )


def _tail(first: int) -> tuple[Group, ...]:
    """Energy, heart rate, MET, elapsed, remaining: the common run at the end."""
    return (
        _energy(first),
        Group(first + 1, (Field("heart_rate", "u8"),)),
        Group(first + 2, (Field("met", "u8", 10),)),
        Group(first + 3, (Field("elapsed_s", "u16"),)),
        Group(first + 4, (Field("remaining_s", "u16"),)),
    )


_SPEED = (
    Group(0, (Field("speed_kmh", "u16", 100),), inverted=True),
    Group(1, (Field("avg_speed_kmh", "u16", 100),)),
)
_INCLINATION = (
    Field("inclination_pct", "s16", 10, na=S16_NA),
    Field("ramp_angle_deg", "s16", 10, na=S16_NA),
)

_BIKE: Final = (
    *_SPEED,
    Group(2, (Field("cadence_rpm", "u16", 2),)),
    Group(3, (Field("avg_cadence_rpm", "u16", 2),)),
    Group(4, (Field("distance_m", "u24"),)),
    Group(5, (Field("resistance", "s16"),)),
    Group(6, (Field("power_w", "s16"),)),
    Group(7, (Field("avg_power_w", "s16"),)),
    *_tail(8),
)
_TREADMILL: Final = (
    *_SPEED,
    Group(2, (Field("distance_m", "u24"),)),
    Group(3, _INCLINATION),
    Group(4, (Field("elevation_gain_m", "u16", 10), Field("elevation_loss_m", "u16", 10))),
    Group(5, (Field("pace_km_per_min", "u8", 10),)),
    Group(6, (Field("avg_pace_km_per_min", "u8", 10),)),
    *_tail(7),
    Group(12, (Field("force_on_belt_n", "s16"), Field("power_w", "s16"))),
)
_ROWER: Final = (
    Group(0, (Field("stroke_rate_spm", "u8", 2), Field("stroke_count", "u16")), inverted=True),
    Group(1, (Field("avg_stroke_rate_spm", "u8", 2),)),
    Group(2, (Field("distance_m", "u24"),)),
    Group(3, (Field("pace_s_per_500m", "u16"),)),
    Group(4, (Field("avg_pace_s_per_500m", "u16"),)),
    Group(5, (Field("power_w", "s16"),)),
    Group(6, (Field("avg_power_w", "s16"),)),
    Group(7, (Field("resistance", "s16"),)),
    *_tail(8),
)
_CROSS: Final = (
    *_SPEED,
    Group(2, (Field("distance_m", "u24"),)),
    Group(3, (Field("step_rate_spm", "u16"), Field("avg_step_rate_spm", "u16"))),
    Group(4, (Field("stride_count", "u16", 10),)),
    Group(5, (Field("elevation_gain_m", "u16"), Field("elevation_loss_m", "u16"))),
    Group(6, _INCLINATION),
    Group(7, (Field("resistance", "s16", 10),)),
    Group(8, (Field("power_w", "s16"),)),
    Group(9, (Field("avg_power_w", "s16"),)),
    *_tail(10),
)
CROSS_BACKWARD: Final = 1 << 15


@dataclass(frozen=True, slots=True, kw_only=True)
class IndoorBikeData:
    flags: int
    speed_kmh: float | None
    avg_speed_kmh: float | None
    cadence_rpm: float | None
    avg_cadence_rpm: float | None
    distance_m: int | None
    resistance: int | None
    power_w: int | None
    avg_power_w: int | None
    energy_kcal: int | None
    energy_per_hour_kcal: int | None
    energy_per_minute_kcal: int | None
    heart_rate: int | None
    met: float | None
    elapsed_s: int | None
    remaining_s: int | None
    partial: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TreadmillData:
    flags: int
    speed_kmh: float | None
    avg_speed_kmh: float | None
    distance_m: int | None
    inclination_pct: float | None
    ramp_angle_deg: float | None
    elevation_gain_m: float | None
    elevation_loss_m: float | None
    pace_km_per_min: float | None
    avg_pace_km_per_min: float | None
    energy_kcal: int | None
    energy_per_hour_kcal: int | None
    energy_per_minute_kcal: int | None
    heart_rate: int | None
    met: float | None
    elapsed_s: int | None
    remaining_s: int | None
    force_on_belt_n: int | None
    power_w: int | None
    partial: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RowerData:
    flags: int
    stroke_rate_spm: float | None
    stroke_count: int | None
    avg_stroke_rate_spm: float | None
    distance_m: int | None
    pace_s_per_500m: int | None
    avg_pace_s_per_500m: int | None
    power_w: int | None
    avg_power_w: int | None
    resistance: int | None
    energy_kcal: int | None
    energy_per_hour_kcal: int | None
    energy_per_minute_kcal: int | None
    heart_rate: int | None
    met: float | None
    elapsed_s: int | None
    remaining_s: int | None
    partial: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossTrainerData:
    flags: int
    speed_kmh: float | None
    avg_speed_kmh: float | None
    distance_m: int | None
    step_rate_spm: int | None
    avg_step_rate_spm: int | None
    stride_count: float | None
    elevation_gain_m: int | None
    elevation_loss_m: int | None
    inclination_pct: float | None
    ramp_angle_deg: float | None
    resistance: float | None
    power_w: int | None
    avg_power_w: int | None
    energy_kcal: int | None
    energy_per_hour_kcal: int | None
    energy_per_minute_kcal: int | None
    heart_rate: int | None
    met: float | None
    elapsed_s: int | None
    remaining_s: int | None
    backward: bool
    partial: bool


MachineData = IndoorBikeData | TreadmillData | RowerData | CrossTrainerData

# characteristic -> (flags octets, field table, what)
_LAYOUT: Final[dict[type[Any], tuple[int, tuple[Group, ...], str]]] = {
    IndoorBikeData: (2, _BIKE, "indoor bike data"),
    TreadmillData: (2, _TREADMILL, "treadmill data"),
    RowerData: (2, _ROWER, "rower data"),
    CrossTrainerData: (3, _CROSS, "cross trainer data"),
}


def decode_indoor_bike(data: bytes) -> IndoorBikeData:
    flags, values, partial = decode_fields(data, 2, _BIKE, "indoor bike data")
    return IndoorBikeData(flags=flags, partial=partial, **values)


def decode_treadmill(data: bytes) -> TreadmillData:
    flags, values, partial = decode_fields(data, 2, _TREADMILL, "treadmill data")
    return TreadmillData(flags=flags, partial=partial, **values)


def decode_rower(data: bytes) -> RowerData:
    flags, values, partial = decode_fields(data, 2, _ROWER, "rower data")
    return RowerData(flags=flags, partial=partial, **values)


def decode_cross_trainer(data: bytes) -> CrossTrainerData:
    flags, values, partial = decode_fields(data, 3, _CROSS, "cross trainer data")
    return CrossTrainerData(
        flags=flags, backward=bool(flags & CROSS_BACKWARD), partial=partial, **values
    )


def encode(value: MachineData) -> bytes:
    """The notification value that decodes to ``value`` (its ``flags`` say which fields;
    the virtual machines in the tests and the simulator send these)."""
    flags_size, table, _ = _LAYOUT[type(value)]
    values = {f.name: getattr(value, f.name) for f in fields(value)}
    return encode_fields(value.flags, flags_size, table, values)


# --------------------------------------------------------------------------- feature

# Fitness Machine Features, bits 0-16 (17-31 reserved).
MACHINE_FEATURES: Final = (
    "average_speed",
    "cadence",
    "total_distance",
    "inclination",
    "elevation_gain",
    "pace",
    "step_count",
    "resistance_level",
    "stride_count",
    "expended_energy",
    "heart_rate",
    "metabolic_equivalent",
    "elapsed_time",
    "remaining_time",
    "power",
    "force_on_belt_and_power_output",
    "user_data_retention",
)
# Target Setting Features, bits 0-16 (17-31 reserved).
TARGET_SETTING_FEATURES: Final = (
    "speed",
    "inclination",
    "resistance",
    "power",
    "heart_rate",
    "expended_energy",
    "step_number",
    "stride_number",
    "distance",
    "training_time",
    "time_in_two_hr_zones",
    "time_in_three_hr_zones",
    "time_in_five_hr_zones",
    "indoor_bike_simulation",
    "wheel_circumference",
    "spin_down_control",
    "cadence",
)


@dataclass(frozen=True, slots=True)
class FitnessMachineFeature:
    machine: frozenset[str]
    target_settings: frozenset[str]
    partial: bool


def _bits(value: int, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name for bit, name in enumerate(names) if value >> bit & 1)


def decode_feature(data: bytes) -> FitnessMachineFeature:
    """Fitness Machine Feature (0x2ACC, read once): two uint32 bit fields. Shorter than 8
    bytes is rejected; more is partial; reserved bits are ignored."""
    if len(data) < 8:
        raise MalformedMeasurement(f"fitness machine feature: {len(data)} bytes, needs 8")
    machine = int.from_bytes(data[0:4], "little")
    target = int.from_bytes(data[4:8], "little")
    return FitnessMachineFeature(
        machine=_bits(machine, MACHINE_FEATURES),
        target_settings=_bits(target, TARGET_SETTING_FEATURES),
        partial=len(data) > 8,
    )


def encode_feature(feature: FitnessMachineFeature) -> bytes:
    machine = sum(1 << MACHINE_FEATURES.index(name) for name in feature.machine)
    target = sum(1 << TARGET_SETTING_FEATURES.index(name) for name in feature.target_settings)
    return machine.to_bytes(4, "little") + target.to_bytes(4, "little")
