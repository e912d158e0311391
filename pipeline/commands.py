"""``gympulse ingest``: the stateless ingestion service."""

from __future__ import annotations

import argparse
import asyncio

from gympulse.commands import Command, install_stop_handlers
from gympulse.settings import Settings


async def run_ingest(settings: Settings, stop: asyncio.Event) -> None:
    from gympulse.pipeline.ingest import IngestService
    from gympulse.pipeline.metrics import serve_metrics
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores import make_store

    store = make_store(settings.store)
    await store.open()
    registry = Registry(settings.store.path)
    service = IngestService(settings, store, registry)
    metrics = None
    if settings.ingest.metrics_port:
        metrics = await serve_metrics(settings.ingest.metrics_host, settings.ingest.metrics_port)
    task = asyncio.create_task(service.run())
    stop_wait = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            # The service never stops on its own: a crash must end the process (non-zero)
            # so a supervisor (systemd, compose) restarts it, never leave it idle.
            task.result()
            raise RuntimeError("the ingestion service stopped unexpectedly")
    finally:
        stop_wait.cancel()
        await service.stop()
        await task
        if metrics is not None:
            metrics.close()
        await store.close()
        registry.close()


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await run_ingest(settings, stop)

    asyncio.run(main())
    return 0


def _parse_time_ms(value: str) -> int:
    """ISO 8601 (naive means UTC) or epoch milliseconds."""
    import datetime as dt

    if value.isdigit():
        return int(value)
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _assign_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("strap", help="sensor id as in the topics, e.g. strap-12")
    parser.add_argument("athlete", help="athlete id or exact name")
    parser.add_argument("--start", type=_parse_time_ms, help="from (ISO 8601 or epoch ms; now)")
    parser.add_argument("--end", type=_parse_time_ms, help="until (exclusive; open-ended)")


def _assign(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from gympulse.contract import now_ms
    from gympulse.pipeline.assignments import reapply
    from gympulse.pipeline.registry import FOREVER_MS, Registry
    from gympulse.pipeline.stores import make_store

    registry = Registry(settings.store.path)
    matches = [
        a for a in registry.athletes() if str(a.id) == args.athlete or a.name == args.athlete
    ]
    if len(matches) != 1:
        print(f"gympulse: {len(matches)} athletes match {args.athlete!r}", file=sys.stderr)
        return 2
    start = args.start if args.start is not None else now_ms()
    registry.assign(args.strap, matches[0].id, start, args.end)

    async def restamp() -> int:
        store = make_store(settings.store)
        await store.open()
        try:
            return await reapply(registry, store, args.strap, start, args.end or FOREVER_MS)
        finally:
            await store.close()

    changed = asyncio.run(restamp())
    print(f"{args.strap} -> {matches[0].name}; {changed} stored samples re-stamped")
    registry.close()
    return 0


COMMANDS = [
    Command(
        "ingest",
        "run the ingestion service (MQTT -> store)",
        _ingest,
        extra="server",
        description=(
            "Subscribe to the heart-rate topics with a persistent session, validate,\n"
            "de-duplicate on (sensor, ts), resolve athletes, write batches to the store\n"
            "(settings: [store]) and acknowledge each message only after its batch is\n"
            "committed. Malformed messages go to quarantine. Stops on SIGINT/SIGTERM."
        ),
    ),
    Command(
        "assign",
        "give a strap to an athlete (and re-stamp samples already stored)",
        _assign,
        _assign_arguments,
        extra="server",
        description=(
            "Record that ATHLETE wears STRAP from --start (default now) until --end, ending\n"
            "the strap's running assignment. Samples already stored in that interval are\n"
            "re-stamped, so a corrected assignment applies to the past too."
        ),
    ),
]
