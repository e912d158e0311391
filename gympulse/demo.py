"""``gympulse demo``: the whole pipeline on one machine, nothing to install or configure.

An embedded MQTT broker (amqtt, on a free local port) unless a broker URL is given, N
simulated participants, the ingestion service writing SQLite, and the live board — all on
one event loop in one process.

On a fresh database the demo first seeds six weeks of a retreat's history (the simulator's
guests, classes, morning readings, check-ins and RPE, written through the ingestion path
and analyzed: :mod:`gympulse.pipeline.seed`), so the coach and guest pages have data from
the first minute; ``--no-history`` starts empty.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from gympulse.commands import Command
from gympulse.settings import MqttSettings, Settings

if TYPE_CHECKING:
    from gympulse.pipeline.registry import Registry

log = logging.getLogger(__name__)

DEMO_BIKES = 3  # the first participants ride an indoor bike: watts and rpm on their tiles
DEMO_CLASS_MS = 45 * 60_000  # the simulator's class plan: warm-up, intervals, cool-down


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def seed_registry(
    registry: Registry, profiles: list[object], start_ms: int, bikes: int = 0
) -> None:
    """Create the simulated participants as athletes and give each their strap — all but
    the last, which stays unassigned so the board shows how a spare strap looks — and the
    first ``bikes`` of them their bike (``bike-1``, ...), assigned like a strap."""
    from gympulse.collectors.simulator import Profile

    by_name = {a.name: a.id for a in registry.athletes()}
    resolver = registry.resolver()
    for i, profile in enumerate(profiles):
        assert isinstance(profile, Profile)
        if i == len(profiles) - 1 and len(profiles) > 1:
            break
        athlete_id = by_name.get(profile.name)
        if athlete_id is None:
            athlete_id = registry.add_athlete(
                profile.name,
                birth_year=profile.birth_year,
                sex=profile.sex,
                weight_kg=profile.weight_kg,
                hr_max=profile.hr_max,
                hr_rest=profile.hr_rest,
            )
            _demo_consent(registry, athlete_id)
        if resolver.athlete_at(profile.sensor, start_ms) != athlete_id:
            registry.assign(profile.sensor, athlete_id, start_ms)
        bike = f"bike-{i + 1}"
        if i < bikes and resolver.athlete_at(bike, start_ms) != athlete_id:
            registry.assign(bike, athlete_id, start_ms)


def _demo_consent(registry: Registry, athlete_id: int) -> None:
    """The demo's participants are made up: they consent to everything (real guests start
    without consent, docs/privacy.md "Consent")."""
    from gympulse.pipeline.consent import record_all

    registry.run(lambda conn: record_all(conn, athlete_id, "demo"))


def is_fresh(db_path: str) -> bool:
    """No athlete in the registry yet."""
    from gympulse.pipeline.registry import Registry

    registry = Registry(db_path)
    try:
        return not registry.athletes()
    finally:
        registry.close()


def demo_guest_link(db_path: str, athlete_id: int, days: int = 30) -> str:
    """A guest link token for ``athlete_id`` (valid ``days``)."""
    from gympulse import contract
    from gympulse.dashboards.accounts import Accounts

    accounts = Accounts(db_path)
    try:
        return accounts.issue_guest_token(athlete_id, contract.now_ms() + days * 86_400_000)
    finally:
        accounts.close()


def demo_board_link(db_path: str, base: str) -> str:
    """A new board link for the demo's live board (it opens with a link or a login)."""
    from gympulse.dashboards.accounts import Accounts
    from gympulse.dashboards.commands import board_url

    accounts = Accounts(db_path)
    try:
        _, token = accounts.issue_board_token("demo")
    finally:
        accounts.close()
    return board_url(base, token)


def demo_coach_login(db_path: str) -> tuple[str, str] | None:
    """The demo's coach login for its /coach pages, shown on the console at every start:
    (user, password). The ``coach`` account is made on a fresh file; on a restart it gets a
    new random password (only a hash is stored, so the old one cannot be shown again, and
    a newcomer who restarts the demo must not be locked out). None when the file has other
    accounts but no ``coach`` (not the demo's own file: left alone)."""
    import secrets

    from gympulse.dashboards.accounts import Accounts

    accounts = Accounts(db_path)
    try:
        names = {u.username for u in accounts.users()}
        if names and "coach" not in names:
            return None
        password = secrets.token_urlsafe(12)
        accounts.add_user("coach", password)
        return "coach", password
    finally:
        accounts.close()


def _analytics_worker_init() -> None:
    """In the analytics worker: Ctrl-C is the demo's to handle (it lets a running analysis
    finish, then stops the worker), not a KeyboardInterrupt traceback in the worker; and
    the worker yields the CPU to the live board (lower priority), as a site's timer would
    run ``gympulse analyze`` (systemd ``Nice=``)."""
    import contextlib
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(10)


async def analyze_periodically(
    settings: Settings, stop: asyncio.Event, every_s: float, first_after_s: float
) -> None:
    """Run the incremental analytics ``first_after_s`` seconds after the start, then every
    ``every_s`` seconds, so the coach and guest views fill in while the demo runs (a site
    runs ``gympulse analyze`` on a timer instead).

    Each run happens in one worker process (spawned once, kept for the next runs): polars
    and the SQLite writes never hold this process's event loop or its GIL, so the live
    board stays as quick during an analysis as without one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from gympulse.pipeline.analytics.commands import analyze_once

    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_analytics_worker_init,
    )
    try:
        wait_s = first_after_s
        while True:
            try:
                await asyncio.wait_for(stop.wait(), wait_s)
                return
            except TimeoutError:
                pass
            wait_s = every_s
            try:
                report = await loop.run_in_executor(pool, analyze_once, settings)
            except Exception:  # the demo goes on; the next run retries
                log.exception("analyze failed")
                continue
            log.info(
                "analyzed: %d athlete-days touched, %d sessions",
                report.touched_days,
                report.sessions,
            )
    finally:
        # A run in progress finishes (the SQLite writes stay whole); then the worker ends.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


async def run_demo(settings: Settings, args: argparse.Namespace) -> None:
    from gympulse import contract
    from gympulse.collectors import simulator
    from gympulse.commands import install_stop_handlers
    from gympulse.dashboards.server import serve_web
    from gympulse.pipeline.commands import run_ingest
    from gympulse.pipeline.embedded_broker import EmbeddedBroker
    from gympulse.pipeline.services import Services

    stop = asyncio.Event()
    install_stop_handlers(stop)
    broker: EmbeddedBroker | None = None
    broker_url = args.broker or (
        settings.mqtt.url if settings.mqtt.url != MqttSettings().url else None
    )
    if broker_url is None:
        broker = EmbeddedBroker()
        await broker.start()
        mqtt = msgspec.structs.replace(
            settings.mqtt, url=broker.url, protocol="3.1.1", shared_group=""
        )
    else:
        mqtt = msgspec.structs.replace(settings.mqtt, url=broker_url)
    db_path: str = args.db_path
    store = msgspec.structs.replace(settings.store, path=db_path)
    settings = msgspec.structs.replace(settings, mqtt=mqtt, store=store)

    participants = args.participants or settings.simulator.participants
    bikes = args.bikes if args.bikes is not None else (settings.simulator.bikes or DEMO_BIKES)
    profiles = simulator.make_profiles(participants, settings.simulator.seed)
    guest_token: str | None = None
    if not args.no_history and is_fresh(db_path):
        from gympulse.pipeline.seed import seed_history

        report = await seed_history(settings, list(profiles), seed=settings.simulator.seed)
        print(
            f"History: {len(report.athletes)} guests, {report.classes} classes,"
            f" {report.readings} morning readings, {report.lifts} sets lifted,"
            f" {report.samples} samples"
            f" in {report.seconds:.1f} s",
            flush=True,
        )
        # The guest whose stay goes well: the first of the roster.
        guest_token = demo_guest_link(db_path, report.athletes[profiles[0].sensor])
    start_ms = contract.now_ms()
    async with Services(settings) as services:
        seed_registry(services.registry(), list(profiles), start_ms, bikes)
        first = services.registry().resolver().athlete_at(profiles[0].sensor, start_ms)
        # The simulated class on the schedule, so the board shows its timer and, at its end,
        # the class summary (HRR60 once the analytics have run).
        journal = services.journal()
        if not journal.classes(start_ms=start_ms, end_ms=start_ms + DEMO_CLASS_MS):
            journal.add_class("Demo class", start_ms, start_ms + DEMO_CLASS_MS, site=settings.site)
    if guest_token is None and first is not None:
        # A restart (or no history): a new link for the same guest, so the page is reachable.
        guest_token = demo_guest_link(db_path, first)
    coach_login = demo_coach_login(db_path)

    host = settings.web.host
    port = args.port or settings.web.port
    if not _port_free(host, port):
        from gympulse.pipeline.embedded_broker import free_port

        port = free_port(host)

    web_started = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(run_ingest(settings, stop))
            tasks.create_task(serve_web(settings, stop, host=host, port=port, started=web_started))
            await asyncio.wait_for(web_started.wait(), 30)
            base = settings.web.public_url.rstrip("/") or f"http://{host}:{port}"
            print(f"Live board: {demo_board_link(db_path, base)}", flush=True)
            print(f"SQLite file: {db_path}", flush=True)
            if coach_login is not None:
                print(
                    f"Coach view: {base}/coach (user {coach_login[0]}, password {coach_login[1]})",
                    flush=True,
                )
            if guest_token is not None:
                print(f"Guest page: {base}/me/{guest_token}", flush=True)
            print(
                f"MQTT broker: {settings.mqtt.url}" + (" (embedded)" if broker is not None else ""),
                flush=True,
            )
            print("Press Ctrl-C to stop.", flush=True, file=sys.stderr)
            tasks.create_task(
                simulator.run(
                    settings.mqtt,
                    site=settings.site,
                    collector=settings.simulator.collector,
                    profiles=profiles,
                    seed=settings.simulator.seed,
                    contact_loss_rate=settings.simulator.contact_loss_rate,
                    dropout_rate=settings.simulator.dropout_rate,
                    stop=stop,
                    state_dir=settings.simulator.state_dir,
                    confirm=settings.simulator.confirm,
                    bikes=bikes,
                )
            )
            if args.analyze_every > 0:
                tasks.create_task(
                    analyze_periodically(
                        settings,
                        stop,
                        args.analyze_every,
                        min(args.analyze_first, args.analyze_every),
                    )
                )
            if args.duration:
                try:
                    await asyncio.wait_for(stop.wait(), args.duration)
                except TimeoutError:
                    stop.set()
    finally:
        stop.set()
        if broker is not None:
            await broker.stop()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bikes",
        type=int,
        help=f"participants riding a bike, watts on their tiles (default {DEMO_BIKES})",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after SECONDS"
    )
    parser.add_argument(
        "--participants", type=int, help="simulated participants (default: settings, 12)"
    )
    parser.add_argument(
        "--broker", metavar="URL", help="use this MQTT broker instead of the embedded one"
    )
    parser.add_argument("--db", metavar="FILE", help="SQLite file (default: settings store.path)")
    parser.add_argument("--port", type=int, help="web port (default: settings web.port, 8000)")
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="start empty instead of seeding six weeks of history into a fresh database",
    )
    parser.add_argument(
        "--analyze-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="run the analytics this often for the coach and guest views (0: never; 60)",
    )
    parser.add_argument(
        "--analyze-first",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="the first analytics run this long after the start (15), then every minute",
    )


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    args.db_path = str(Path(args.db or settings.store.path).resolve())
    asyncio.run(run_demo(settings, args))
    return 0


COMMANDS = [
    Command(
        "demo",
        "run everything on this machine: broker, simulated class, ingestion, live board",
        _demo,
        _add_arguments,
        extra="server",
        description=(
            "Starts an embedded MQTT broker (unless --broker or settings mqtt.url name one),\n"
            "12 simulated participants publishing every second, the ingestion service writing\n"
            "a SQLite file, and the live board. Prints the board's URL and the SQLite path.\n"
            "A fresh database first gets six weeks of a retreat's history (12 guests, classes,\n"
            "morning readings, check-ins, RPE) so every page has data; --no-history skips it.\n"
            "Ctrl-C stops everything cleanly; --duration stops it by itself."
        ),
    )
]
