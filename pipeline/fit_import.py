"""A FIT file (Garmin, Polar, Wahoo, Coros watch or bike computer) -> the samples of a strap.

Decoded with fitdecode (a maintained FIT decoder, the Garmin FIT profile built in). What is
taken: every ``record`` message with a timestamp and a heart rate (heart rate in bpm, and
power in W and cadence in rpm when the record has them), and the RR intervals of the
``hrv`` messages (``time``: up to five beat-to-beat intervals in seconds each), which a watch
writes between the records when HRV recording is on; they go with the next record.

The samples are the contract's: ``ts`` is the record's UTC time in ms, the sensor is
``import-<first 12 hex digits of the file's SHA-256>`` and ``seq`` the record's place in the
file, so the same file imported twice gives the same keys (the store's (sensor, ts) key
stores nothing new). A file that is not a FIT file, is cut short or fails its CRC, or holds
no heart rate (a settings or workout file) raises :class:`FitRefused` with a reason code,
and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from typing import Literal

from gympulse import contract
from gympulse.contract import HrSample, MachineSample
from gympulse.pipeline.analytics.hrv import round_half_up

__all__ = ["FitActivity", "FitRefused", "Reason", "decode_fit", "import_sensor"]

Reason = Literal["not-fit", "broken", "no-heart-rate", "too-large", "elsewhere"]


class FitRefused(ValueError):
    """The file cannot be imported; ``reason`` says why (pages word it in the guest's
    language)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail


@dataclass
class FitActivity:
    sensor: str
    samples: list[HrSample] = field(default_factory=list)
    machine: list[MachineSample] = field(default_factory=list)
    rr_count: int = 0

    @property
    def start_ms(self) -> int:
        return self.samples[0].ts

    @property
    def end_ms(self) -> int:
        return self.samples[-1].ts


def import_sensor(data: bytes) -> str:
    """The sensor id of an imported file: the same bytes, the same id."""
    return f"import-{hashlib.sha256(data).hexdigest()[:12]}"


def _ms(value: object) -> int | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # fitdecode gives UTC datetimes; never the local zone
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def decode_fit(data: bytes, *, max_bytes: int) -> FitActivity:
    """Blocking (CPU): run it off the event loop."""
    import fitdecode

    if len(data) > max_bytes:
        raise FitRefused("too-large", f"{len(data)} bytes, at most {max_bytes}")
    if len(data) < 12 or data[8:12] != b".FIT":
        raise FitRefused("not-fit", "no FIT header")
    activity = FitActivity(import_sensor(data))
    pending_rr: list[int] = []
    last_ts = 0
    seq = 0
    try:
        with fitdecode.FitReader(
            io.BytesIO(data),
            check_crc=fitdecode.CrcCheck.RAISE,
            error_handling=fitdecode.ErrorHandling.RAISE,
        ) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                if frame.name == "hrv" and frame.has_field("time"):
                    times = frame.get_value("time")
                    for t in times if isinstance(times, list | tuple) else [times]:
                        s = _number(t)
                        if s is not None and s < 65.0:  # 65.535: the profile's invalid value
                            pending_rr.append(round_half_up(s * 1000))
                    continue
                if frame.name != "record" or not frame.has_field("heart_rate"):
                    continue
                ts = _ms(frame.get_value("timestamp")) if frame.has_field("timestamp") else None
                bpm = _number(frame.get_value("heart_rate"))
                if ts is None or bpm is None or ts <= last_ts:
                    continue  # no time, no heart rate, or a record out of order
                seq += 1
                last_ts = ts
                rr = [ms for ms in pending_rr if contract.RR_MIN_MS <= ms <= contract.RR_MAX_MS]
                pending_rr = []
                activity.rr_count += len(rr)
                activity.samples.append(HrSample(activity.sensor, ts, seq, int(bpm), rr))
                power = _number(frame.get_value("power")) if frame.has_field("power") else None
                cadence = (
                    _number(frame.get_value("cadence")) if frame.has_field("cadence") else None
                )
                if power is not None or cadence is not None:
                    activity.machine.append(
                        MachineSample(
                            activity.sensor,
                            ts,
                            seq,
                            "power",
                            power_w=None if power is None else int(power),
                            cadence=cadence,
                        )
                    )
    except fitdecode.FitHeaderError as err:
        raise FitRefused("not-fit", str(err)) from err
    except (fitdecode.FitError, ValueError, KeyError, IndexError, TypeError) as err:
        raise FitRefused("broken", f"{type(err).__name__}: {err}") from err
    if not activity.samples:
        raise FitRefused("no-heart-rate", "no record with a time and a heart rate")
    return activity
