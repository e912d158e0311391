"""The whole collector, one lifecycle: ``gympulse collect`` runs :func:`run_collector`.

Everything the collector opens goes onto one :class:`contextlib.AsyncExitStack` as it is
opened, and comes off in reverse order however the run ends (``stop`` set, a task failing,
cancellation): the disk queue, the Bluetooth centrals, the MQTT connection, the "offline"
status, the forwarder (whatever the broker has not acknowledged goes to disk), the strap
manager and the ANT+ receiver (every strap disconnected and marked lost). The long-running
tasks, the strap manager, the ANT+ receiver and the forwarder, run in one
:class:`asyncio.TaskGroup`: when one fails, the others are cancelled and the run ends with
that error.

Stopping is the caller's: ``stop`` is set by the shared SIGINT/SIGTERM handling of
:func:`gympulse.commands.install_stop_handlers` (the CLI) or by a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from gympulse import contract
from gympulse.collectors.ant import AntDriver, AntReceiver
from gympulse.collectors.buffer import DiskQueue, Forwarder, SeqAllocator
from gympulse.collectors.central import Central, make_central
from gympulse.collectors.manager import StrapManager
from gympulse.collectors.publisher import CollectorPublisher, collector_will
from gympulse.mqtt import MqttClient
from gympulse.settings import Settings

log = logging.getLogger(__name__)


def adapters_of(settings: Settings) -> list[str]:
    """bleak: the adapter names; bumble: the HCI transports (comma separated)."""
    c = settings.collector
    if c.central == "bumble":
        return [t.strip() for t in c.transport.split(",") if t.strip()]
    return list(c.adapters) or ["hci0"]


async def open_centrals(settings: Settings) -> list[Central]:
    """One opened central per adapter; none left open when one fails to open."""
    async with contextlib.AsyncExitStack() as opened:
        centrals: list[Central] = []
        for adapter in adapters_of(settings) or [""]:
            central = make_central(settings.collector.central, adapter)
            await central.open()
            opened.push_async_callback(central.close)
            centrals.append(central)
        opened.pop_all()  # all open: the caller closes them
        return centrals


def _cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    for task in list(tasks):
        task.cancel()


async def _say_offline(mqtt: MqttClient, publisher: CollectorPublisher) -> None:
    """The retained "offline" status on a clean stop (the last will covers a crash)."""
    if mqtt.connected.is_set():
        with contextlib.suppress(Exception):
            await asyncio.wait_for(publisher.offline(), 2)


async def run_collector(
    settings: Settings, stop: asyncio.Event, *, ant_stick: Callable[[], AntDriver] | None = None
) -> dict[str, dict[str, int]]:
    """Run until ``stop`` is set. Returns per-strap counters.

    Bluetooth straps (``collector.ble``) and ANT+ straps (``collector.ant.enabled``) run
    side by side on one disk queue, forwarder and seq allocator. ``ant_stick`` replaces the
    USB stick (tests: a fake stick at the USB boundary)."""
    c = settings.collector
    collector = contract.check_level(c.name, "collector name")
    site = contract.check_level(settings.site, "site")
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        queue_path = Path(c.state_dir) / f"{collector}.sqlite3"
        # Opened and closed in a thread: the file's owner thread does the work, we wait.
        queue = await asyncio.to_thread(DiskQueue, queue_path, c.queue_max_samples)
        stack.push_async_callback(asyncio.to_thread, queue.close)
        # NoAdapter / NoPermission end the run here
        centrals = await open_centrals(settings) if c.ble else []
        for central in centrals:
            stack.push_async_callback(central.close)

        publisher: CollectorPublisher | None = None
        announcing: set[asyncio.Task[None]] = set()

        def on_connect() -> None:  # retained "online" on every (re)connect; the will: offline
            if publisher is not None:
                task = loop.create_task(publisher.online())
                announcing.add(task)
                task.add_done_callback(announcing.discard)

        mqtt = MqttClient(
            settings.mqtt,
            f"gympulse-collector-{site}-{collector}",
            will=collector_will(site, collector),
            on_connect=on_connect,
            # The ingestion's watermark (retained): what is stored, so it may leave the disk.
            subscriptions=[(contract.stored_topic(site, collector), 1)]
            if c.confirm == "ingest"
            else [],
        )
        publisher = CollectorPublisher(mqtt, site, collector)
        forwarder = Forwarder(mqtt, publisher, queue, confirm=c.confirm)
        seqs = SeqAllocator(queue)
        manager = StrapManager(settings, centrals, forwarder, publisher, seqs) if c.ble else None
        ant: AntReceiver | None = None
        if c.ant.enabled:  # NoStick / AntError end the run here
            ant = AntReceiver(c.ant, forwarder, publisher, seqs, stick=ant_stick)
            await ant.open()
            stack.push_async_callback(ant.close)
        await stack.enter_async_context(mqtt)
        stack.callback(_cancel_all, announcing)
        stack.push_async_callback(_say_offline, mqtt, publisher)
        stack.push_async_callback(forwarder.close)  # unconfirmed samples stay on disk
        receivers: list[StrapManager | AntReceiver] = [r for r in (manager, ant) if r is not None]
        for receiver in receivers:  # first: straps disconnected, marked lost
            stack.push_async_callback(receiver.close)
        try:
            async with asyncio.TaskGroup() as tasks:
                running = [tasks.create_task(r.run(), name=type(r).__name__) for r in receivers]
                forwarder_task = tasks.create_task(forwarder.run(), name="forwarder")
                watermark_task = tasks.create_task(forwarder.watch(until=stop), name="watermarks")
                await stop.wait()
                for receiver, task in zip(receivers, running, strict=True):
                    await receiver.close()
                    task.cancel()
                await forwarder.close()
                forwarder_task.cancel()
                watermark_task.cancel()
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # a failed task ends the run with its error
        summary: dict[str, dict[str, int]] = {}
        for receiver in receivers:
            summary.update(receiver.summary())
        return summary
