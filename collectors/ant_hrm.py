"""ANT+ heart-rate monitor decoding: pure, no radio, no USB library.

Three layers, each bytes (or plain values) in, frozen dataclasses out:

- :func:`parse_frames`: the ANT serial protocol a USB stick speaks (ANT Message Protocol and
  Usage, section 7.1): ``sync 0xA4, length, message id, data[length], checksum`` where the
  checksum is the XOR of every byte before it. Returns whole messages and what is left over
  for the next read; a frame whose checksum is wrong is skipped (counted), the stream resyncs
  on the next sync byte.
- :func:`broadcast_of`: a Broadcast Data message (id 0x4E) with flagged extended data (flag
  0x80: device number uint16, device type, transmission type), which is what a stick in
  continuous scan mode delivers for every device it hears.
- :func:`decode_page`: the 8-byte payload of the ANT+ Heart Rate Monitor profile
  (device type 120). Every page carries, in bytes 4-7, the heart-beat event time (uint16,
  1/1024 s, rolls over every 64 s), the heart-beat count (uint8, rolls over at 256) and the
  computed heart rate (uint8 bpm). Byte 0 is the page number (bits 0-6) and the
  page-change toggle (bit 7), which a current strap flips every 4 messages; a legacy strap
  never flips it and its bytes 0-3 mean nothing. Page-specific bytes 1-3:

  ==== ========================================================================
  0    default, nothing
  1    cumulative operating time, uint24, 2 s units
  2    manufacturer id (LSB), serial number (upper 16 bits of the serial)
  3    hardware version, software version, model number
  4    manufacturer specific byte, previous heart-beat event time (uint16)
  5    swim interval: average HR, maximum HR, session average HR
  6    capabilities: features supported, features enabled
  7    battery level (%), voltage fraction (1/256 V), coarse voltage (bits 0-3) and
       battery status (bits 4-6: 1 new, 2 good, 3 ok, 4 low, 5 critical, 6 charging,
       7 invalid)
  ==== ========================================================================

:class:`BeatTracker` turns one strap's pages into what the wire contract carries: RR
intervals when two consecutive beats are known (the count went up by exactly one, or page 4
names the previous beat's time) and a sample about once a second of the strap's own beat
clock, so the stream looks like a Bluetooth strap's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from gympulse.collectors.hrm import rr_raw_to_ms

__all__ = [
    "BATTERY_STATUS",
    "HR_DEVICE_TYPE",
    "AntBroadcast",
    "AntMessage",
    "BeatTracker",
    "HrPage",
    "MalformedPage",
    "TrackerOutput",
    "broadcast_of",
    "decode_page",
    "encode_message",
    "parse_frames",
]

SYNC: Final = 0xA4
BROADCAST_DATA: Final = 0x4E
EXT_FLAG_CHANNEL_ID: Final = 0x80
HR_DEVICE_TYPE: Final = 120
PAGE_BYTES: Final = 8
TOGGLE: Final = 0x80
LEGACY_AFTER: Final = 8  # messages without a toggle flip: a legacy strap (it flips every 4)

BATTERY_STATUS: Final[dict[int, str]] = {
    1: "new",
    2: "good",
    3: "ok",
    4: "low",
    5: "critical",
    6: "charging",
}


class MalformedPage(ValueError):
    """A payload that is not an 8-byte ANT+ heart-rate page, or a message that is not a
    flagged broadcast."""


# --------------------------------------------------------------------------- serial frames


@dataclass(frozen=True, slots=True)
class AntMessage:
    msg_id: int
    data: bytes


def checksum(body: bytes) -> int:
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode_message(msg_id: int, data: bytes) -> bytes:
    """One serial frame: sync, length, id, data, XOR checksum."""
    body = bytes((SYNC, len(data), msg_id)) + data
    return body + bytes((checksum(body),))


def parse_frames(buffer: bytes) -> tuple[list[AntMessage], bytes, int]:
    """Whole messages in ``buffer``, the incomplete tail to keep, and how many bad frames
    (wrong checksum) or stray bytes before a sync were skipped."""
    messages: list[AntMessage] = []
    skipped = 0
    i = 0
    size = len(buffer)
    while i < size:
        if buffer[i] != SYNC:
            skipped += 1
            i += 1
            continue
        if i + 4 > size:
            break
        length = buffer[i + 1]
        end = i + 4 + length
        if end > size:
            break
        frame = buffer[i:end]
        if checksum(frame[:-1]) != frame[-1]:
            skipped += 1
            i += 1  # resync on the next sync byte
            continue
        messages.append(AntMessage(frame[2], bytes(frame[3:-1])))
        i = end
    return messages, bytes(buffer[i:]), skipped


@dataclass(frozen=True, slots=True)
class AntBroadcast:
    channel: int
    payload: bytes  # 8 bytes
    device_number: int  # 16-bit device number from the channel id
    device_type: int
    transmission_type: int

    @property
    def extended_number(self) -> int:
        """The 20-bit device number: the transmission type's upper nibble on top (ANT+
        Common Pages, "extended device number")."""
        return (self.transmission_type & 0xF0) << 12 | self.device_number


def broadcast_of(message: AntMessage) -> AntBroadcast:
    """A flagged extended Broadcast Data message -> :class:`AntBroadcast`."""
    data = message.data
    if message.msg_id != BROADCAST_DATA:
        raise MalformedPage(f"message 0x{message.msg_id:02x} is not broadcast data")
    if len(data) < 1 + PAGE_BYTES + 5 or not data[1 + PAGE_BYTES] & EXT_FLAG_CHANNEL_ID:
        raise MalformedPage("broadcast without the channel id (extended messages off?)")
    ext = 1 + PAGE_BYTES + 1
    return AntBroadcast(
        channel=data[0],
        payload=bytes(data[1 : 1 + PAGE_BYTES]),
        device_number=data[ext] | data[ext + 1] << 8,
        device_type=data[ext + 2],
        transmission_type=data[ext + 3],
    )


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class HrPage:
    page: int  # 0-127 (bits 0-6 of byte 0); meaningless on a legacy strap
    toggle: bool
    beat_time: int  # 1/1024 s, uint16
    beat_count: int  # uint8
    bpm: int  # computed heart rate; 0 means invalid
    operating_time_s: int | None = None  # page 1
    manufacturer_id: int | None = None  # page 2 (the LSB of the id)
    serial_upper: int | None = None  # page 2
    hardware_version: int | None = None  # page 3
    software_version: int | None = None  # page 3
    model_number: int | None = None  # page 3
    previous_beat_time: int | None = None  # page 4
    battery_pct: int | None = None  # page 7 (None when 0xFF: not used)
    battery_voltage: float | None = None  # page 7
    battery_status: str | None = None  # page 7


def decode_page(payload: bytes, *, legacy: bool = False) -> HrPage:
    """One 8-byte heart-rate page. ``legacy``: bytes 0-3 are not a page (see module doc)."""
    if len(payload) != PAGE_BYTES:
        raise MalformedPage(f"an ANT+ page has 8 bytes, got {len(payload)}")
    base = HrPage(
        page=payload[0] & 0x7F,
        toggle=bool(payload[0] & TOGGLE),
        beat_time=payload[4] | payload[5] << 8,
        beat_count=payload[6],
        bpm=payload[7],
    )
    if legacy:
        return base
    page = payload[0] & 0x7F
    b1, b2, b3 = payload[1], payload[2], payload[3]
    if page == 1:
        return replace(base, operating_time_s=(b1 | b2 << 8 | b3 << 16) * 2)
    if page == 2:
        return replace(base, manufacturer_id=b1, serial_upper=b2 | b3 << 8)
    if page == 3:
        return replace(base, hardware_version=b1, software_version=b2, model_number=b3)
    if page == 4:
        return replace(base, previous_beat_time=b2 | b3 << 8)
    if page == 7:
        coarse = b3 & 0x0F
        return replace(
            base,
            battery_pct=None if b1 == 0xFF else min(b1, 100),
            battery_voltage=None if coarse == 0x0F else coarse + b2 / 256,
            battery_status=BATTERY_STATUS.get((b3 >> 4) & 0x07),
        )
    return base


# --------------------------------------------------------------------------- beats -> samples


@dataclass(frozen=True, slots=True)
class TrackerOutput:
    """What one broadcast adds: a sample to publish (``bpm`` not None) with the RR intervals
    gathered since the last one, and what changed about the strap (info fields)."""

    bpm: int | None = None
    rr_ms: tuple[int, ...] = ()
    missed_beats: int = 0
    info_changed: bool = False


@dataclass(slots=True)
class BeatTracker:
    """One strap's stream of pages -> samples about once a second of its beat clock.

    A sample is due when a new beat arrives and at least ``every`` ticks (1/1024 s) of
    beat time passed since the last sample's beat. RR intervals: the event-time difference
    of two beats whose counts differ by exactly one (mod 256), or page 4's previous-beat
    time; when beats were missed (count jumped by more than one, no page 4) no interval is
    invented. Repeats of the same beat (4 messages a second, one beat each second or so)
    add nothing."""

    every: int = 1024
    legacy: bool | None = None  # None: not known yet
    messages: int = 0
    _first_toggle: bool | None = None
    _last_count: int | None = None
    _last_time: int = 0
    _since_sample: int = 0  # ticks of beat time since the last sample
    _pending_rr: list[int] = field(default_factory=list)
    _pending_missed: int = 0
    manufacturer_id: int | None = None
    model_number: int | None = None
    battery_pct: int | None = None
    operating_time_s: int | None = None

    def _learn_legacy(self, payload: bytes) -> bool:
        toggle = bool(payload[0] & TOGGLE)
        if self.legacy is None:
            if self._first_toggle is None:
                self._first_toggle = toggle
            elif toggle != self._first_toggle:
                self.legacy = False
            elif self.messages >= LEGACY_AFTER:
                self.legacy = True
        return self.legacy is True

    def _learn_info(self, page: HrPage) -> bool:
        before = (self.manufacturer_id, self.model_number, self.battery_pct)
        if page.manufacturer_id is not None:
            self.manufacturer_id = page.manufacturer_id
        if page.model_number is not None:
            self.model_number = page.model_number
        if page.battery_pct is not None:
            self.battery_pct = page.battery_pct
        if page.operating_time_s is not None:
            self.operating_time_s = page.operating_time_s
        return before != (self.manufacturer_id, self.model_number, self.battery_pct)

    def feed(self, payload: bytes) -> TrackerOutput:
        """One broadcast's 8-byte payload. Raises :class:`MalformedPage`."""
        if len(payload) != PAGE_BYTES:
            raise MalformedPage(f"an ANT+ page has 8 bytes, got {len(payload)}")
        self.messages += 1
        legacy = self._learn_legacy(payload)
        # Until the toggle is seen to flip, bytes 0-3 are not trusted (a legacy strap).
        page = decode_page(payload, legacy=legacy or self.legacy is None)
        changed = self._learn_info(page) if self.legacy is False else False
        if self._last_count is None:
            self._last_count, self._last_time = page.beat_count, page.beat_time
            return TrackerOutput(info_changed=changed)
        beats = (page.beat_count - self._last_count) % 256
        if beats == 0:
            return TrackerOutput(info_changed=changed)
        ticks = (page.beat_time - self._last_time) % 65536
        if beats == 1:
            self._pending_rr.append(ticks)
        elif page.previous_beat_time is not None:
            self._pending_rr.append((page.beat_time - page.previous_beat_time) % 65536)
            self._pending_missed += beats - 1
        else:
            self._pending_missed += beats - 1
        self._last_count, self._last_time = page.beat_count, page.beat_time
        self._since_sample += ticks
        if self._since_sample < self.every or page.bpm == 0:
            return TrackerOutput(info_changed=changed)
        out = TrackerOutput(
            bpm=page.bpm,
            rr_ms=tuple(rr_raw_to_ms(raw) for raw in self._pending_rr),
            missed_beats=self._pending_missed,
            info_changed=changed,
        )
        self._since_sample = 0
        self._pending_rr.clear()
        self._pending_missed = 0
        return out
