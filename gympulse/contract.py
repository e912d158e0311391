"""The MQTT wire contract: topics, payloads and the codec. The only place that knows them.

Topics (levels are ``[a-z0-9-]``, athletes never appear in topics)::

    gympulse/v1/{site}/{collector}/status                 retained, QoS 1, will "offline"
    gympulse/v1/{site}/{collector}/{sensor}/availability  retained, QoS 1, on change
    gympulse/v1/{site}/{collector}/{sensor}/info          retained, QoS 1
    gympulse/v1/{site}/{collector}/{sensor}/hr            QoS 1: a sample, or an array
    gympulse/v1/{site}/{collector}/batch                  QoS 1: array, several sensors
    gympulse/v1/{site}/{collector}/stored                 retained, QoS 1, by ingestion

``stored`` is the ingestion service's watermark for one collector (:class:`Stored`): per
sensor, the highest ``seq`` it has written durably to the store. Ingestion handles messages
in the order the broker delivers them and never passes a message it could not write, so
every sample a collector published before that one, on the same connection, is stored (or
quarantined) too. A collector keeps each sample on disk until a watermark covers it, and
after every reconnect replays what is not covered yet — that is what makes a broker that
forgets acknowledged messages (a crash before its autosave, no persistence) lose nothing.
The store's (sensor, ts) key absorbs the repeats. A collector publishes only after a
watermark arrived on its current connection: the retained one exists only while the broker
remembers the ingestion's session (it comes back from the same persistence file), or
ingestion publishes one as soon as it sees the collector's ``status``; so a replay is never
sent to a broker that has nobody to queue it for.

Machine extension 1 (added inside v1; a consumer of ``hr`` subscribes to ``subscription()``,
which never matches these, and ignores them)::

    gympulse/v1/{site}/{collector}/{sensor}/machine       QoS 1: a MachineSample, or an array
                                                          (Fitness Machine Service devices)
    gympulse/v1/{site}/{collector}/{sensor}/power         QoS 1: a MachineSample, or an array
                                                          (power meters, speed/cadence sensors)

A :class:`MachineSample` says which extension version wrote it (``ext``); a newer field is
ignored by an older reader (unknown fields are allowed), so the extension can grow.

Every way a payload can be wrong is a :class:`PayloadError` with a stable ``reason`` string
that the ingestion service counts and stores in quarantine.

Integers are bounded to what every store holds exactly: SQLite INTEGER and InfluxDB
integer fields are signed 64-bit, and a number that ends up in a float (InfluxDB float
fields, JSON in a browser) is exact only up to 2**53 - 1, so ``seq`` and every timestamp
stay within :data:`MAX_SAFE_INT`; ``energy_kj`` is the 0x2A37 field, an unsigned 16-bit
number that saturates at 65535 (:data:`MAX_ENERGY_KJ`). A larger number is the typed error
``int-range``, never an overflow in a store.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Annotated, Final, Literal, TypeVar

import msgspec

VERSION: Final = "v1"
ROOT: Final = f"gympulse/{VERSION}"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
BPM_MIN: Final = 20
BPM_MAX: Final = 250
RR_MIN_MS: Final = 200
RR_MAX_MS: Final = 3000
MAX_FUTURE_MS: Final = 24 * 3600 * 1000
DEFAULT_RETENTION_DAYS: Final = 400
MAX_SAFE_INT: Final = 2**53 - 1  # exact in int64 and in a float64 (InfluxDB, JavaScript)
MAX_ENERGY_KJ: Final = 0xFFFF  # the 0x2A37 energy field is uint16 and saturates there

_LEVEL = re.compile(r"^[a-z0-9-]{1,64}$")

SampleKind = Literal["hr", "batch"]
AvailabilityState = Literal["connected", "lost", "no-contact"]


# --------------------------------------------------------------------------- errors


class PayloadError(ValueError):
    """A payload or topic that breaks the contract. ``reason`` is a short stable code."""

    reason: str = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.reason}: {detail}")
        self.detail = detail


class OversizedPayload(PayloadError):
    reason = "oversized"


class NotJson(PayloadError):
    reason = "not-json"


class WrongType(PayloadError):
    reason = "wrong-type"


class MissingField(PayloadError):
    reason = "missing-field"


class BpmOutOfRange(PayloadError):
    reason = "bpm-range"


class RrOutOfRange(PayloadError):
    reason = "rr-range"


class TimestampInFuture(PayloadError):
    reason = "ts-future"


class TimestampTooOld(PayloadError):
    reason = "ts-too-old"


class SensorMismatch(PayloadError):
    reason = "sensor-mismatch"


class BadTopic(PayloadError):
    reason = "bad-topic"


class IntOutOfRange(PayloadError):
    """An integer beyond what the field (and every store) holds, e.g. ``seq = 2**63``."""

    reason = "int-range"


class MachineOutOfRange(PayloadError):
    reason = "machine-range"


ALL_REASONS: Final = tuple(
    cls.reason
    for cls in (
        OversizedPayload,
        NotJson,
        WrongType,
        MissingField,
        BpmOutOfRange,
        RrOutOfRange,
        TimestampInFuture,
        TimestampTooOld,
        SensorMismatch,
        BadTopic,
        IntOutOfRange,
        MachineOutOfRange,
    )
)


# --------------------------------------------------------------------------- payloads

SafeInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
EnergyKj = Annotated[int, msgspec.Meta(ge=0, le=MAX_ENERGY_KJ)]
RrMs = Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]  # range: validate_sample
Bpm = Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]  # range: validate_sample


class HrSample(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One heart-rate notification as the collector saw it."""

    sensor: str
    ts: SafeInt  # UTC epoch milliseconds, stamped at arrival by the collector
    seq: SafeInt  # per sensor, strictly increasing across collector restarts
    bpm: Bpm
    rr_ms: list[RrMs] = []
    contact: bool | None = None
    energy_kj: EnergyKj | None = None


MACHINE_EXT: Final = 1
MachineKind = Literal["bike", "treadmill", "rower", "cross-trainer", "power", "csc"]
MACHINE_KINDS: Final = ("bike", "treadmill", "rower", "cross-trainer", "power", "csc")
# Plausible ranges; anything outside is quarantined ("machine-range").
POWER_MAX_W: Final = 3000
CADENCE_MAX: Final = 250.0
SPEED_MAX_KMH: Final = 120.0


class MachineSample(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One reading of a fitness machine, power meter or speed/cadence sensor.

    ``cadence`` is crank revolutions per minute (bike, power meter, CSC), strokes per minute
    (rower) or steps per minute (cross trainer). ``split_s`` is the rower's time per 500 m,
    ``pace_s`` the treadmill's time per km. Every measurement is optional: a machine sends
    what it has, and may split its data over several notifications.
    """

    sensor: str
    ts: int  # UTC epoch milliseconds, stamped at arrival by the collector
    seq: int
    kind: MachineKind
    power_w: int | None = None
    cadence: float | None = None
    speed_kmh: float | None = None
    distance_m: int | None = None
    split_s: int | None = None
    pace_s: int | None = None
    heart_rate: int | None = None
    energy_kcal: int | None = None
    ext: int = MACHINE_EXT


class Status(msgspec.Struct, frozen=True):
    state: Literal["online", "offline"]
    version: str = ""
    ts: SafeInt = 0


class Availability(msgspec.Struct, frozen=True):
    state: AvailabilityState
    ts: SafeInt


class Stored(msgspec.Struct, frozen=True):
    """The watermark on ``.../{collector}/stored``: sensor (strap or machine) -> highest seq
    stored durably."""

    seq: dict[str, SafeInt] = {}
    ts: SafeInt = 0


class SensorInfo(msgspec.Struct, frozen=True):
    name: str = ""
    model: str = ""
    battery_pct: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    rssi: Annotated[int, msgspec.Meta(ge=-128, le=127)] | None = None
    location: str | None = None


# --------------------------------------------------------------------------- topics


def check_level(value: str, what: str = "topic level") -> str:
    """Return ``value`` if it is a valid topic level, else raise :class:`BadTopic`."""
    if not _LEVEL.match(value):
        raise BadTopic(f"{what} {value!r} must match [a-z0-9-]{{1,64}}")
    return value


def normalise_sensor_id(address_or_alias: str) -> str:
    """Turn a BLE address (``A0:9E:1A:12:34:56``) or alias into a topic-safe sensor id."""
    sid = re.sub(r"[^a-z0-9-]+", "-", address_or_alias.strip().lower()).strip("-")
    return check_level(sid, "sensor id")


def _join(*levels: str) -> str:
    return "/".join((ROOT, *(check_level(level) for level in levels)))


def status_topic(site: str, collector: str) -> str:
    return _join(site, collector, "status")


def availability_topic(site: str, collector: str, sensor: str) -> str:
    return _join(site, collector, sensor, "availability")


def info_topic(site: str, collector: str, sensor: str) -> str:
    return _join(site, collector, sensor, "info")


def hr_topic(site: str, collector: str, sensor: str) -> str:
    return _join(site, collector, sensor, "hr")


def machine_topic(site: str, collector: str, sensor: str) -> str:
    return _join(site, collector, sensor, "machine")


def power_topic(site: str, collector: str, sensor: str) -> str:
    return _join(site, collector, sensor, "power")


def machine_topic_kind(kind: str) -> Literal["machine", "power"]:
    """The topic kind a machine sample of ``kind`` travels on: power meters and
    speed/cadence sensors on ``power``, fitness machines on ``machine``."""
    return "power" if kind in ("power", "csc") else "machine"


def batch_topic(site: str, collector: str) -> str:
    return _join(site, collector, "batch")


def stored_topic(site: str, collector: str) -> str:
    return _join(site, collector, "stored")


def subscription(site: str | None = None, kind: str = "hr") -> list[str]:
    """Wildcard filters for subscribers. ``kind`` is "hr" (samples + batches), "machine"
    (machine and power samples, extension 1) or "availability", "info", "status"."""
    base = f"{ROOT}/{check_level(site) if site else '+'}"
    if kind == "hr":
        return [f"{base}/+/+/hr", f"{base}/+/batch"]
    if kind == "machine":
        return [f"{base}/+/+/machine", f"{base}/+/+/power"]
    if kind in ("status", "stored"):
        return [f"{base}/+/{kind}"]
    if kind in ("availability", "info"):
        return [f"{base}/+/+/{kind}"]
    raise ValueError(f"unknown subscription kind {kind!r}")


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 / Mosquitto shared subscription filter."""
    return f"$share/{check_level(group)}/{topic_filter}"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic. ``sensor`` is None for collector-level topics."""

    site: str
    collector: str
    sensor: str | None
    kind: str


_KINDS_SENSOR = ("availability", "info", "hr", "machine", "power")
MACHINE_TOPIC_KINDS: Final = ("machine", "power")
_KINDS_COLLECTOR = ("status", "batch", "stored")


def parse_topic(topic: str) -> Topic:
    """Parse a concrete topic. Raises :class:`BadTopic` for anything outside the contract."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "gympulse" or parts[1] != VERSION:
        raise BadTopic(f"not a {ROOT} topic: {topic!r}")
    for level in parts[2:]:
        check_level(level)
    if len(parts) == 5 and parts[4] in _KINDS_COLLECTOR:
        return Topic(parts[2], parts[3], None, parts[4])
    if len(parts) == 6 and parts[5] in _KINDS_SENSOR:
        return Topic(parts[2], parts[3], parts[4], parts[5])
    raise BadTopic(f"unknown topic shape: {topic!r}")


def assert_publishable(topic: str) -> str:
    """Raise ValueError if ``topic`` holds a wildcard; publishing to one is a bug."""
    if "+" in topic or "#" in topic or topic.startswith("$"):
        raise ValueError(f"cannot publish to a wildcard or system topic: {topic!r}")
    return topic


# --------------------------------------------------------------------------- codec

_encoder = msgspec.json.Encoder()
_sample_decoder = msgspec.json.Decoder(HrSample | list[HrSample])
_availability_decoder = msgspec.json.Decoder(Availability)
_status_decoder = msgspec.json.Decoder(Status)
_info_decoder = msgspec.json.Decoder(SensorInfo)
_stored_decoder = msgspec.json.Decoder(Stored)
_machine_decoder = msgspec.json.Decoder(MachineSample | list[MachineSample])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode(obj: msgspec.Struct | list[HrSample] | list[MachineSample]) -> bytes:
    return _encoder.encode(obj)


def encode_samples(samples: list[HrSample]) -> bytes:
    """One sample as an object, several as an array (both are valid on an hr topic)."""
    return _encoder.encode(samples[0] if len(samples) == 1 else samples)


def _classify(err: msgspec.DecodeError | msgspec.ValidationError) -> PayloadError:
    text = str(err)
    if isinstance(err, msgspec.ValidationError):
        if text.startswith("Object missing required field"):
            return MissingField(text)
        if text.startswith(("Expected `int` <=", "Expected `int` >=")):
            return IntOutOfRange(text)
        return WrongType(text)
    return NotJson(text)


@functools.lru_cache(maxsize=4096)  # a site has a few hundred sensors: a hit per sample
def _sensor_id_problem(sensor: str) -> str | None:
    """Why ``sensor`` is not a sensor id as :func:`normalise_sensor_id` makes them, or None."""
    try:
        normalised = normalise_sensor_id(sensor)
    except BadTopic:
        return "not a valid id"
    return None if sensor == normalised else "not normalised"


def validate_sample(
    sample: HrSample, *, now: int | None = None, retention_days: int = DEFAULT_RETENTION_DAYS
) -> HrSample:
    """Range checks the type system cannot express. Returns the sample unchanged."""
    problem = _sensor_id_problem(sample.sensor)
    if problem is not None:
        raise WrongType(f"sensor id {sample.sensor!r} is {problem}")
    if not BPM_MIN <= sample.bpm <= BPM_MAX:
        raise BpmOutOfRange(f"bpm {sample.bpm} outside {BPM_MIN}-{BPM_MAX}")
    for rr in sample.rr_ms:
        if not RR_MIN_MS <= rr <= RR_MAX_MS:
            raise RrOutOfRange(f"rr {rr} ms outside {RR_MIN_MS}-{RR_MAX_MS}")
    current = now_ms() if now is None else now
    if sample.ts > current + MAX_FUTURE_MS:
        raise TimestampInFuture(f"ts {sample.ts} is more than 24 h ahead of {current}")
    if sample.ts < current - retention_days * 86_400_000:
        raise TimestampTooOld(f"ts {sample.ts} is older than the {retention_days}-day retention")
    for name, value, top in (
        ("seq", sample.seq, MAX_SAFE_INT),
        ("ts", sample.ts, MAX_SAFE_INT),
        ("energy_kj", sample.energy_kj, MAX_ENERGY_KJ),
    ):
        if value is not None and not 0 <= value <= top:
            raise IntOutOfRange(f"{name} {value} outside 0-{top}")
    return sample


_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_one_sample_decoder = msgspec.json.Decoder(HrSample)


@dataclass(frozen=True, slots=True)
class Rejected:
    """One sample of a message that breaks the contract: its own JSON bytes and the error."""

    payload: bytes
    error: PayloadError


def _decode_one(
    raw: bytes | msgspec.Raw,
    topic_sensor: str | None,
    now: int | None,
    retention_days: int,
) -> HrSample:
    try:
        sample = _one_sample_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise _classify(err) from None
    validate_sample(sample, now=now, retention_days=retention_days)
    if topic_sensor is not None and sample.sensor != topic_sensor:
        raise SensorMismatch(f"sample for {sample.sensor!r} on the topic of {topic_sensor!r}")
    return sample


def split_samples(
    payload: bytes,
    *,
    topic_sensor: str | None = None,
    now: int | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> tuple[list[HrSample], list[Rejected]]:
    """Decode an hr or batch payload sample by sample: (good samples, rejected samples).

    An array is judged per element, so one bad sample of a batch costs only its own place
    (its bytes go to quarantine, the others are stored). A payload that is not a sample or an
    array at all (oversized, not JSON, another type) raises :class:`PayloadError` whole.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise OversizedPayload(f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    if payload.lstrip()[:1] != b"[":
        return [_decode_one(payload, topic_sensor, now, retention_days)], []
    try:
        items = _raw_list_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise _classify(err) from None
    good: list[HrSample] = []
    bad: list[Rejected] = []
    for index, raw in enumerate(items):
        try:
            good.append(_decode_one(raw, topic_sensor, now, retention_days))
        except PayloadError as err:
            err.detail = f"item {index}: {err.detail}"
            bad.append(Rejected(bytes(raw), err))
    return good, bad


def decode_samples(
    payload: bytes,
    *,
    topic_sensor: str | None = None,
    now: int | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> list[HrSample]:
    """Decode and validate an hr or batch payload (one object or an array of objects),
    all or nothing: the first bad sample raises its :class:`PayloadError`. Ingestion uses
    :func:`split_samples` instead, which keeps the good samples of a mixed batch."""
    good, bad = split_samples(
        payload, topic_sensor=topic_sensor, now=now, retention_days=retention_days
    )
    if bad:
        raise bad[0].error
    return good


T = TypeVar("T")


def _decode_small(decoder: msgspec.json.Decoder[T], payload: bytes) -> T:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise OversizedPayload(f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise _classify(err) from None


def decode_availability(payload: bytes) -> Availability:
    return _decode_small(_availability_decoder, payload)


def decode_status(payload: bytes) -> Status:
    return _decode_small(_status_decoder, payload)


def decode_info(payload: bytes) -> SensorInfo:
    return _decode_small(_info_decoder, payload)


def decode_stored(payload: bytes) -> Stored:
    return _decode_small(_stored_decoder, payload)


def _check_range(name: str, value: float | None, lo: float, hi: float) -> None:
    if value is not None and not lo <= value <= hi:
        raise MachineOutOfRange(f"{name} {value} outside {lo}-{hi}")


def validate_machine_sample(
    sample: MachineSample, *, now: int | None = None, retention_days: int = DEFAULT_RETENTION_DAYS
) -> MachineSample:
    """Range checks of a machine sample (the sensor id, time and seq rules of heart rate)."""
    if sample.sensor != normalise_sensor_id(sample.sensor):
        raise WrongType(f"sensor id {sample.sensor!r} is not normalised")
    _check_range("power_w", sample.power_w, 0, POWER_MAX_W)
    _check_range("cadence", sample.cadence, 0, CADENCE_MAX)
    _check_range("speed_kmh", sample.speed_kmh, 0, SPEED_MAX_KMH)
    _check_range("distance_m", sample.distance_m, 0, 2**24)
    _check_range("split_s", sample.split_s, 0, 65535)
    _check_range("pace_s", sample.pace_s, 0, 65535)
    _check_range("heart_rate", sample.heart_rate, 0, BPM_MAX)
    _check_range("energy_kcal", sample.energy_kcal, 0, 65535)
    current = now_ms() if now is None else now
    if sample.ts > current + MAX_FUTURE_MS:
        raise TimestampInFuture(f"ts {sample.ts} is more than 24 h ahead of {current}")
    if sample.ts < current - retention_days * 86_400_000:
        raise TimestampTooOld(f"ts {sample.ts} is older than the {retention_days}-day retention")
    if sample.seq < 0:
        raise WrongType(f"seq {sample.seq} is negative")
    return sample


def decode_machine_samples(
    payload: bytes,
    *,
    topic_sensor: str | None = None,
    now: int | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> list[MachineSample]:
    """Decode and validate a machine or power payload; all-or-nothing like
    :func:`decode_samples`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise OversizedPayload(f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        decoded = _machine_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise _classify(err) from None
    samples = decoded if isinstance(decoded, list) else [decoded]
    for sample in samples:
        try:
            normalise_sensor_id(sample.sensor)
        except BadTopic as err:
            raise WrongType(f"sensor id {sample.sensor!r} is not a valid id") from err
        validate_machine_sample(sample, now=now, retention_days=retention_days)
        if topic_sensor is not None and sample.sensor != topic_sensor:
            raise SensorMismatch(f"sample for {sample.sensor!r} on the topic of {topic_sensor!r}")
    return samples
