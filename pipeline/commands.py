"""``gympulse ingest``: the stateless ingestion service."""

from __future__ import annotations

import argparse
import asyncio

from gympulse.commands import Command, install_stop_handlers
from gympulse.settings import Settings


async def run_ingest(settings: Settings, stop: asyncio.Event) -> None:
    from gympulse.pipeline.ingest import IngestService
    from gympulse.pipeline.metrics import serve_metrics
    from gympulse.pipeline.services import Services

    async with Services(settings) as services:
        service = IngestService(settings, await services.store(), services.registry())
        metrics = None
        if settings.ingest.metrics_port:
            metrics = await serve_metrics(
                settings.ingest.metrics_host, settings.ingest.metrics_port
            )
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
    from gympulse.pipeline.consent import Policy
    from gympulse.pipeline.registry import FOREVER_MS
    from gympulse.pipeline.services import Services

    async def main() -> int:
        async with Services(settings) as services:
            registry = services.registry()
            matches = [
                a
                for a in registry.athletes()
                if str(a.id) == args.athlete or a.name == args.athlete
            ]
            if len(matches) != 1:
                print(f"gympulse: {len(matches)} athletes match {args.athlete!r}", file=sys.stderr)
                return 2
            start = args.start if args.start is not None else now_ms()
            registry.assign(args.strap, matches[0].id, start, args.end)
            changed = await reapply(
                registry, await services.store(), args.strap, start, args.end or FOREVER_MS,
                Policy.of(settings.consent),
            )  # fmt: skip
            print(f"{args.strap} -> {matches[0].name}; {changed} stored samples re-stamped")
            return 0

    return asyncio.run(main())


def _reading_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="take a reading of a window from the stored samples")
    add.add_argument("athlete", help="athlete id or exact name")
    add.add_argument("--start", type=_parse_time_ms, required=True, help="ISO 8601 or epoch ms")
    add.add_argument("--end", type=_parse_time_ms, required=True, help="ISO 8601 or epoch ms")
    add.add_argument("--strap", help="only this strap's samples (default: the athlete's)")
    listing = sub.add_parser("list", help="an athlete's readings, oldest first")
    listing.add_argument("athlete", help="athlete id or exact name")
    delete = sub.add_parser("delete", help="delete a reading")
    delete.add_argument("id", type=int)
    confirm = sub.add_parser("confirm", help="count a proposed (automatic) reading")
    confirm.add_argument("id", type=int)
    auto = sub.add_parser("auto", help="propose resting windows as automatic readings")
    auto.add_argument("--start", type=_parse_time_ms, help="from (default: 2 days ago)")
    auto.add_argument("--end", type=_parse_time_ms, help="until (default: now)")


def _find_athlete(registry: object, key: str) -> int | None:
    from gympulse.pipeline.registry import Registry

    assert isinstance(registry, Registry)
    matches = [a for a in registry.athletes() if str(a.id) == key or a.name == key]
    return matches[0].id if len(matches) == 1 else None


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _reading(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from gympulse.contract import now_ms
    from gympulse.pipeline import readings
    from gympulse.pipeline.analytics.morning import Refusal
    from gympulse.pipeline.journal import Journal
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores import make_store

    registry = Registry(settings.store.path)
    journal = Journal(settings.store.path)
    tz = settings.timezone

    async def main() -> int:
        store = make_store(settings.store, zone=settings.timezone)
        await store.open()
        try:
            if args.action in ("add", "list"):
                athlete_id = _find_athlete(registry, args.athlete)
                if athlete_id is None:
                    print(f"gympulse: no single athlete matches {args.athlete!r}", file=sys.stderr)
                    return 2
                if args.action == "list":
                    print("id\tstart\tminutes\tln_rmssd\thr_rest\tcorrected\tmethod\tstatus")
                    for r in await readings.readings_of(store, journal, athlete_id):
                        ln = "-" if r.ln_rmssd is None else f"{r.ln_rmssd:.2f}"
                        hr = "-" if r.hr_rest is None else f"{r.hr_rest:.0f}"
                        print(
                            f"{r.id}\t{_iso(r.start_ms)}\t{r.duration_s / 60:.1f}\t{ln}\t{hr}"
                            f"\t{r.n_corrected if r.n_corrected is not None else '-'}"
                            f"\t{r.method}\t{r.status}"
                        )
                    return 0
                profile = registry.athlete(athlete_id)
                outcome = await readings.take_reading(
                    store, journal, athlete_id, args.start, args.end, method="cli",
                    sensor=args.strap, rules=readings.rules_of(settings.morning),
                    rest=readings.rest_rules_of(settings.morning),
                    profile_hr_rest=None if profile is None else profile.hr_rest, tz=tz,
                )  # fmt: skip
                if isinstance(outcome, Refusal):
                    print(f"refused: {outcome.reason}: {outcome.detail}", file=sys.stderr)
                    return 1
                print(
                    f"reading {outcome.id}: ln RMSSD {outcome.ln_rmssd:.2f},"
                    f" resting HR {outcome.hr_rest:.0f} bpm,"
                    f" {outcome.n_corrected} corrected of {outcome.n_rr} beats"
                )
                return 0
            if args.action == "delete":
                gone = await readings.delete_reading(store, journal, args.id, tz)
                print(f"reading {args.id} deleted" if gone else f"no reading {args.id}")
                return 0 if gone else 1
            if args.action == "confirm":
                done = await readings.confirm_reading(store, journal, args.id, tz)
                print(f"reading {args.id} counted" if done else f"no reading {args.id}")
                return 0 if done else 1
            end = args.end if args.end is not None else now_ms()
            start = args.start if args.start is not None else end - 2 * 86_400_000
            made = await readings.propose_automatic(
                store, registry, journal, start_ms=start, end_ms=end,
                settings=settings.morning, tz=tz,
            )  # fmt: skip
            for r in made:
                print(f"reading {r.id}: athlete {r.athlete_id} {_iso(r.start_ms)} {r.status}")
            return 0
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    finally:
        journal.close()
        registry.close()


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a FIT file (.fit) from a watch or bike computer")
    parser.add_argument("--athlete", required=True, help="athlete id or exact name")


def _import(args: argparse.Namespace, settings: Settings) -> int:
    import sys
    from pathlib import Path

    from gympulse.pipeline.fit_import import FitRefused
    from gympulse.pipeline.fit_ingest import import_fit
    from gympulse.pipeline.ingest import IngestService
    from gympulse.pipeline.services import Services

    limit = settings.ingest.fit_max_mb * 1024 * 1024
    path = Path(args.file)
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        print(f"gympulse import: cannot read {path}: {err.strerror}", file=sys.stderr)
        return 2

    async def main() -> int:
        async with Services(settings) as services:
            registry = services.registry()
            athlete_id = _find_athlete(registry, args.athlete)
            if athlete_id is None:
                print(
                    f"gympulse import: no single athlete matches {args.athlete!r}", file=sys.stderr
                )
                return 2
            service = IngestService(settings, await services.store(), registry)
            try:
                done = await import_fit(service, registry, athlete_id, data, max_bytes=limit)
            except FitRefused as err:
                print(f"gympulse import: {path.name}: {FIT_REFUSED[err.reason]}", file=sys.stderr)
                return 1
            except ConnectionError:
                print("gympulse import: the store is unavailable, try again", file=sys.stderr)
                return 1
            print(
                f"{path.name}: {done.samples} heart-rate samples ({done.rr} RR intervals,"
                f" {done.machine} with power or cadence) {_iso(done.start_ms)} to"
                f" {_iso(done.end_ms)} as {done.sensor}; {done.stored} new rows"
                + (f", {done.refused} refused (see quarantine)" if done.refused else "")
            )
            return 0

    return asyncio.run(main())


FIT_REFUSED = {
    "not-fit": "not a FIT file (export the activity as .fit from the watch's app)",
    "broken": "the FIT file is damaged or cut short (export it again)",
    "no-heart-rate": "no heart rate in this FIT file (a settings or workout file?)",
    "too-large": "the FIT file is larger than ingest.fit_max_mb",
    "elsewhere": "this file was already imported for someone else",
}


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
    Command(
        "reading",
        "morning readings: add, list, delete, confirm, auto",
        _reading,
        _reading_arguments,
        extra="server",
        description=(
            "add ATHLETE --start ISO --end ISO: compute a morning reading (ln RMSSD, resting\n"
            "HR, corrected beats) from the stored samples of the window at once; a window\n"
            "without contact or with too many corrected beats is refused (exit 1).\n"
            "list ATHLETE; delete ID; confirm ID (count an automatic proposal);\n"
            "auto [--start --end]: propose resting windows 04:00-11:00 site time."
        ),
    ),
    Command(
        "import",
        "import a FIT file (watch, bike computer) for an athlete",
        _import,
        _import_arguments,
        extra="server",
        description=(
            "Heart rate, RR intervals (HRV messages), power and cadence of FILE are stored\n"
            "as the athlete's samples under the sensor import-<hash of the file>, through\n"
            "the ingestion path; the same file again stores nothing new. A damaged or\n"
            "foreign file is refused with one line and exit 1, and nothing is stored."
        ),
    ),
]
