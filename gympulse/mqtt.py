"""paho-mqtt 2.x driven by the asyncio event loop: no network thread, explicit reconnects.

paho does its socket work in ``loop_read`` / ``loop_write`` / ``loop_misc``; we call those
from the event loop's reader/writer callbacks (paho's own documented asyncio pattern), so
callbacks run on the loop and hand over to coroutines without locks. The one blocking call,
the TCP connect, runs in the default executor so an unreachable broker never freezes the loop.

Use it the way aiomqtt is used::

    async with MqttClient(settings, "my-id", subscriptions=[(topic, 1)]) as client:
        async for message in client.messages(until=stop):
            ...

``async with`` starts the connection keeper and closes the connection on the way out;
``messages()`` yields what arrives and ends when ``until`` is set or the client closes, so
no consumer races a queue against its own stop event. The reconnect policy is visible
here: :meth:`MqttClient._keep_connected` loops with capped, jittered backoff and logs
every attempt; the client keeps reconnecting for as long as the ``async with`` block runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gympulse.backoff import Backoff
from gympulse.contract import assert_publishable
from gympulse.settings import MqttSettings

log = logging.getLogger(__name__)


class MqttError(RuntimeError):
    pass


class NotAuthorized(MqttError):
    """The broker refused a publish (MQTT 5 PUBACK reason >= 0x80, e.g. 135 by ACL)."""

    def __init__(self, message: str, reason_code: int = 0) -> None:
        super().__init__(message)
        self.reason_code = reason_code  # the MQTT 5 reason code, e.g. 135 "Not authorized"


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    connection: int  # which connection delivered it: an ack only makes sense on that one


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://host:1883`` or ``mqtts://host:8883`` (``tcp://`` is accepted as ``mqtt://``)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parsed.hostname:
        raise ValueError(f"broker URL must look like mqtt://host:port, got {url!r}")
    tls = parsed.scheme in ("mqtts", "ssl")
    return BrokerAddress(parsed.hostname, parsed.port or (8883 if tls else 1883), tls)


@dataclass
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


async def wait_any(*events: asyncio.Event) -> None:
    """Return as soon as one of ``events`` is set."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class Messages(AsyncIterator[Received]):
    """What :meth:`MqttClient.messages` returns: ``async for message in ...`` yields the
    messages in arrival order and ends when ``until`` is set or the client closes.

    ``len()`` is the number of messages already received and waiting; :meth:`take_nowait`
    takes up to ``n`` of them without waiting (for batching consumers)."""

    def __init__(self, client: MqttClient, until: asyncio.Event | None) -> None:
        self._client = client
        self._stops = [client._closed] if until is None else [client._closed, until]

    def __aiter__(self) -> Self:
        return self

    def _stopped(self) -> bool:
        return any(e.is_set() for e in self._stops)

    async def __anext__(self) -> Received:
        queue = self._client._queue
        if self._stopped():
            raise StopAsyncIteration
        if not queue.empty():
            return self._took(queue.get_nowait())
        getter = asyncio.ensure_future(queue.get())
        stopper = asyncio.ensure_future(wait_any(*self._stops))
        try:
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()  # asyncio.Queue leaves the item in the queue for the next get
        if getter in done:
            return self._took(getter.result())
        raise StopAsyncIteration

    def __len__(self) -> int:
        return self._client._queue.qsize()

    def _took(self, message: Received) -> Received:
        self._client._resume_reading()
        return message

    def take_nowait(self, n: int) -> list[Received]:
        """Up to ``n`` messages that are already here; never waits."""
        queue = self._client._queue
        taken: list[Received] = []
        while len(taken) < n and not queue.empty():
            taken.append(queue.get_nowait())
        self._client._resume_reading()
        return taken


class MqttClient:
    """One MQTT connection owned by one event loop; an async context manager.

    - ``subscriptions``: (filter, qos) pairs, (re)subscribed on every connect.
    - ``persistent``: fixed client id with a broker-side session (clean_session / clean_start
      false, session expiry "never" on MQTT 5), so QoS 1 messages wait while we are away.
    - ``manual_ack``: messages are acknowledged only when :meth:`ack` is called.
    - ``max_inflight``: publishes awaiting PUBACK before :meth:`publish` waits (back-pressure;
      paho fails above 65,535 outstanding messages whatever its own queue setting says).
    - ``max_backoff_s``: the cap of the jittered reconnect delay.
    - ``max_received``: messages received and not yet taken by the consumer. At the bound
      the client stops reading its socket until the consumer has taken half of them: TCP
      holds the broker back, which keeps the rest (a QoS 1 session queues them; a stop
      longer than the keep-alive ends the connection, and a persistent session gets them
      again after the reconnect).
    - ``max_outbound``: publishes paho holds (in flight or waiting for the connection).
      Beyond it :meth:`publish_nowait`'s future fails with :class:`MqttError` at once; a
      collector keeps every sample on disk until it is confirmed and sends it again.
      :meth:`publish` waits at ``max_inflight`` first, so it stays below this bound.

    ``async with client:`` connects in the background and keeps reconnecting until the block
    ends (a collector must start while the broker is away); :meth:`wait_connected` waits for
    the first connection when a caller needs one.
    """

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        persistent: bool = False,
        manual_ack: bool = False,
        will: Will | None = None,
        max_inflight: int = 1000,
        receive_maximum: int = 1000,
        on_connect: Callable[[], None] | None = None,
        max_backoff_s: float = 10.0,
        max_received: int = 10_000,
        max_outbound: int = 10_000,
    ) -> None:
        self.address = parse_url(settings.url)
        self.settings = settings
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        # Bounded by pausing the socket's reader (:meth:`_on_message`), not by dropping.
        self._queue: asyncio.Queue[Received] = asyncio.Queue()
        self._max_received = max(1, max_received)
        self.reading_paused = False  # the socket is not read: the consumer is behind
        self._closed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()
        # Set once the broker has acknowledged every subscription of the current connection.
        self.subscribed = asyncio.Event()
        self._pending_subs: set[int] = set()
        self._user_on_connect = on_connect
        self._mqtt5 = settings.protocol == "5"
        self._persistent = persistent
        self._receive_maximum = receive_maximum
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._inflight = asyncio.Semaphore(max_inflight)
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._misc_task: asyncio.Task[None] | None = None
        self._disconnected: asyncio.Event = asyncio.Event()
        self._closing = False
        self.last_error: str = ""
        self.connect_count = 0

        protocol = paho.MQTTv5 if self._mqtt5 else paho.MQTTv311
        kwargs: dict[str, Any] = {}
        if not self._mqtt5:
            kwargs["clean_session"] = not persistent
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            manual_ack=manual_ack,
            **kwargs,
        )
        self._client.connect_timeout = 5.0
        # In flight: the semaphore above (paho's own window the same, at most the 65,535
        # packet ids MQTT has); everything paho holds: max_outbound (0 would be unlimited).
        self._client.max_inflight_messages_set(min(max_inflight, 65535))
        self._client.max_queued_messages_set(max(1, min(max_outbound, 65535)))
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password or None)
        if self.address.tls:
            self._client.tls_set(ca_certs=settings.tls_ca or None)
        if will is not None:
            self._client.will_set(
                assert_publishable(will.topic), will.payload, will.qos, will.retain
            )
        c = self._client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_publish = self._on_publish
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_socket_register_write
        c.on_socket_unregister_write = self._on_socket_unregister_write

    # ------------------------------------------------------------ loop plumbing

    def _in_loop(self, fn: Callable[[], object]) -> None:
        if threading.get_ident() == self._loop_thread:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def register() -> None:
            if not self.reading_paused:
                self._loop.add_reader(sock, client.loop_read)
            if self._misc_task is None or self._misc_task.done():
                self._misc_task = self._loop.create_task(self._misc_loop())

        self._in_loop(register)

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def unregister() -> None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock)
            with contextlib.suppress(Exception):
                self._loop.remove_writer(sock)

        self._in_loop(unregister)

    def _on_socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(lambda: self._loop.add_writer(sock, client.loop_write))

    def _on_socket_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(lambda: self._loop.remove_writer(sock))

    async def _misc_loop(self) -> None:
        # paho housekeeping (keep-alive pings, retries) once a second while connected.
        while self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # noqa: ASYNC110
            await asyncio.sleep(1)

    # ------------------------------------------------------------ paho callbacks

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = f"connection refused: {reason_code}"
            log.warning("mqtt %s: %s", self.client_id, self.last_error)
            return
        self.connect_count += 1
        log.info(
            "mqtt %s connected to %s:%s (session present: %s)",
            self.client_id,
            self.address.host,
            self.address.port,
            getattr(flags, "session_present", None),
        )
        self._pending_subs.clear()
        self.subscribed.clear()
        for topic_filter, qos in self.subscriptions:
            _, mid = client.subscribe(topic_filter, qos)
            if mid is not None:
                self._pending_subs.add(mid)
        if not self._pending_subs:
            self.subscribed.set()
        self._disconnected.clear()
        self.connected.set()
        if self._user_on_connect is not None:
            self._user_on_connect()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self._disconnected.set()
        if not self._closing:
            self.last_error = f"disconnected: {reason_code}"
            log.warning("mqtt %s %s", self.client_id, self.last_error)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self.last_error = f"subscription refused: {', '.join(refused)}"
            log.error("mqtt %s: %s", self.client_id, self.last_error)
        self._pending_subs.discard(mid)
        if not self._pending_subs and not refused:
            self.subscribed.set()

    def _pause_reading(self) -> None:
        self.reading_paused = True
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock)
        log.warning(
            "mqtt %s: %d messages not taken yet: reading paused until half are",
            self.client_id,
            self._queue.qsize(),
        )

    def _resume_reading(self) -> None:
        if not self.reading_paused or self._queue.qsize() > self._max_received // 2:
            return
        self.reading_paused = False
        sock = self._client.socket()
        if sock is not None and not self._closing:
            self._loop.add_reader(sock, self._client.loop_read)
            # Bytes a TLS layer already decrypted wake no reader: read once now.
            self._loop.call_soon(self._client.loop_read)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if self._queue.qsize() + 1 >= self._max_received and not self.reading_paused:
            self._pause_reading()
        self._queue.put_nowait(
            Received(
                msg.topic,
                bytes(msg.payload),
                msg.qos,
                bool(msg.retain),
                msg.mid,
                self.connect_count,
            )
        )

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        future = self._pending.pop(mid, None)
        if future is None or future.done():
            return
        if reason_code.is_failure:
            future.set_exception(
                NotAuthorized(f"publish refused by the broker: {reason_code}", reason_code.value)
            )
        else:
            future.set_result(None)

    # ------------------------------------------------------------ public API

    async def _connect_once(self) -> None:
        properties: Properties | None = None
        kwargs: dict[str, Any] = {}
        if self._mqtt5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.ReceiveMaximum = self._receive_maximum
            if self._persistent:
                properties.SessionExpiryInterval = 0xFFFFFFFF
            kwargs["clean_start"] = not self._persistent
            kwargs["properties"] = properties
        client = self._client
        await self._loop.run_in_executor(
            None,
            lambda: client.connect(
                self.address.host, self.address.port, self.settings.keepalive_s, **kwargs
            ),
        )

    async def __aenter__(self) -> Self:
        if self._runner is not None or self._closing:
            raise MqttError("an MqttClient is entered once")
        self._runner = self._loop.create_task(self._keep_connected(), name=f"mqtt-{self.client_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def messages(self, *, until: asyncio.Event | None = None) -> Messages:
        """``async for message in client.messages(until=stop)``: see :class:`Messages`."""
        return Messages(self, until)

    async def wait_subscribed(self, *, until: asyncio.Event | None = None) -> bool:
        """Wait until the broker acknowledged every subscription (or ``until`` is set, or the
        client closes); True when subscribed."""
        await wait_any(self.subscribed, self._closed, *(() if until is None else (until,)))
        return self.subscribed.is_set()

    async def _keep_connected(self) -> None:
        """Connect and stay connected until :meth:`close`; reconnects with jittered backoff."""
        max_backoff_s = self._max_backoff_s
        backoff = Backoff(0.2, max_backoff_s)
        failures = 0
        while not self._closing:
            try:
                self._disconnected.clear()
                await self._connect_once()
                failures = 0
                await self._disconnected.wait()
            except (TimeoutError, OSError, paho.WebsocketConnectionError) as err:
                self.last_error = (
                    f"cannot reach broker {self.address.host}:{self.address.port}: {err}"
                )
                log.warning("mqtt %s: %s", self.client_id, self.last_error)
            if self._closing:
                break
            with contextlib.suppress(TimeoutError):  # close() ends the wait at once
                failures += 1
                await asyncio.wait_for(self._closed.wait(), backoff.delay(failures))

    async def wait_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            raise MqttError(
                f"no connection to {self.address.host}:{self.address.port} within {timeout:g} s"
                + (f" ({self.last_error})" if self.last_error else "")
            ) from None

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1) or the socket (QoS 0)."""
        await self._inflight.acquire()
        try:
            await self.publish_nowait(topic, payload, qos, retain)
        finally:
            self._inflight.release()

    def publish_nowait(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        """Queue a publish; the future completes on PUBACK. Caller handles back-pressure."""
        info = self._client.publish(assert_publishable(topic), payload, qos, retain)
        future: asyncio.Future[None] = self._loop.create_future()
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            future.set_exception(MqttError("paho publish queue is full"))
        elif qos == 0 or info.is_published():
            future.set_result(None)
        else:
            self._pending[info.mid] = future
        return future

    def ack(self, message: Received) -> bool:
        """Acknowledge a message (manual-ack mode). A message from an earlier connection is
        not acknowledged: its packet id means nothing now, and the broker redelivers it."""
        if message.qos == 0:
            return True
        if message.connection != self.connect_count or not self.connected.is_set():
            return False
        self._client.ack(message.mid, message.qos)
        return True

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.subscriptions.append((topic_filter, qos))
        if self.connected.is_set():
            _, mid = self._client.subscribe(topic_filter, qos)
            if mid is not None:
                self.subscribed.clear()
                self._pending_subs.add(mid)

    async def close(self) -> None:
        """Disconnect and stop reconnecting (what leaving ``async with`` does); message
        iterators end. Safe to call more than once."""
        self._closing = True
        self._closed.set()
        if self.connected.is_set():
            self._client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._disconnected.wait(), 2)
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)
        if self._misc_task is not None:
            self._misc_task.cancel()
        self._disconnected.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(MqttError("client closed before the broker acknowledged"))
        self._pending.clear()
        runner, self._runner = self._runner, None
        if runner is not None and runner is not asyncio.current_task():
            await runner
