"""A fake USB ANT stick at the driver boundary (``collectors.ant.AntDriver``), for the machines
without ANT hardware.

It behaves as an ANT USB stick does (ANT Message Protocol and Usage: a Reset System is
answered with a Startup Message, every configuration command with a Channel Response
"no error"); frames are built and parsed with openant's own ``Message`` class, an
implementation independent of ours. Once ``Open Rx Scan Mode`` arrives it replays the
broadcasts of its transmitters, round robin as straps on the air interleave: each payload
is a real captured ANT+ heart-rate page (tests/data/README.md), and the stick adds the
channel id (flag 0x80, device number, device type, transmission type) only when Lib Config
asked for it, as a real stick does. Without the ANT+ network key, scan mode or a channel on
RF 57 it hears nothing. Reads are paced by the reader (``per_read`` broadcasts per read), not
by the wall clock; an empty read waits briefly, like a USB read timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from openant.base.message import Message
from openant.devices import ANTPLUS_NETWORK_KEY

HR = 120


@dataclass
class Transmitter:
    """One strap on the air: its channel id and the pages it broadcasts, in order."""

    number: int  # 16-bit device number
    payloads: list[bytes]
    device_type: int = HR
    transmission_type: int = 0x01
    loops: int = 1  # how many times the payload list is broadcast


class FakeAntStick:
    def __init__(self, transmitters: list[Transmitter], *, per_read: int = 4) -> None:
        self.transmitters = transmitters
        self.per_read = per_read
        self.written: list[Message] = []
        self._out = bytearray()
        self._lock = threading.Lock()
        self.opened = False
        self.closed = False
        self.scanning = False
        self.channel_id_ext = False
        self.key_ok = False
        self.rf = 0
        self.device_type_filter = 0
        self._air: Iterator[tuple[Transmitter, bytes]] | None = None
        self.sent = 0  # broadcasts delivered
        self.done = threading.Event()  # everything on the air was delivered

    # ------------------------------------------------------------------ the driver API

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        message = Message.parse(bytearray(data))
        self.written.append(message)
        mid, body = message._id, bytes(message._data)
        if mid == Message.ID.RESET_SYSTEM:
            self._answer(Message.ID.STARTUP_MESSAGE, b"\x20")
            return
        if mid == Message.ID.SET_NETWORK_KEY:
            self.key_ok = body[1:] == bytes(ANTPLUS_NETWORK_KEY)
        elif mid == Message.ID.SET_CHANNEL_ID:
            self.device_type_filter = body[3] & 0x7F
        elif mid == Message.ID.SET_CHANNEL_RF_FREQ:
            self.rf = body[1]
        elif mid == Message.ID.LIB_CONFIG:
            self.channel_id_ext = bool(body[1] & 0x80)
        elif mid == Message.ID.OPEN_RX_SCAN_MODE:
            self.scanning = True
            self._air = self._broadcasts()
        self._answer(Message.ID.RESPONSE_CHANNEL, bytes((body[0] if body else 0, mid, 0)))

    def read(self) -> bytes:
        with self._lock:
            if not self._out and self._air is not None:
                for _ in range(self.per_read):
                    try:
                        strap, payload = next(self._air)
                    except StopIteration:
                        self._air = None
                        self.done.set()
                        break
                    self._broadcast(strap, payload)
            data, self._out = bytes(self._out), bytearray()
        if not data:
            time.sleep(0.02)  # a USB read timing out
        return data

    # ------------------------------------------------------------------ the air

    def _answer(self, mid: int, data: bytes) -> None:
        with self._lock:
            self._out += bytes(Message(mid, list(data)).get())

    def _broadcasts(self) -> Iterator[tuple[Transmitter, bytes]]:
        if not self.key_ok or self.rf != 57:
            return  # another network or frequency: nothing heard
        queues = [(t, [p for _ in range(t.loops) for p in t.payloads]) for t in self.transmitters]
        step = 0
        while any(step < len(q) for _, q in queues):
            for strap, payloads in queues:
                heard = self.device_type_filter in (0, strap.device_type & 0x7F)
                if step < len(payloads) and heard:
                    yield strap, payloads[step]
            step += 1

    def _broadcast(self, strap: Transmitter, payload: bytes) -> None:
        data = bytes((0,)) + payload
        if self.channel_id_ext:
            data += bytes(
                (
                    0x80,
                    strap.number & 0xFF,
                    strap.number >> 8,
                    strap.device_type,
                    strap.transmission_type,
                )
            )
        self._out += bytes(Message(Message.ID.BROADCAST_DATA, list(data)).get())
        self.sent += 1
