"""``gympulse web``: the built-in web app; ``gympulse coach-user``: coach accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import smtplib
import sys

from gympulse.commands import Command
from gympulse.settings import Settings
from gympulse.terminal_safe import printable


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
    parser.add_argument(
        "--email", help='the coach\'s address for the morning email ("" removes it)'
    )
    parser.add_argument("--lang", choices=("en", "nl"), help="the morning email's language")


def _coach_contact(args: argparse.Namespace, settings: Settings, *, created: bool) -> int:
    """Set --email / --lang of an account (after creating it, when ``created``)."""
    from gympulse.dashboards.accounts import Accounts

    accounts = Accounts(settings.store.path)
    try:
        found = accounts.set_contact(args.username, email=args.email, lang=args.lang)
    finally:
        accounts.close()
    if not found:
        print(f"gympulse: no coach account {args.username!r}", file=sys.stderr)
        return 2
    if not created:
        print(f"Coach account {args.username!r}: morning email settings saved")
    return 0


def _has_user(settings: Settings, username: str) -> bool:
    from gympulse.dashboards.accounts import Accounts

    accounts = Accounts(settings.store.path)
    try:
        return any(u.username == username for u in accounts.users())
    finally:
        accounts.close()


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
    contact = args.email is not None or args.lang is not None
    if contact and not os.environ.get("COACH_PASSWORD") and _has_user(settings, args.username):
        return _coach_contact(args, settings, created=False)  # the password stays
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
    return _coach_contact(args, settings, created=True) if contact else 0


def _coach_email_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print the messages instead of sending them"
    )


def _coach_email(args: argparse.Namespace, settings: Settings) -> int:
    """Send the coaches' morning email (who needs attention today) once."""
    from gympulse.dashboards.coach_email import morning_messages, send

    if not settings.smtp.host and not args.dry_run:
        print("gympulse: no mail server: set smtp.host (docs/deploy.md)", file=sys.stderr)
        return 2
    recipients, messages = asyncio.run(morning_messages(settings, dry_run=args.dry_run))
    if not recipients:
        print(
            "gympulse: no coach has an address: gympulse coach-user NAME --email ADDRESS",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        for msg in messages:
            for line in msg.as_string().splitlines():
                print(printable(line))
        return 0
    try:
        send(settings.smtp, messages)
    except (OSError, smtplib.SMTPException) as err:
        print(f"gympulse: sending the morning email failed: {err}", file=sys.stderr)
        return 1
    print(f"Morning email sent to {len(messages)} coach(es)")
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
            try:
                token_id, token = accounts.issue_board_token(args.label)
            except ValueError as err:
                print(f"gympulse: --label: {err}", file=sys.stderr)
                return 2
            base = (
                args.base_url
                or settings.web.public_url
                or f"http://{settings.web.host}:{settings.web.port}"
            )
            print(f"Board link #{token_id}: {board_url(base, token)}")
        elif args.board_action == "list":
            for b in accounts.board_tokens():
                state = "revoked" if b.revoked_ms else "active"
                print(f"#{b.id}\t{state}\t{printable(b.label)}")
        else:
            if not accounts.revoke_board_token(args.id):
                print(f"gympulse: no active board link #{args.id}", file=sys.stderr)
                return 2
            print(f"Board link #{args.id} revoked")
    finally:
        accounts.close()
    return 0


def _athlete_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="athlete_action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write all of a person's data to a zip (JSON + CSV)")
    export.add_argument("athlete", help="athlete id or exact name")
    export.add_argument("--out", help="zip file (default: athlete-ID.zip)")
    forget = sub.add_parser("forget", help="erase a person from every store")
    forget.add_argument("athlete", help="athlete id or exact name")
    forget.add_argument("--yes", action="store_true", help="do it (without: say what it would do)")


def _athlete(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from gympulse.dashboards import rights

    athlete_id = rights.resolve_athlete(settings, args.athlete)
    if athlete_id is None:
        print(f"gympulse: no (single) athlete {args.athlete!r}", file=sys.stderr)
        return 2
    if args.athlete_action == "export":
        out = Path(args.out or f"athlete-{athlete_id}.zip")
        counts = asyncio.run(rights.export_athlete(settings, athlete_id, out))
        print(f"Exported athlete {athlete_id} to {out}: " + ", ".join(
            f"{name} {n}" for name, n in counts.items()
        ))  # fmt: skip
        return 0
    if not args.yes:
        print(
            f"This erases athlete {athlete_id} from every store (samples, sessions, readings,"
            " wellness, RPE, guest links, Grafana). Run again with --yes to do it.",
            file=sys.stderr,
        )
        return 2
    counts = asyncio.run(rights.forget_athlete(settings, athlete_id))
    print(f"Erased athlete {athlete_id}: " + ", ".join(
        f"{name} {'?' if n < 0 else n}" for name, n in counts.items()
    ))  # fmt: skip
    return 0


def retention_days(text: str) -> int:
    """``--days``: a whole number of days, at least 1 (0 once meant the default, 400)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"{days} days would delete every sample: at least 1")
    return days


def _retention_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days", type=retention_days, help="at least 1; default: settings ingest.retention_days"
    )


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    from gympulse.dashboards import rights

    days = settings.ingest.retention_days if args.days is None else args.days
    deleted = asyncio.run(rights.apply_retention(settings, days))
    print(f"Raw samples older than {days} days deleted" + ("" if deleted < 0 else f": {deleted}"))
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
        "coach-email",
        "send the coaches' morning email: who needs attention today and why",
        _coach_email,
        _coach_email_arguments,
        extra="server",
        description=(
            "Sends every coach account with an address (gympulse coach-user NAME --email\n"
            "ADDRESS --lang nl) the list of /coach/today in their language, through the\n"
            "mail server of settings [smtp] (password: GYMPULSE_SMTP__PASSWORD). Run it\n"
            "every morning (cron / systemd timer). --dry-run prints the messages."
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
    Command(
        "athlete",
        "guests' rights: export all of a person's data, or erase it everywhere",
        _athlete,
        _athlete_arguments,
        description=(
            "export: one zip with every kind of the person's data as JSON and CSV (profile,\n"
            "assignments, samples, sessions, daily metrics, readings, baselines, wellness,\n"
            "RPE). forget --yes: erase them from the store (SQLite or InfluxDB), the\n"
            "quarantine, the journal and registry, their guest links and their Grafana\n"
            "dashboard and share. See docs/privacy.md."
        ),
    ),
    Command(
        "retention",
        "delete raw samples older than ingest.retention_days (default 400)",
        _retention,
        _retention_arguments,
        description=(
            "Raw heart-rate and machine samples and quarantined messages older than the\n"
            "retention period are deleted; summaries (sessions, daily metrics) stay until\n"
            "the person is erased. Run it daily (cron / systemd timer)."
        ),
    ),
]
