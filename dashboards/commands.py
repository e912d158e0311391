"""``gympulse web``: the built-in web app; ``gympulse coach-user``: coach accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from gympulse.commands import Command
from gympulse.settings import Settings


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: settings web.host)")
    parser.add_argument("--port", type=int, help="port (default: settings web.port)")


def _web(args: argparse.Namespace, settings: Settings) -> int:
    from gympulse.commands import install_stop_handlers
    from gympulse.dashboards.server import serve_web

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        host = args.host or settings.web.host
        port = args.port or settings.web.port
        print(f"Live board: http://{host}:{port}/live", flush=True)
        await serve_web(settings, stop, host=host, port=port)

    asyncio.run(main())
    return 0


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")


def _coach_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create a coach account (or set its password). The password comes from
    COACH_PASSWORD, else a prompt: never from the command line."""
    from gympulse.dashboards.accounts import Accounts

    password = os.environ.get("COACH_PASSWORD") or getpass.getpass("Password: ")
    accounts = Accounts(settings.store.path)
    try:
        accounts.add_user(args.username, password)
    except ValueError as err:
        print(f"gympulse: {err}", file=sys.stderr)
        return 2
    finally:
        accounts.close()
    print(f"Coach account {args.username!r} saved in {settings.store.path}")
    return 0


COMMANDS = [
    Command(
        "web",
        "serve the built-in web app (live board, coach view, guest pages)",
        _web,
        _add_arguments,
        extra="server",
        description=(
            "Serve the live board (/live) and its Server-Sent Events stream, following the\n"
            "MQTT broker in settings [mqtt]. Names come from the registry next to the store."
        ),
    ),
    Command(
        "coach-user",
        "create a coach account for /coach (or reset its password)",
        _coach_user,
        _user_arguments,
        extra="server",
        description=(
            "Creates or updates a coach login in the registry's SQLite file (store.path).\n"
            "The password is read from COACH_PASSWORD or prompted; it is stored\n"
            "as an argon2id hash."
        ),
    ),
]
