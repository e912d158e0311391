"""The ``gympulse`` command line.

Commands live next to the code they run; this module only lists them (explicit registry,
no import side effects). A command module exposes ``COMMANDS``: a list of
:class:`gympulse.commands.Command`. Command modules import their heavy dependencies inside
``run`` so ``gympulse collect`` works on a Raspberry Pi with only the collector extra.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gympulse import __version__
from gympulse.commands import Command
from gympulse.logs import configure_logging
from gympulse.settings import SettingsError, load

# module path -> holds COMMANDS. Order is the order shown in --help.
COMMAND_MODULES = (
    "gympulse.demo",
    "gympulse.collectors.commands",
    "gympulse.collectors.ble_commands",
    "gympulse.pipeline.commands",
    "gympulse.pipeline.analytics.commands",
    "gympulse.dashboards.commands",
    "gympulse.dashboards.grafana.commands",
)


def _commands() -> list[Command]:
    found: list[Command] = []
    for module_path in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_path)
        except ImportError as err:  # an extra that is not installed on this machine
            logging.getLogger(__name__).debug("commands of %s unavailable: %s", module_path, err)
            continue
        found.extend(module.COMMANDS)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gympulse",
        description="Heart-rate data pipeline for gyms: straps -> MQTT -> store -> live board.",
    )
    parser.add_argument("--version", action="version", version=f"gympulse {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (TOML); GYMPULSE_* environment variables override it",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _commands():
        cmd_parser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(cmd_parser)
        cmd_parser.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load(args.config)
    except SettingsError as err:
        print(f"gympulse: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, args.verbose)
    command: Command = args._command
    try:
        return command.run(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
