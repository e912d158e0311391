"""Store and forward: samples survive broker crashes, outages and collector restarts.

Two parts share one SQLite file in the collector's ``state_dir``:

- :class:`DiskQueue`: a bounded FIFO of samples — heart-rate samples and the machine
  extension's machine / power samples alike (:data:`Queued`; each row keeps its encoded
  payload and its ``kind``, ``hr`` or ``machine``) — (oldest dropped first, with a persistent
  counter), the per-sensor ``seq`` reservations (:class:`SeqAllocator`) and the per-sensor
  confirmed watermark.
- :class:`Forwarder`: the path every sample takes to the broker.

Every sample is committed to disk first (WAL; ``synchronous=NORMAL``: a SIGKILL or a crash
of the collector process loses nothing, an OS crash may lose the last moments) and stays
there until it is *confirmed*, then deleted:

- ``confirm = "ingest"`` (the default): confirmed when the ingestion service's retained
  ``stored`` watermark for this collector (:class:`gympulse.contract.Stored`) covers its
  ``seq`` — the sample is in the store. The broker's PUBACK is not enough: a broker that
  crashes before its autosave, or runs without persistence, forgets messages it had
  acknowledged.
- ``confirm = "broker"``: confirmed by the broker's PUBACK (a site whose consumer is not
  gympulse's ingestion; the old hop-by-hop guarantee).

The sender publishes the disk queue in arrival order (``qid``), one message in flight at a
time: heart-rate samples as one sample on their ``hr`` topic when alone (the live case), else
up to :data:`REPLAY_BATCH` as one ``batch`` message; machine samples on their sensor's
``machine`` or ``power`` topic (one object, or an array of one sensor's consecutive samples
in a backlog: the ``batch`` topic carries heart rate only). After every reconnect it starts again
from the oldest unconfirmed sample: whatever the broker lost is sent again, and the store's
(sensor, ts) key absorbs what it had not lost. In ``ingest`` mode it publishes only once a
watermark arrived on the current connection (retained, or published by ingestion when it
sees this collector's ``status``): proof that the broker has the ingestion's session and
queues what we send, so a replay is never sent into a broker that would drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from gympulse import contract
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.contract import HrSample, MachineSample
from gympulse.mqtt import MqttClient, Received
from gympulse.sqlite_owner import SqliteOwner, open_owner
from gympulse.sqlite_schema import Schema, Step, add_missing_columns, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

SEQ_BLOCK = 1000  # seq numbers reserved per disk write; a restart skips the unused rest
REPLAY_BATCH = 200  # samples per replayed batch message (~20 kB, far below the 64 kB cap)

_sample_decoder = msgspec.json.Decoder(HrSample)
_machine_decoder = msgspec.json.Decoder(MachineSample)

Queued = HrSample | MachineSample  # what the disk queue holds
QueueKind = Literal["hr", "machine"]  # the ``kind`` column: which of the two a payload is


def _kind(sample: Queued) -> QueueKind:
    return "machine" if isinstance(sample, MachineSample) else "hr"


def _decode(kind: str, payload: bytes) -> Queued:
    if kind == "machine":
        return _machine_decoder.decode(payload)
    return _sample_decoder.decode(payload)


# Step 1 (versioning began): the tables IF NOT EXISTS; a queue written before ``seq`` had
# its own column gets it filled from the payloads, one from before machine samples were
# queued holds heart-rate samples only. New steps are appended (gympulse.sqlite_schema).
_QUEUE_TABLES = """
CREATE TABLE IF NOT EXISTS queue (
    qid INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    ts INTEGER NOT NULL,
    payload BLOB NOT NULL,
    seq INTEGER,
    kind TEXT NOT NULL DEFAULT 'hr'
);
CREATE TABLE IF NOT EXISTS seq (sensor TEXT PRIMARY KEY, reserved INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS confirmed (sensor TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def _adopt_queue(db: sqlite3.Connection) -> None:
    add_missing_columns(db, "queue", (("seq", "INTEGER"), ("kind", "TEXT NOT NULL DEFAULT 'hr'")))
    rows = db.execute("SELECT qid, kind, payload FROM queue WHERE seq IS NULL").fetchall()
    if rows:
        db.executemany(
            "UPDATE queue SET seq = ? WHERE qid = ?", [(_decode(k, p).seq, q) for q, k, p in rows]
        )
    db.execute("CREATE INDEX IF NOT EXISTS queue_sensor_seq ON queue (sensor, seq)")


QUEUE_SCHEMA = Schema(
    "collector queue",
    (
        Step(
            "the tables when versioning began; adopts older queue files",
            _QUEUE_TABLES,
            _adopt_queue,
        ),
    ),
)


def _owned(method: Callable[..., T]) -> Callable[..., T]:
    """Run a :class:`DiskQueue` method on the file's owner thread (directly when already
    there); from any other thread it waits for the result."""

    @functools.wraps(method)
    def on_owner(self: DiskQueue, *args: Any, **kwargs: Any) -> T:
        return self.owner.run(lambda _conn: method(self, *args, **kwargs))

    return on_owner


class DiskQueue:
    """A bounded, persistent FIFO of samples keyed by arrival order (``qid``).

    The file has one owner thread in the process (:class:`gympulse.sqlite_owner.SqliteOwner`):
    every method that reads or writes it runs there. Called from a thread a method waits
    for its result; the collector's event loop hands them over instead — ``await
    queue.arun(queue.head, ...)`` or :meth:`submit` — so no SQLite work ever runs on the
    loop (at a million queued samples a put or a delete is no longer the loop's time).
    The owner runs work in the order it was handed over, so a sample put before a
    ``head`` is seen by it. Open and close it from a thread (``asyncio.to_thread``)."""

    def __init__(self, path: str | Path, max_samples: int) -> None:
        if max_samples < 1:
            raise ValueError("the disk queue must hold at least one sample")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_samples = max_samples
        self._count = 0
        self.last_qid = 0
        self.dropped = 0
        self._reserved: dict[str, int] = {}  # the seq table, kept: a reservation never waits
        self._confirmed: dict[str, int] = {}  # the confirmed table, kept
        self._owner: SqliteOwner | None = open_owner(self.path)
        try:
            self.owner.run(self._open)
        except BaseException:
            self.close()
            raise

    @property
    def owner(self) -> SqliteOwner:
        if self._owner is None:
            raise RuntimeError(f"{self.path}: the disk queue is closed")
        return self._owner

    @property
    def _db(self) -> sqlite3.Connection:
        return self.owner.conn  # only on the owner's thread

    def _open(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        db.execute("PRAGMA secure_delete=OFF")  # sent samples, deleted by the million
        db.execute("PRAGMA foreign_keys=OFF")
        migrate(db, QUEUE_SCHEMA, self.path)
        row = db.execute("SELECT COUNT(*), COALESCE(MAX(qid), 0) FROM queue").fetchone()
        self._count = int(row[0])
        self.last_qid = int(row[1])
        self.dropped = self._counter("dropped")
        self._reserved = {str(k): int(v) for k, v in db.execute("SELECT sensor, reserved FROM seq")}
        self._confirmed = {
            str(k): int(v) for k, v in db.execute("SELECT sensor, seq FROM confirmed")
        }

    async def arun(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` (one of this queue's) on the owner's thread, from a
        coroutine: the loop goes on meanwhile."""
        return await self.owner.arun(lambda _conn: method(*args, **kwargs))

    def submit(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Hand ``method(*args, **kwargs)`` to the owner's thread without waiting."""
        return self.owner.submit(lambda _conn: method(*args, **kwargs))

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        return self._count

    @_owned
    def put(self, items: Iterable[tuple[int, Queued]]) -> int:
        """Append (qid, sample) pairs in one transaction; returns how many old ones it dropped."""
        rows = [(qid, s.sensor, s.ts, contract.encode(s), s.seq, _kind(s)) for qid, s in items]
        if not rows:
            return 0
        db = self._db
        db.execute("BEGIN")
        try:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO queue (qid, sensor, ts, payload, seq, kind)"
                " VALUES (?,?,?,?,?,?)",
                rows,
            )
            # The count is kept, not counted: COUNT(*) reads the whole table (5 ms a put at
            # a million queued samples, an outage of a day on a busy collector).
            count = self._count + db.total_changes - before
            excess = count - self.max_samples
            if excess > 0:
                db.execute(
                    "DELETE FROM queue WHERE qid IN (SELECT qid FROM queue ORDER BY qid LIMIT ?)",
                    (excess,),
                )
                db.execute(
                    "INSERT INTO counters VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (excess,),
                )
                count -= excess
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._count = count
        self.last_qid = max(self.last_qid, max(r[0] for r in rows))
        if excess > 0:
            self.dropped += excess
            log.warning(
                "disk queue full (%d samples): dropped the %d oldest, %d dropped so far",
                self.max_samples,
                excess,
                self.dropped,
            )
            return int(excess)
        return 0

    @_owned
    def head(self, limit: int, *, after: int = 0) -> list[tuple[int, Queued]]:
        """The oldest ``limit`` samples with a qid above ``after``, in arrival order."""
        rows = self._db.execute(
            "SELECT qid, kind, payload FROM queue WHERE qid > ? ORDER BY qid LIMIT ?",
            (after, limit),
        ).fetchall()
        return [(qid, _decode(kind, payload)) for qid, kind, payload in rows]

    def confirmed(self) -> dict[str, int]:
        """The confirmed watermark per sensor (kept in memory as it is written)."""
        return dict(self._confirmed)

    @_owned
    def confirm(self, watermark: dict[str, int], *, sent_up_to: int) -> int:
        """Delete every sample a watermark covers (seq <= the sensor's) among those sent
        (qid <= ``sent_up_to``); returns how many. The watermark only ever rises, and is kept
        for samples still to come."""
        if not watermark:
            return 0
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO confirmed VALUES (?, ?) ON CONFLICT(sensor)"
                " DO UPDATE SET seq = max(seq, excluded.seq)",
                list(watermark.items()),
            )
            before = db.total_changes
            db.executemany(
                "DELETE FROM queue WHERE sensor = ? AND seq <= ? AND qid <= ?",
                [(sensor, seq, sent_up_to) for sensor, seq in watermark.items()],
            )
            deleted = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for sensor, seq in watermark.items():
            self._confirmed[sensor] = max(seq, self._confirmed.get(sensor, seq))
        self._count -= deleted
        return deleted

    @_owned
    def delete(self, qids: Iterable[int]) -> None:
        ids = [(q,) for q in qids]
        if not ids:
            return
        db = self._db
        db.execute("BEGIN")
        before = db.total_changes
        db.executemany("DELETE FROM queue WHERE qid = ?", ids)
        self._count -= db.total_changes - before
        db.execute("COMMIT")

    # ------------------------------------------------------------------ seq reservations

    def reserved_seq(self, sensor: str) -> int:
        return self._reserved.get(sensor, 0)

    def reserve_seq(self, sensor: str, up_to: int) -> None:
        """Reserve seqs up to ``up_to``: handed to the owner without waiting, so it is on disk
        before any sample put after it (the owner keeps the order)."""
        self._reserved[sensor] = up_to
        self.submit(self._write_reservation, sensor, up_to).add_done_callback(_log_failure)

    def _write_reservation(self, sensor: str, up_to: int) -> None:
        self._db.execute(
            "INSERT INTO seq VALUES (?, ?) ON CONFLICT(sensor) DO UPDATE SET reserved = ?",
            (sensor, up_to, up_to),
        )

    def close(self) -> None:
        """Close the file once the work handed over is done (waits: call from a thread)."""
        owner = self._owner
        if owner is not None:
            owner.release()  # the work handed over runs first (it may still need us open)
            self._owner = None


def _log_failure(done: Future[Any]) -> None:
    if not done.cancelled() and (err := done.exception()) is not None:
        log.error("disk queue write failed: %s", err)


class SeqAllocator:
    """``seq`` per sensor, strictly increasing across restarts.

    Numbers are reserved in blocks of :data:`SEQ_BLOCK` (one small write per block rather
    than one per sample); after a restart a sensor continues above its last reservation, so
    numbers may skip but never repeat or go back.
    """

    def __init__(self, queue: DiskQueue, block: int = SEQ_BLOCK) -> None:
        self._queue = queue
        self._block = block
        self._next: dict[str, int] = {}
        self._limit: dict[str, int] = {}

    def next(self, sensor: str) -> int:
        seq = self._next.get(sensor)
        if seq is None:
            seq = self._queue.reserved_seq(sensor)
            self._limit[sensor] = seq
        if seq >= self._limit[sensor]:
            self._limit[sensor] = seq + self._block
            self._queue.reserve_seq(sensor, self._limit[sensor])
        self._next[sensor] = seq + 1
        return seq


def one_message(rows: list[tuple[int, Queued]]) -> list[tuple[int, Queued]]:
    """The leading rows that go out as one message: heart-rate samples up to the first
    machine sample (any sensors: an ``hr`` or ``batch`` message), or one sensor's machine
    samples for one topic (``machine`` or ``power``) up to the first other row."""
    if not rows:
        return rows
    first = rows[0][1]
    end = 1
    if isinstance(first, MachineSample):
        topic = contract.machine_topic_kind(first.kind)
        while end < len(rows):
            s = rows[end][1]
            if not (
                isinstance(s, MachineSample)
                and s.sensor == first.sensor
                and contract.machine_topic_kind(s.kind) == topic
            ):
                break
            end += 1
    else:
        while end < len(rows) and isinstance(rows[end][1], HrSample):
            end += 1
    return rows[:end]


@dataclass
class ForwarderStats:
    put: int = 0  # samples taken (each committed to disk)
    messages: int = 0  # messages the broker acknowledged
    sent: int = 0  # samples in them (a replayed sample counts again)
    replayed: int = 0  # samples sent again after a reconnect
    confirmed: int = 0  # samples deleted because a watermark (or PUBACK) covered them
    watermarks: int = 0


class Forwarder:
    """Every sample's way to the broker: on disk first, sent in order, deleted once confirmed."""

    def __init__(
        self,
        mqtt: MqttClient,
        publisher: CollectorPublisher,
        queue: DiskQueue,
        *,
        confirm: Literal["ingest", "broker"] = "ingest",
        replay_batch: int = REPLAY_BATCH,
    ) -> None:
        self.mqtt = mqtt
        self.publisher = publisher
        self.queue = queue
        self.confirm_mode = confirm
        self.replay_batch = replay_batch
        self.stats = ForwarderStats()
        self._next_qid = queue.last_qid + 1
        self._wake = asyncio.Event()
        self._closed = False
        self._connection = -1  # the connection ``_sent`` refers to
        self._sent = 0  # highest qid published on that connection
        self._sent_before = 0  # highest qid published on any earlier connection
        self._watermark_on = -1  # connection on which a watermark arrived
        self.watermark: dict[str, int] = queue.confirmed()

    @property
    def topic(self) -> str:
        return contract.stored_topic(self.publisher.site, self.publisher.collector)

    @property
    def backlog(self) -> int:
        """Samples on disk, not confirmed yet (sent or not)."""
        return len(self.queue)

    @property
    def ready(self) -> bool:
        """Connected, and (``ingest`` mode) a watermark came on this connection."""
        if not self.mqtt.connected.is_set():
            return False
        return self.confirm_mode == "broker" or self._watermark_on == self.mqtt.connect_count

    def put(self, sample: Queued) -> None:
        """Take one sample (heart rate or machine): handed to the disk queue's owner thread,
        committed there before anything handed over later runs (the sender's next read)."""
        qid = self._next_qid
        self._next_qid += 1
        self.queue.submit(self.queue.put, [(qid, sample)]).add_done_callback(_log_failure)
        self.stats.put += 1
        self._wake.set()

    async def on_watermark(self, message: Received) -> None:
        """The retained ``stored`` watermark of this collector (from ingestion)."""
        try:
            stored = contract.decode_stored(message.payload) if message.payload else None
        except contract.PayloadError as err:
            log.warning("ignoring a malformed watermark on %s: %s", message.topic, err)
            return
        if stored is not None:
            for sensor, seq in stored.seq.items():
                if seq > self.watermark.get(sensor, -1):
                    self.watermark[sensor] = seq
            # Only what this process sent: a watermark never deletes a sample it never sent
            # (a recreated state dir starts its seq under an old, higher watermark).
            sent = max(self._sent_before, self._sent)
            deleted = await self.queue.arun(self.queue.confirm, stored.seq, sent_up_to=sent)
            self.stats.confirmed += deleted
        self.stats.watermarks += 1
        self._watermark_on = max(self._watermark_on, message.connection)
        self._wake.set()

    async def watch(self, *, until: asyncio.Event | None = None) -> None:
        """Feed the watermarks the client receives to :meth:`on_watermark`."""
        async for message in self.mqtt.messages(until=until):
            if message.topic == self.topic:
                await self.on_watermark(message)

    async def run(self) -> None:
        """Send what is on disk, in order; start over from the oldest after a reconnect."""
        while not self._closed:
            if not self.ready:
                await self._idle()
                continue
            connection = self.mqtt.connect_count
            if connection != self._connection:
                self._sent_before = max(self._sent_before, self._sent)
                self._connection, self._sent = connection, 0
            head = await self.queue.arun(self.queue.head, self.replay_batch, after=self._sent)
            rows = one_message(head)
            if not rows:
                await self._idle()
                continue
            try:
                await self._publish([s for _, s in rows])
            except Exception as err:  # closed or refused: the next connection sends it again
                log.warning("publishing %d samples failed: %s", len(rows), err)
                await self._idle()
                continue
            if self.mqtt.connect_count != connection:
                continue  # acknowledged by a connection that is gone: send it again
            self._sent = rows[-1][0]
            self.stats.messages += 1
            self.stats.sent += len(rows)
            self.stats.replayed += sum(1 for q, _ in rows if q <= self._sent_before)
            if self.confirm_mode == "broker":
                await self.queue.arun(self.queue.delete, [q for q, _ in rows])
                self.stats.confirmed += len(rows)
            else:  # sent again but already covered (no new watermark will come for them)
                covered = [q for q, r in rows if r.seq <= self.watermark.get(r.sensor, -1)]
                await self.queue.arun(self.queue.delete, covered)
                self.stats.confirmed += len(covered)

    async def _publish(self, samples: list[Queued]) -> None:
        """One message: ``samples`` as :func:`one_message` chose them."""
        machines = [s for s in samples if isinstance(s, MachineSample)]
        if machines:
            await self.publisher.machines(machines)
            return
        hr = [s for s in samples if isinstance(s, HrSample)]
        if len({s.sensor for s in hr}) == 1:
            await self.publisher.samples(hr[0].sensor, hr)
        else:
            await self.publisher.batch(hr)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), 0.25)

    async def drained(self, *, until: asyncio.Event | None = None) -> None:
        """Wait until every sample taken so far is confirmed (or ``until`` is set)."""
        # Counted on the owner's thread: after every put handed over before this call.
        while await self.queue.arun(len, self.queue):
            if until is not None and until.is_set():
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop sending: whatever is not confirmed stays on disk for the next run."""
        self._closed = True
        self._wake.set()
