"""The web app's big exports in a process of their own: the samples CSV, and one person's
export zip.

A year of samples is millions of rows: reading them and writing them as CSV takes the CPU
(and, in Python, the GIL) for as long as the download lasts. ``gympulse web`` runs it here
instead — ``python -m gympulse.dashboards.export_worker`` with the settings on stdin,
the CSV on stdout — and only passes the bytes on (:func:`samples_csv`), so the live board on
the web process's event loop stays as quick while a coach downloads the history. The pipe
paces the worker: it writes no faster than the coach's browser reads.

A person's zip (:func:`athlete_zip`, the coach's "export" button) is built the same way:
``python -m gympulse.dashboards.export_worker zip`` runs :func:`gympulse.dashboards.rights
.export_athlete` — the one export ``gympulse athlete export`` runs too — into a file the web
process then sends. Its JSON and CSV encoders and frame building are long C calls that hold
the GIL; in a thread of the web process each one stalled the live board's loop for as long
(bench/bench_loop_lag.py), and the export opened a second owner of the store's SQLite file
in the web process.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from gympulse.settings import Settings

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024


async def samples_csv(settings: Settings) -> AsyncIterator[bytes]:
    """The samples CSV (header first) from a worker process; the worker is stopped when the
    consumer stops early (the browser went away)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.dashboards.export_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(msgspec.json.encode(settings))
        await proc.stdin.drain()
        proc.stdin.close()
        while chunk := await proc.stdout.read(CHUNK_BYTES):
            yield chunk
        if await proc.wait() != 0:
            log.error("the samples export worker failed (exit %s)", proc.returncode)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class ZipJob(msgspec.Struct, frozen=True):
    """What the web process asks of a zip worker (on its stdin)."""

    settings: Settings
    athlete: int
    out: str
    by: str


class ExportFailed(RuntimeError):
    """The export worker ended without writing the zip."""


async def athlete_zip(settings: Settings, athlete_id: int, out: Path, *, by: str) -> dict[str, int]:
    """The person's export zip written to ``out`` by a worker process (rows per file)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.dashboards.export_worker",
        "zip",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    job = ZipJob(settings, athlete_id, str(out), by)
    try:
        answer, _ = await proc.communicate(msgspec.json.encode(job))
    finally:
        if proc.returncode is None:  # the request was cancelled (the browser went away)
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise ExportFailed(f"the export worker failed (exit {proc.returncode})")
    return msgspec.json.decode(answer, type=dict[str, int])


def _write_zip(job: ZipJob) -> dict[str, int]:
    from gympulse.dashboards import rights

    return asyncio.run(rights.export_athlete(job.settings, job.athlete, Path(job.out), by=job.by))


async def _write_samples_csv(settings: Settings, out: BinaryIO) -> None:
    from gympulse.dashboards.data import Data
    from gympulse.pipeline.consent import Policy
    from gympulse.pipeline.stores import make_store

    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    data = Data(store, settings.store.path, policy=Policy.of(settings.consent))
    data.tz = settings.timezone  # local ISO times in the CSV
    try:
        chunks = await data.export_csv("samples")
        assert chunks is not None
        async for chunk in chunks:
            out.write(chunk)  # blocks while the pipe is full: the reader sets the pace
        out.flush()
    finally:
        data.close()
        await store.close()


def main() -> int:
    if sys.argv[1:] == ["zip"]:
        counts = _write_zip(msgspec.json.decode(sys.stdin.buffer.read(), type=ZipJob))
        sys.stdout.buffer.write(msgspec.json.encode(counts))
        return 0
    settings = msgspec.json.decode(sys.stdin.buffer.read(), type=Settings)
    try:
        asyncio.run(_write_samples_csv(settings, sys.stdout.buffer))
    except BrokenPipeError:  # the web process stopped reading (download cancelled)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
