"""``gympulse grafana sync`` and ``gympulse grafana guest-link ATHLETE [--revoke]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gympulse.commands import Command
from gympulse.settings import Settings

if TYPE_CHECKING:
    from gympulse.pipeline.registry import Registry


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="grafana_action", metavar="ACTION", required=True)
    sub.add_parser(
        "sync",
        help="push data source, folders and dashboards (idempotent)",
    )
    link = sub.add_parser(
        "guest-link", help="print an athlete's shared guest-dashboard link, or revoke it"
    )
    link.add_argument("athlete", type=int, help="athlete id (see the registry)")
    link.add_argument(
        "--revoke", action="store_true", help="delete the share: the link stops working"
    )
    parser.epilog = (
        "Where Grafana is and how it reaches InfluxDB: settings [grafana] (url, username,"
        " influx_url, influx_username); secrets from GYMPULSE_GRAFANA__TOKEN or"
        " GYMPULSE_GRAFANA__PASSWORD, and GYMPULSE_GRAFANA__INFLUX_PASSWORD."
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget
    from gympulse.pipeline.registry import Registry

    registry = Registry(settings.store.path)
    try:
        sync = GrafanaSync(GrafanaTarget.from_settings(settings))
        if args.grafana_action == "sync":
            report = sync.sync(registry.athletes())
            for name in report.created:
                print(f"created  {name}")
            for name in report.updated:
                print(f"updated  {name}")
            print(f"unchanged: {len(report.unchanged)}")
            return 0
        athlete = registry.athlete(args.athlete)
        if athlete is None:
            print(f"gympulse: no athlete with id {args.athlete}", file=sys.stderr)
            return 2
        if args.revoke:
            revoked = sync.revoke_guest_link(athlete.id)
            print("revoked" if revoked else "no link to revoke")
            return 0
        if not _shares_allowed(registry, athlete.id, settings):
            print(
                f"gympulse: athlete {athlete.id} has not consented to Grafana sharing"
                " (her page: Privacy; or the coach's athlete page)",
                file=sys.stderr,
            )
            return 2
        print(sync.guest_link(athlete))
        return 0
    finally:
        registry.close()


def _shares_allowed(registry: Registry, athlete_id: int, settings: Settings) -> bool:
    """Whether she consented to a shared Grafana dashboard (pipeline/consent.py)."""
    from gympulse.pipeline.consent import Domain, Policy, decisions_of

    policy = Policy.of(settings.consent)
    if not policy.required:
        return True
    found = registry.run(lambda conn: decisions_of(conn, athlete_id, policy))
    return any(d.domain is Domain.GRAFANA and d.given for d in found)


COMMANDS: list[Command] = [
    Command(
        name="grafana",
        help="Grafana: sync dashboards, hand out or revoke guest links",
        run=_run,
        add_arguments=_add_arguments,
        extra="server",
    )
]
