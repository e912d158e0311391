"""``gympulse web``: the built-in web app (live board)."""

from __future__ import annotations

import argparse
import asyncio

from gympulse.commands import Command
from gympulse.settings import Settings


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: settings web.host)")
    parser.add_argument("--port", type=int, help="port (default: settings web.port)")


def _web(args: argparse.Namespace, settings: Settings) -> int:
    from dashboards.server import serve_web
    from gympulse.commands import install_stop_handlers

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        host = args.host or settings.web.host
        port = args.port or settings.web.port
        print(f"Live board: http://{host}:{port}/live", flush=True)
        await serve_web(settings, stop, host=host, port=port)

    asyncio.run(main())
    return 0


COMMANDS = [
    Command(
        "web",
        "serve the built-in web app (live board)",
        _web,
        _add_arguments,
        description=(
            "Serve the live board (/live) and its Server-Sent Events stream, following the\n"
            "MQTT broker in settings [mqtt]. Names come from the registry next to the store."
        ),
    )
]
