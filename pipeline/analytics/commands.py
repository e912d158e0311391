"""CLI commands of the analytics: ``gympulse analyze``.

Heavy imports (polars, the jobs) happen inside ``run`` so ``gympulse --help`` stays fast.
"""

from __future__ import annotations

import argparse

from gympulse.commands import Command
from gympulse.settings import Settings


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full", action="store_true", help="recompute everything, ignoring the watermark"
    )
    parser.add_argument(
        "--lookback-hours",
        type=float,
        default=48.0,
        help="re-count samples this far behind the watermark to catch late data (default 48)",
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from gympulse.pipeline.analytics.jobs import analyze
    from gympulse.pipeline.journal import Journal
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores import make_store

    async def main() -> int:
        store = make_store(settings.store)
        registry = Registry(settings.store.path)
        journal = Journal(settings.store.path)
        await store.open()
        try:
            report = await analyze(
                store,
                registry,
                journal,
                full=bool(args.full),
                lookback_ms=int(args.lookback_hours * 3_600_000),
                tz=settings.timezone,
            )
        finally:
            await store.close()
            journal.close()
            registry.close()
        print(
            f"analyzed: {report.touched_days} athlete-days touched, {report.sessions} sessions,"
            f" {report.daily_rows} daily rows, {report.morning_readings} morning readings,"
            f" {report.wellness} wellness reports"
        )
        return 0

    return asyncio.run(main())


COMMANDS: list[Command] = [
    Command(
        name="analyze",
        help="compute session summaries, daily load, baselines (incremental)",
        run=_run,
        add_arguments=_add_arguments,
        description=(
            "Recompute the derived tables (see pipeline/analytics/tables.py) for the\n"
            "sessions and days touched by samples or journal entries new since the last run."
        ),
    )
]
