"""Samples on InfluxDB: heart-rate (``hr``) and machine (``machine``) points, the
quarantine, and re-stamping a strap's samples with a corrected athlete — the
:class:`gympulse.pipeline.stores.base.SampleStore` role.

Idempotency on (sensor, ts): InfluxDB identifies a point by measurement + tag set + time,
so the same sample with the same athlete overwrites itself. Because ``athlete`` is a tag,
the same (sensor, ts) stamped with another athlete would be a second series; ``write``
therefore asks which (sensor, ts) exist in the batch's time window first and skips them
(first write wins, like SQLite's INSERT OR IGNORE), which also gives honest duplicate
counts, and ``reassign`` writes the re-stamped points and then deletes them from the old
series. Samples the server refuses go to quarantine with its message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl

from gympulse import contract
from gympulse.pipeline.domain import sample_effort
from gympulse.pipeline.stores.base import (
    MACHINE_COLUMNS,
    MACHINE_VALUES,
    QUARANTINE_SLACK_MS,
    SAMPLE_COLUMNS,
    QuarantineRow,
    StoredMachineSample,
    StoredSample,
    StoreUnavailable,
    Window,
    WriteBatch,
    WriteResult,
    names_sensor,
    rr_from_text,
)
from gympulse.pipeline.stores.influxdb.deletes import Deleter
from gympulse.pipeline.stores.influxdb.http import InfluxHttp, LineWriter, write_lines
from gympulse.pipeline.stores.influxdb.influxql import any_of, iter_rows, quote_ident, quote_str
from gympulse.pipeline.stores.influxdb.lineprotocol import (
    HR,
    MACHINE,
    QUARANTINE,
    line,
    machine_line,
    quarantine_line,
    sample_line,
)

log = logging.getLogger("gympulse.pipeline.stores.influxdb")

REJECTED_REASON = "store-rejected"
MAX_MS = 9_000_000_000_000  # ms, just below InfluxDB's latest time (int64 ns, year 2262)


class InfluxSamples:
    """The sample role of the InfluxDB store, over one HTTP client."""

    def __init__(self, http: InfluxHttp, writer: LineWriter, deleter: Deleter) -> None:
        self.http = http
        self.writer = writer
        self.deleter = deleter

    @property
    def _hr(self) -> str:
        return self.http.measurement(HR)

    async def _write(self, lines: list[str], precision: str) -> list[tuple[int, str]]:
        return await write_lines(self.writer, lines, precision, self.http.settings.batch_points)

    async def _existing(
        self,
        samples: Sequence[StoredSample | StoredMachineSample],
        measurement: str = HR,
        probe: str = "bpm",
    ) -> set[tuple[str, int]]:
        """(sensor, ts) of ``samples`` that are stored already (under any athlete)."""
        if not samples:
            return set()
        lo = min(s.ts for s in samples)
        hi = max(s.ts for s in samples)
        sensors = sorted({s.sensor for s in samples})
        q = (
            f"SELECT {quote_ident(probe)} FROM {self.http.measurement(measurement)}"
            f" WHERE time >= {lo}ms AND time <= {hi}ms"
            f' AND {any_of("sensor", sensors)} GROUP BY "sensor"'
        )
        return {(row["sensor"], int(row["time"])) for row in await self.http.rows(q)}

    async def write(self, batch: WriteBatch) -> WriteResult:
        self.http.client  # noqa: B018 - raises when closed
        unique: dict[tuple[str, int], StoredSample] = {}
        for s in batch.samples:
            unique.setdefault((s.sensor, s.ts), s)
        existing = await self._existing(list(unique.values()))
        new = [s for k, s in unique.items() if k not in existing]
        rejected = await self._write([sample_line(s) for s in new], "ms")
        quarantine = await self._new_quarantine(batch.quarantine)
        for index, message in rejected:
            log.warning(
                "InfluxDB refused sample %s@%s: %s", new[index].sensor, new[index].ts, message
            )
            quarantine.append(_rejected_row(new[index], message))
        unique_machine: dict[tuple[str, int], StoredMachineSample] = {}
        for m in batch.machine:
            unique_machine.setdefault((m.sensor, m.ts), m)
        existing_machine = await self._existing(list(unique_machine.values()), MACHINE, "seq")
        new_machine = [m for k, m in unique_machine.items() if k not in existing_machine]
        refused_machine = await self._write([machine_line(m) for m in new_machine], "ms")
        for index, message in refused_machine:
            m = new_machine[index]
            log.warning("InfluxDB refused machine sample %s@%s: %s", m.sensor, m.ts, message)
            quarantine.append(_rejected_machine_row(m, message))
        if quarantine:
            refused = await self._write([quarantine_line(q) for q in quarantine], "ns")
            for index, message in refused:
                log.error(
                    "InfluxDB refused a quarantine row %r: %s", quarantine[index].topic, message
                )
        return WriteResult(
            stored=len(new) - len(rejected) + len(new_machine) - len(refused_machine),
            duplicates=len(batch.samples) - len(new) + len(batch.machine) - len(new_machine),
            quarantined=len(quarantine),
        )

    async def _new_quarantine(self, rows: Sequence[QuarantineRow]) -> list[QuarantineRow]:
        """``rows`` without those marked ``once`` whose key is stored (or earlier in ``rows``)."""
        keys = sorted({q.key for q in rows if q.once and q.key})
        stored: set[str] = set()
        if keys:
            q = f'SELECT "key" FROM {self.http.measurement(QUARANTINE)} WHERE {any_of("key", keys)}'
            stored = {str(row["key"]) for row in await self.http.rows(q)}
        out = []
        for row in rows:
            if row.once and row.key and row.key in stored:
                continue
            if row.key:
                stored.add(row.key)
            out.append(row)
        return out

    async def query_samples(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        columns = '"bpm", "rr", "contact", "athlete"'
        q = _window_select(columns, self._hr, start_ms, end_ms, sensors, athlete_ids)
        if q is None:
            return pl.DataFrame(schema=dict(SAMPLE_COLUMNS))
        return await self.http.decoded(q, _sample_part, _samples_frame)

    async def query_machine(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        columns = ", ".join(quote_ident(c) for c in ("athlete", "kind", *MACHINE_VALUES))
        measurement = self.http.measurement(MACHINE)
        q = _window_select(columns, measurement, start_ms, end_ms, sensors, athlete_ids)
        if q is None:
            return pl.DataFrame(schema=dict(MACHINE_COLUMNS))
        return await self.http.decoded(q, _machine_part, _machine_frame)

    async def count_samples(self) -> int:
        return sum(
            int(r["count"]) for r in await self.http.rows(f'SELECT count("bpm") FROM {self._hr}')
        )

    async def sample_time_range(self) -> tuple[int, int] | None:
        """``first()`` and ``last()`` over every series of ``hr``: InfluxQL selectors return
        the selected point's time, and TSM answers both from each series' index."""
        results = await self.http.query(
            f'SELECT first("bpm") FROM {self._hr}; SELECT last("bpm") FROM {self._hr}'
        )
        return await asyncio.to_thread(_first_times, results)

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]:
        q = (
            f"SELECT {_QUARANTINE_FIELDS} FROM {self.http.measurement(QUARANTINE)}"
            " ORDER BY time ASC"
            f" LIMIT {int(limit)}"
        )
        return [_quarantine_row(r) for r in await self.http.rows(q, epoch="ns")]

    async def reassign(
        self,
        sensor: str,
        start_ms: int,
        end_ms: int,
        athlete_id: int | None,
        *,
        hr_max: float | None = None,
    ) -> int:
        """Re-stamp in two steps that can be repeated: write every point of ``sensor`` in the
        range that carries another athlete into the new athlete's series, then delete it from
        its old series. A crash in between leaves a doubled point that the next run removes;
        no point is ever lost. The moved points get ``pct_max``/``zone`` from ``hr_max``, or
        none without it (see ``README.md``)."""
        new_tag = "" if athlete_id is None else str(athlete_id)

        def hr_point(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            fields = {
                k: v
                for k, v in r.items()
                if k not in ("time", "site", "sensor", "athlete", "pct_max", "zone")
                and v is not None
            }
            for int_field in ("bpm", "energy_kj", "seq"):
                if int_field in fields:
                    fields[int_field] = int(fields[int_field])
            if athlete_id is not None:
                pct, zone = sample_effort(fields["bpm"], hr_max, fields.get("contact"))
                if pct is not None:
                    fields["pct_max"], fields["zone"] = pct, zone
            return {"site": r.get("site"), "sensor": sensor, "athlete": new_tag}, fields

        def machine_point(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            # A machine is assigned like a strap: its points move too (no %HRmax there).
            fields = {
                k: v
                for k, v in r.items()
                if k not in ("time", "site", "sensor", "athlete", "kind") and v is not None
            }
            for name in ("seq", *MACHINE_VALUES):  # JSON gives 24 for 24.0: one type a field
                if name in fields:
                    floats = name in ("cadence", "speed_kmh")
                    fields[name] = float(fields[name]) if floats else int(fields[name])
            tags = {
                "site": r.get("site"),
                "sensor": sensor,
                "athlete": new_tag,
                "kind": r.get("kind"),
            }
            return tags, fields

        moved = await self._move(HR, sensor, start_ms, end_ms, new_tag, hr_point)
        return moved + await self._move(MACHINE, sensor, start_ms, end_ms, new_tag, machine_point)

    async def _move(
        self,
        measurement: str,
        sensor: str,
        start_ms: int,
        end_ms: int,
        new_tag: str,
        point: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> int:
        """The two repeatable steps of :meth:`reassign` on one measurement: write every point
        of ``sensor`` in the range that carries another athlete tag again under ``new_tag``
        (tags and fields from ``point``), then delete it from its old series."""
        q = (
            f"SELECT * FROM {self.http.measurement(measurement)}"
            f" WHERE {quote_ident('sensor')} = {quote_str(sensor)}"
            f" AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        moved: list[str] = []
        old_tags: set[str] = set()
        for r in await self.http.rows(q):
            old = r.get("athlete") or ""
            if old == new_tag:
                continue
            old_tags.add(old)
            tags, fields = point(r)
            moved.append(line(measurement, tags, fields, int(r["time"])))
        if not moved:
            return 0
        refused = await self._write(moved, "ms")
        if refused:
            raise StoreUnavailable(f"InfluxDB refused re-stamped points: {refused[0][1]}")
        for old in sorted(old_tags):
            await self.deleter.delete_samples(sensor, old, start_ms, end_ms, measurement)
        return len(moved)

    # ------------------------------------------------------------ erasure, retention

    async def _tag_values(self, measurement: str, key: str, where: str) -> list[str]:
        q = (
            f"SHOW TAG VALUES FROM {quote_ident(measurement)} WITH KEY = {quote_ident(key)}"
            f" WHERE {where}"
        )
        return [str(r["value"]) for r in await self.http.rows(q)]

    async def erase_samples(self, athlete_id: int, windows: Sequence[Window]) -> int:
        """Through the deleter (v1 InfluxQL ``DELETE`` or the v2 delete API), heart-rate and
        machine points alike: every series tagged with the athlete, and every series of each
        window's sensor inside the window; then the window's quarantined messages, each by
        its reason and time. Returns -1: InfluxDB does not say how many points went."""
        tag = str(athlete_id)
        by_athlete = f"{quote_ident('athlete')} = {quote_str(tag)}"
        for measurement in (HR, MACHINE):
            for sensor in await self._tag_values(measurement, "sensor", by_athlete):
                await self.deleter.delete_samples(sensor, tag, 0, MAX_MS, measurement)
            for sensor, start, end in windows:
                by_sensor = f"{quote_ident('sensor')} = {quote_str(sensor)}"
                for wearer in {"", *await self._tag_values(measurement, "athlete", by_sensor)}:
                    await self.deleter.delete_samples(
                        sensor, wearer, start, min(end, MAX_MS), measurement
                    )
        doomed = [
            ({"reason": row.reason}, time_ns) for time_ns, row in await self._quarantine_of(windows)
        ]
        await self.deleter.delete_points_ns(QUARANTINE, doomed)
        return -1

    async def quarantine_of(self, windows: Sequence[Window]) -> list[QuarantineRow]:
        return [row for _, row in await self._quarantine_of(windows)]

    async def _quarantine_of(self, windows: Sequence[Window]) -> list[tuple[int, QuarantineRow]]:
        """(time in ns, row) of each window's quarantined messages (names_sensor)."""
        found: dict[tuple[int, str], QuarantineRow] = {}
        for sensor, start, end in windows:
            until = min(end, MAX_MS - QUARANTINE_SLACK_MS) + QUARANTINE_SLACK_MS
            q = (
                f"SELECT {_QUARANTINE_FIELDS} FROM {self.http.measurement(QUARANTINE)}"
                f" WHERE time >= {start}ms AND time < {until}ms"
            )
            for r in await self.http.rows(q, epoch="ns"):
                row = _quarantine_row(r)
                if names_sensor(sensor, row.topic, row.payload):
                    found[(int(r["time"]), row.reason)] = row
        return [(k[0], found[k]) for k in sorted(found)]

    async def delete_samples_before(self, cutoff_ms: int) -> int:
        """Raw samples and quarantine older than ``cutoff_ms``, through the deleter (InfluxQL
        ``DELETE`` on 1.x, the delete API on 2.x). Returns -1 (InfluxDB does not count)."""
        await self.deleter.delete_before((HR, MACHINE, QUARANTINE), cutoff_ms)
        return -1


_QUARANTINE_FIELDS = (
    '"received_ms", "topic", "payload", "size", "sha256", "reason", "key", "detail"'
)


# Decoding a query's answer (in the HTTP client's worker thread, one chunk at a time).

_RAW_SAMPLE = {
    "sensor": pl.String,
    "athlete_id": pl.Int64,
    "ts": pl.Int64,
    "bpm": pl.Int32,
    "rr": pl.String,
    "contact": pl.Boolean,
}


def _first_times(results: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The point times of the two statements' single rows (first, last); None when empty."""
    times = []
    for result in results:
        first = next(iter_rows(result["series"]), None)
        if first is None:
            return None
        times.append(int(first["time"]))
    if len(times) != 2:
        return None
    return times[0], times[1]


def _athlete(r: dict[str, Any]) -> int | None:
    return None if r.get("athlete") in (None, "") else int(r["athlete"])


def _sample_part(rows: Iterator[dict[str, Any]]) -> pl.DataFrame:
    found = [
        (r["sensor"], _athlete(r), int(r["time"]), r["bpm"], r.get("rr") or "", r.get("contact"))
        for r in rows
    ]
    return pl.DataFrame(found, schema=_RAW_SAMPLE, orient="row")


def _samples_frame(parts: list[pl.DataFrame]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=dict(SAMPLE_COLUMNS))
    return (
        pl.concat(parts)
        .select("sensor", "athlete_id", "ts", "bpm", rr_from_text(), "contact")
        .cast(dict(SAMPLE_COLUMNS))  # type: ignore[arg-type]
        .sort("sensor", "ts")
    )


def _machine_part(rows: Iterator[dict[str, Any]]) -> pl.DataFrame:
    found = [
        (
            r["sensor"],
            _athlete(r),
            int(r["time"]),
            r.get("kind") or "",
            *(r.get(c) for c in MACHINE_VALUES),
        )
        for r in rows
    ]
    return pl.DataFrame(found, schema=dict(MACHINE_COLUMNS), orient="row", strict=False)


def _machine_frame(parts: list[pl.DataFrame]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=dict(MACHINE_COLUMNS))
    return pl.concat(parts).sort("sensor", "ts")


def _quarantine_row(r: dict[str, Any]) -> QuarantineRow:
    payload = base64.b64decode(r.get("payload") or "")
    return QuarantineRow(
        received_ms=int(r["received_ms"]),
        topic=str(r.get("topic") or ""),
        payload=payload,
        reason=str(r["reason"]),
        detail=str(r.get("detail") or ""),
        size=len(payload) if r.get("size") is None else int(r["size"]),
        sha256=r.get("sha256") or hashlib.sha256(payload).hexdigest(),
        key=r.get("key") or None,
    )


def _rejected_row(s: StoredSample, message: str) -> QuarantineRow:
    sample = contract.HrSample(
        sensor=s.sensor,
        ts=s.ts,
        seq=s.seq,
        bpm=s.bpm,
        rr_ms=list(s.rr_ms),
        contact=s.contact,
        energy_kj=s.energy_kj,
    )
    return QuarantineRow(
        received_ms=contract.now_ms(),
        topic=contract.hr_topic(s.site, s.collector, s.sensor),
        payload=contract.encode(sample),
        reason=REJECTED_REASON,
        detail=message,
    )


def _rejected_machine_row(m: StoredMachineSample, message: str) -> QuarantineRow:
    sample = contract.MachineSample(
        sensor=m.sensor,
        ts=m.ts,
        seq=m.seq,
        kind=m.kind,  # type: ignore[arg-type]
        **{c: getattr(m, c) for c in MACHINE_VALUES},
    )
    topic = contract.power_topic if m.kind in ("power", "csc") else contract.machine_topic
    return QuarantineRow(
        received_ms=contract.now_ms(),
        topic=topic(m.site, m.collector, m.sensor),
        payload=contract.encode(sample),
        reason=REJECTED_REASON,
        detail=message,
    )


def _window_select(
    columns: str,
    measurement: str,
    start_ms: int,
    end_ms: int,
    sensors: Sequence[str] | None,
    athlete_ids: Sequence[int] | None,
) -> str | None:
    """The InfluxQL of a sample query (heart rate or machine): ``columns`` of
    ``measurement`` in [start_ms, end_ms), grouped by sensor, optionally only ``sensors``
    and ``athlete_ids``; None when a filter is an empty list (nothing can match)."""
    if (sensors is not None and not sensors) or (athlete_ids is not None and not athlete_ids):
        return None
    q = f"SELECT {columns} FROM {measurement} WHERE time >= {start_ms}ms AND time < {end_ms}ms"
    if sensors is not None:
        q += f" AND {any_of('sensor', sensors)}"
    if athlete_ids is not None:
        q += f" AND {any_of('athlete', [str(a) for a in athlete_ids])}"
    return q + ' GROUP BY "sensor"'
