"""``gympulse simulate``: simulated participants publishing per the contract."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from gympulse.commands import Command, install_stop_handlers
from gympulse.settings import Settings

if TYPE_CHECKING:
    from gympulse.collectors.simulator import Profile


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", type=int, help="how many (default: settings, 12)")
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the heart-rate noise (default: settings, 1); the people (names,"
        " profiles) always come from settings simulator.seed, so every day has the same roster",
    )
    parser.add_argument("--seconds", type=int, help="stop after this many simulated seconds")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="publish as fast as the broker acknowledges instead of one second per second",
    )
    parser.add_argument(
        "--confirm",
        choices=["ingest", "broker"],
        help="when a sample may be forgotten: 'ingest' (default: settings) once gympulse"
        " ingest reports it stored — nothing is published before ingestion answers; 'broker'"
        " on the broker's PUBACK, for a broker without gympulse ingestion",
    )
    parser.add_argument("--start-ms", type=int, help="timestamp of the first sample (default: now)")


def roster(settings: Settings, participants: int | None = None) -> list[Profile]:
    """The site's simulated people: from settings (``simulator.seed``), never from a run's
    ``--seed``, so replaying several days with different seeds keeps the same people on the
    same straps (``gympulse demo`` seeds its history with the same roster)."""
    from gympulse.collectors import simulator

    cfg = settings.simulator
    return simulator.make_profiles(participants or cfg.participants, cfg.seed)


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from gympulse.collectors import simulator

    cfg = settings.simulator
    seed = cfg.seed if args.seed is None else args.seed
    profiles = roster(settings, args.participants)

    async def main() -> int:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        return await simulator.run(
            settings.mqtt,
            site=settings.site,
            collector=cfg.collector,
            profiles=profiles,
            seed=seed,
            seconds=args.seconds,
            step_s=0.0 if args.fast else 1.0,
            start_ms=args.start_ms,
            contact_loss_rate=cfg.contact_loss_rate,
            dropout_rate=cfg.dropout_rate,
            stop=stop,
            state_dir=cfg.state_dir,
            confirm=args.confirm or cfg.confirm,
            bikes=cfg.bikes,
        )

    published = asyncio.run(main())
    print(f"published {published} samples", flush=True)
    return 0


COMMANDS = [
    Command(
        "simulate",
        "publish simulated participants' heart rate to the broker",
        _simulate,
        _add_arguments,
        description=(
            "N virtual participants with their own resting HR and HRmax follow a class\n"
            "(warm-up, intervals, cool-down) with beat-to-beat RR intervals, occasional\n"
            "contact loss and strap drop-outs, published per the MQTT contract at QoS 1.\n"
            "Deterministic with --seed; --fast publishes without waiting a second per step."
        ),
    )
]
