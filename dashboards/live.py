"""The live hub: follows the MQTT stream and keeps one tile per active strap.

Subscribes (QoS 0, clean session: the board wants now, not a backlog) to heart-rate and
availability topics, resolves who wears each strap from the registry, and fans every tile
change out to the connected browsers (Server-Sent Events) through bounded per-client
queues: a slow browser drops old updates, it never slows the hub.

When the athlete wearing a strap also has a machine (a fitness machine, power meter or
cadence sensor assigned to them: wire contract machine extension), the tile carries the
machine's latest watts and cadence, or split time / pace on a rower / treadmill, next to the
heart rate (``machine`` in the tile JSON; None when the machine has been silent for
``stale_after_s``).

A tile is "live" while samples with skin contact arrive; "no-contact" when the strap says
so (its bpm is then not shown: straps repeat a stale value); "no-signal" when the strap is
reported lost or no sample came for ``stale_after_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Literal

from gympulse import contract
from gympulse.dashboards.board_privacy import Privacy, board_tile
from gympulse.logs import RateLimitedLog
from gympulse.mqtt import MqttClient, Received
from gympulse.pipeline.analytics.energy import keytel_kcal_per_min
from gympulse.pipeline.analytics.points import points_per_minute
from gympulse.pipeline.consent import Domain, Policy, holders_of
from gympulse.pipeline.domain import Athlete, Resolver, age_year, effort_stamp, strap_label
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings

log = logging.getLogger(__name__)

TileState = Literal["live", "no-contact", "no-signal"]
SPARK_SECONDS = 120
MINUTE_MS = 60_000
KEEP_MINUTES = 12 * 60  # per tile: the class summary reaches back this far
REFRESH_NAMES_S = 5.0
LOG_EVERY_S = 60.0
END_OF_STREAM = ""  # put in a client queue by LiveHub.end_streams: the stream ends
# Straps nobody registered or assigned (a neighbour's, a flood of made-up ids): at most this
# many tiles, the least recently heard one gives way; gone after this long without a sample.
MAX_UNKNOWN_TILES = 24
UNKNOWN_TTL_S = 600.0


@dataclass
class Minute:
    """A tile's totals over one clock minute of samples (for one wearer): the class
    summary adds up the minutes inside the class window."""

    athlete_id: int | None
    zone_s: list[float] = field(default_factory=lambda: [0.0] * 6)
    points: float = 0.0
    kcal: float | None = None
    peak_bpm: int | None = None


@dataclass
class MachineReading:
    """The latest numbers of one machine. A fitness machine may split its data over several
    notifications: a field a notification lacks keeps its previous value."""

    sensor: str
    kind: str
    received_ms: int = 0
    ts: int = 0
    values: dict[str, float | int] = field(default_factory=dict)

    def update(self, sample: contract.MachineSample, received_ms: int) -> None:
        self.kind = sample.kind
        self.ts = sample.ts
        self.received_ms = received_ms
        for name in ("power_w", "cadence", "speed_kmh", "split_s", "pace_s"):
            value = getattr(sample, name)
            if value is not None:
                self.values[name] = value

    def as_json(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "kind": self.kind, **self.values}


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
    # Since the athlete put the strap on (reset when the strap changes hands):
    kcal: float | None = None  # None when the profile lacks weight or age (Keytel needs both)
    points: float = 0.0
    zone_s: list[float] = field(default_factory=lambda: [0.0] * 6)
    peak_bpm: int | None = None
    last_live_ts: int = 0
    profile: tuple[float, float, str | None] | None = None  # weight, age, sex
    # The same totals per (minute of the sample's ts, wearer), for the last KEEP_MINUTES.
    minutes: dict[tuple[int, int | None], Minute] = field(default_factory=dict)
    machine: MachineReading | None = None  # the wearer's machine, when they have one
    machine_stale_ms: int = 5000
    known: bool = True  # assigned now, or a strap registered with a label
    plain: bool = False  # the wearer has not consented to live heart rate: name only

    def reset_totals(self) -> None:
        self.kcal = 0.0 if self.profile is not None else None
        self.points = 0.0
        self.zone_s = [0.0] * 6
        self.peak_bpm = None
        self.last_live_ts = 0
        self.spark.clear()

    def accumulate(self, ts: int, bpm: int) -> None:
        """Add one live sample to the totals: it stands for the time since the previous
        live sample (1 s for the first), capped at 5 s so a gap is not counted as effort."""
        dt_s = 1.0 if not self.last_live_ts else min(5.0, max(0.0, (ts - self.last_live_ts) / 1000))
        self.last_live_ts = ts
        points = points_per_minute(self.zone) * dt_s / 60
        kcal = None
        if self.profile is not None:
            weight, age, sex = self.profile
            kcal = keytel_kcal_per_min(bpm, weight, age, sex) * dt_s / 60
        self.zone_s[self.zone] += dt_s
        self.points += points
        if kcal is not None and self.kcal is not None:
            self.kcal += kcal
        self.peak_bpm = bpm if self.peak_bpm is None else max(self.peak_bpm, bpm)
        key = (ts // MINUTE_MS, self.athlete_id)
        minute = self.minutes.get(key)
        if minute is None:
            minute = self.minutes[key] = Minute(self.athlete_id)
            while len(self.minutes) > KEEP_MINUTES:  # oldest first (insertion order)
                del self.minutes[next(iter(self.minutes))]
        minute.zone_s[self.zone] += dt_s
        minute.points += points
        if kcal is not None:
            minute.kcal = (minute.kcal or 0.0) + kcal
        minute.peak_bpm = bpm if minute.peak_bpm is None else max(minute.peak_bpm, bpm)

    def as_json(self, *, spark: bool = False) -> dict[str, Any]:
        if self.plain:  # no consent to live heart rate: who is there, nothing measured
            return {
                "sensor": self.sensor, "name": self.name, "athlete_id": self.athlete_id,
                "bpm": None, "pct_max": None, "zone": 0, "ts": self.ts,
                "received_ms": self.received_ms, "state": "plain", "kcal": None,
                "points": 0.0, "machine": None, "plain": True,
            } | ({"spark": []} if spark else {})  # fmt: skip
        extra: dict[str, Any] = {"spark": list(self.spark)} if spark else {}
        return extra | {
            "sensor": self.sensor,
            "name": self.name,
            "athlete_id": self.athlete_id,
            "bpm": self.bpm if self.state == "live" else None,
            "pct_max": self.pct_max if self.state == "live" else None,
            "zone": self.zone if self.state == "live" else 0,
            "ts": self.ts,
            "received_ms": self.received_ms,
            "state": self.state,
            "kcal": None if self.kcal is None else round(self.kcal, 1),
            "points": round(self.points, 1),
            "machine": self.machine_json(),
        }

    def machine_json(self) -> dict[str, Any] | None:
        m = self.machine
        if m is None or contract.now_ms() - m.received_ms > self.machine_stale_ms:
            return None
        return m.as_json()

    def window_summary(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Totals of the minutes in [start_ms, end_ms) (a class), one row per wearer who
        trained in it (a strap handed on mid-class gives two rows)."""
        first, last = start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS
        per: dict[int | None, Minute] = {}
        for (m, athlete_id), minute in self.minutes.items():
            if not first <= m <= last:
                continue
            total = per.setdefault(athlete_id, Minute(athlete_id))
            total.zone_s = [a + b for a, b in zip(total.zone_s, minute.zone_s, strict=True)]
            total.points += minute.points
            if minute.kcal is not None:
                total.kcal = (total.kcal or 0.0) + minute.kcal
            if minute.peak_bpm is not None:
                total.peak_bpm = max(total.peak_bpm or 0, minute.peak_bpm)
        return [
            {
                "sensor": self.sensor,
                "name": self.name,
                "athlete_id": athlete_id,
                "zone_minutes": [round(s / 60, 1) for s in t.zone_s],
                "points": round(t.points, 1),
                "kcal": None if t.kcal is None else round(t.kcal, 1),
                "peak_bpm": t.peak_bpm,
            }
            for athlete_id, t in per.items()
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor,
            "name": self.name,
            "athlete_id": self.athlete_id,
            "zone_minutes": [round(s / 60, 1) for s in self.zone_s],
            "points": round(self.points, 1),
            "kcal": None if self.kcal is None else round(self.kcal, 1),
            "peak_bpm": self.peak_bpm,
        }


class LiveHub:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.tiles: dict[str, Tile] = {}
        self._clients: dict[asyncio.Queue[str], int | None] = {}  # queue -> athlete filter
        self._private: dict[asyncio.Queue[str], Privacy] = {}  # a board's queue -> its view
        self._resolver: Resolver = registry.resolver()
        self._athletes: dict[int, Athlete] = {}
        self._labels: dict[str, str] = {}
        # Who consented to live heart rate (None: the site has no consent rules), read with
        # the names; a decision made in this process applies at once (consent_changed).
        self._policy = Policy.of(settings.consent)
        self._live_ok: frozenset[int] | None = None if not self._policy.required else frozenset()
        self._names_at = 0.0
        self._names_version = -1  # the registry's change counter of the names held
        self._tasks: list[asyncio.Task[None]] = []
        self.mqtt: MqttClient | None = None
        self._exit = contextlib.AsyncExitStack()
        self._failures_logged = RateLimitedLog(log, LOG_EVERY_S)  # per topic, bounded

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        site = self.settings.site
        filters = (
            contract.subscription(site, "hr")
            + contract.subscription(site, "availability")
            + contract.subscription(site, "machine")
        )
        self.mqtt = mqtt = MqttClient(
            self.settings.mqtt,
            f"gympulse-web-{uuid.uuid4().hex[:8]}",
            subscriptions=[(f, 0) for f in filters],
        )
        self._refresh_names(force=True)
        # Entered here, left in stop(): the hub lives as long as the web app.
        await self._exit.enter_async_context(mqtt)
        self._tasks = [
            asyncio.create_task(self._consume(mqtt.messages()), name="live-consume"),
            asyncio.create_task(self._watch_staleness(), name="live-stale"),
            asyncio.create_task(self._refresh_names_loop(), name="live-names"),
        ]

    async def stop(self) -> None:
        await self._exit.aclose()  # closes the MQTT client: the message iteration ends
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ identity

    def _read_names(self) -> tuple[Resolver, dict[int, Athlete], dict[str, str]]:
        """Names and assignments; athletes and assignments are read again only when the
        registry's change counter moved (as ingestion does), the strap labels (a few
        rows) every time."""
        version = self.registry.version()
        labels = self.registry.sensor_labels()
        if version == self._names_version and self._names_at:
            return self._resolver, self._athletes, labels
        resolver = self.registry.resolver()
        athletes = {a.id: a for a in self.registry.athletes()}
        policy = self._policy
        self._live_ok = self.registry.run(lambda conn: holders_of(conn, Domain.LIVE, policy))
        self._names_version = version
        return resolver, athletes, labels

    def live_allowed(self, athlete_id: int | None) -> bool:
        """Whether the board may show this wearer's heart rate (strangers' straps: yes)."""
        return athlete_id is None or self._live_ok is None or athlete_id in self._live_ok

    def consent_changed(self, athlete_id: int, given: bool) -> None:
        """A live-consent decision made in this process: her tiles change now."""
        if self._live_ok is None:
            return
        self._live_ok = (self._live_ok | {athlete_id}) if given else (self._live_ok - {athlete_id})
        for tile in list(self.tiles.values()):
            if tile.athlete_id == athlete_id:
                self._apply_consent(tile)
                self._broadcast(tile)

    def _apply_consent(self, tile: Tile) -> None:
        plain = not self.live_allowed(tile.athlete_id)
        if plain and not tile.plain:  # forget what was measured of her
            tile.bpm = tile.pct_max = None
            tile.zone = 0
            tile.reset_totals()
            tile.minutes = {
                k: m for k, m in tile.minutes.items() if m.athlete_id != tile.athlete_id
            }
            tile.machine = None
        tile.plain = plain

    def _refresh_names(self, force: bool = False) -> None:
        """Names and assignments: read here only the first time (or when forced); a
        started hub rereads them every REFRESH_NAMES_S in a worker thread
        (:meth:`_refresh_names_loop`), so a busy SQLite file never stalls the loop."""
        if self._names_at and not force:
            return
        self._names_at = time.monotonic()
        self._resolver, self._athletes, self._labels = self._read_names()

    async def _refresh_names_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_NAMES_S)
            try:
                names = await asyncio.to_thread(self._read_names)
            except Exception:  # a locked or busy file: keep the names we have
                self._log_failure("registry")
                continue
            self._names_at = time.monotonic()
            self._resolver, self._athletes, self._labels = names

    def _identify(self, tile: Tile, ts: int) -> None:
        self._refresh_names()
        athlete_id = self._resolver.athlete_at(tile.sensor, ts)
        athlete = self._athletes.get(athlete_id) if athlete_id is not None else None
        changed = athlete_id != tile.athlete_id
        tile.athlete_id = athlete_id
        tile.known = athlete is not None or tile.sensor in self._labels
        if athlete is not None:
            year = age_year(ts)
            tile.name = athlete.board_name  # a shared screen: first name + initial, or alias
            tile.hr_max = athlete.effective_hr_max(year)
            age = athlete.age(year)
            tile.profile = (
                (athlete.weight_kg, float(age), athlete.sex)
                if athlete.weight_kg is not None and age is not None
                else None
            )
        else:
            tile.name = self._labels.get(tile.sensor) or strap_label(tile.sensor)
            tile.hr_max = 190.0
            tile.profile = None
        if changed or (tile.profile is not None and tile.kcal is None):
            tile.reset_totals()
        self._apply_consent(tile)

    # ------------------------------------------------------------------ updates

    def apply_sample(self, sample: contract.HrSample, received_ms: int) -> Tile:
        tile = self.tiles.get(sample.sensor)
        if tile is None:
            tile = self.tiles[sample.sensor] = Tile(sample.sensor)
        if sample.ts < tile.ts:
            return tile  # a late (replayed) sample never overrides a newer live value
        self._identify(tile, sample.ts)
        if not tile.known:
            tile.received_ms = received_ms
            self._cap_unknown(keep=tile)
        tile.ts = sample.ts
        tile.received_ms = received_ms
        if tile.plain:
            return tile  # nothing of her heart rate is kept or shown
        if sample.contact is False:
            tile.state = "no-contact"
            return tile
        tile.state = "live"
        tile.bpm = sample.bpm
        # The one rule (rounded half up, exact zone bounds) ingestion stamps stored samples
        # with, so the board, the stored samples and Grafana agree.
        tile.pct_max, tile.zone = effort_stamp(sample.bpm, tile.hr_max)
        tile.spark.append((sample.ts, sample.bpm))
        tile.accumulate(sample.ts, sample.bpm)
        return tile

    def apply_machine(self, sample: contract.MachineSample, received_ms: int) -> list[Tile]:
        """A machine's sample onto the tiles of the athlete it is assigned to (their strap
        tiles); none when the machine is unassigned or its athlete wears no strap here."""
        self._refresh_names()
        athlete_id = self._resolver.athlete_at(sample.sensor, sample.ts)
        if athlete_id is None:
            return []
        changed = []
        stale_ms = int(self.settings.web.stale_after_s * 1000)
        for tile in self.tiles.values():
            if tile.athlete_id != athlete_id or tile.plain:
                continue
            reading = tile.machine
            if reading is None or reading.sensor != sample.sensor:
                if reading is not None and received_ms - reading.received_ms <= stale_ms:
                    continue  # the athlete's other machine is live: keep showing that one
                reading = tile.machine = MachineReading(sample.sensor, sample.kind)
            reading.update(sample, received_ms)
            tile.machine_stale_ms = stale_ms
            changed.append(tile)
        return changed

    def _cap_unknown(self, keep: Tile) -> None:
        """At most :data:`MAX_UNKNOWN_TILES` unknown tiles: the least recently heard go."""
        unknown = [t for t in self.tiles.values() if not t.known and t is not keep]
        excess = len(unknown) + 1 - MAX_UNKNOWN_TILES
        if excess > 0:
            for tile in sorted(unknown, key=lambda t: t.received_ms)[:excess]:
                self._remove(tile)

    def age_out(self, now_ms: int) -> int:
        """Remove unknown tiles silent for :data:`UNKNOWN_TTL_S`; returns how many."""
        old = [
            t
            for t in self.tiles.values()
            if not t.known and now_ms - t.received_ms > UNKNOWN_TTL_S * 1000
        ]
        for tile in old:
            self._remove(tile)
        return len(old)

    def _remove(self, tile: Tile) -> None:
        self.tiles.pop(tile.sensor, None)
        event = f"event: gone\ndata: {json.dumps({'sensor': tile.sensor})}\n\n"
        for queue, only in self._clients.items():
            if only is not None:
                continue  # an athlete's own view never shows unknown straps
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # drop the oldest update for a slow browser
            queue.put_nowait(event)

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
        if not self._clients:
            return
        full = tile.as_json()
        events = {"full": _tile_event(full)}  # one encoding per view, not per viewer
        for queue, only in self._clients.items():
            if only is not None and tile.athlete_id != only:
                continue
            view = self._private.get(queue, "full")
            if view not in events:
                events[view] = _tile_event(board_tile(full, view))
            event = events[view]
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
            if topic.kind in contract.MACHINE_TOPIC_KINDS:
                machine = contract.decode_machine_samples(msg.payload, topic_sensor=topic.sensor)
                if machine:
                    newest = max(machine, key=lambda m: m.ts)
                    for tile in self.apply_machine(newest, contract.now_ms()):
                        self._broadcast(tile)
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

    async def _consume(self, messages: AsyncIterable[Received]) -> None:
        """Handle messages for as long as the hub runs. A bug or bad data in one message is
        logged and that message skipped: the task never ends (the board would freeze)."""
        async for msg in messages:
            try:
                self.handle(msg)
            except Exception:
                self._log_failure(msg.topic)

    def _log_failure(self, topic: str) -> None:
        """Log a failed message with its traceback, at most once a minute per topic."""
        if self._failures_logged.due(topic):
            log.exception("live board skipped a message on %s", topic)

    async def _watch_staleness(self) -> None:
        stale_ms = int(self.settings.web.stale_after_s * 1000)
        while True:
            await asyncio.sleep(0.5)
            now = contract.now_ms()
            try:
                self.age_out(now)
            except Exception:
                self._log_failure("unknown tiles")
            for tile in list(self.tiles.values()):
                try:
                    if tile.state != "no-signal" and now - tile.received_ms > stale_ms:
                        tile.state = "no-signal"
                        self._broadcast(tile)
                except Exception:
                    self._log_failure(f"staleness of {tile.sensor}")

    # ------------------------------------------------------------------ browsers

    def snapshot(
        self, athlete_id: int | None = None, *, spark: bool = False
    ) -> list[dict[str, Any]]:
        """Every tile as it is now (only ``athlete_id``'s tiles when given)."""
        return [
            t.as_json(spark=spark)
            for t in sorted(self.tiles.values(), key=lambda t: t.name)
            if athlete_id is None or t.athlete_id == athlete_id
        ]

    def summary(self, window: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """The class summary screen: per participant, totals over ``window`` (a class's
        [start_ms, end_ms): only who trained in it); without one, per tile since the
        strap was put on."""
        ordered = sorted(self.tiles.values(), key=lambda t: t.name)
        if window is None:
            return [t.summary() for t in ordered]
        rows = [row for t in ordered for row in t.window_summary(*window)]
        for row in rows:  # a previous wearer's row carries their name, not the tile's
            athlete = self._athletes.get(row["athlete_id"]) if row["athlete_id"] else None
            if athlete is not None:
                row["name"] = athlete.board_name
        return rows

    def subscribe(
        self, athlete_id: int | None = None, *, privacy: Privacy = "full"
    ) -> asyncio.Queue[str]:
        """A queue of tile events: every tile's, or only ``athlete_id``'s tiles; a board's
        as its ``privacy`` lets the shared screen show them (:mod:`.board_privacy`)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=500)
        self._clients[queue] = athlete_id
        if privacy != "full":
            self._private[queue] = privacy
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._clients.pop(queue, None)
        self._private.pop(queue, None)

    def end_stream(self, queue: asyncio.Queue[str]) -> None:
        """Tell one stream to end (its credential is gone): it gets :data:`END_OF_STREAM`."""
        while queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(END_OF_STREAM)

    def end_streams(self) -> None:
        """Tell every connected stream to end (the server is stopping): each gets
        :data:`END_OF_STREAM` and returns, so a shutdown never waits on an open SSE
        connection, and the browsers reconnect by themselves to the next server."""
        for queue in list(self._clients):
            self.end_stream(queue)


def _tile_event(tile: dict[str, Any]) -> str:
    return f"event: tile\ndata: {json.dumps(tile, separators=(',', ':'))}\n\n"
