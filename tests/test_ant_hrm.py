"""The ANT+ heart-rate decoder against published captures (tests/data/README.md cites each),
against an independent implementation (openant's own HeartRate profile, PyPI) and against
random bytes."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openant.devices.common import BatteryStatus, CommonData
from openant.devices.heart_rate import HeartRate, HeartRateData

from gympulse.collectors.ant_hrm import (
    AntMessage,
    BeatTracker,
    MalformedPage,
    broadcast_of,
    decode_page,
    encode_message,
    parse_frames,
)

# github.com/john-38787364/antifier issue 3 ("First results on Ubuntu with an ANT USB-m
# Stick", 2017-10-13): antifier's own log of the heart-rate broadcasts it sent through a
# Dynastream ANT USB-m stick on channel 1, whole serial frames with their checksums.
ANTIFIER_FRAMES = [
    "a4094e0183010133e0272248ff",  # 19:27:47.478 page 3, toggle set
    "a4094e0183010133e1282348f0",  # 19:27:47.728
    "a4094e0180ffffff492a244892",  # 19:27:48.080 page 0, toggle set
    "a4094e0100ffffff312b25486a",  # 19:27:48.306 page 0, toggle clear
]
ANTIFIER_LATER = [
    "a4094e0180ffffff693c3348b3",  # 19:27:52.611
    "a4094e0180ffffff513d34488d",  # 19:27:52.838
    "a4094e0100ffffffba3e3548e4",  # 19:27:53.190
    "a4094e0100ffffff0a40364829",  # 19:27:53.519
]
# github.com/glever/j-antplus issue 9 ("Garmin HRM 1B", 2020-04-11): a Garmin HRM1 (a
# legacy strap) as j-antplus's USB reader logged it.
GARMIN_HRM1_FRAME = "A4094E00B3210284CAC7EF5D48"


def _b(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _payloads(frames: list[str]) -> list[bytes]:
    messages, rest, skipped = parse_frames(b"".join(_b(f) for f in frames))
    assert (rest, skipped) == (b"", 0)
    return [m.data[1:9] for m in messages]


# --------------------------------------------------------------------------- frames


def test_captured_frames_parse_and_their_checksums_hold() -> None:
    everything = b"".join(_b(f) for f in [*ANTIFIER_FRAMES, *ANTIFIER_LATER, GARMIN_HRM1_FRAME])
    messages, rest, skipped = parse_frames(everything)
    assert (len(messages), rest, skipped) == (9, b"", 0)
    assert {m.msg_id for m in messages} == {0x4E}
    assert [m.data[0] for m in messages] == [1] * 8 + [0]  # the channel
    # Our encoder writes the same frames back.
    assert b"".join(encode_message(m.msg_id, m.data) for m in messages) == everything


def test_a_frame_split_across_reads_waits_and_a_bad_checksum_is_skipped() -> None:
    frame = _b(ANTIFIER_FRAMES[2])
    messages, rest, _ = parse_frames(frame[:7])
    assert (messages, rest) == ([], frame[:7])
    messages, rest, _ = parse_frames(rest + frame[7:])
    assert len(messages) == 1 and rest == b""
    broken = frame[:-1] + bytes((frame[-1] ^ 0xFF,))
    messages, rest, skipped = parse_frames(b"\x00" + broken + frame)
    assert [m.data for m in messages] == [frame[3:-1]]
    assert skipped >= 2 and rest == b""


def test_flagged_broadcast_gives_the_channel_id() -> None:
    payload = _b(ANTIFIER_FRAMES[2])[4:12]
    # A scan-mode stick appends flag 0x80 + device number, device type, transmission type.
    data = bytes((0,)) + payload + bytes((0x80, 0x39, 0x30, 120, 0x11))
    b = broadcast_of(AntMessage(0x4E, data))
    assert (b.payload, b.device_number, b.device_type, b.transmission_type) == (
        payload,
        12345,
        120,
        0x11,
    )
    assert b.extended_number == 0x10000 + 12345
    with pytest.raises(MalformedPage):
        broadcast_of(AntMessage(0x4E, _b(ANTIFIER_FRAMES[2])[3:12]))  # not extended
    with pytest.raises(MalformedPage):
        broadcast_of(AntMessage(0x40, data))


# --------------------------------------------------------------------------- pages


def test_captured_pages() -> None:
    p3, p3b, p0, p0b = (decode_page(p) for p in _payloads(ANTIFIER_FRAMES))
    assert (p3.page, p3.toggle, p3.hardware_version, p3.software_version) == (3, True, 1, 1)
    assert (p3.model_number, p3.beat_time, p3.beat_count, p3.bpm) == (0x33, 0x27E0, 0x22, 72)
    assert (p3b.beat_time, p3b.beat_count) == (0x28E1, 0x23)
    assert (p0.page, p0.toggle, p0.beat_time, p0.beat_count, p0.bpm) == (0, True, 0x2A49, 36, 72)
    assert (p0b.page, p0b.toggle, p0b.beat_count) == (0, False, 37)


def test_legacy_garmin_hrm1() -> None:
    (payload,) = _payloads([GARMIN_HRM1_FRAME])
    page = decode_page(payload, legacy=True)
    # Bytes 4-7 by hand: event time 0xC7CA, count 0xEF, 0x5D = 93 bpm; bytes 0-3 ignored.
    assert (page.beat_time, page.beat_count, page.bpm) == (0xC7CA, 0xEF, 93)
    assert (page.model_number, page.battery_pct) == (None, None)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Hand-built pages of the profile's layout (ANT+ Heart Rate Device Profile 2.x).
        ("01 10 27 00 00 04 05 3c", {"operating_time_s": 0x2710 * 2}),
        ("02 01 34 12 00 04 05 3c", {"manufacturer_id": 1, "serial_upper": 0x1234}),
        ("84 07 00 04 00 08 06 3c", {"previous_beat_time": 0x0400}),
        ("07 5a 80 23 00 04 05 3c", {"battery_pct": 90, "battery_voltage": 3.5}),
    ],
)
def test_page_specific_fields(payload: str, expected: dict[str, object]) -> None:
    page = decode_page(_b(payload))
    for name, value in expected.items():
        assert getattr(page, name) == value
    if page.page == 7:
        assert page.battery_status == "good"


def test_wrong_sizes_are_refused() -> None:
    for size in (0, 7, 9):
        with pytest.raises(MalformedPage):
            decode_page(bytes(size))
        with pytest.raises(MalformedPage):
            BeatTracker().feed(bytes(size))


# --------------------------------------------------------------------------- openant


def _openant_hr() -> tuple[HeartRate, list[HeartRateData]]:
    """openant's HeartRate profile without a USB node: only its page decoding runs."""
    device = HeartRate.__new__(HeartRate)
    seen: list[HeartRateData] = []
    device.name, device.device_id, device.device_type = "hr", 0, 120
    device._event_count = [0, 0]
    device.data = {"common": CommonData(), "heart_rate": HeartRateData()}

    def on_device_data(page: int, name: str, data: Any) -> None:
        seen.append(copy.copy(data))

    device.on_device_data = on_device_data
    device.on_battery = lambda data: None
    return device, seen


def _agree(payload: bytes) -> None:
    device, seen = _openant_hr()
    device.on_data(list(payload))
    ours = decode_page(payload)
    if payload[0] & 0x0F > 7:
        return  # openant looks at the low nibble only; pages 8-127 are not heart-rate pages
    theirs = seen[-1]
    assert (ours.beat_count, ours.bpm) == (theirs.beat_count, theirs.heart_rate)
    assert ours.beat_time / 1024 == theirs.beat_time
    if ours.page == 1:
        assert ours.operating_time_s == theirs.operating_time
    if ours.page == 2:
        assert (ours.manufacturer_id, ours.serial_upper) == (
            theirs.manufacturer_id_lsb,
            theirs.serial_number,
        )
    if ours.page == 4:
        assert ours.previous_beat_time is not None
        assert ours.previous_beat_time / 1024 == theirs.previous_heart_beat_time
    if ours.page == 7:
        assert ours.battery_pct == min(theirs.battery_percentage, 100) or (
            theirs.battery_percentage == 0xFF and ours.battery_pct is None
        )
        status = device.data["common"].last_battery_data.status
        if ours.battery_status is not None:
            assert status.name.lower() == ours.battery_status
        else:
            assert status in (BatteryStatus.Unknown, BatteryStatus.Invalid)


def test_captured_pages_agree_with_openant() -> None:
    for payload in _payloads([*ANTIFIER_FRAMES, *ANTIFIER_LATER]):
        _agree(payload)


@given(page=st.integers(0, 7), toggle=st.booleans(), rest=st.binary(min_size=7, max_size=7))
def test_every_heart_rate_page_agrees_with_openant(page: int, toggle: bool, rest: bytes) -> None:
    _agree(bytes((page | (0x80 if toggle else 0),)) + rest)


@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_framer(data: bytes) -> None:
    messages, rest, skipped = parse_frames(data)
    assert len(rest) <= len(data) and skipped >= 0
    for m in messages:
        with contextlib.suppress(MalformedPage):
            broadcast_of(m)


# --------------------------------------------------------------------------- RR intervals


def test_rr_from_consecutive_captured_beats() -> None:
    tracker = BeatTracker(every=1)  # a sample per new beat, to see each interval
    outputs = [tracker.feed(p) for p in _payloads(ANTIFIER_FRAMES)]
    # By hand, (event time difference) * 1000 / 1024 rounded half up:
    # 0x28E1 - 0x27E0 = 257 -> 251 ms; 0x2A49 - 0x28E1 = 360 -> 352; 0x2B31 - 0x2A49 = 232 -> 227.
    assert [o.rr_ms for o in outputs] == [(), (251,), (352,), (227,)]
    assert [o.bpm for o in outputs] == [None, 72, 72, 72]
    # A gap of 14 beats (0x25 -> 0x33) in the log: no interval is invented across it.
    later = [tracker.feed(p) for p in _payloads(ANTIFIER_LATER)]
    assert [o.rr_ms for o in later] == [(), (227,), (353,), (328,)]  # 232, 361, 336 ticks
    assert later[0].missed_beats == 13


def test_repeated_beat_adds_nothing_and_rollover_counts() -> None:
    tracker = BeatTracker(every=1)
    first = bytes.fromhex("00ffffff00fcfe48")  # time 0xFC00, count 254
    again = first
    wrapped = bytes.fromhex("00ffffff0001ff48")  # time 0x0100 (wrapped), count 255
    wrapped2 = bytes.fromhex("00ffffff00050048")  # time 0x0500, count 0 (wrapped)
    assert tracker.feed(first).bpm is None
    assert tracker.feed(again).bpm is None
    assert tracker.feed(wrapped).rr_ms == (1250,)  # 0x10100 - 0xFC00 = 1280 ticks
    assert tracker.feed(wrapped2).rr_ms == (1000,)  # 0x400 ticks = 1 s


def test_page_4_bridges_a_missed_beat() -> None:
    tracker = BeatTracker(every=1)
    tracker.feed(bytes.fromhex("04ff0000 00040148".replace(" ", "")))
    out = tracker.feed(bytes.fromhex("84ff0008 000c0348".replace(" ", "")))  # count +2
    assert (out.rr_ms, out.missed_beats) == ((1000,), 1)  # 0x0C00 - 0x0800


def test_samples_about_once_a_second_with_every_interval() -> None:
    tracker = BeatTracker()  # every 1024 ticks of beat time
    outputs = []
    time, count = 0, 0
    for beat in range(8):  # 2 beats a second (120 bpm): 512 ticks each, 4 messages per beat
        time, count = (time + 512) % 65536, (count + 1) % 256
        for _ in range(2):
            toggle = 0x80 if (beat * 2) // 4 % 2 else 0
            outputs.append(
                tracker.feed(bytes((toggle, 0xFF, 0xFF, 0xFF, time & 0xFF, time >> 8, count, 120)))
            )
    samples = [o for o in outputs if o.bpm is not None]
    # The first beat is the reference; then a sample every second beat with both intervals.
    assert [s.rr_ms for s in samples] == [(500, 500)] * 3
