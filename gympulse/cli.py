"""The ``gympulse`` command line.

Commands live next to the code they run; this module only lists them (explicit registry,
no import side effects). A command module exposes ``COMMANDS``: a list of
:class:`gympulse.commands.Command`. Command modules import their heavy dependencies inside
``run`` so ``gympulse collect`` works on a Raspberry Pi with only the collector extra.

A command names the extra it needs (``Command.extra``). The CLI offers only the commands
whose extra is installed here (read from the installed distribution's metadata, nothing
heavy is imported); ``--help`` lists the others under the extra that brings them, and
running one prints one line naming that extra and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import re
import sys
from collections.abc import Sequence

from gympulse import __version__
from gympulse.commands import Command
from gympulse.logs import configure_logging
from gympulse.settings import SettingsError, load
from gympulse.sqlite_schema import SchemaTooNew

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
DISTRIBUTION = "gympulse"
NEEDS_EXTRA_EXIT = 2

_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _commands() -> list[Command]:
    found: list[Command] = []
    for module_path in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_path)
        except ImportError as err:  # a command module must import with the core alone
            logging.getLogger(__name__).debug("commands of %s unavailable: %s", module_path, err)
            continue
        found.extend(module.COMMANDS)
    return found


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def extra_requirements(requires: Sequence[str]) -> dict[str, list[str]]:
    """Pure: the distributions each extra needs, from ``Requires-Dist`` lines such as
    ``polars>=1.0; extra == "server"`` (lines without an extra marker are the core)."""
    needs: dict[str, list[str]] = {}
    for line in requires:
        spec, _, marker = line.partition(";")
        extra = _EXTRA_MARKER.search(marker)
        name = _REQUIREMENT_NAME.match(spec.strip())
        if extra is None or name is None:
            continue
        needs.setdefault(extra.group(1), []).append(name.group(0))
    return needs


def missing_extras(commands: Sequence[Command]) -> set[str]:
    """The extras named by ``commands`` that are not installed here. From a checkout that
    was never installed (no metadata) nothing is known to be missing."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    needs = extra_requirements(requires)
    wanted = {c.extra for c in commands if c.extra is not None}
    return {e for e in wanted if not all(_installed(n) for n in needs.get(e, []))}


def needs_extra_line(command: str, extra: str) -> str:
    return f"gympulse {command} needs the {extra} extra: pip install 'gympulse[{extra}]'"


def _extras_epilog(commands: Sequence[Command], missing: set[str]) -> str:
    by_extra: dict[str, list[str]] = {}
    for c in commands:
        if c.extra is not None:
            by_extra.setdefault(c.extra, []).append(c.name)
    lines = ["commands by extra (pip install 'gympulse[EXTRA]'):"]
    for extra, names in sorted(by_extra.items()):
        state = "NOT INSTALLED here" if extra in missing else "installed"
        lines.append(f"  {extra:10s} {', '.join(names)}  ({state})")
    if missing:
        lines.append(
            "Commands whose extra is not installed are not offered above; running one says"
            " which extra to install."
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    commands = _commands()
    missing = missing_extras(commands)
    parser = argparse.ArgumentParser(
        prog="gympulse",
        description="Heart-rate data pipeline for gyms: straps -> MQTT -> store -> live board.",
        epilog=_extras_epilog(commands, missing),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gympulse {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (TOML); GYMPULSE_* environment variables override it",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        if command.extra in missing:
            # Not offered (no help entry, so --help does not list it), but recognised: it
            # takes any arguments and main() answers with the line naming its extra.
            hidden = sub.add_parser(command.name, add_help=False)
            hidden.set_defaults(_command=command, _missing_extra=command.extra)
            continue
        cmd_parser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(cmd_parser)
        cmd_parser.set_defaults(_command=command, _missing_extra=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command: Command = args._command
    if args._missing_extra is not None:
        print(needs_extra_line(command.name, args._missing_extra), file=sys.stderr)
        return NEEDS_EXTRA_EXIT
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        settings = load(args.config)
    except SettingsError as err:
        print(f"gympulse: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, args.verbose)
    try:
        return command.run(args, settings)
    except KeyboardInterrupt:
        return 130
    except SchemaTooNew as err:  # a file from a newer release: one line, no traceback
        print(f"gympulse: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        # The metadata said the extra is here, yet a module of it is missing (a broken or
        # partial install): still one clear line, no traceback.
        top = (err.name or "").split(".")[0]
        if command.extra is None or top in ("", DISTRIBUTION):
            raise
        print(f"{needs_extra_line(command.name, command.extra)} ({err})", file=sys.stderr)
        return NEEDS_EXTRA_EXIT


if __name__ == "__main__":
    sys.exit(main())
