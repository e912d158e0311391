"""The samples CSV export in a process of its own.

A year of samples is millions of rows: reading them and writing them as CSV takes the CPU
(and, in Python, the GIL) for as long as the download lasts. ``gympulse web`` runs it here
instead — ``python -m gympulse.dashboards.export_worker`` with the settings on stdin,
the CSV on stdout — and only passes the bytes on (:func:`samples_csv`), so the live board on
the web process's event loop stays as quick while a coach downloads the history. The pipe
paces the worker: it writes no faster than the coach's browser reads.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
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


async def _write_samples_csv(settings: Settings, out: BinaryIO) -> None:
    from gympulse.dashboards.data import Data
    from gympulse.pipeline.stores import make_store

    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    data = Data(store, settings.store.path)
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
    settings = msgspec.json.decode(sys.stdin.buffer.read(), type=Settings)
    try:
        asyncio.run(_write_samples_csv(settings, sys.stdout.buffer))
    except BrokenPipeError:  # the web process stopped reading (download cancelled)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
