"""The disk queue and seq reservations: bounded, drop-oldest with a counter, restart-proof."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

from gympulse import contract
from gympulse.collectors.buffer import DiskQueue, Queued, SeqAllocator, one_message
from gympulse.contract import HrSample, MachineKind, MachineSample
from gympulse.pipeline.stores.base import StoredMachineSample
from gympulse.pipeline.watermarks import Watermarks
from tests.support.virtual_straps import StrapField

REPO = Path(__file__).resolve().parent.parent
EVERY = 1 << 62  # sent_up_to: every sample counts as sent


def sample(i: int, sensor: str = "strap-1") -> HrSample:
    return HrSample(sensor=sensor, ts=1_700_000_000_000 + i, seq=i, bpm=60 + i % 100, rr_ms=[800])


def test_queue_is_fifo_bounded_and_drops_oldest_with_a_counter(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite3", max_samples=5)
    assert q.put((i, sample(i)) for i in range(1, 4)) == 0
    assert q.put((i, sample(i)) for i in range(4, 9)) == 3
    assert len(q) == 5
    assert [qid for qid, _ in q.head(10)] == [4, 5, 6, 7, 8]
    assert q.head(10)[0][1] == sample(4)
    assert q.dropped == 3
    q.delete([4, 5])
    assert [qid for qid, _ in q.head(10)] == [6, 7, 8]
    q.close()

    again = DiskQueue(tmp_path / "q.sqlite3", max_samples=5)  # a restart
    assert [s for _, s in again.head(10)] == [sample(6), sample(7), sample(8)]
    assert again.dropped == 3
    assert again.last_qid == 8
    again.close()


def test_seq_strictly_increases_across_restarts(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite3", max_samples=10)
    seqs = SeqAllocator(q, block=4)
    first = [seqs.next("a") for _ in range(6)]
    assert first == [0, 1, 2, 3, 4, 5]
    assert seqs.next("b") == 0
    q.close()  # a SIGKILL loses nothing that matters: the reservation is on disk

    q = DiskQueue(tmp_path / "q.sqlite3", max_samples=10)
    seqs = SeqAllocator(q, block=4)
    after = [seqs.next("a") for _ in range(3)]
    assert after[0] > first[-1]
    assert after == sorted(set(after))
    q.close()


async def test_scan_command_lists_straps_as_json(tmp_path: Path) -> None:

    field = StrapField(3, rate_hz=1)
    await field.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gympulse.cli",
            "scan",
            "--json",
            "--seconds",
            "0.5",
            "--transport",
            field.transport,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        out, err = await proc.communicate()
    finally:
        await field.stop()
    assert proc.returncode == 0, err.decode()
    rows = json.loads(out)
    assert sorted(r["address"] for r in rows) == sorted(s.address_text for s in field.straps)
    for row in rows:
        assert row["name"].startswith("SIM HR")
        assert row["battery_pct"] == 87
        assert isinstance(row["rssi"], int)


async def test_collect_without_an_adapter_says_so(tmp_path: Path) -> None:

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.cli",
        "collect",
        "--transport",
        "tcp-client:127.0.0.1:9",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "GYMPULSE_MQTT__URL": "mqtt://127.0.0.1:9",
            "GYMPULSE_COLLECTOR__STATE_DIR": str(tmp_path / "state"),
        },
    )
    _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 3
    assert "no MQTT broker at 127.0.0.1:9" in text  # a warning, not fatal: store and forward
    assert "cannot open HCI transport 'tcp-client:127.0.0.1:9'" in text


def test_a_watermark_confirms_and_an_old_queue_file_is_migrated(tmp_path: Path) -> None:
    """A queue written by an older collector (no seq column) opens with seq filled from the
    payloads; a watermark deletes exactly what it covers, per sensor, and is kept."""
    path = tmp_path / "q.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE queue (qid INTEGER PRIMARY KEY, sensor TEXT NOT NULL,"
            " ts INTEGER NOT NULL, payload BLOB NOT NULL);"
        )
        db.executemany(
            "INSERT INTO queue VALUES (?, ?, ?, ?)",
            [
                (i, s.sensor, s.ts, contract.encode(s))
                for i, s in enumerate(
                    [sample(i) for i in range(1, 6)] + [sample(i, "strap-2") for i in range(1, 4)],
                    1,
                )
            ],
        )
    q = DiskQueue(path, max_samples=100)
    assert len(q) == 8
    assert q.confirm({"strap-1": 3, "strap-9": 7}, sent_up_to=EVERY) == 3
    assert sorted((s.sensor, s.seq) for _, s in q.head(10)) == [
        ("strap-1", 4),
        ("strap-1", 5),
        ("strap-2", 1),
        ("strap-2", 2),
        ("strap-2", 3),
    ]
    assert q.confirm({"strap-1": 2}, sent_up_to=EVERY) == 0  # a lower watermark changes nothing
    assert q.confirmed() == {"strap-1": 3, "strap-9": 7}
    q.put([(20, sample(6)), (21, sample(2, "strap-9"))])
    assert [qid for qid, _ in q.head(10, after=5)] == [6, 7, 8, 20, 21]
    q.put([(22, machine(1))])  # the migrated file takes machine samples too
    assert q.head(1, after=21) == [(22, machine(1))]
    q.close()


def test_a_queue_file_from_before_machine_samples_is_read_as_heart_rate(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE queue (qid INTEGER PRIMARY KEY, sensor TEXT NOT NULL,"
            " ts INTEGER NOT NULL, payload BLOB NOT NULL, seq INTEGER);"
        )
        db.executemany(
            "INSERT INTO queue VALUES (?, ?, ?, ?, ?)",
            [(i, "strap-1", sample(i).ts, contract.encode(sample(i)), i) for i in range(1, 4)],
        )
    q = DiskQueue(path, max_samples=100)
    q.put([(4, machine(4))])
    assert [s for _, s in q.head(10)] == [sample(1), sample(2), sample(3), machine(4)]
    assert q.confirm({"strap-1": 2, "bike-1": 4}, sent_up_to=EVERY) == 3
    q.close()


def machine(i: int, sensor: str = "bike-1", kind: MachineKind = "bike") -> MachineSample:
    return MachineSample(
        sensor=sensor, ts=1_700_000_000_000 + i, seq=i, kind=kind, power_w=150 + i, cadence=88.0
    )


def test_machine_samples_share_the_queue_and_go_out_as_their_own_messages(
    tmp_path: Path,
) -> None:
    q = DiskQueue(tmp_path / "q.sqlite3", max_samples=100)
    items: list[Queued] = [
        sample(1),
        sample(1, "strap-2"),
        machine(1),
        machine(2),
        machine(1, "pm-1", "power"),
        machine(3),
        sample(2),
    ]
    q.put(enumerate(items, 1))
    q.close()
    q = DiskQueue(tmp_path / "q.sqlite3", max_samples=100)  # a restart: typed as they were
    rows = q.head(10)
    assert [s for _, s in rows] == items
    messages = []
    while rows:
        message = one_message(rows)
        messages.append([s for _, s in message])
        rows = rows[len(message) :]
    assert messages == [items[0:2], items[2:4], items[4:5], items[5:6], items[6:7]]
    assert (
        q.confirm({"bike-1": 2, "strap-1": 1}, sent_up_to=EVERY) == 3
    )  # the watermark covers both kinds
    assert [s for _, s in q.head(10)] == [items[1], items[4], items[5], items[6]]
    q.close()


def test_ingestion_watermark_covers_machine_samples() -> None:
    marks = Watermarks()
    stored = StoredMachineSample(
        site="gym",
        collector="pi",
        sensor="bike-1",
        ts=1,
        seq=41,
        kind="bike",
        power_w=200,
        cadence=None,
        speed_kmh=None,
        distance_m=None,
        split_s=None,
        pace_s=None,
        heart_rate=None,
        energy_kcal=None,
        athlete_id=None,
    )
    marks.stored([stored])
    assert marks.get("gym", "pi") == {"bike-1": 41}
    ((_, topic, payload),) = marks.due()
    assert topic == contract.stored_topic("gym", "pi")
    assert contract.decode_stored(payload).seq == {"bike-1": 41}


def test_the_kept_count_is_the_table_count_through_every_change(tmp_path: Path) -> None:
    """The queue keeps its length instead of counting the table on every put (a COUNT(*)
    per put grew with the backlog): after repeats, drops, watermarks and deletes it is
    still exactly what the table holds."""
    path = tmp_path / "queue.db"
    queue = DiskQueue(path, max_samples=50)

    def table_count() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    samples = [(q, HrSample("strap-1", 1_000 + q, q, 70)) for q in range(1, 41)]
    queue.put(samples[:30])
    queue.put(samples[20:40])  # ten repeats (INSERT OR IGNORE) and ten new
    assert len(queue) == table_count() == 40
    queue.put([(q, HrSample("strap-2", 5_000 + q, q, 80)) for q in range(41, 61)])
    assert len(queue) == table_count() == 50  # ten of the oldest dropped
    queue.confirm({"strap-1": 25}, sent_up_to=60)
    assert len(queue) == table_count()
    queue.delete([55, 56, 57, 9999])  # one qid that is not there
    assert len(queue) == table_count()
    queue.close()
    assert len(DiskQueue(path, max_samples=50)) == table_count()
