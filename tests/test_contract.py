"""The wire contract: topics, round trips, and a typed error for every way a payload is wrong."""

from __future__ import annotations

import json

import pytest

from gympulse import contract
from gympulse.contract import HrSample

NOW = 1_795_000_000_000


def sample(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sensor": "strap-12",
        "ts": NOW - 1000,
        "seq": 7,
        "bpm": 142,
        "rr_ms": [421, 425],
        "contact": True,
        "energy_kj": None,
    }
    base.update(overrides)
    return base


def decode(payload: object, **kwargs: object) -> list[HrSample]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return contract.decode_samples(raw, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_topics_build_and_parse_back() -> None:
    topic = contract.hr_topic("gym-a", "pi-1", "strap-12")
    assert topic == "gympulse/v1/gym-a/pi-1/strap-12/hr"
    assert contract.parse_topic(topic) == contract.Topic("gym-a", "pi-1", "strap-12", "hr")
    assert contract.parse_topic(contract.batch_topic("gym-a", "pi-1")).sensor is None
    assert contract.parse_topic(contract.status_topic("gym-a", "pi-1")).kind == "status"
    assert contract.subscription("gym-a") == [
        "gympulse/v1/gym-a/+/+/hr",
        "gympulse/v1/gym-a/+/batch",
    ]
    assert contract.shared("ingest", "a/b") == "$share/ingest/a/b"


@pytest.mark.parametrize(
    "bad",
    ["Gym", "gym/a", "gym a", "", "x" * 65, "+", "#"],
)
def test_topic_levels_are_restricted(bad: str) -> None:
    with pytest.raises(contract.BadTopic):
        contract.hr_topic("gym", "pi", bad)


@pytest.mark.parametrize(
    "topic",
    ["other/v1/a/b/c/hr", "gympulse/v2/a/b/c/hr", "gympulse/v1/a/b/c/d/hr", "gympulse/v1/a/b/c/x"],
)
def test_foreign_topics_are_rejected(topic: str) -> None:
    with pytest.raises(contract.BadTopic):
        contract.parse_topic(topic)


def test_publishing_to_a_wildcard_raises() -> None:
    for topic in ("gympulse/v1/+/pi/status", "gympulse/v1/#", "$share/g/x"):
        with pytest.raises(ValueError, match="wildcard"):
            contract.assert_publishable(topic)


def test_sensor_ids_are_normalised_ble_addresses() -> None:
    assert contract.normalise_sensor_id("A0:9E:1A:12:34:56") == "a0-9e-1a-12-34-56"
    assert contract.normalise_sensor_id(" Strap 12 ") == "strap-12"


def test_single_sample_and_batch_round_trip() -> None:
    one = HrSample("strap-12", NOW, 1, 60, [1000], True, 12)
    assert decode(contract.encode_samples([one])) == [one]
    many = [HrSample("strap-12", NOW - i, i, 60 + i, [], None, None) for i in range(3)]
    assert decode(contract.encode_samples(many)) == many
    status = contract.Status(state="online", version="1", ts=NOW)
    assert contract.decode_status(contract.encode(status)) == status
    avail = contract.Availability(state="no-contact", ts=NOW)
    assert contract.decode_availability(contract.encode(avail)) == avail
    info = contract.SensorInfo(name="Polar H10", model="H10", battery_pct=80, rssi=-60)
    assert contract.decode_info(contract.encode(info)) == info


def test_optional_fields_default() -> None:
    (s,) = decode({"sensor": "strap-1", "ts": NOW, "seq": 1, "bpm": 70})
    assert s.rr_ms == [] and s.contact is None and s.energy_kj is None


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"\xff\xfenot json", contract.NotJson),
        (b'{"sensor": "strap-1", ', contract.NotJson),
        (sample(bpm="fast"), contract.WrongType),
        (sample(rr_ms=[400, "x"]), contract.WrongType),
        (sample(contact="yes"), contract.WrongType),
        (sample(ts=1.5), contract.WrongType),
        (sample(sensor="Strap 12"), contract.WrongType),
        ([sample(), 5], contract.WrongType),
        ("a string", contract.WrongType),
        ({k: v for k, v in sample().items() if k != "bpm"}, contract.MissingField),
        ({k: v for k, v in sample().items() if k != "ts"}, contract.MissingField),
        (sample(bpm=19), contract.BpmOutOfRange),
        (sample(bpm=251), contract.BpmOutOfRange),
        (sample(rr_ms=[199]), contract.RrOutOfRange),
        (sample(rr_ms=[800, 3001]), contract.RrOutOfRange),
        (sample(ts=NOW + 24 * 3600 * 1000 + 1), contract.TimestampInFuture),
        (sample(ts=NOW - 401 * 86_400_000), contract.TimestampTooOld),
        (b"[" + b" " * (64 * 1024) + b"]", contract.OversizedPayload),
        # Integers no store holds exactly: int64 overflows SQLite, 2**53 loses float precision.
        (sample(seq=2**63), contract.IntOutOfRange),
        (sample(seq=2**53), contract.IntOutOfRange),
        (sample(seq=-1), contract.IntOutOfRange),
        (sample(energy_kj=2**64 - 1), contract.IntOutOfRange),
        (sample(energy_kj=65536), contract.IntOutOfRange),
        (sample(ts=2**63), contract.IntOutOfRange),
        (sample(bpm=2**64), contract.IntOutOfRange),
        (sample(rr_ms=[2**70]), contract.IntOutOfRange),
    ],
)
def test_every_malformed_class_has_its_typed_error(
    payload: object, error: type[contract.PayloadError]
) -> None:
    with pytest.raises(error) as caught:
        decode(payload)
    assert caught.value.reason == error.reason
    assert caught.value.reason in contract.ALL_REASONS


def test_boundaries_are_inclusive() -> None:
    assert decode(sample(bpm=20, rr_ms=[200, 3000]))[0].bpm == 20
    assert decode(sample(bpm=250))[0].bpm == 250
    assert decode(sample(ts=NOW + 24 * 3600 * 1000))


def test_sample_on_another_sensors_topic_is_rejected() -> None:
    with pytest.raises(contract.SensorMismatch):
        decode(sample(sensor="strap-3"), topic_sensor="strap-12")


def test_retention_window_is_a_parameter() -> None:
    old = sample(ts=NOW - 10 * 86_400_000)
    assert decode(old, retention_days=30)
    with pytest.raises(contract.TimestampTooOld):
        decode(old, retention_days=7)


def test_integer_bounds_are_inclusive() -> None:
    (s,) = decode(sample(seq=contract.MAX_SAFE_INT, energy_kj=contract.MAX_ENERGY_KJ))
    assert (s.seq, s.energy_kj) == (2**53 - 1, 65535)
    with pytest.raises(contract.IntOutOfRange):  # a sample built in Python is checked too
        contract.validate_sample(HrSample("strap-1", NOW, 2**63, 80), now=NOW)


def test_a_batch_is_judged_sample_by_sample() -> None:
    items = [sample(seq=1), sample(seq=2**63), 5, sample(seq=3, bpm=400), sample(seq=4)]
    payload = json.dumps(items).encode()
    good, bad = contract.split_samples(payload, now=NOW)
    assert [s.seq for s in good] == [1, 4]
    assert [(b.error.reason, json.loads(b.payload)) for b in bad] == [
        ("int-range", items[1]),
        ("wrong-type", 5),
        ("bpm-range", items[3]),
    ]
    with pytest.raises(contract.IntOutOfRange):  # the all-or-nothing decoder still exists
        contract.decode_samples(payload, now=NOW)
    with pytest.raises(contract.NotJson):  # a payload that is no array at all is one error
        contract.split_samples(b"[1, 2", now=NOW)
