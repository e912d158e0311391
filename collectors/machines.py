"""From machine notifications to wire samples: pure, no BLE library.

A device is a *machine* when it advertises the Fitness Machine Service (0x1826), a *power*
meter for the Cycling Power Service (0x1818), a *csc* sensor for Cycling Speed and Cadence
(0x1816); a strap advertises Heart Rate (0x180D) and stays a strap even if it has more.

:class:`MachineReader` turns one notification value of one characteristic into the
measured fields of a :class:`gympulse.contract.MachineSample` (``power_w``, ``cadence``,
...), keeping per device what needs two notifications (cadence and speed from cumulative
revolutions). Decoding follows the accept / partial / reject rules of
:mod:`gympulse.collectors.hrm`: a malformed value raises
:class:`~gympulse.collectors.hrm.MalformedMeasurement`; a plausibility failure (power beyond
the contract's range) drops that field, never the whole notification.
"""

from __future__ import annotations

from typing import Any, Final

from gympulse import contract
from gympulse.collectors import cps, csc, ftms
from gympulse.collectors.hrm import MalformedMeasurement

__all__ = [
    "DATA_CHARACTERISTICS",
    "HEART_RATE_SERVICE",
    "MACHINE_SERVICES",
    "MachineReader",
    "MalformedMeasurement",
    "family_of",
    "topic_kind",
]

HEART_RATE_SERVICE: Final = 0x180D
# service -> device family
MACHINE_SERVICES: Final[dict[int, str]] = {
    ftms.FITNESS_MACHINE_SERVICE: "machine",
    cps.CYCLING_POWER_SERVICE: "power",
    csc.CSC_SERVICE: "csc",
}
# notifying data characteristic -> wire kind
DATA_CHARACTERISTICS: Final[dict[int, contract.MachineKind]] = {
    ftms.INDOOR_BIKE_DATA: "bike",
    ftms.TREADMILL_DATA: "treadmill",
    ftms.ROWER_DATA: "rower",
    ftms.CROSS_TRAINER_DATA: "cross-trainer",
    cps.CYCLING_POWER_MEASUREMENT: "power",
    csc.CSC_MEASUREMENT: "csc",
}
# The wheel of a CSC sensor or power meter (700x25c road tyre), for speed.
WHEEL_CIRCUMFERENCE_M: Final = 2.105


def family_of(services: frozenset[int]) -> str:
    """ "hr", "machine", "power" or "csc" from the advertised 16-bit service UUIDs."""
    if HEART_RATE_SERVICE in services:
        return "hr"
    for service, family in MACHINE_SERVICES.items():
        if service in services:
            return family
    return "hr"  # a device that advertises nothing we know: tried as a strap, as before


def topic_kind(kind: str) -> str:
    """The wire topic level for a sample kind: "power" for power meters and CSC sensors,
    "machine" for fitness machines."""
    return "power" if kind in ("power", "csc") else "machine"


def _within(value: float | None, hi: float) -> float | None:
    return value if value is not None and 0 <= value <= hi else None


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


class MachineReader:
    """One device's notifications -> sample fields. Not thread safe; one per device."""

    def __init__(self, wheel_circumference_m: float = WHEEL_CIRCUMFERENCE_M) -> None:
        self.wheel_m = wheel_circumference_m
        self._crank = csc.RevolutionTracker(revs_bits=16, time_per_s=1024)
        self._csc_wheel = csc.RevolutionTracker(revs_bits=32, time_per_s=1024)
        self._cps_wheel = csc.RevolutionTracker(revs_bits=32, time_per_s=cps.WHEEL_TIME_PER_S)

    def read(
        self, characteristic: int, value: bytes, now_s: float
    ) -> tuple[contract.MachineKind, dict[str, Any]]:
        """(kind, fields) of one notification. Raises MalformedMeasurement, or KeyError for a
        characteristic that carries no samples."""
        kind = DATA_CHARACTERISTICS[characteristic]
        fields: dict[str, Any] = {}
        if characteristic == ftms.INDOOR_BIKE_DATA:
            b = ftms.decode_indoor_bike(value)
            fields = {
                "power_w": b.power_w,
                "cadence": b.cadence_rpm,
                "speed_kmh": b.speed_kmh,
                "distance_m": b.distance_m,
                "heart_rate": b.heart_rate or None,  # 0: the bike has no heart-rate input
                "energy_kcal": b.energy_kcal,
            }
        elif characteristic == ftms.ROWER_DATA:
            r = ftms.decode_rower(value)
            fields = {
                "power_w": r.power_w,
                "cadence": r.stroke_rate_spm,
                "distance_m": r.distance_m,
                "split_s": r.pace_s_per_500m or None,  # 0: not rowing
                "heart_rate": r.heart_rate or None,
                "energy_kcal": r.energy_kcal,
            }
        elif characteristic == ftms.TREADMILL_DATA:
            t = ftms.decode_treadmill(value)
            speed = t.speed_kmh
            fields = {
                "power_w": t.power_w,
                "speed_kmh": speed,
                "distance_m": t.distance_m,
                "pace_s": round(3600 / speed) if speed else None,  # s per km
                "heart_rate": t.heart_rate or None,
                "energy_kcal": t.energy_kcal,
            }
        elif characteristic == ftms.CROSS_TRAINER_DATA:
            x = ftms.decode_cross_trainer(value)
            fields = {
                "power_w": x.power_w,
                "cadence": None if x.step_rate_spm is None else float(x.step_rate_spm),
                "speed_kmh": x.speed_kmh,
                "distance_m": x.distance_m,
                "heart_rate": x.heart_rate or None,
                "energy_kcal": x.energy_kcal,
            }
        elif characteristic == cps.CYCLING_POWER_MEASUREMENT:
            p = cps.decode(value)
            fields = {"power_w": p.power_w}
            if p.crank_revs is not None and p.crank_event_time is not None:
                fields["cadence"] = self._crank.update(p.crank_revs, p.crank_event_time, now_s)
            if p.wheel_revs is not None and p.wheel_event_time is not None:
                rpm = self._cps_wheel.update(p.wheel_revs, p.wheel_event_time, now_s)
                fields["speed_kmh"] = None if rpm is None else csc.speed_kmh(rpm, self.wheel_m)
        else:  # CSC
            c = csc.decode(value)
            if c.crank_revs is not None and c.crank_event_time is not None:
                fields["cadence"] = self._crank.update(c.crank_revs, c.crank_event_time, now_s)
            if c.wheel_revs is not None and c.wheel_event_time is not None:
                rpm = self._csc_wheel.update(c.wheel_revs, c.wheel_event_time, now_s)
                fields["speed_kmh"] = None if rpm is None else csc.speed_kmh(rpm, self.wheel_m)
        # Plausibility: a field outside the contract's range is dropped, the rest kept.
        fields["power_w"] = _int(_within(fields.get("power_w"), contract.POWER_MAX_W))
        cadence = _within(fields.get("cadence"), contract.CADENCE_MAX)
        fields["cadence"] = None if cadence is None else round(cadence, 1)
        speed = _within(fields.get("speed_kmh"), contract.SPEED_MAX_KMH)
        fields["speed_kmh"] = None if speed is None else round(speed, 2)
        fields["heart_rate"] = _int(_within(fields.get("heart_rate"), contract.BPM_MAX))
        return kind, {k: v for k, v in fields.items() if v is not None}
