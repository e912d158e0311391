"""Store and forward: heart-rate samples survive broker outages and collector restarts.

Two parts share one SQLite file in the collector's ``state_dir``:

- :class:`DiskQueue`: a bounded FIFO of samples (oldest dropped first, with a persistent
  counter) and the per-sensor ``seq`` reservations (:class:`SeqAllocator`).
- :class:`Forwarder`: the path every sample takes to the broker.

The forwarder keeps the SD card of a Raspberry Pi quiet when all is well and loses nothing
when it is not:

1. Broker connected and the disk queue empty: the sample is published at once (QoS 1) and
   held in memory until the broker's PUBACK.
2. Otherwise (broker unreachable, or a backlog still on disk) the sample is appended to the
   disk queue and committed before :meth:`Forwarder.put` returns, so a SIGKILL or power cut
   of the collector loses none of them (WAL; ``synchronous=NORMAL`` keeps the commit but not
   an fsync: an OS crash may lose the last moments, a process crash loses nothing).
3. Samples still unacknowledged when the connection drops (or after ``spill_after_s``) are
   *spilled*: written to disk too. If paho's own resend delivers them after the reconnect
   their rows are deleted; if the process died first they are replayed from disk.
4. After a reconnect the backlog is replayed in arrival order (``qid``) as ``batch``
   messages, each deleted only after its PUBACK; live samples queue behind it until the
   disk is empty, so every sensor's samples reach the broker in order.

Delivery is at least once: a message the broker stored whose PUBACK was lost in a crash is
sent again. Ingestion de-duplicates on (sensor, ts), so that costs nothing downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from gympulse import contract
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.contract import HrSample
from gympulse.mqtt import MqttClient

log = logging.getLogger(__name__)

SEQ_BLOCK = 1000  # seq numbers reserved per disk write; a restart skips the unused rest
REPLAY_BATCH = 200  # samples per replayed batch message (~20 kB, far below the 64 kB cap)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    qid INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    ts INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seq (sensor TEXT PRIMARY KEY, reserved INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_sample_decoder = msgspec.json.Decoder(HrSample)


class DiskQueue:
    """A bounded, persistent FIFO of samples keyed by arrival order (``qid``)."""

    def __init__(self, path: str | Path, max_samples: int) -> None:
        if max_samples < 1:
            raise ValueError("the disk queue must hold at least one sample")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_samples = max_samples
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COUNT(*), COALESCE(MAX(qid), 0) FROM queue").fetchone()
        self._count: int = row[0]
        self.last_qid: int = row[1]
        self.dropped: int = self._counter("dropped")

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        return self._count

    def put(self, items: Iterable[tuple[int, HrSample]]) -> int:
        """Append (qid, sample) pairs in one transaction; returns how many old ones it dropped."""
        rows = [(qid, s.sensor, s.ts, contract.encode(s)) for qid, s in items]
        if not rows:
            return 0
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR IGNORE INTO queue VALUES (?, ?, ?, ?)", rows)
            count = db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
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

    def head(self, limit: int) -> list[tuple[int, HrSample]]:
        rows = self._db.execute(
            "SELECT qid, payload FROM queue ORDER BY qid LIMIT ?", (limit,)
        ).fetchall()
        return [(qid, _sample_decoder.decode(payload)) for qid, payload in rows]

    def delete(self, qids: Iterable[int]) -> None:
        ids = [(q,) for q in qids]
        if not ids:
            return
        self._db.execute("BEGIN")
        self._db.executemany("DELETE FROM queue WHERE qid = ?", ids)
        self._db.execute("COMMIT")
        self._count = int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    # ------------------------------------------------------------------ seq reservations

    def reserved_seq(self, sensor: str) -> int:
        row = self._db.execute("SELECT reserved FROM seq WHERE sensor = ?", (sensor,)).fetchone()
        return int(row[0]) if row else 0

    def reserve_seq(self, sensor: str, up_to: int) -> None:
        self._db.execute(
            "INSERT INTO seq VALUES (?, ?) ON CONFLICT(sensor) DO UPDATE SET reserved = ?",
            (sensor, up_to, up_to),
        )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()


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


@dataclass
class ForwarderStats:
    live: int = 0  # published straight away
    queued: int = 0  # went to disk first
    spilled: int = 0  # sent, unacknowledged, then written to disk
    replayed: int = 0  # delivered from disk
    replay_messages: int = 0


@dataclass
class _InFlight:
    sample: HrSample
    task: asyncio.Task[None]
    sent: float
    spilled: bool = False


class Forwarder:
    """Every sample's way to the broker: live when possible, through the disk when not."""

    def __init__(
        self,
        mqtt: MqttClient,
        publisher: CollectorPublisher,
        queue: DiskQueue,
        *,
        spill_after_s: float = 2.0,
        replay_batch: int = REPLAY_BATCH,
    ) -> None:
        self.mqtt = mqtt
        self.publisher = publisher
        self.queue = queue
        self.spill_after_s = spill_after_s
        self.replay_batch = replay_batch
        self.stats = ForwarderStats()
        self._next_qid = queue.last_qid + 1
        self._inflight: dict[int, _InFlight] = {}
        self._wake = asyncio.Event()
        self._closed = False

    @property
    def backlog(self) -> int:
        return len(self.queue)

    @property
    def unacknowledged(self) -> int:
        return len(self._inflight)

    def put(self, sample: HrSample) -> None:
        """Take one sample; returns once it is either handed to MQTT or committed to disk."""
        qid = self._next_qid
        self._next_qid += 1
        if self.mqtt.connected.is_set() and not self.queue and not self._closed:
            task = asyncio.ensure_future(self.publisher.samples(sample.sensor, [sample]))
            self._inflight[qid] = _InFlight(sample, task, time.monotonic())
            task.add_done_callback(functools.partial(self._acknowledged, qid))
            self.stats.live += 1
        else:
            self.queue.put([(qid, sample)])
            self.stats.queued += 1
            self._wake.set()

    def _acknowledged(self, qid: int, task: asyncio.Task[None]) -> None:
        entry = self._inflight.pop(qid, None)
        if entry is None:
            return
        failed = task.cancelled() or task.exception() is not None
        if failed:
            if not entry.spilled:
                self.queue.put([(qid, entry.sample)])
                self.stats.spilled += 1
            self._wake.set()
        elif entry.spilled:
            self.queue.delete([qid])

    def spill(self, *, older_than_s: float = 0.0) -> int:
        """Write unacknowledged samples (sent at least ``older_than_s`` ago) to disk."""
        cutoff = time.monotonic() - older_than_s
        todo = [(qid, e) for qid, e in self._inflight.items() if not e.spilled and e.sent <= cutoff]
        if todo:
            self.queue.put([(qid, e.sample) for qid, e in todo])
            for _, entry in todo:
                entry.spilled = True
            self.stats.spilled += len(todo)
            log.info("spilled %d unacknowledged samples to disk", len(todo))
        return len(todo)

    async def run(self) -> None:
        """Spill what the broker does not acknowledge, replay the backlog when it is back."""
        while not self._closed:
            if not self.mqtt.connected.is_set():
                self.spill()
            else:
                self.spill(older_than_s=self.spill_after_s)
                if self.queue and await self._replay_once():
                    continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25)

    async def _replay_once(self) -> bool:
        """Send the oldest batch from disk; True when one was delivered."""
        rows = self.queue.head(self.replay_batch)
        # Samples older than the backlog's head that are still with paho (sent before the
        # outage) go first: paho resends them on reconnect. Wait for them to settle.
        pending = [e.task for q, e in self._inflight.items() if rows and q <= rows[-1][0]]
        if pending:
            await asyncio.wait(pending, timeout=1.0)
            return True
        if not rows:
            return False
        samples = [s for _, s in rows]
        try:
            await self.publisher.batch(samples)
        except Exception as err:  # the client closed or the broker refused: keep the rows
            log.warning("replay of %d samples failed: %s", len(samples), err)
            await asyncio.sleep(0.5)
            return False
        self.queue.delete(q for q, _ in rows)
        self.stats.replayed += len(rows)
        self.stats.replay_messages += 1
        if not self.queue:
            log.info(
                "backlog replayed: %d samples in %d messages",
                self.stats.replayed,
                self.stats.replay_messages,
            )
        return True

    async def close(self) -> None:
        """Stop: everything not acknowledged is on disk afterwards."""
        self._closed = True
        self.spill()
        self._wake.set()
