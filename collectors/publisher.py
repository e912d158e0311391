"""Collector-side publishing per the contract: status with last will, availability on change,
info, heart-rate and machine samples (sent by the Forwarder). Used by the simulator and the
BLE strap manager alike."""

from __future__ import annotations

from typing import Literal

from gympulse import __version__, contract
from gympulse.contract import (
    Availability,
    AvailabilityState,
    HrSample,
    MachineSample,
    SensorInfo,
    Status,
)
from gympulse.mqtt import MqttClient, Will


def collector_will(site: str, collector: str) -> Will:
    """The last will the broker publishes when the collector vanishes without a goodbye."""
    return Will(
        contract.status_topic(site, collector),
        contract.encode(Status(state="offline", version=__version__)),
        qos=1,
        retain=True,
    )


class CollectorPublisher:
    def __init__(self, mqtt: MqttClient, site: str, collector: str) -> None:
        self.mqtt = mqtt
        self.site = contract.check_level(site, "site")
        self.collector = contract.check_level(collector, "collector")
        self._availability: dict[str, AvailabilityState] = {}

    async def _status(self, state: Literal["online", "offline"]) -> None:
        status = Status(state=state, version=__version__, ts=contract.now_ms())
        await self.mqtt.publish(
            contract.status_topic(self.site, self.collector),
            contract.encode(status),
            qos=1,
            retain=True,
        )

    async def online(self) -> None:
        await self._status("online")

    async def offline(self) -> None:
        """A clean goodbye (the last will covers the unclean one)."""
        await self._status("offline")

    async def availability(
        self, sensor: str, state: AvailabilityState, ts: int | None = None
    ) -> bool:
        """Publish availability if it changed; returns whether it published."""
        if self._availability.get(sensor) == state:
            return False
        self._availability[sensor] = state
        payload = Availability(state=state, ts=contract.now_ms() if ts is None else ts)
        await self.mqtt.publish(
            contract.availability_topic(self.site, self.collector, sensor),
            contract.encode(payload),
            qos=1,
            retain=True,
        )
        return True

    async def info(self, sensor: str, info: SensorInfo) -> None:
        await self.mqtt.publish(
            contract.info_topic(self.site, self.collector, sensor),
            contract.encode(info),
            qos=1,
            retain=True,
        )

    async def forget(self, sensor: str) -> None:
        """Remove a strap: clear its retained topics with empty retained payloads."""
        self._availability.pop(sensor, None)
        for topic in (
            contract.availability_topic(self.site, self.collector, sensor),
            contract.info_topic(self.site, self.collector, sensor),
        ):
            await self.mqtt.publish(topic, b"", qos=1, retain=True)

    async def samples(self, sensor: str, samples: list[HrSample]) -> None:
        """One sensor's samples on its hr topic (one object, or an array for a backlog)."""
        if samples:
            await self.mqtt.publish(
                contract.hr_topic(self.site, self.collector, sensor),
                contract.encode_samples(samples),
                qos=1,
            )

    async def machines(self, samples: list[MachineSample]) -> None:
        """One sensor's machine samples of one topic kind (see
        :func:`gympulse.contract.machine_topic_kind`): one object, or an array for a backlog."""
        if not samples:
            return
        first = samples[0]
        topic = (
            contract.power_topic
            if contract.machine_topic_kind(first.kind) == "power"
            else contract.machine_topic
        )
        payload = contract.encode(first) if len(samples) == 1 else contract.encode(samples)
        await self.mqtt.publish(topic(self.site, self.collector, first.sensor), payload, qos=1)

    async def batch(self, samples: list[HrSample]) -> None:
        """Samples of several sensors in one message (large classes, backlog replay)."""
        if samples:
            await self.mqtt.publish(
                contract.batch_topic(self.site, self.collector), contract.encode(samples), qos=1
            )
