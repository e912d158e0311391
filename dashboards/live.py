"""The live hub: follows the MQTT stream and keeps one tile per active strap.

Subscribes (QoS 0, clean session: the board wants now, not a backlog) to heart-rate and
availability topics, resolves who wears each strap from the registry, and fans every tile
change out to the connected browsers (Server-Sent Events) through bounded per-client
queues: a slow browser drops old updates, it never slows the hub.

A tile is "live" while samples with skin contact arrive; "no-contact" when the strap says
so (its bpm is then not shown: straps repeat a stale value); "no-signal" when the strap is
reported lost or no sample came for ``stale_after_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.analytics.zones import zone as zone_of

from gympulse import contract
from gympulse.mqtt import MqttClient, Received
from gympulse.settings import Settings
from pipeline.registry import Athlete, Registry, Resolver, strap_label

log = logging.getLogger(__name__)

TileState = Literal["live", "no-contact", "no-signal"]
SPARK_SECONDS = 120
REFRESH_NAMES_S = 5.0


@dataclass
class Tile:
    sensor: str
    name: str = ""
    athlete_id: int | None = None
    hr_max: float = 190.0
    bpm: int | None = None
    pct_max: int | None = None
    zone: int = 0
    ts: int = 0  # sample timestamp (collector clock, epoch ms)
    received_ms: int = 0  # when the hub got it (server clock)
    state: TileState = "no-signal"
    spark: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=SPARK_SECONDS))

    def as_json(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor,
            "name": self.name,
            "athlete_id": self.athlete_id,
            "bpm": self.bpm if self.state == "live" else None,
            "pct_max": self.pct_max if self.state == "live" else None,
            "zone": self.zone if self.state == "live" else 0,
            "ts": self.ts,
            "received_ms": self.received_ms,
            "state": self.state,
        }


class LiveHub:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.tiles: dict[str, Tile] = {}
        self._clients: set[asyncio.Queue[str]] = set()
        self._resolver: Resolver = registry.resolver()
        self._athletes: dict[int, Athlete] = {}
        self._labels: dict[str, str] = {}
        self._names_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.mqtt: MqttClient | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        site = self.settings.site
        filters = contract.subscription(site, "hr") + contract.subscription(site, "availability")
        self.mqtt = MqttClient(
            self.settings.mqtt,
            f"gympulse-web-{uuid.uuid4().hex[:8]}",
            subscriptions=[(f, 0) for f in filters],
        )
        self._refresh_names(force=True)
        self._tasks = [
            asyncio.create_task(self.mqtt.run(), name="live-mqtt"),
            asyncio.create_task(self._consume(self.mqtt), name="live-consume"),
            asyncio.create_task(self._watch_staleness(), name="live-stale"),
        ]

    async def stop(self) -> None:
        if self.mqtt is not None:
            await self.mqtt.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ identity

    def _refresh_names(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._names_at < REFRESH_NAMES_S:
            return
        self._names_at = now
        self._resolver = self.registry.resolver()
        self._athletes = {a.id: a for a in self.registry.athletes()}
        self._labels = self.registry.sensor_labels()

    def _identify(self, tile: Tile, ts: int) -> None:
        self._refresh_names()
        athlete_id = self._resolver.athlete_at(tile.sensor, ts)
        athlete = self._athletes.get(athlete_id) if athlete_id is not None else None
        tile.athlete_id = athlete_id
        if athlete is not None:
            tile.name = athlete.name
            tile.hr_max = athlete.effective_hr_max(dt.datetime.now(dt.UTC).year)
        else:
            tile.name = self._labels.get(tile.sensor) or strap_label(tile.sensor)
            tile.hr_max = 190.0

    # ------------------------------------------------------------------ updates

    def apply_sample(self, sample: contract.HrSample, received_ms: int) -> Tile:
        tile = self.tiles.get(sample.sensor)
        if tile is None:
            tile = self.tiles[sample.sensor] = Tile(sample.sensor)
        if sample.ts < tile.ts:
            return tile  # a late (replayed) sample never overrides a newer live value
        self._identify(tile, sample.ts)
        tile.ts = sample.ts
        tile.received_ms = received_ms
        if sample.contact is False:
            tile.state = "no-contact"
            return tile
        tile.state = "live"
        tile.bpm = sample.bpm
        tile.pct_max = round(100 * sample.bpm / tile.hr_max)
        tile.zone = zone_of(sample.bpm, tile.hr_max)
        tile.spark.append((sample.ts, sample.bpm))
        return tile

    def apply_availability(self, sensor: str, state: str) -> Tile | None:
        tile = self.tiles.get(sensor)
        if tile is None:
            return None
        if state == "lost":
            tile.state = "no-signal"
        elif state == "no-contact":
            tile.state = "no-contact"
        else:
            return None  # "connected": the next sample makes it live
        return tile

    def _broadcast(self, tile: Tile) -> None:
        event = f"event: tile\ndata: {json.dumps(tile.as_json(), separators=(',', ':'))}\n\n"
        for queue in self._clients:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # drop the oldest update for a slow browser
            queue.put_nowait(event)

    def handle(self, msg: Received) -> None:
        try:
            topic = contract.parse_topic(msg.topic)
            if topic.kind == "availability" and topic.sensor is not None:
                if not msg.payload:
                    return  # a cleared retained topic
                availability = contract.decode_availability(msg.payload)
                changed = self.apply_availability(topic.sensor, availability.state)
                if changed is not None:
                    self._broadcast(changed)
                return
            samples = contract.decode_samples(msg.payload, topic_sensor=topic.sensor)
        except contract.PayloadError as err:
            log.debug("live board ignores a message on %s: %s", msg.topic, err)
            return
        received = contract.now_ms()
        latest: dict[str, contract.HrSample] = {}
        for sample in samples:
            if sample.sensor not in latest or sample.ts > latest[sample.sensor].ts:
                latest[sample.sensor] = sample
        for sample in latest.values():
            self._broadcast(self.apply_sample(sample, received))

    async def _consume(self, mqtt: MqttClient) -> None:
        while True:
            msg = await mqtt.messages.get()
            self.handle(msg)

    async def _watch_staleness(self) -> None:
        stale_ms = int(self.settings.web.stale_after_s * 1000)
        while True:
            await asyncio.sleep(0.5)
            now = contract.now_ms()
            for tile in self.tiles.values():
                if tile.state != "no-signal" and now - tile.received_ms > stale_ms:
                    tile.state = "no-signal"
                    self._broadcast(tile)

    # ------------------------------------------------------------------ browsers

    def snapshot(self) -> list[dict[str, Any]]:
        return [t.as_json() for t in sorted(self.tiles.values(), key=lambda t: t.name)]

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=500)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._clients.discard(queue)

    @property
    def client_count(self) -> int:
        return len(self._clients)
