"""The ingestion service: MQTT -> validate -> resolve athlete -> batch -> store -> ack.

Delivery: a persistent session (fixed client id, clean session/start false) at QoS 1 and
manual acknowledgement. A message is acknowledged only after the batch holding it is
committed, so a crash of this process, the broker or the store loses nothing (the broker
redelivers what was not acknowledged), and the store's (sensor, ts) key makes the
redelivery store nothing twice.

Batching: a batch is written when it holds ``batch_size`` messages, when its first message
is ``flush_ms`` old, or when no further message is waiting (the broker only sends a window
of unacknowledged messages — Mosquitto's ``max_inflight_messages``, MQTT 5 Receive Maximum —
so waiting for more than it will send would only add latency).

While the store is unavailable the batch is retried with capped backoff and nothing is
acknowledged: the backlog stays with the broker (back-pressure), and is written when the
store returns.

Each sample is stamped with the athlete wearing its strap at its ``ts`` and, from that
athlete's profile, ``pct_max`` (% of effective HRmax, rounded half up) and ``zone`` (0–5),
so the store holds what a gym board shows and dashboards need no join (InfluxQL has none).
Assignments and profiles come from one :class:`Snapshot` of the registry. Before and after
each batch the registry's change counter (one tiny read; triggers bump it whoever writes)
is compared with the snapshot's, and between batches every ``REGISTRY_CHECK_S``: a change
made by any process (``gympulse assign``, the admin form) applies from the next batch on,
and the samples already stored in the windows whose wearer changed are re-stamped
(:func:`gympulse.pipeline.assignments.changed_windows`) — so an assignment takes effect
for every sample whose ``ts`` falls in it, whenever that sample arrives.

Bad input never stops the service: every malformed message — or, in an array, every
malformed sample, the good ones of the same message being stored — is written to quarantine
with its topic, raw bytes (a bounded prefix, with size and sha256) and reason, counted per
reason, logged at most once per sensor per minute, and acknowledged (it is kept, so it is not
lost). A retained message on a sample topic is quarantined once, however often the broker
sends it again on a reconnect.

After every durable write the ``stored`` watermark of each collector whose samples it held
is published (retained; :mod:`gympulse.pipeline.watermarks`): collectors keep each sample
on disk until it is covered, and replay the rest after a reconnect, so a broker that forgets
messages it acknowledged costs nothing. The watermark relies on one ingestion instance
handling a collector's messages in broker order (no ``shared_group`` split across
instances when collectors confirm through ingestion).

One message never blocks the rest. A write that fails because the store is unavailable
(:class:`StoreUnavailable`, an ``OSError``) is retried and nothing is acknowledged. Any other
error means something in the batch is at fault: the batch is split in halves until the
offending message — and within it the offending sample — is found; that sample goes to
quarantine (reason ``store-rejected``) and the rest is stored. Only when even a quarantine
row cannot be written is the store treated as broken, and the batch held.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field

from gympulse import contract
from gympulse.backoff import Backoff
from gympulse.logs import RateLimitedLog
from gympulse.mqtt import MqttClient, Received
from gympulse.pipeline.assignments import Window, changed_windows, merge_windows, restamp
from gympulse.pipeline.consent import Policy, storable_now
from gympulse.pipeline.domain import (
    Assignment,
    Athlete,
    ErasedWindows,
    Resolver,
    age_year,
    sample_effort,
)
from gympulse.pipeline.metrics import INGEST
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import (
    MACHINE_VALUES,
    QuarantineRow,
    SampleStore,
    StoredMachineSample,
    StoredSample,
    StoreUnavailable,
    WriteBatch,
)
from gympulse.pipeline.watermarks import Watermarks
from gympulse.settings import Settings

log = logging.getLogger(__name__)
STORE_RETRY = Backoff(0.2, 10.0)  # while the store is unavailable

REGISTRY_CHECK_S = 1.0  # between batches (a quiet stream): how often the counter is read
STORE_REJECTED = "store-rejected"  # quarantine reason: the store refused a valid-looking sample

# What one message (or sample) became: heart-rate or machine samples, and quarantine rows.
Part = tuple[list[StoredSample | StoredMachineSample], list[QuarantineRow]]


@dataclass
class IngestStats:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    store_errors: int = 0
    restamped: int = 0  # stored samples re-stamped after assignment changes
    erased: int = 0  # samples refused: inside an erased person's strap windows
    no_consent: int = 0  # samples of a wearer who consented to neither live nor morning HR


class Snapshot:
    """An immutable view of the registry for ingestion: who wore which strap when (the
    :class:`Resolver`) and every athlete's profile, taken together."""

    def __init__(
        self,
        resolver: Resolver,
        athletes: list[Athlete],
        *,
        version: int = -1,
        assignments: list[Assignment] | None = None,
        erased: ErasedWindows | None = None,
        consented: frozenset[int] | None = None,
    ) -> None:
        self.resolver = resolver
        self.erased = erased or ErasedWindows([])
        # Wearers whose heart rate may be stored (live class or morning HRV consent); None:
        # the site has no consent rules (pipeline/consent.py).
        self.consented = consented
        self.athletes = {a.id: a for a in athletes}
        self.version = version  # the registry's change counter when it was read
        self.assignments = assignments or []
        self._hr_max: dict[tuple[int, int], float] = {}

    @classmethod
    def of(cls, registry: Registry, policy: Policy | None = None) -> Snapshot:
        version, assignments, athletes = registry.read_snapshot()
        # Read after the assignments: an erasure commits both at once, so this view of the
        # erased windows is never older than the assignments it goes with.
        erased = registry.erased_windows()
        consented = None
        if policy is not None and policy.required:
            consented = registry.run(lambda conn: storable_now(conn, policy))
        return cls(
            Resolver(assignments), athletes, version=version, assignments=assignments,
            erased=erased, consented=consented,
        )  # fmt: skip

    def may_store(self, athlete_id: int | None) -> bool:
        """A sample of a strap nobody wears is stored (the strap's own data); a wearer's
        only with her consent."""
        return athlete_id is None or self.consented is None or athlete_id in self.consented

    def hr_max(self, athlete_id: int, ts: int) -> float | None:
        """The athlete's effective HRmax at ``ts`` (age in :func:`age_year` of the sample)."""
        year = age_year(ts)
        key = (athlete_id, year)
        found = self._hr_max.get(key)
        if found is None:
            athlete = self.athletes.get(athlete_id)
            if athlete is None:
                return None
            found = self._hr_max[key] = athlete.effective_hr_max(year)
        return found

    def stamp(
        self, sensor: str, ts: int, bpm: int, contact: bool | None = None
    ) -> tuple[int | None, int | None, int | None]:
        """(athlete_id, pct_max, zone) of a sample; all None when the strap is unassigned,
        no pct_max/zone without an HRmax or without skin contact."""
        athlete_id = self.resolver.athlete_at(sensor, ts)
        if athlete_id is None:
            return None, None, None
        pct, zone = sample_effort(bpm, self.hr_max(athlete_id, ts), contact)
        return athlete_id, pct, zone


def _row(
    msg: Received, payload: bytes, err: contract.PayloadError, received_ms: int
) -> QuarantineRow:
    """A quarantine row keyed by its content. The broker sends a retained message again on
    every subscribe (flagged retained then): such a copy is stored only if its key is new."""
    key = hashlib.sha256(
        b"\0".join((msg.topic.encode(), msg.payload, payload, err.detail.encode()))
    ).hexdigest()
    return QuarantineRow(
        received_ms, msg.topic, payload, err.reason, err.detail, key=key, once=msg.retain
    )


def decode_message(
    msg: Received, snapshot: Snapshot, *, retention_days: int, received_ms: int
) -> tuple[list[StoredSample | StoredMachineSample], list[QuarantineRow]]:
    """Pure: one MQTT message -> (stored samples, quarantine rows saying what was not and why).

    Heart-rate (``hr``, ``batch``) and machine (``machine``, ``power``) topics alike; each
    sample carries the athlete assigned to its sensor at its ``ts``. A payload that is not
    samples at all is one quarantine row; in a heart-rate array, each bad sample is its own
    row (its own JSON bytes) and the good ones are kept."""
    try:
        topic = contract.parse_topic(msg.topic)
        if topic.kind in contract.MACHINE_TOPIC_KINDS:
            machine = contract.decode_machine_samples(
                msg.payload, topic_sensor=topic.sensor, now=received_ms,
                retention_days=retention_days,
            )  # fmt: skip
            return [_stored_machine(topic, m, snapshot) for m in machine], []
        if topic.kind not in ("hr", "batch"):
            raise contract.BadTopic(f"{topic.kind} messages carry no samples")
        samples, rejected = contract.split_samples(
            msg.payload, topic_sensor=topic.sensor, now=received_ms, retention_days=retention_days
        )
    except contract.PayloadError as err:
        return [], [_row(msg, msg.payload, err, received_ms)]
    rows = [_row(msg, r.payload, r.error, received_ms) for r in rejected]
    return [_stored_hr(topic, s, snapshot) for s in samples], rows


def _stored_machine(
    topic: contract.Topic, m: contract.MachineSample, snapshot: Snapshot
) -> StoredMachineSample:
    return StoredMachineSample(
        site=topic.site,
        collector=topic.collector,
        sensor=m.sensor,
        ts=m.ts,
        seq=m.seq,
        kind=m.kind,
        athlete_id=snapshot.resolver.athlete_at(m.sensor, m.ts),
        **{c: getattr(m, c) for c in MACHINE_VALUES},
    )


def _stored_hr(topic: contract.Topic, s: contract.HrSample, snapshot: Snapshot) -> StoredSample:
    athlete_id, pct_max, zone = snapshot.stamp(s.sensor, s.ts, s.bpm, s.contact)
    return StoredSample(
        site=topic.site,
        collector=topic.collector,
        sensor=s.sensor,
        ts=s.ts,
        seq=s.seq,
        bpm=s.bpm,
        rr_ms=tuple(s.rr_ms),
        contact=s.contact,
        energy_kj=s.energy_kj,
        athlete_id=athlete_id,
        pct_max=pct_max,
        zone=zone,
    )


def _sample_topic(s: StoredSample | StoredMachineSample) -> str:
    if isinstance(s, StoredMachineSample):
        topic = contract.power_topic if s.kind in ("power", "csc") else contract.machine_topic
        return topic(s.site, s.collector, s.sensor)
    return contract.hr_topic(s.site, s.collector, s.sensor)


def _sample_payload(s: StoredSample | StoredMachineSample) -> bytes:
    if isinstance(s, StoredMachineSample):
        return contract.encode(
            contract.MachineSample(
                sensor=s.sensor,
                ts=s.ts,
                seq=s.seq,
                kind=s.kind,  # type: ignore[arg-type]
                **{c: getattr(s, c) for c in MACHINE_VALUES},
            )
        )
    return contract.encode(
        contract.HrSample(
            sensor=s.sensor,
            ts=s.ts,
            seq=s.seq,
            bpm=s.bpm,
            rr_ms=list(s.rr_ms),
            contact=s.contact,
            energy_kj=s.energy_kj,
        )
    )


def is_unavailable(err: BaseException) -> bool:
    """The store cannot take writes now (retry, hold the messages) — as opposed to refusing
    something in the batch (find it, quarantine it, store the rest)."""
    return isinstance(err, StoreUnavailable | OSError)


class IngestService:
    def __init__(self, settings: Settings, store: SampleStore, registry: Registry) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.stats = IngestStats()
        self._policy = Policy.of(settings.consent)
        # Taken on first use, off the event loop (:meth:`_first_snapshot`).
        self._snapshot: Snapshot | None = None
        self._restamp_due: dict[str, Window] = {}  # windows still to re-stamp (store down)
        # One batch (sync, stamp, write, sync) or one idle check at a time: a batch is never
        # stamped from one snapshot and checked against a newer one.
        self._registry_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self.bad_log = RateLimitedLog(log, 60.0)
        group = settings.mqtt.shared_group
        site = settings.site if settings.site != "*" else None
        filters = contract.subscription(site) + contract.subscription(site, "machine")
        self.filters = [contract.shared(group, f) if group else f for f in filters]
        # Watermarks first (our own retained ones come back before any sample), then the
        # collectors' status; never shared: every instance needs them.
        self.control_filters = contract.subscription(site, "stored") + contract.subscription(
            site, "status"
        )
        self.watermarks = Watermarks()
        self.mqtt: MqttClient | None = None
        # Set once the broker has acknowledged the subscriptions of the persistent session.
        self.ready = asyncio.Event()

    async def _first_snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = await asyncio.to_thread(Snapshot.of, self.registry, self._policy)
        return self._snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The registry view samples are stamped from (taken by the first batch or ingest)."""
        if self._snapshot is None:
            raise RuntimeError("no registry snapshot yet: run() or ingest() takes it")
        return self._snapshot

    async def _sync_registry(self) -> None:
        """Take a fresh snapshot if the registry changed, and re-stamp the stored samples
        of every window whose wearer changed. Called with ``_registry_lock`` held.

        The registry is read in a worker thread (which waits for the file's owner thread,
        up to its busy timeout when another process holds the file): never on this loop,
        which also answers the broker's keep-alives."""
        current = await self._first_snapshot()
        try:
            if await asyncio.to_thread(self.registry.version) != current.version:
                fresh = await asyncio.to_thread(Snapshot.of, self.registry, self._policy)
                windows = changed_windows(current.assignments, fresh.assignments)
                merge_windows(self._restamp_due, windows)
                self._snapshot = fresh
        except sqlite3.Error as err:  # a locked or busy registry: keep the last view
            log.warning("registry unreadable, keeping the previous assignments: %s", err)
        if not self._restamp_due:
            return
        due, self._restamp_due = self._restamp_due, {}
        try:
            changed = await restamp(self.registry, self.store, due, self._policy)
        except Exception as err:  # the store is down: try again with the next check
            merge_windows(self._restamp_due, due)
            log.warning("re-stamping after an assignment change failed, will retry: %s", err)
            return
        self.stats.restamped += changed
        if changed:
            log.info("assignments changed: re-stamped %d stored samples", changed)

    async def _watch_registry(self) -> None:
        """Between batches: apply assignment changes to stored samples of a quiet strap."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), REGISTRY_CHECK_S)
            except TimeoutError:
                async with self._registry_lock:
                    await self._sync_registry()

    async def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        cfg = self.settings.ingest
        async with MqttClient(
            self.settings.mqtt,
            cfg.client_id,
            subscriptions=[(f, 1) for f in self.control_filters + self.filters],
            persistent=True,
            manual_ack=True,
            receive_maximum=max(cfg.batch_size, 20),
        ) as mqtt:
            self.mqtt = mqtt
            await self._first_snapshot()
            await mqtt.wait_subscribed(until=self._stop)
            self.ready.set()  # subscribed: from now on the broker keeps our messages for us
            watcher = asyncio.create_task(self._watch_registry(), name="ingest-registry")
            try:
                await self._consume(mqtt)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _consume(self, mqtt: MqttClient) -> None:
        cfg = self.settings.ingest
        messages = mqtt.messages(until=self._stop)
        async for first in messages:
            batch = [first]
            deadline = time.monotonic() + cfg.flush_ms / 1000
            # Take what is waiting, up to the batch size or the flush deadline.
            while len(batch) < cfg.batch_size and time.monotonic() < deadline:
                waiting = messages.take_nowait(cfg.batch_size - len(batch))
                if waiting:
                    batch.extend(waiting)
                    continue
                await asyncio.sleep(0.002)  # let the socket reader deliver more
                if not len(messages):
                    break
            async with self._registry_lock:
                await self._sync_registry()
                await self._write_until_stored(mqtt, batch)
                await self._sync_registry()  # a change made while this batch was written

    def _decode(self, messages: list[Received]) -> list[Part]:
        snapshot = self.snapshot
        now = contract.now_ms()
        parts: list[Part] = []
        for msg in messages:
            samples: list[StoredSample | StoredMachineSample]
            try:
                samples, rows = decode_message(
                    msg,
                    snapshot,
                    retention_days=self.settings.ingest.retention_days,
                    received_ms=now,
                )
            except Exception as err:  # a bug must cost one message's place, never the service
                log.exception("could not process a message on %s", msg.topic)
                samples, rows = (
                    [],
                    [QuarantineRow(now, msg.topic, msg.payload, "internal-error", repr(err))],
                )
            for row in rows:
                self._count_quarantined(msg.topic, row)
            if snapshot.erased:  # an erased person's late replay is not stored again
                kept = [s for s in samples if not snapshot.erased.covers(s.sensor, s.ts)]
                self.stats.erased += len(samples) - len(kept)
                INGEST.erased.inc(len(samples) - len(kept))
                samples = kept
            if snapshot.consented is not None:  # nothing of a wearer without her consent
                kept = [s for s in samples if snapshot.may_store(s.athlete_id)]
                self.stats.no_consent += len(samples) - len(kept)
                INGEST.no_consent.inc(len(samples) - len(kept))
                samples = kept
            parts.append((samples, rows))
        return parts

    async def ingest(self, messages: list[Received], *, timeout_s: float = 10.0) -> bool:
        """The MQTT path for messages that came another way (the guest page's Web Bluetooth
        endpoint posts a contract payload with a topic the server builds): the same registry
        sync, decoding, validation, quarantine and idempotent write, retried while the store
        is unavailable for at most ``timeout_s``. False: not stored in time (the caller says
        "try again"; a repeat stores nothing twice)."""
        async with self._registry_lock:
            await self._sync_registry()
            parts = self._decode(messages)
            try:
                stored = await asyncio.wait_for(self._store(parts), timeout_s)
            except TimeoutError:
                return False
        self.stats.messages += len(messages)
        INGEST.messages.inc(len(messages))
        return stored

    def _count_quarantined(self, topic: str, row: QuarantineRow) -> None:
        self.stats.quarantined[row.reason] += 1
        INGEST.quarantined.labels(row.reason).inc()
        key = topic.rsplit("/", 2)[-2] if topic.count("/") >= 2 else topic
        self.bad_log.warning(
            key, "quarantined a message on %s: %s: %s", topic, row.reason, row.detail[:200]
        )

    async def _write_until_stored(self, mqtt: MqttClient, messages: list[Received]) -> None:
        data = [m for m in messages if not self.watermarks.handle(m)]
        parts = self._decode(data)
        if await self._store(parts):
            self.watermarks.stored(s for samples, _ in parts for s in samples)
            self._publish_watermarks(mqtt)
            for msg in messages:
                mqtt.ack(msg)
        self.stats.messages += len(data)  # handled: stored, quarantined or held
        INGEST.messages.inc(len(data))

    def _publish_watermarks(self, mqtt: MqttClient) -> None:
        """After a durable write: tell each collector how far its samples are stored."""
        for key, topic, payload in self.watermarks.due():
            if not mqtt.connected.is_set():
                self.watermarks.again(key)
                continue
            future = mqtt.publish_nowait(topic, payload, qos=1, retain=True)
            future.add_done_callback(functools.partial(self._watermark_sent, key))

    def _watermark_sent(self, key: tuple[str, str], future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.watermarks.again(key)  # goes out with the next batch

    async def _store(self, parts: list[Part]) -> bool:
        """Write ``parts`` (retrying while the store is unavailable); a part the store refuses
        is narrowed down and quarantined. False: stopped before everything was written."""
        batch = WriteBatch(
            [s for samples, _ in parts for s in samples if isinstance(s, StoredSample)],
            [q for _, rows in parts for q in rows],
            [s for samples, _ in parts for s in samples if isinstance(s, StoredMachineSample)],
        )
        failures = 0
        while True:
            started = time.perf_counter()
            try:
                result = await self.store.write(batch)
                break
            except Exception as err:
                self.stats.store_errors += 1
                INGEST.store_errors.inc()
                if not is_unavailable(err):
                    narrowed = await self._narrow(parts, err)
                    if narrowed is not None:
                        return narrowed
                # Unavailable (down, locked, disk full), or a store that cannot even take a
                # quarantine row: hold everything unacknowledged and retry.
                log.log(
                    logging.WARNING if isinstance(err, StoreUnavailable) else logging.ERROR,
                    "store write failed, holding %d samples unacknowledged: %s",
                    len(batch),
                    err,
                    exc_info=not isinstance(err, StoreUnavailable),
                )
                if self._stop.is_set():
                    return False  # unacknowledged: the broker keeps them for the next run
                failures += 1
                await asyncio.sleep(STORE_RETRY.delay(failures))
        INGEST.batch_seconds.observe(time.perf_counter() - started)
        self.stats.batches += 1
        self.stats.stored += result.stored
        self.stats.duplicates += result.duplicates
        INGEST.stored.inc(result.stored)
        INGEST.duplicates.inc(result.duplicates)
        return True

    async def _narrow(self, parts: list[Part], err: Exception) -> bool | None:
        """The store refused ``parts``: write them in halves, then sample by sample, and
        quarantine the one it refuses. None: nothing left to narrow (hold and retry)."""
        if len(parts) > 1:
            mid = len(parts) // 2
            return await self._store(parts[:mid]) and await self._store(parts[mid:])
        (samples, rows) = parts[0]
        if len(samples) > 1:
            singles: list[Part] = [([s], []) for s in samples]
            return await self._store([*singles, ([], rows)] if rows else singles)
        if not samples:
            return None  # only quarantine rows, and the store refuses those: it is broken
        (sample,) = samples
        row = QuarantineRow(
            contract.now_ms(),
            _sample_topic(sample),
            _sample_payload(sample),
            STORE_REJECTED,
            f"{type(err).__name__}: {err}",
        )
        self._count_quarantined(row.topic, row)
        log.error("the store refused a sample of %s (quarantined): %r", sample.sensor, err)
        return await self._store([([], [*rows, row])])
