"""Ingestion's watermark bookkeeping (pure): only ever rises, published only when changed,
bounded per collector."""

from __future__ import annotations

from gympulse import contract
from gympulse.mqtt import Received
from gympulse.pipeline.stores.base import StoredSample
from gympulse.pipeline.watermarks import MAX_SENSORS, Watermarks


def _sample(sensor: str, seq: int, collector: str = "edge") -> StoredSample:
    return StoredSample("gym", collector, sensor, 1000 + seq, seq, 80, (), None, None, None)


def _message(topic: str, payload: bytes, retain: bool = True) -> Received:
    return Received(topic, payload, 1, retain, 0, 1)


def test_watermarks_rise_merge_and_stay_bounded() -> None:
    marks = Watermarks()
    retained = contract.encode(contract.Stored(seq={"strap-1": 50, "strap-2": 7}))
    assert marks.handle(_message(contract.stored_topic("gym", "edge"), retained))
    assert marks.due() == []  # a watermark read from the broker publishes nothing
    assert marks.get("gym", "edge") == {}  # and is never adopted (issue 18)
    marks.stored([_sample("strap-1", 10), _sample("strap-2", 9)])
    ((key, topic, payload),) = marks.due()
    assert key == ("gym", "edge") and topic == contract.stored_topic("gym", "edge")
    assert contract.decode_stored(payload).seq == {"strap-1": 10, "strap-2": 9}
    marks.stored([_sample("strap-1", 4)])  # lower: no change, nothing to publish
    assert marks.due() == []
    # A collector's status asks for its watermark, even an empty one.
    assert marks.handle(_message(contract.status_topic("gym", "new"), b'{"state":"online"}'))
    ((key, _, payload),) = marks.due()
    assert key == ("gym", "new") and contract.decode_stored(payload).seq == {}
    assert not marks.handle(_message(contract.hr_topic("gym", "edge", "strap-1"), b"{}"))
    marks.stored([_sample(f"s-{i}", 1) for i in range(MAX_SENSORS + 10)])
    kept = marks.get("gym", "edge")
    assert len(kept) == MAX_SENSORS and "s-0" not in kept and f"s-{MAX_SENSORS + 9}" in kept
