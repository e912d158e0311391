"""CLI commands of the analytics: ``gympulse analyze``.

Heavy imports (polars, the jobs) happen inside ``run`` so ``gympulse --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gympulse.commands import Command
from gympulse.settings import Settings

if TYPE_CHECKING:
    from gympulse.pipeline.analytics.jobs import AnalyzeReport


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
    parser.add_argument(
        "--chunk-days",
        type=int,
        default=7,
        help="days of samples read and held in memory at once (default 7); peak memory"
        " grows with athletes x chunk days, not with the length of the history",
    )


def analyze_once(
    settings: Settings,
    *,
    full: bool = False,
    lookback_ms: int | None = None,
    chunk_days: int | None = None,
) -> AnalyzeReport:
    """One incremental run on the store, registry and journal of ``settings``, on its own
    event loop. Picklable and self-contained, so ``gympulse demo`` runs it in a worker
    process and the analytics never stall the live board on the demo's loop."""
    import asyncio

    from gympulse.pipeline.analytics.jobs import DEFAULT_CHUNK_DAYS, DEFAULT_LOOKBACK_MS, analyze
    from gympulse.pipeline.consent import Policy
    from gympulse.pipeline.services import Services

    async def main() -> AnalyzeReport:
        async with Services(settings) as services:
            store = await services.store()
            registry = services.registry()
            journal = services.journal()
            lookback = DEFAULT_LOOKBACK_MS if lookback_ms is None else lookback_ms
            report = await analyze(
                store,
                registry,
                journal,
                full=full,
                lookback_ms=lookback,
                tz=settings.timezone,
                chunk_days=DEFAULT_CHUNK_DAYS if chunk_days is None else max(1, chunk_days),
                policy=Policy.of(settings.consent),
            )
            if settings.morning.auto:
                # Resting windows of the last lookback become proposed (automatic) readings.
                from dataclasses import replace

                from gympulse.contract import now_ms
                from gympulse.pipeline.readings import propose_automatic

                end = now_ms()
                made = await propose_automatic(
                    store, registry, journal, start_ms=end - lookback, end_ms=end,
                    settings=settings.morning, tz=settings.timezone,
                )  # fmt: skip
                report = replace(report, automatic_readings=len(made))
            return report

    return asyncio.run(main())


def _run(args: argparse.Namespace, settings: Settings) -> int:
    report = analyze_once(
        settings,
        full=bool(args.full),
        lookback_ms=int(args.lookback_hours * 3_600_000),
        chunk_days=int(args.chunk_days),
    )
    print(
        f"analyzed: {report.touched_days} athlete-days touched, {report.sessions} sessions,"
        f" {report.daily_rows} daily rows, {report.morning_readings} morning readings,"
        f" {report.wellness} wellness reports, {report.automatic_readings} automatic readings"
        f" ({report.chunks} chunks)"
    )
    return 0


COMMANDS: list[Command] = [
    Command(
        name="analyze",
        help="compute session summaries, daily load, baselines (incremental)",
        run=_run,
        add_arguments=_add_arguments,
        extra="server",
        description=(
            "Recompute the derived tables (see pipeline/analytics/tables.py) for the\n"
            "sessions and days touched by samples or journal entries new since the last run."
        ),
    )
]
