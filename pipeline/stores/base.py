"""The store boundary: one lifecycle for every backend, two roles.

:class:`SampleStore` holds the time series (samples, machine samples, quarantine);
:class:`TableStore` holds the derived tables of the analytics; :class:`Store` is both, what
the built-in backends (SQLite, InfluxDB) implement.

``open`` -> ``write`` (batch) / ``query_*`` / ``write_rows`` / ``read_rows`` /
``delete_rows`` -> ``close``;
never a write after close. Implementations are chosen by settings through the explicit
registry in :mod:`gympulse.pipeline.stores` (no import side effects).

Identity data (athletes, straps, assignments, schedule, accounts) is not time series and
lives in the :class:`gympulse.pipeline.registry.Registry` (SQLite), whatever the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import polars as pl


@dataclass(frozen=True, slots=True)
class StoredSample:
    """A validated sample with the context ingestion resolved for it.

    ``pct_max`` (integer % of the athlete's effective HRmax, rounded half up) and ``zone``
    (0–5) are stamped at ingest by :func:`gympulse.pipeline.domain.effort_stamp` from the
    athlete's profile as it was then; both are None when the strap is unassigned.
    """

    site: str
    collector: str
    sensor: str
    ts: int
    seq: int
    bpm: int
    rr_ms: tuple[int, ...]
    contact: bool | None
    energy_kj: int | None
    athlete_id: int | None
    pct_max: int | None = None
    zone: int | None = None


QUARANTINE_PREFIX_BYTES = 4096  # of a payload kept in quarantine; size and hash say the rest


def _text(value: str) -> str:
    """Text every store can encode (a lone surrogate cannot be written as UTF-8)."""
    return value.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class StoredMachineSample:
    """A validated machine / power sample (wire contract machine extension) with the athlete
    whose machine it was at ``ts`` (assigned like a strap; None when unassigned)."""

    site: str
    collector: str
    sensor: str
    ts: int
    seq: int
    kind: str
    power_w: int | None
    cadence: float | None
    speed_kmh: float | None
    distance_m: int | None
    split_s: int | None
    pace_s: int | None
    heart_rate: int | None
    energy_kcal: int | None
    athlete_id: int | None


# Columns of the frame returned by Store.query_machine.
MACHINE_COLUMNS: Mapping[str, type[pl.DataType] | pl.DataType] = {
    "sensor": pl.String,
    "athlete_id": pl.Int64,
    "ts": pl.Int64,
    "kind": pl.String,
    "power_w": pl.Int32,
    "cadence": pl.Float64,
    "speed_kmh": pl.Float64,
    "distance_m": pl.Int64,
    "split_s": pl.Int32,
    "pace_s": pl.Int32,
    "heart_rate": pl.Int32,
    "energy_kcal": pl.Int32,
}
MACHINE_VALUES = tuple(MACHINE_COLUMNS)[4:]  # the measured columns, after the kind


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """A message (or one sample of it) that could not be stored as samples, and why.

    Built from the whole payload, a row keeps its first :data:`QUARANTINE_PREFIX_BYTES`,
    its ``size`` and ``sha256`` (so 20 × 10 MB of junk cost 20 × 4 kB, and a copy can still
    be matched); read back from a store, those three come as stored. ``key`` names the
    content (topic, payload, what was wrong with it); a row with ``once`` set is not stored
    when a row with its key is (a retained message the broker sends again on every
    subscribe is quarantined once).
    """

    received_ms: int
    topic: str
    payload: bytes
    reason: str
    detail: str
    size: int = -1  # bytes of the whole payload; -1 when built: taken from ``payload``
    sha256: str = ""  # hex digest of the whole payload; "" when built: computed
    key: str | None = None
    once: bool = False

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.payload).hexdigest())
            object.__setattr__(self, "size", len(self.payload))
            object.__setattr__(self, "payload", self.payload[:QUARANTINE_PREFIX_BYTES])
        object.__setattr__(self, "topic", _text(self.topic))
        object.__setattr__(self, "detail", _text(self.detail)[:2000])


@dataclass
class WriteBatch:
    samples: list[StoredSample] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    machine: list[StoredMachineSample] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples) + len(self.quarantine) + len(self.machine)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """``stored``: new samples; ``duplicates``: samples whose (sensor, ts) existed already
    (heart-rate and machine samples together)."""

    stored: int
    duplicates: int
    quarantined: int


class StoreUnavailable(RuntimeError):
    """The store cannot take writes right now (down, timing out); retry later, do not ack."""


def rr_text(rr: Sequence[int]) -> str:
    """RR intervals as both stores keep them: ms, comma-separated ("" for none)."""
    return ",".join(map(str, rr))


def rr_from_text(column: str = "rr") -> pl.Expr:
    """The inverse of :func:`rr_text` on a text column: a list of ints (``rr_ms``)."""
    return (
        pl.when(pl.col(column) == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col(column).str.split(","))
        .cast(pl.List(pl.Int32))
        .alias("rr_ms")
    )


# Columns of the frame returned by Store.query_samples.
SAMPLE_COLUMNS: Mapping[str, type[pl.DataType] | pl.DataType] = {
    "sensor": pl.String,
    "athlete_id": pl.Int64,
    "ts": pl.Int64,
    "bpm": pl.Int32,
    "rr_ms": pl.List(pl.Int32),
    "contact": pl.Boolean,
}


class StoreLifecycle(Protocol):
    """Open once, use, close once; never a write after close."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class SampleStore(StoreLifecycle, Protocol):
    """The time-series role: samples in (idempotent on (sensor, ts)), windows of samples
    out, the quarantine, and re-stamping after a corrected assignment. All methods are
    coroutines so network stores never block the loop."""

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Durably write a batch. Idempotent on (sensor, ts). Raises StoreUnavailable."""
        ...

    async def query_samples(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        """Samples with start_ms <= ts < end_ms as a frame with :data:`SAMPLE_COLUMNS`,
        sorted by (sensor, ts)."""
        ...

    async def count_samples(self) -> int: ...

    async def query_machine(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        """Machine samples with start_ms <= ts < end_ms as a frame with
        :data:`MACHINE_COLUMNS`, sorted by (sensor, ts)."""
        ...

    async def sample_time_range(self) -> tuple[int, int] | None:
        """(oldest ts, newest ts) of the stored samples in epoch ms, both inclusive; None
        when there are none. Lets a reader walk all samples in bounded windows (the CSV
        export) instead of one query over all time."""
        ...

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]: ...

    async def reassign(
        self,
        sensor: str,
        start_ms: int,
        end_ms: int,
        athlete_id: int | None,
        *,
        hr_max: float | None = None,
    ) -> int:
        """Re-stamp stored samples of ``sensor`` in [start_ms, end_ms) with ``athlete_id``
        (a corrected assignment). Returns the number of samples changed. The changed samples
        get ``pct_max``/``zone`` recomputed from their bpm and ``hr_max`` (the new athlete's
        effective HRmax); without ``hr_max`` (or to unassigned) they are cleared, never left
        with the previous athlete's percentages."""
        ...


class TableStore(StoreLifecycle, Protocol):
    """The derived-table role: rows the analytics compute (session summaries, daily
    metrics, ...), upserted by key columns and read back with their polars types."""

    async def write_rows(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        """Upsert derived rows (session summaries, daily metrics, ...) by ``key`` columns."""
        ...

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        """Derived rows, optionally filtered by column equality. Empty frame if none."""
        ...

    async def delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        """Delete the derived rows of ``table`` whose columns equal every value of ``where``
        (at least one condition: an empty ``where`` raises ValueError rather than emptying
        the table; an unknown column raises ValueError too). A ``datetime.date`` value
        matches a ``Date`` column. Returns the number of rows deleted, or -1 when the
        backend cannot tell (neither built-in backend returns -1); 0 when the table does
        not exist."""
        ...


# (sensor, start_ms, end_ms): a strap worn by one person in [start_ms, end_ms).
Window = tuple[str, int, int]
# How long after a window's end a quarantined message of that strap is still taken to be
# one of its samples (a collector replays its backlog late).
QUARANTINE_SLACK_MS = 7 * 86_400_000


_SENSOR_CHARS = rb"a-z0-9-"  # a sensor id's characters (it is a topic level)


def names_sensor(sensor: str, topic: str, payload: bytes) -> bool:
    """Whether a quarantined message is one of ``sensor``'s: the sensor is a level of its
    topic, or the payload names it as a whole id (``strap-4`` is not ``strap-40``)."""
    if sensor in topic.split("/"):
        return True
    whole = rb"(?<![%s])%s(?![%s])" % (_SENSOR_CHARS, re.escape(sensor.encode()), _SENSOR_CHARS)
    return re.search(whole, payload) is not None


@runtime_checkable
class ErasingStore(Protocol):
    """Erasure and retention of raw data (guests' rights, ``docs/privacy.md``)."""

    async def erase_samples(self, athlete_id: int, windows: Sequence[Window]) -> int:
        """Delete every raw sample of one person: heart-rate and machine samples stamped
        with ``athlete_id``, every sample of each (sensor, start, end) window whatever it
        is stamped with, and quarantined messages that name the window's sensor
        (:func:`names_sensor`) and arrived from its start until :data:`QUARANTINE_SLACK_MS`
        after its end. Returns the number of rows deleted (-1 when the backend cannot
        tell)."""
        ...

    async def quarantine_of(self, windows: Sequence[Window]) -> list[QuarantineRow]:
        """The quarantined messages :meth:`erase_samples` would delete for ``windows``
        (:func:`names_sensor`, received from a window's start until
        :data:`QUARANTINE_SLACK_MS` after its end): the export's ``quarantine`` file."""
        ...

    async def delete_samples_before(self, cutoff_ms: int) -> int:
        """Retention: delete raw samples (heart rate, machine) and quarantined messages
        older than ``cutoff_ms``. Returns rows deleted (-1 when the backend cannot tell)."""
        ...


class Store(SampleStore, TableStore, Protocol):
    """Both roles in one backend: what the registry in :mod:`gympulse.pipeline.stores`
    builds. Code that needs only one role asks for :class:`SampleStore` or
    :class:`TableStore`, so a backend that only holds samples can serve it."""
