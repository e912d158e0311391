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
        print(
            f"Live board: http://{host}:{port}/live (open it with a board link:"
            " `gympulse board link`, or log in as coach)",
            flush=True,
        )
        await serve_web(settings, stop, host=host, port=port)

    asyncio.run(main())
    return 0


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument(
        "--remove", action="store_true", help="delete the account (its sessions end at once)"
    )


def _coach_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create a coach account (or set its password: every session of it ends). The
    password comes from COACH_PASSWORD, else a prompt: never from the command line."""
    from gympulse.dashboards.accounts import Accounts

    if args.remove:
        accounts = Accounts(settings.store.path)
        try:
            removed = accounts.remove_user(args.username)
        finally:
            accounts.close()
        if not removed:
            print(f"gympulse: no coach account {args.username!r}", file=sys.stderr)
            return 2
        print(f"Coach account {args.username!r} removed; its sessions ended")
        return 0
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


def _board_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="board_action", metavar="ACTION", required=True)
    link = sub.add_parser("link", help="make a new board link (for the gym's TV)")
    link.add_argument("--label", default="", help="what the link is for (e.g. 'hall TV')")
    link.add_argument(
        "--base-url", default="", help="the web app's URL (default: web.public_url, else host:port)"
    )
    sub.add_parser("list", help="list board links")
    revoke = sub.add_parser("revoke", help="revoke a board link: its screens stop at once")
    revoke.add_argument("id", type=int)


def board_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/board/{token}"


def _board(args: argparse.Namespace, settings: Settings) -> int:
    from gympulse.dashboards.accounts import Accounts

    accounts = Accounts(settings.store.path)
    try:
        if args.board_action == "link":
            token_id, token = accounts.issue_board_token(args.label)
            base = (
                args.base_url
                or settings.web.public_url
                or f"http://{settings.web.host}:{settings.web.port}"
            )
            print(f"Board link #{token_id}: {board_url(base, token)}")
        elif args.board_action == "list":
            for b in accounts.board_tokens():
                state = "revoked" if b.revoked_ms else "active"
                print(f"#{b.id}\t{state}\t{b.label}")
        else:
            if not accounts.revoke_board_token(args.id):
                print(f"gympulse: no active board link #{args.id}", file=sys.stderr)
                return 2
            print(f"Board link #{args.id} revoked")
    finally:
        accounts.close()
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
            "as an argon2id hash. Setting a new password ends every session of the\n"
            "account; --remove deletes it."
        ),
    ),
    Command(
        "board",
        "board links for the live board (link, list, revoke)",
        _board,
        _board_arguments,
        description=(
            "The live board shows names and heart rates: it opens with a board link\n"
            "(/board/TOKEN, remembered by the browser), a coach login, or from\n"
            "web.board_trusted_networks. A revoked link stops its open screens within\n"
            "a second or two."
        ),
    ),
]
