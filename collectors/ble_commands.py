"""``gympulse scan`` and ``gympulse collect``: the BLE collector on the command line.

Exit codes: 0 done, 2 bad settings or arguments, 3 no adapter / HCI transport / ANT stick,
4 no permission to use the adapter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from typing import Any

import msgspec

from gympulse.commands import Command, install_stop_handlers
from gympulse.settings import Settings

EXIT_NO_ADAPTER = 3
EXIT_NO_PERMISSION = 4


def _add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adapter",
        action="append",
        metavar="NAME",
        help="BlueZ adapter for the bleak central (hci0, hci1, ...); repeat for several",
    )
    parser.add_argument(
        "--transport",
        metavar="SPEC",
        help="use the bumble central on this HCI transport (usb:0, serial:/dev/ttyUSB0, "
        "tcp-client:HOST:PORT); comma separated for several controllers",
    )


def _with_adapters(args: argparse.Namespace, settings: Settings) -> Settings:
    collector = settings.collector
    if args.transport:
        collector = msgspec.structs.replace(collector, central="bumble", transport=args.transport)
    if args.adapter:
        collector = msgspec.structs.replace(collector, central="bleak", adapters=args.adapter)
    allow = getattr(args, "allow", None)
    if allow:
        pairs: dict[str, str] = {}
        for item in allow:
            address, _, alias = item.partition("=")
            pairs[address.strip()] = alias.strip()
        collector = msgspec.structs.replace(collector, allow=pairs)
    return msgspec.structs.replace(settings, collector=collector)


def _fail(message: str, code: int) -> int:
    print(f"gympulse: {message}", file=sys.stderr)
    return code


def _central_errors(run: Any) -> int:
    from gympulse.collectors.ant import AntError
    from gympulse.collectors.central import CentralError, NoAdapter, NoPermission

    try:
        result: int = run()
        return result
    except AntError as err:  # no ANT stick, or it refused the scan mode
        return _fail(str(err), EXIT_NO_ADAPTER)
    except NoPermission as err:
        return _fail(str(err), EXIT_NO_PERMISSION)
    except NoAdapter as err:
        return _fail(str(err), EXIT_NO_ADAPTER)
    except CentralError as err:
        return _fail(str(err), EXIT_NO_ADAPTER)


# ---------------------------------------------------------------------------- scan


def _scan_arguments(parser: argparse.ArgumentParser) -> None:
    _add_adapter_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON array on stdout")
    parser.add_argument("--seconds", type=float, help="scan time (default: collector.scan_seconds)")
    parser.add_argument(
        "--no-battery", action="store_true", help="do not connect to each strap to read its battery"
    )
    parser.add_argument(
        "--ant",
        action="store_true",
        help="also list the ANT+ straps the USB ANT stick hears (on with collector.ant.enabled)",
    )


async def _scan(settings: Settings, seconds: float, battery: bool) -> list[dict[str, Any]]:
    from gympulse.collectors.service import open_centrals

    centrals = await open_centrals(settings)
    rows: list[dict[str, Any]] = []
    try:
        for central in centrals:
            for found in await central.scan(seconds):
                row: dict[str, Any] = {
                    "address": found.address,
                    "name": found.name,
                    "rssi": found.rssi,
                    "battery_pct": None,
                    "adapter": found.adapter,
                }
                if battery:
                    try:
                        link = await central.connect(found, lambda: None, connect_timeout_s=5)
                        try:
                            row["battery_pct"] = await link.read_battery()
                        finally:
                            await link.disconnect()
                    except Exception as err:  # a strap busy with another central, say
                        row["error"] = str(err)
                rows.append(row)
    finally:
        for central in centrals:
            await central.close()
    return rows


def _print_ant(rows: list[dict[str, Any]], seconds: float) -> None:
    if not rows:
        print(f"no ANT+ heart-rate straps heard in {seconds:g} s")
        return
    print(f"{'ANT DEVICE':<12} {'SENSOR':<20} {'BPM':>4} {'BATTERY':>8} {'PER S':>6}  MAKER")
    for r in rows:
        sensor = r["sensor"] or "(not allowed)"
        bpm = "" if r["bpm"] is None else str(r["bpm"])
        batt = "" if r["battery_pct"] is None else f"{r['battery_pct']}%"
        maker = r["manufacturer"] or ("legacy strap" if r["legacy"] else "")
        print(
            f"{r['device_number']:<12} {sensor[:20]:<20} {bpm:>4} {batt:>8}"
            f" {r['per_second']:>6}  {maker}"
        )


def _run_scan(args: argparse.Namespace, settings: Settings) -> int:
    settings = _with_adapters(args, settings)
    seconds = args.seconds or settings.collector.scan_seconds
    with_ant = args.ant or settings.collector.ant.enabled

    def run() -> int:
        from gympulse.collectors.ant import scan_ant

        ble = settings.collector.ble or not with_ant
        rows = asyncio.run(_scan(settings, seconds, not args.no_battery)) if ble else []
        ant = asyncio.run(scan_ant(settings.collector.ant, seconds)) if with_ant else []
        if args.json:
            print(json.dumps([*rows, *({"kind": "ant", **r} for r in ant)]))
            return 0
        if with_ant:
            _print_ant(ant, seconds)
            if not ble:
                return 0
        if not rows:
            print(f"no heart-rate straps seen in {seconds:g} s")
            return 0
        print(f"{'ADDRESS':<20} {'NAME':<24} {'RSSI':>5} {'BATTERY':>8}  ADAPTER")
        for r in rows:
            rssi = "" if r["rssi"] is None else str(r["rssi"])
            batt = "" if r["battery_pct"] is None else f"{r['battery_pct']}%"
            print(f"{r['address']:<20} {r['name'][:24]:<24} {rssi:>5} {batt:>8}  {r['adapter']}")
        return 0

    return _central_errors(run)


# ---------------------------------------------------------------------------- collect


def _collect_arguments(parser: argparse.ArgumentParser) -> None:
    _add_adapter_arguments(parser)
    parser.add_argument(
        "--allow",
        action="append",
        metavar="ADDRESS[=ALIAS]",
        help='only these straps, e.g. --allow "A0:9E:1A:12:34:56=strap-12"; repeat',
    )


def _broker_reachable(url: str) -> str:
    """Empty when something listens at the broker address, else why not."""
    from gympulse.mqtt import parse_url

    address = parse_url(url)
    try:
        with socket.create_connection((address.host, address.port), timeout=3):
            return ""
    except OSError as err:
        return f"{address.host}:{address.port}: {err}"


def _run_collect(args: argparse.Namespace, settings: Settings) -> int:
    settings = _with_adapters(args, settings)
    try:
        problem = _broker_reachable(settings.mqtt.url)
    except ValueError as err:
        return _fail(f"mqtt.url: {err}", 2)
    if problem:
        # Not fatal: store and forward is the point. Say it clearly, once.
        print(
            f"gympulse: no MQTT broker at {problem}; collecting anyway, samples wait on disk "
            f"in {settings.collector.state_dir} and are sent when the broker is back",
            file=sys.stderr,
        )

    async def main() -> int:
        from gympulse.collectors.service import run_collector

        stop = asyncio.Event()
        install_stop_handlers(stop)
        summary = await run_collector(settings, stop)
        published = sum(c["published"] for c in summary.values())
        print(f"gympulse collect: {len(summary)} straps, {published} samples", file=sys.stderr)
        return 0

    return _central_errors(lambda: asyncio.run(main()))


COMMANDS: list[Command] = [
    Command(
        name="scan",
        help="list nearby heart-rate straps (name, address, RSSI, battery)",
        run=_run_scan,
        add_arguments=_scan_arguments,
        extra="collector",
    ),
    Command(
        name="collect",
        help="read heart-rate straps over Bluetooth LE and publish them over MQTT",
        run=_run_collect,
        add_arguments=_collect_arguments,
        extra="collector",
        description=(
            "Connect to the straps (discovery, or --allow), publish every notification per the "
            "MQTT contract, keep samples on disk while the broker is unreachable."
        ),
    ),
]
