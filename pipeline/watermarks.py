"""Ingestion's side of the ``stored`` watermark (see :mod:`gympulse.contract`).

Per collector, the highest ``seq`` of each sensor that ingestion has written durably. It is
published, retained, after a write commits — never before — so a collector that deletes
the samples it covers deletes only samples that are in the store (or in quarantine).

Ingestion publishes only what it computed from its own writes: a retained ``stored``
message it receives (its own from before a restart, or a forged one) is never adopted —
after a restart its watermarks start empty and rise with what it stores, and a collector
keeps the highest it has seen, so a lower one only costs samples sent twice (issue 18).
Only ingestion's broker user may write ``stored`` (config/mosquitto/acl).

A collector's retained ``status`` makes
ingestion publish that collector's watermark at once (empty when it knows none yet): that
first watermark on a new connection is the collector's sign that the broker has a session
to queue its samples for.
"""

from __future__ import annotations

from collections.abc import Iterable

from gympulse import contract
from gympulse.mqtt import Received
from gympulse.pipeline.stores.base import StoredMachineSample, StoredSample

# Sensors per collector watermark: the least recently stored beyond this are left out (their
# collector then keeps what it has of them until they are stored again: never a loss).
MAX_SENSORS = 512


class Watermarks:
    def __init__(self) -> None:
        self._seq: dict[tuple[str, str], dict[str, int]] = {}
        self._dirty: set[tuple[str, str]] = set()

    def handle(self, msg: Received) -> bool:
        """Take a ``stored`` or ``status`` message; False for any other message."""
        kind = msg.topic.rsplit("/", 1)[-1]
        if kind not in ("stored", "status"):
            return False
        try:
            topic = contract.parse_topic(msg.topic)
        except contract.BadTopic:
            return False
        key = (topic.site, topic.collector)
        if kind == "status":
            self._dirty.add(key)
            return True
        return True  # a watermark is never taken from the broker, only computed

    def stored(self, samples: Iterable[object]) -> None:
        """Raise the watermarks for samples that are now durably in the store: heart-rate and
        machine samples alike (a collector keeps both on disk until they are covered)."""
        for s in samples:
            if not isinstance(s, StoredSample | StoredMachineSample):
                continue
            key = (s.site, s.collector)
            known = self._seq.setdefault(key, {})
            if s.seq > known.get(s.sensor, -1):
                known.pop(s.sensor, None)  # most recently stored last
                known[s.sensor] = s.seq
                self._dirty.add(key)
                while len(known) > MAX_SENSORS:
                    del known[next(iter(known))]

    def due(self) -> list[tuple[tuple[str, str], str, bytes]]:
        """(key, topic, payload) of every watermark to publish now; clears them."""
        out = []
        for key in sorted(self._dirty):
            site, collector = key
            payload = contract.encode(
                contract.Stored(seq=dict(self._seq.get(key, {})), ts=contract.now_ms())
            )
            out.append((key, contract.stored_topic(site, collector), payload))
        self._dirty.clear()
        return out

    def again(self, key: tuple[str, str]) -> None:
        """A publish failed: publish this watermark with the next batch."""
        self._dirty.add(key)

    def get(self, site: str, collector: str) -> dict[str, int]:
        return dict(self._seq.get((site, collector), {}))
