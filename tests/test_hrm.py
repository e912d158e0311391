"""The Heart Rate Measurement decoder against captured notifications from real straps,
against bumble's independent encoder, and against random bytes."""

from __future__ import annotations

import pytest
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given
from hypothesis import strategies as st

from gympulse.collectors.hrm import (
    HeartRateMeasurement,
    MalformedMeasurement,
    decode,
    decode_body_sensor_location,
    rr_raw_to_ms,
)

# --------------------------------------------------------------------------- real captures
# Each entry: (hex value as captured, bpm, contact, energy_kj, rr_raw, rr_ms, provenance).
# rr_ms is computed by hand: raw * 1000 / 1024 rounded half up.
CAPTURES: list[tuple[str, int, bool | None, int | None, tuple[int, ...], tuple[int, ...], str]] = [
    # Polar H7, gatttool notifications on handle 0x0012, README of github.com/cal-id/Polar-H7-Pi
    # (after blog.akhq.net/2014/11/polar-h7-bluetooth-le-heart-rate-sensor.html).
    ("063c", 60, True, None, (), (), "Polar H7 first notification, no RR yet"),
    ("163c1104", 60, True, None, (1041,), (1017,), "Polar H7"),
    ("163cf503", 60, True, None, (1013,), (989,), "Polar H7"),
    # Unbranded BLE/ANT+ strap, gatttool on handle 0x000e, Stack Overflow question 60599696
    # ("Garmin BLE heart rate monitor - cannot get HRM data via bluetooth").
    ("1634e404", 52, True, None, (1252,), (1223,), "unbranded strap"),
    ("1634a504", 52, True, None, (1189,), (1161,), "unbranded strap"),
    # 1258 * 1000 / 1024 = 1228.515625 -> 1229 (the half-up rounding matters here)
    ("1633ea04", 51, True, None, (1258,), (1229,), "unbranded strap"),
    ("1633de04", 51, True, None, (1246,), (1217,), "unbranded strap"),
    # Stack Overflow question 33917836 ("BLE Heart Rate sometimes does not return the expected
    # amount of bytes"): 1, 3 and 2 RR intervals in one notification.
    ("16770402", 119, True, None, (516,), (504,), "SO 33917836, one RR"),
    ("1678ff01ff010c01", 120, True, None, (511, 511, 268), (499, 499, 262), "SO 33917836, 3 RR"),
    ("16770802 0802", 119, True, None, (520, 520), (508, 508), "SO 33917836, 2 RR"),
    # Polar H7 value [22, 77, 22, 3] from the Stack Overflow answer on reading BPM from a
    # Polar H7 characteristic (mirrored at e-learn.cn/qa/answer/1013198): RR 790 = 0.77 s.
    ("164d1603", 77, True, None, (790,), (771,), "Polar H7 [22, 77, 22, 3]"),
    # ActiGraph GT3X file format, LogRecords/HeartRateBLE.md
    # (github.com/actigraph/GT3X-File-Format): its HEART_RATE_BLE record keeps the strap's value.
    ("164218047001", 66, True, None, (1048, 368), (1023, 359), "ActiGraph HEART_RATE_BLE example"),
]


@pytest.mark.parametrize(
    ("hexvalue", "bpm", "contact", "energy", "rr_raw", "rr_ms", "source"),
    CAPTURES,
    ids=[f"{c[6]}:{c[0]}" for c in CAPTURES],
)
def test_real_captures(
    hexvalue: str,
    bpm: int,
    contact: bool | None,
    energy: int | None,
    rr_raw: tuple[int, ...],
    rr_ms: tuple[int, ...],
    source: str,
) -> None:
    m = decode(bytes.fromhex(hexvalue))
    assert m == HeartRateMeasurement(
        bpm=bpm,
        contact=contact,
        contact_supported=True,
        energy_kj=energy,
        rr_raw=rr_raw,
        rr_ms=rr_ms,
        partial=False,
    )


def test_captures_agree_with_bumbles_decoder() -> None:
    for hexvalue, *_ in CAPTURES:
        data = bytes.fromhex(hexvalue)
        ours = decode(data)
        theirs = HeartRateService.HeartRateMeasurement.from_bytes(data)
        assert ours.bpm == theirs.heart_rate
        assert ours.contact == theirs.sensor_contact_detected
        assert ours.energy_kj == theirs.energy_expended
        assert ours.rr_raw == tuple(round(rr * 1024) for rr in theirs.rr_intervals or ())


# --------------------------------------------------------------------------- the rules


def test_rr_rounding_half_up() -> None:
    assert rr_raw_to_ms(832) == 813  # 812.5
    assert rr_raw_to_ms(1024) == 1000
    assert rr_raw_to_ms(0) == 0
    assert rr_raw_to_ms(1) == 1  # 0.977
    assert rr_raw_to_ms(65535) == 63999  # 63999.02


def test_contact_bit_counts_only_when_supported() -> None:
    assert decode(bytes([0x00, 70])).contact is None
    assert decode(bytes([0x02, 70])).contact is None  # bit 1 alone means nothing
    assert decode(bytes([0x02, 70])).contact_supported is False
    assert decode(bytes([0x04, 70])).contact is False
    assert decode(bytes([0x06, 70])).contact is True
    assert decode(bytes([0x06, 70])).contact_supported is True


def test_sixteen_bit_heart_rate_and_energy() -> None:
    m = decode(bytes([0x09, 0x2C, 0x01, 0x34, 0x12]))
    assert (m.bpm, m.energy_kj, m.rr_raw, m.partial) == (300, 0x1234, (), False)
    m = decode(bytes([0x19, 0x48, 0x00, 0x10, 0x00, 0x40, 0x03]))
    assert (m.bpm, m.energy_kj, m.rr_raw, m.rr_ms) == (72, 16, (832,), (813,))


def test_reserved_bits_are_ignored() -> None:
    assert decode(bytes([0xE6, 70])) == decode(bytes([0x06, 70]))


def test_odd_rr_byte_is_dropped_and_marked_partial() -> None:
    m = decode(bytes.fromhex("16770802080208"))
    assert (m.bpm, m.rr_raw, m.partial) == (119, (520, 520), True)


def test_bytes_the_flags_do_not_describe_are_partial() -> None:
    m = decode(bytes([0x06, 70, 0xAA, 0xBB]))
    assert (m.bpm, m.contact, m.rr_raw, m.energy_kj, m.partial) == (70, True, (), None, True)


def test_rr_flag_with_no_intervals_is_complete() -> None:
    m = decode(bytes([0x16, 70]))
    assert (m.rr_raw, m.partial) == ((), False)


@pytest.mark.parametrize(
    "value",
    [
        b"",  # no flags
        bytes([0x00]),  # 8-bit heart rate missing
        bytes([0x01]),  # 16-bit heart rate missing
        bytes([0x01, 0x48]),  # 16-bit heart rate truncated
        bytes([0x08, 70]),  # energy flagged, absent
        bytes([0x08, 70, 0x10]),  # energy flagged, truncated
        bytes([0x19, 0x48, 0x00, 0x10]),  # 16-bit hr, energy truncated, RR flagged
    ],
)
def test_malformed(value: bytes) -> None:
    with pytest.raises(MalformedMeasurement):
        decode(value)
    assert issubclass(MalformedMeasurement, ValueError)


# --------------------------------------------------------------------------- properties


@given(st.binary(max_size=40))
def test_random_bytes_raise_only_malformed(data: bytes) -> None:
    try:
        m = decode(data)
    except MalformedMeasurement:
        return
    assert 0 <= m.bpm <= 0xFFFF
    assert len(m.rr_raw) == len(m.rr_ms)
    assert all(0 <= ms <= 64000 for ms in m.rr_ms)


@given(
    heart_rate=st.integers(0, 0xFFFF),
    contact=st.sampled_from([None, True, False]),
    energy=st.none() | st.integers(0, 0xFFFF),
    rr_raw=st.none() | st.lists(st.integers(0, 0xFFFF), max_size=9),
)
def test_cross_check_with_bumbles_encoder(
    heart_rate: int, contact: bool | None, energy: int | None, rr_raw: list[int] | None
) -> None:
    encoded = bytes(
        HeartRateService.HeartRateMeasurement(
            heart_rate=heart_rate,
            sensor_contact_detected=contact,
            energy_expended=energy,
            # raw / 1024 is exact in binary floating point, so bumble's int(rr * 1024) is raw
            rr_intervals=None if rr_raw is None else [raw / 1024 for raw in rr_raw],
        )
    )
    m = decode(encoded)
    assert m.bpm == heart_rate
    assert m.contact == contact
    assert m.contact_supported == (contact is not None)
    assert m.energy_kj == energy
    assert m.rr_raw == tuple(rr_raw or ())
    assert m.rr_ms == tuple(round(raw * 1000 / 1024 + 1e-9) for raw in rr_raw or ())
    assert m.partial is False


@given(st.binary(min_size=2, max_size=30))
def test_truncating_rr_only_loses_the_tail(data: bytes) -> None:
    value = bytes([0x10 | (data[0] & 0x07) & ~0x01]) + data[1:]
    full = decode(value)
    for cut in range(2, len(value)):
        part = decode(value[:cut])
        assert full.rr_raw[: len(part.rr_raw)] == part.rr_raw
        assert part.bpm == full.bpm


# --------------------------------------------------------------------------- body sensor location


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b"\x00", "Other"),
        (b"\x01", "Chest"),
        (b"\x02", "Wrist"),
        (b"\x03", "Finger"),
        (b"\x04", "Hand"),
        (b"\x05", "Ear Lobe"),
        (b"\x06", "Foot"),
        (b"\x07", "unknown"),  # 7-255 are reserved
        (b"\xff", "unknown"),
        (b"", "unknown"),  # present but empty: a strap bug, still "it has one"
        (b"\x01\x00", "Chest"),  # padded: the value is the first byte
        (None, None),  # no 0x2A38 characteristic: optional in the spec
    ],
)
def test_body_sensor_location(value: bytes | None, name: str | None) -> None:
    assert decode_body_sensor_location(value) == name


def test_body_sensor_location_agrees_with_bumbles_encoder() -> None:
    for location in HeartRateService.BodySensorLocation:
        want = location.name.replace("_", " ").title()  # EAR_LOBE -> "Ear Lobe"
        assert decode_body_sensor_location(bytes([location])) == want


@given(st.binary(max_size=4))
def test_body_sensor_location_never_raises(data: bytes) -> None:
    assert isinstance(decode_body_sensor_location(data), str)
