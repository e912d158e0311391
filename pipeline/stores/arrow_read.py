"""Samples out of SQLite as Arrow columns (ADBC), for the analytics' large reads.

``sqlite3``'s ``fetchall`` builds a Python tuple and six Python objects per sample, then
polars takes them apart again: reading a week of 100 athletes that way spent about 80 % of
``gympulse analyze --full``. The ADBC SQLite driver steps the statement in C and appends each
value to an Arrow column, which polars adopts through the Arrow C stream interface (no
pyarrow: its import alone took longer than a week's read) (``bench/bench_sample_read.py``
measures both on the same store).

Rules this keeps (``gympulse.sqlite_owner``):

- **One owner per file per process.** The reader's connection is a second, *read-only*
  connection (``mode=ro``) of the store, opened, used and closed only inside work on the
  store's owner thread, so nothing reads on an event loop and nothing writes through it.
- **Committed data, one snapshot.** The file is in WAL mode, so the read sees what was
  committed when it began and never waits for the writer. A read is one ``BEGIN`` …
  ``ROLLBACK`` (explicit statements) on the reader's connection: the queries of one read (one
  per strap) share a snapshot, and the next read starts a new one (never a stale snapshot
  left open between reads).
- **Same frame.** The columns are cast to the row path's types and then go through the same
  expressions (:func:`gympulse.pipeline.stores.sqlite.samples_frame`), so the frame has
  :data:`SAMPLE_COLUMNS` and the same values (``tests/test_arrow_read.py`` compares both reads).

The strap's samples are read one strap at a time through the ``(sensor, ts)`` primary key
(a range scan already in order: no sort, and no per-sample ``sensor`` string to extract;
the strap id is one literal per part). Without a strap list the straps come from a loose
index scan of the key (one probe per strap), not from the ``ts`` index, which in a
``WITHOUT ROWID`` table costs a key lookup per sample plus a sort. That cost is small for a
short window (up to :data:`SHORT_MS`) and for some athletes' samples (their index): those are
one statement, so a reader of many short windows does not query every strap for each.

When the driver cannot say a column's type the way the row path does (its types come from
the values of the first batch: a column stored with a REAL or TEXT among INTEGERs), or the
driver fails, :meth:`ArrowReader.read` returns ``None`` and the store reads the rows as before:
slower, never different.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import adbc_driver_manager as adbc
import adbc_driver_sqlite
import polars as pl

log = logging.getLogger(__name__)

# Rows per Arrow batch the driver builds (its default is 1,024; larger batches mean fewer
# chunks for polars to stitch and fewer type checks, at a few MB per batch).
BATCH_ROWS = 65_536
BUSY_MS = 30_000
# A window of every strap this short or shorter is one statement through the ts index.
SHORT_MS = 6 * 3_600_000

# The raw column types the reader hands to samples_frame: what the driver reports for an
# INTEGER / TEXT column (an all-NULL column is reported as int64, also what we want).
_RAW: dict[str, pl.DataType] = {
    "athlete_id": pl.Int64(),
    "ts": pl.Int64(),
    "bpm": pl.Int64(),
    "rr": pl.String(),
    "contact": pl.Int64(),
}

# Every strap id in the store, in the key's order, one index probe each.
_SENSORS = (
    "WITH RECURSIVE s(sensor) AS (SELECT min(sensor) FROM samples UNION ALL"
    " SELECT (SELECT min(sensor) FROM samples WHERE sensor > s.sensor) FROM s"
    " WHERE s.sensor IS NOT NULL) SELECT sensor FROM s WHERE sensor IS NOT NULL"
)


class ArrowReader:
    """A read-only ADBC connection to one store file, used only on its owner thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: adbc.AdbcDatabase | None = None
        self._conn: adbc.AdbcConnection | None = None
        self._warned = False

    def _connection(self) -> adbc.AdbcConnection:
        if self._conn is None:
            self._db = adbc_driver_sqlite.connect(self.path.resolve().as_uri() + "?mode=ro")
            self._conn = adbc.AdbcConnection(self._db)
            self._query(f"PRAGMA busy_timeout={BUSY_MS}")
        return self._conn

    def _query(self, sql: str, params: pl.DataFrame | None = None) -> pl.DataFrame:
        """One statement; ``params``: one row, a column per ``?`` (bound as Arrow)."""
        assert self._conn is not None
        stmt = adbc.AdbcStatement(self._conn)
        try:
            stmt.set_options(**{"adbc.sqlite.query.batch_rows": BATCH_ROWS})
            stmt.set_sql_query(sql)
            if params is not None:
                stmt.bind_stream(params)
            stream, _ = stmt.execute_query()
            return pl.DataFrame(stream)  # through __arrow_c_stream__, read to its end
        finally:
            stmt.close()

    def read(
        self,
        start_ms: int,
        end_ms: int,
        sensors: Sequence[str] | None,
        athlete_ids: Sequence[int] | None,
    ) -> pl.DataFrame | None:
        """The raw (sensor, athlete_id, ts, bpm, rr, contact) frame in (sensor, ts) order,
        or ``None`` when the row path has to read it (see the module docstring)."""
        try:
            self._connection()
            self._query("BEGIN")  # one snapshot for all straps of this read
            try:
                return self._read(start_ms, end_ms, sensors, athlete_ids)
            finally:
                self._query("ROLLBACK")
        except (adbc.Error, pl.exceptions.PolarsError, OSError) as err:
            self.close()  # a fresh connection next time
            if not self._warned:
                log.warning("%s: columnar sample read failed (%s); reading rows", self.path, err)
                self._warned = True
            return None

    def _read(
        self,
        start_ms: int,
        end_ms: int,
        sensors: Sequence[str] | None,
        athlete_ids: Sequence[int] | None,
    ) -> pl.DataFrame | None:
        window: dict[str, object] = {"lo": start_ms, "hi": end_ms}
        whose, athletes = "", dict[str, object]()
        if athlete_ids is not None:
            athletes = {f"a{i}": a for i, a in enumerate(athlete_ids)}
            whose = f" AND athlete_id IN ({','.join('?' * len(athletes))})"
        if sensors is None and (athlete_ids is not None or end_ms - start_ms <= SHORT_MS):
            # Some athletes' samples: their (athlete_id, ts) index; a short window of every
            # strap (a morning reading's minutes): the ts index. One statement, as the row
            # path, rather than one per strap the store has ever seen.
            frame = self._query(
                "SELECT sensor, athlete_id, ts, bpm, rr, contact FROM samples"
                f" WHERE ts >= ? AND ts < ?{whose} ORDER BY sensor, ts",
                _params(window | athletes),
            )
            return _checked(frame, sensor=True)
        if sensors is None:
            straps = self._query(_SENSORS).get_column("sensor").to_list()
        else:
            straps = sorted(set(sensors))  # code point order = SQLite's BINARY order
        sql = (
            "SELECT athlete_id, ts, bpm, rr, contact FROM samples"
            f" WHERE sensor = ? AND ts >= ? AND ts < ?{whose} ORDER BY ts"
        )
        parts: list[pl.DataFrame] = []
        for sensor in straps:
            part = _checked(
                self._query(sql, _params({"s": sensor} | window | athletes)), sensor=False
            )
            if part is None:
                return None
            if part.height:
                parts.append(part.with_columns(pl.lit(sensor, pl.String).alias("sensor")))
        if not parts:
            return _empty()
        # One contiguous frame, as the row read gives: the driver's buffers go at once, and
        # the analytics do not copy a frame of one chunk per strap again (analyze --full at
        # 100 athletes: peak 907 MB instead of 1,077 MB, the row read's 1,074 MB).
        return pl.concat(parts, rechunk=True).select("sensor", *_RAW)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        db, self._db = self._db, None
        for handle in (conn, db):
            if handle is not None:
                try:
                    handle.close()
                except adbc.Error:
                    log.debug("%s: closing the columnar reader failed", self.path, exc_info=True)


def _params(values: Mapping[str, object]) -> pl.DataFrame:
    """One row of parameters, in order: text as String, numbers as Int64."""
    return pl.DataFrame(
        {k: [v] for k, v in values.items()},
        schema={k: pl.String if isinstance(v, str) else pl.Int64 for k, v in values.items()},
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"sensor": pl.String(), **_RAW})


def _checked(frame: pl.DataFrame, *, sensor: bool) -> pl.DataFrame | None:
    """The driver's frame when its columns have the raw types (an empty result has none
    to speak of), else ``None``: a value the driver types differently (the row path)."""
    if frame.height == 0:
        return _empty() if sensor else frame
    want = {"sensor": pl.String(), **_RAW} if sensor else _RAW
    if any(frame.schema.get(c) != t for c, t in want.items()):
        return None
    return frame
