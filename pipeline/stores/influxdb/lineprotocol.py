"""The line-protocol serializer: stored samples, machine samples and quarantine rows as
InfluxDB points. Pure text, no I/O (Telegraf keeps its serializer apart from its outputs
the same way); the schema is in ``pipeline/stores/README.md``."""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Mapping

from gympulse.pipeline.stores.base import (
    MACHINE_VALUES,
    QuarantineRow,
    StoredMachineSample,
    StoredSample,
    rr_text,
)

HR = "hr"
MACHINE = "machine"
QUARANTINE = "quarantine"
SCHEMA = "gympulse_schema"


def _esc_key(value: str) -> str:
    """Escape a measurement name, tag key, tag value or field key."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _esc_str(value: str) -> str:
    """A string field value, quoted."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(value: object) -> str | None:
    """A field value in line protocol; None when the value is absent (null, NaN)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return None if not math.isfinite(value) else repr(value)
    return _esc_str(str(value))


def line(
    measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, object], time_: int
) -> str:
    """One point. Empty/None tags and None fields are left out (InfluxDB has no nulls)."""
    tag_part = "".join(
        f",{_esc_key(k)}={_esc_key(v)}" for k, v in sorted(tags.items()) if v not in (None, "")
    )
    field_parts = []
    for k, v in fields.items():
        encoded = _field(v)
        if encoded is not None:
            field_parts.append(f"{_esc_key(k)}={encoded}")
    if not field_parts:
        raise ValueError(f"a point of {measurement} needs at least one field")
    return f"{_esc_key(measurement)}{tag_part} {','.join(field_parts)} {time_}"


def sample_line(s: StoredSample) -> str:
    return line(
        HR,
        {
            "site": s.site,
            "sensor": s.sensor,
            "athlete": None if s.athlete_id is None else str(s.athlete_id),
        },
        {
            "bpm": s.bpm,
            "rr": rr_text(s.rr_ms),
            "contact": s.contact,
            "energy_kj": s.energy_kj,
            "seq": s.seq,
            "collector": s.collector,
            "pct_max": s.pct_max,
            "zone": s.zone,
        },
        s.ts,
    )


def machine_line(m: StoredMachineSample) -> str:
    fields: dict[str, object] = {c: getattr(m, c) for c in MACHINE_VALUES}
    for c in ("cadence", "speed_kmh"):  # always floats: one field type per field
        if fields[c] is not None:
            fields[c] = float(fields[c])  # type: ignore[arg-type]
    fields["seq"] = m.seq
    fields["collector"] = m.collector
    return line(
        MACHINE,
        {
            "site": m.site,
            "sensor": m.sensor,
            "athlete": None if m.athlete_id is None else str(m.athlete_id),
            "kind": m.kind,
        },
        fields,
        m.ts,
    )


def quarantine_time_ns(q: QuarantineRow) -> int:
    digest = zlib.crc32(q.topic.encode() + b"\0" + q.payload + b"\0" + q.detail.encode())
    return q.received_ms * 1_000_000 + digest % 1_000_000


def quarantine_line(q: QuarantineRow) -> str:
    return line(
        QUARANTINE,
        {"reason": q.reason},
        {
            "key": q.key,
            "topic": q.topic,
            "payload": base64.b64encode(q.payload).decode("ascii"),
            "size": q.size,
            "sha256": q.sha256,
            "detail": q.detail,
            "received_ms": q.received_ms,
        },
        quarantine_time_ns(q),
    )
