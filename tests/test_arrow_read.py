"""``SqliteStore.query_samples`` through Arrow (pipeline/stores/arrow_read.py): the same frame
as the row read it replaces, on the owner's thread, from committed data, one snapshot a read.

The reference is the row read as it was before (``sqlite3`` ``fetchall`` of the same SQL into
:func:`samples_frame`) on its own connection to the same file. A second process writes
through the real store while 30 readers read (tests/test_arrow_read.py's writer script)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gympulse.pipeline.stores import arrow_read
from gympulse.pipeline.stores.arrow_read import ArrowReader
from gympulse.pipeline.stores.base import SAMPLE_COLUMNS, StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore, samples_frame
from gympulse.sqlite_owner import transaction

T0 = 1_709_510_400_000  # 2024-03-04 00:00 UTC
ROOT = Path(__file__).resolve().parents[1]


def row_read(
    db: Path,
    start_ms: int,
    end_ms: int,
    sensors: Sequence[str] | None = None,
    athlete_ids: Sequence[int] | None = None,
) -> pl.DataFrame:
    """The read before Arrow: sqlite3 rows of the same WHERE ... ORDER BY sensor, ts."""
    sql = "SELECT sensor, athlete_id, ts, bpm, rr, contact FROM samples WHERE ts >= ? AND ts < ?"
    params: list[object] = [start_ms, end_ms]
    if sensors is not None:
        sql += f" AND sensor IN ({','.join('?' * len(sensors))})"
        params += list(sensors)
    if athlete_ids is not None:
        sql += f" AND athlete_id IN ({','.join('?' * len(athlete_ids))})"
        params += list(athlete_ids)
    conn = sqlite3.connect(db)
    try:
        return samples_frame(conn.execute(sql + " ORDER BY sensor, ts", params).fetchall())
    finally:
        conn.close()


def sample(
    sensor: str,
    ts: int,
    bpm: int,
    rr: tuple[int, ...],
    contact: bool | None,
    athlete_id: int | None,
) -> StoredSample:
    return StoredSample("gym", "c1", sensor, ts, ts // 1000, bpm, rr, contact, None, athlete_id)


class Spy:
    """Records, for every columnar read, the thread it ran on and whether it answered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[str] = []
        self.answered: list[bool] = []
        real = ArrowReader.read

        def read(reader: ArrowReader, *args: object) -> pl.DataFrame | None:
            self.threads.append(threading.current_thread().name)
            frame = real(reader, *args)  # type: ignore[arg-type]
            self.answered.append(frame is not None)
            return frame

        monkeypatch.setattr(ArrowReader, "read", read)


def varied_samples() -> list[StoredSample]:
    """Every kind of value a sample column holds, on straps whose ids sort as bytes."""
    out: list[StoredSample] = []
    # An unassigned strap longer than one Arrow batch, then assigned: athlete_id is NULL
    # for the whole first batch the driver types the column from.
    n = arrow_read.BATCH_ROWS + 500
    for i in range(n):
        out.append(sample("0a", T0 + i * 1000, 60 + i % 120, (), None, None if i < n - 400 else 4))
    for k, sensor in enumerate(["A1", "a1", "b-ä", "zz"]):
        for i in range(3000):
            contact = (None, True, False)[(i + k) % 3]
            rr = () if i % 5 == 0 else tuple(600 + (i * 7 + j) % 400 for j in range(1 + i % 3))
            athlete = None if i % 11 == 0 else k + 1
            out.append(sample(sensor, T0 + i * 1000 + k, 50 + (i + k) % 150, rr, contact, athlete))
    return out


async def test_columnar_read_is_the_row_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "gympulse.db"
    store = SqliteStore(db)
    await store.open()
    spy = Spy(monkeypatch)
    try:
        samples = varied_samples()
        for i in range(0, len(samples), 5000):
            await store.write(WriteBatch(samples[i : i + 5000]))
        end = T0 + 80_000_000
        cases: list[tuple[int, int, list[str] | None, list[int] | None]] = [
            (0, 2**62, None, None),  # everything
            (T0 + 1_000_000, T0 + 2_000_000, None, None),  # a short window (ts index)
            (T0 + 1_000_000, T0 + 1_000_000 + arrow_read.SHORT_MS + 1, None, None),  # per strap
            (T0, end, ["zz", "A1", "missing"], None),  # some straps, unsorted
            (T0, end, None, [2, 4]),  # some athletes (their index)
            (T0, end, ["a1", "b-ä"], [2]),  # both
            (T0 + 10**9, T0 + 2 * 10**9, None, None),  # nothing
            (T0, end, [], None),  # an empty strap list
        ]
        for lo, hi, sensors, athletes in cases:
            got = await store.query_samples(lo, hi, sensors=sensors, athlete_ids=athletes)
            want = row_read(db, lo, hi, sensors, athletes)
            assert got.schema == pl.Schema(SAMPLE_COLUMNS)
            assert_frame_equal(got, want)
        full = await store.query_samples(0, 2**62)
        assert full.height == len(samples)
        assert full["contact"].value_counts().height == 3  # true, false and null
        assert full["athlete_id"].null_count() > arrow_read.BATCH_ROWS
        assert full.filter(pl.col("rr_ms").list.len() == 0).height > arrow_read.BATCH_ROWS
        assert full["rr_ms"].list.len().max() == 3
    finally:
        await store.close()
    # Every read went through Arrow (no fallback), each on the store's owner thread.
    assert spy.answered == [True] * (len(cases) + 1)
    assert set(spy.threads) == {"sqlite-owner:gympulse.db"}


class Undo(Exception):
    pass


async def test_inside_an_open_transaction_the_read_sees_its_own_rows(tmp_path: Path) -> None:
    """Work already running in a transaction on the owner's connection (one method calling
    another) reads there: its uncommitted rows are invisible to any other connection."""
    store = SqliteStore(tmp_path / "gympulse.db")
    await store.open()
    try:
        await store.write(WriteBatch([sample("s1", T0, 70, (850,), True, 1)]))

        seen: list[int] = []

        def inside(conn: sqlite3.Connection) -> int:
            try:
                with transaction(conn):
                    store._write(WriteBatch([sample("s1", T0 + 1000, 71, (840,), True, 1)]))
                    seen.append(store._query_samples(0, 2**62, None, None).height)
                    raise Undo  # rolled back: nothing is left behind
            except Undo:
                pass
            return store._query_samples(0, 2**62, None, None).height

        assert store._owner is not None
        assert await store._owner.arun(inside) == 1
        assert seen == [2]
    finally:
        await store.close()


WRITER = """
import asyncio, sys
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore

async def main(db, straps, batches, t0):
    store = SqliteStore(db)
    await store.open()
    for b in range(batches):
        ts = t0 + b * 1000
        rows = [StoredSample("gym", "c1", f"s{k:02d}", ts, b, 60 + (b + k) % 100, (900 - k,),
                             bool(b % 2), None, k + 1) for k in range(straps)]
        await store.write(WriteBatch(rows))
        print(b, flush=True)
    await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""


async def test_30_readers_while_another_process_writes(tmp_path: Path) -> None:
    """Ingestion (another process) commits one transaction per batch, each with one sample
    of every strap at the same ts: every read must be one snapshot (all straps the same
    number of samples), hold at least what was committed before it began and at most what
    was committed when it ended, sorted by (sensor, ts) without a doubled row."""
    straps, batches = 12, 400
    db = tmp_path / "gympulse.db"
    store = SqliteStore(db)
    await store.open()
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(db), str(straps), str(batches), str(T0),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert writer.stdout is not None
    written = 0  # batches the writer has reported committed

    async def follow() -> None:
        nonlocal written
        assert writer.stdout is not None
        while line := await writer.stdout.readline():
            written = int(line) + 1

    heights: list[int] = []

    async def reader() -> None:
        while written < batches:
            before = written
            frame = await store.query_samples(0, 2**62)
            after = await store.count_samples()
            per_strap = frame.group_by("sensor").len()["len"].unique().to_list()
            assert frame.height == 0 or per_strap == [frame.height // straps], per_strap
            assert before * straps <= frame.height <= after
            assert frame.select("sensor", "ts").is_unique().all()
            assert frame.equals(frame.sort("sensor", "ts"))
            heights.append(frame.height)

    following = asyncio.create_task(follow())
    try:
        await asyncio.gather(*(reader() for _ in range(30)))
        assert await writer.wait() == 0
        await following
        final = await store.query_samples(0, 2**62)
        assert final.height == straps * batches
        assert_frame_equal(final, row_read(db, 0, 2**62))
    finally:
        if writer.returncode is None:
            writer.kill()
            await writer.wait()
        await store.close()
    # The reads overlapped the writes: some saw part of the batches.
    assert any(0 < h < straps * batches for h in heights)


async def test_a_value_the_driver_types_otherwise_is_read_as_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A REAL stored among a column's INTEGERs (written by hand, not by gympulse): in the
    first Arrow batch the driver reports a float column, after it a type mismatch; either
    way the store reads the rows, and the frame is the row read's (72.5 bpm is 72 in both)."""
    db = tmp_path / "gympulse.db"
    store = SqliteStore(db)
    await store.open()
    spy = Spy(monkeypatch)
    try:
        n = arrow_read.BATCH_ROWS + 100
        batch = [sample("s1", T0 + i * 1000, 70, (850,), True, 1) for i in range(20)]
        batch += [sample("s2", T0 + i * 1000, 80, (750,), False, 2) for i in range(n)]
        await store.write(WriteBatch(batch))
        conn = sqlite3.connect(db)
        with conn:
            conn.execute("UPDATE samples SET bpm = 72.5 WHERE sensor = 's1' AND ts = ?", (T0,))
            conn.execute(
                "UPDATE samples SET athlete_id = 2.5 WHERE sensor = 's2' AND ts = ?",
                (T0 + (n - 1) * 1000,),
            )
        conn.close()
        for sensors in (["s1"], ["s2"], None):
            got = await store.query_samples(0, 2**62, sensors=sensors)
            assert_frame_equal(got, row_read(db, 0, 2**62, sensors))
        assert (await store.query_samples(0, 2**62, sensors=["s1"]))["bpm"][0] == 72
    finally:
        await store.close()
    assert spy.answered == [False, False, False, False]
