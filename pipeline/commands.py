"""``gympulse ingest``: the stateless ingestion service."""

from __future__ import annotations

import argparse
import asyncio

from gympulse.commands import Command, install_stop_handlers
from gympulse.settings import Settings


async def run_ingest(settings: Settings, stop: asyncio.Event) -> None:
    from pipeline.ingest import IngestService
    from pipeline.metrics import serve_metrics
    from pipeline.registry import Registry
    from pipeline.stores import make_store

    store = make_store(settings.store)
    await store.open()
    registry = Registry(settings.store.path)
    service = IngestService(settings, store, registry)
    metrics = None
    if settings.ingest.metrics_port:
        metrics = await serve_metrics(settings.ingest.metrics_host, settings.ingest.metrics_port)
    task = asyncio.create_task(service.run())
    try:
        await stop.wait()
    finally:
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


COMMANDS = [
    Command(
        "ingest",
        "run the ingestion service (MQTT -> store)",
        _ingest,
        description=(
            "Subscribe to the heart-rate topics with a persistent session, validate,\n"
            "de-duplicate on (sensor, ts), resolve athletes, write batches to the store\n"
            "(settings: [store]) and acknowledge each message only after its batch is\n"
            "committed. Malformed messages go to quarantine. Stops on SIGINT/SIGTERM."
        ),
    )
]
