"""The MQTT client's consumer API against a real Mosquitto: ``async with`` and
``async for message in client.messages(...)``, which ends on a stop event or on close."""

from __future__ import annotations

import asyncio

import pytest

from gympulse.mqtt import MqttClient, Received
from gympulse.settings import MqttSettings
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow  # a real Mosquitto


async def test_messages_arrive_in_order_and_end_when_stop_is_set(mosquitto: Mosquitto) -> None:
    settings = MqttSettings(url=mosquitto.url)
    stop = asyncio.Event()
    got: list[Received] = []
    async with (
        MqttClient(settings, "test-sub", subscriptions=[("gympulse/v1/t/#", 1)]) as sub,
        MqttClient(settings, "test-pub") as pub,
    ):
        assert await sub.wait_subscribed()
        await pub.wait_connected()
        for i in range(5):
            await pub.publish(f"gympulse/v1/t/{i}", str(i).encode())

        async def consume() -> None:
            async for message in sub.messages(until=stop):
                got.append(message)
                if len(got) == 5:
                    stop.set()

        await asyncio.wait_for(consume(), 10)  # ends by itself once stop is set
    assert [m.payload for m in got] == [b"0", b"1", b"2", b"3", b"4"]


async def test_messages_end_when_the_client_closes(mosquitto: Mosquitto) -> None:
    async with MqttClient(MqttSettings(url=mosquitto.url), "test-closing") as client:
        consumer = asyncio.create_task(anext(aiter(client.messages()), None))
        await asyncio.sleep(0)  # the consumer waits for a message
        await client.close()
        assert await asyncio.wait_for(consumer, 5) is None
        assert [m async for m in client.messages()] == []
