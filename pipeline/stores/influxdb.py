"""InfluxDB store: line protocol over the v1 HTTP API, InfluxQL over ``/query``.

The v1 API (``/write?db=&rp=&precision=``, ``/query``) is the one InfluxDB 1.x, 2.x (v1
compatibility, token auth) and 3.x all accept, and InfluxQL is what Grafana speaks to all
three. ``api = "v2"`` writes through the influxdb-client package instead (org, bucket,
token) and still reads with InfluxQL (the bucket needs a DBRP mapping, as Grafana's
InfluxQL data source does).

Schema (see ``pipeline/stores/README.md``):

- ``hr``: tags ``site``, ``sensor``, ``athlete`` (absent when unassigned); fields ``bpm``
  (int), ``rr`` (string "812,790", ms), ``contact`` (bool, absent when unknown),
  ``energy_kj`` (int, absent when null), ``seq`` (int), ``collector`` (string),
  ``pct_max`` (int, % of the athlete's HRmax) and ``zone`` (int 0–5), both stamped at
  ingest and absent when unassigned; time = sample ``ts`` in ms.
- ``machine`` (wire contract machine extension): tags ``site``, ``sensor``, ``athlete``
  (absent when unassigned), ``kind``; fields ``power_w``, ``cadence``, ``speed_kmh``,
  ``distance_m``, ``split_s``, ``pace_s``, ``heart_rate``, ``energy_kcal`` (each absent when
  null), ``seq``, ``collector``; time = sample ``ts`` in ms; idempotent on (sensor, ts) like
  ``hr``. (A corrected assignment re-stamps ``hr`` only; machine points keep their athlete.)
- ``quarantine``: tag ``reason``; fields ``topic``, ``payload`` (base64 of at most the
  first 4 kB), ``size`` and ``sha256`` (of the whole payload), ``key`` (of the content),
  ``detail``, ``received_ms``; time in ns = received_ms·10⁶ + a hash of the row (so two
  rows of the same millisecond stay two points, and the same row written twice stays one).
  ``write`` skips a row marked ``once`` whose key is stored already.
- one measurement per derived table (``gympulse.pipeline.analytics.tables``), key columns as tags,
  the table's day/start as time; ``gympulse_schema`` keeps each table's column types.

Idempotency on (sensor, ts): InfluxDB identifies a point by measurement + tag set + time,
so the same sample with the same athlete overwrites itself. Because ``athlete`` is a tag, the
same (sensor, ts) stamped with another athlete would be a second series; ``write`` therefore
asks which (sensor, ts) exist in the batch's time window first and skips them (first write
wins, like SQLite's INSERT OR IGNORE), which also gives honest duplicate counts, and
``reassign`` writes the re-stamped points and then deletes them from the old series.

Errors: 5xx, timeouts and connection errors are retried with capped, jittered exponential
backoff, then :class:`StoreUnavailable` (ingestion stops acknowledging). 400 is never
retried: the batch is bisected to find the lines the server refuses (InfluxDB 1.x writes the
good points of a partial write anyway), and those samples go to quarantine with the server's
message. 401/403/404 (credentials, missing database) are configuration errors that no
amount of quarantining fixes: they raise StoreUnavailable so nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import hashlib
import json
import logging
import math
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import polars as pl

from gympulse import contract
from gympulse.pipeline.domain import effort_stamp
from gympulse.pipeline.stores.base import (
    MACHINE_COLUMNS,
    MACHINE_VALUES,
    SAMPLE_COLUMNS,
    QuarantineRow,
    Store,
    StoredMachineSample,
    StoredSample,
    StoreUnavailable,
    WriteBatch,
    WriteResult,
)
from gympulse.settings import InfluxSettings

log = logging.getLogger(__name__)

HR = "hr"
MACHINE = "machine"
QUARANTINE = "quarantine"
SCHEMA = "gympulse_schema"
REJECTED_REASON = "store-rejected"
_EPOCH = dt.date(1970, 1, 1)


class InfluxQueryError(RuntimeError):
    """InfluxDB refused a query (4xx or an error in the result): a bug, not an outage."""


# --------------------------------------------------------------------------- line protocol


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
            "rr": ",".join(map(str, s.rr_ms)),
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


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _any_of(column: str, values: Iterable[str]) -> str:
    return "(" + " OR ".join(f"{quote_ident(column)} = {quote_str(v)}" for v in values) + ")"


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
        received_ms=int(time.time() * 1000),
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
        received_ms=int(time.time() * 1000),
        topic=topic(m.site, m.collector, m.sensor),
        payload=contract.encode(sample),
        reason=REJECTED_REASON,
        detail=message,
    )


# --------------------------------------------------------------------------- derived tables


def _time_column(schema: Mapping[str, str], key: Sequence[str]) -> str | None:
    """The column that becomes the point time: a Date key column, else ``start_ms``, else
    ``date``; None means every row sits at time 0."""
    for k in key:
        if schema.get(k) == "Date":
            return k
    for candidate in ("start_ms", "date", "ts"):
        if candidate in schema:
            return candidate
    return None


def _to_ms(value: object) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date):
        return (value - _EPOCH).days * 86_400_000
    if isinstance(value, int):
        return value
    raise ValueError(f"cannot use {value!r} as a point time")


def _plain(value: object, dtype_name: str) -> object:
    """A derived-table cell as a field value. Numbers are written as floats so a column that
    is Int in one run and Float in the next never causes a field type conflict."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def _cast_column(series: pl.Series, dtype_name: str) -> pl.Series:
    if dtype_name == "Date":
        if series.dtype == pl.String:
            return series.str.to_date("%Y-%m-%d", strict=False)
        return series.cast(pl.Int64).cast(pl.Datetime("ms")).dt.date()
    if dtype_name.startswith("Datetime"):
        if series.dtype == pl.String:
            return series.str.to_datetime(strict=False)
        return series.cast(pl.Int64).cast(pl.Datetime("ms"))
    if dtype_name == "Boolean" and series.dtype == pl.String:
        return series == "true"
    if dtype_name.startswith(("Int", "UInt")):
        return series.cast(pl.Float64).round(0).cast(getattr(pl, dtype_name))
    try:
        return series.cast(getattr(pl, dtype_name))
    except (AttributeError, TypeError, pl.exceptions.PolarsError):
        return series


# --------------------------------------------------------------------------- the store

PostFn = Callable[[list[str], str], Awaitable[list[tuple[int, str]]]]


class InfluxStore:
    """:class:`gympulse.pipeline.stores.base.Store` on InfluxDB's v1 HTTP API (httpx, async)."""

    name = "influxdb"

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._schemas: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------ lifecycle

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("store is not open (or already closed)")
        return self._client

    def _auth(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        s = self.settings
        if s.token:
            # InfluxDB 2.x/3.x v1 compatibility: "Authorization: Token ...".
            return {"Authorization": f"Token {s.token}"}, None
        if s.username:
            return {}, httpx.BasicAuth(s.username, s.password)
        return {}, None

    async def open(self) -> None:
        headers, auth = self._auth()
        self._client = httpx.AsyncClient(
            base_url=self.settings.url.rstrip("/"),
            timeout=self.settings.timeout_s,
            headers=headers,
            auth=auth,
            transport=self._transport,
        )
        if self.settings.create_database:
            try:
                await self._query(f"CREATE DATABASE {quote_ident(self.settings.database)}")
            except InfluxQueryError as err:
                # A non-admin user cannot create databases; the database may exist anyway.
                log.warning("could not create database %s: %s", self.settings.database, err)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------ HTTP with retries

    async def _request(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST with capped, jittered exponential backoff on 5xx and transport errors.
        Returns any response below 500; raises StoreUnavailable when retries run out."""
        s = self.settings
        delay = s.backoff_initial_s
        last = ""
        for attempt in range(s.retries + 1):
            try:
                resp = await self.client.post(
                    path, params=params, content=content, data=data, headers=headers
                )
            except httpx.TransportError as err:  # connect/read errors and timeouts
                last = f"{type(err).__name__}: {err}"
            else:
                if resp.status_code < 500:
                    return resp
                last = f"HTTP {resp.status_code}: {_message(resp)}"
            if attempt < s.retries:
                pause = min(delay, s.backoff_max_s) * random.uniform(0.5, 1.0)
                log.info("InfluxDB %s failed (%s); retry in %.2f s", path, last, pause)
                await self._sleep(pause)
                delay *= 2
        raise StoreUnavailable(
            f"InfluxDB at {s.url} unavailable after {s.retries + 1} tries: {last}"
        )

    def _config_error(self, resp: httpx.Response) -> StoreUnavailable:
        return StoreUnavailable(
            f"InfluxDB refused {resp.request.url.path} with {resp.status_code}"
            f" ({_message(resp)}): check url, database and credentials"
        )

    async def _post_lines_v1(self, lines: list[str], precision: str) -> list[tuple[int, str]]:
        """Write ``lines``; returns (index, server message) of lines the server refused."""
        rejected: list[tuple[int, str]] = []
        size = max(1, self.settings.batch_points)
        for start in range(0, len(lines), size):
            rejected += await self._post_chunk(
                lines, start, min(start + size, len(lines)), precision
            )
        return rejected

    async def _post_chunk(
        self, lines: list[str], lo: int, hi: int, precision: str
    ) -> list[tuple[int, str]]:
        params = {"db": self.settings.database, "precision": precision}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        body = "\n".join(lines[lo:hi]).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        resp = await self._request("/write", params, content=body, headers=headers)
        if resp.status_code in (200, 204):
            return []
        if resp.status_code in (401, 403, 404):
            raise self._config_error(resp)
        if hi - lo == 1:
            if resp.status_code == 413:
                raise StoreUnavailable(
                    f"InfluxDB refuses even a single point as too large: {lines[lo][:200]}"
                )
            return [(lo, f"HTTP {resp.status_code}: {_message(resp)}")]
        # 400 (bad points; the good ones of a partial write are stored anyway, and writing
        # them again is idempotent) or 413 (too large): bisect to the refused lines.
        mid = (lo + hi) // 2
        return await self._post_chunk(lines, lo, mid, precision) + await self._post_chunk(
            lines, mid, hi, precision
        )

    def _post_lines(self) -> PostFn:
        return self._post_lines_v1

    async def _query(
        self, q: str, *, epoch: str = "ms", chunk_size: int = 10_000
    ) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the statement results (each with ``series``)."""
        params = {
            "db": self.settings.database,
            "epoch": epoch,
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        resp = await self._request("/query", params, data={"q": q})
        if resp.status_code in (401, 403):
            raise self._config_error(resp)
        if resp.status_code >= 400:
            raise InfluxQueryError(f"{q[:200]!r}: HTTP {resp.status_code}: {_message(resp)}")
        results: dict[int, dict[str, Any]] = {}
        for chunk_line in resp.text.splitlines():
            if not chunk_line.strip():
                continue
            chunk = json.loads(chunk_line)
            if "error" in chunk:
                raise InfluxQueryError(f"{q[:200]!r}: {chunk['error']}")
            for result in chunk.get("results", []):
                if "error" in result:
                    raise InfluxQueryError(f"{q[:200]!r}: {result['error']}")
                merged = results.setdefault(result.get("statement_id", 0), {"series": []})
                merged["series"].extend(result.get("series", []))
        return [results[k] for k in sorted(results)]

    async def _rows(self, q: str, *, epoch: str = "ms") -> Iterator[dict[str, Any]]:
        results = await self._query(q, epoch=epoch)
        return _iter_rows(results[0]["series"] if results else [])

    @property
    def _hr(self) -> str:
        return self._measurement(HR)

    def _measurement(self, name: str) -> str:
        rp = self.settings.retention_policy
        if rp:
            return f"{quote_ident(self.settings.database)}.{quote_ident(rp)}.{quote_ident(name)}"
        return quote_ident(name)

    # ------------------------------------------------------------ samples

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
            f"SELECT {quote_ident(probe)} FROM {self._measurement(measurement)}"
            f" WHERE time >= {lo}ms AND time <= {hi}ms"
            f' AND {_any_of("sensor", sensors)} GROUP BY "sensor"'
        )
        return {(row["sensor"], int(row["time"])) for row in await self._rows(q)}

    async def write(self, batch: WriteBatch) -> WriteResult:
        self.client  # noqa: B018 - raises when closed
        unique: dict[tuple[str, int], StoredSample] = {}
        for s in batch.samples:
            unique.setdefault((s.sensor, s.ts), s)
        existing = await self._existing(list(unique.values()))
        new = [s for k, s in unique.items() if k not in existing]
        rejected = await self._post_lines()([sample_line(s) for s in new], "ms")
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
        refused_machine = await self._post_lines()([machine_line(m) for m in new_machine], "ms")
        for index, message in refused_machine:
            m = new_machine[index]
            log.warning("InfluxDB refused machine sample %s@%s: %s", m.sensor, m.ts, message)
            quarantine.append(_rejected_machine_row(m, message))
        if quarantine:
            refused = await self._post_lines()([quarantine_line(q) for q in quarantine], "ns")
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
            q = f'SELECT "key" FROM {self._measurement(QUARANTINE)} WHERE {_any_of("key", keys)}'
            stored = {str(row["key"]) for row in await self._rows(q)}
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
        q = (
            f'SELECT "bpm", "rr", "contact", "athlete" FROM {self._hr}'
            f" WHERE time >= {start_ms}ms AND time < {end_ms}ms"
        )
        if sensors is not None:
            if not sensors:
                return pl.DataFrame(schema=dict(SAMPLE_COLUMNS))
            q += f" AND {_any_of('sensor', sensors)}"
        if athlete_ids is not None:
            if not athlete_ids:
                return pl.DataFrame(schema=dict(SAMPLE_COLUMNS))
            q += f" AND {_any_of('athlete', [str(a) for a in athlete_ids])}"
        q += ' GROUP BY "sensor"'
        rows = [
            (
                r["sensor"],
                None if r.get("athlete") in (None, "") else int(r["athlete"]),
                int(r["time"]),
                r["bpm"],
                r.get("rr") or "",
                r.get("contact"),
            )
            for r in await self._rows(q)
        ]
        frame = pl.DataFrame(
            rows,
            schema={
                "sensor": pl.String,
                "athlete_id": pl.Int64,
                "ts": pl.Int64,
                "bpm": pl.Int32,
                "rr": pl.String,
                "contact": pl.Boolean,
            },
            orient="row",
        )
        return (
            frame.select(
                "sensor",
                "athlete_id",
                "ts",
                "bpm",
                pl.when(pl.col("rr") == "")
                .then(pl.lit([], dtype=pl.List(pl.String)))
                .otherwise(pl.col("rr").str.split(","))
                .cast(pl.List(pl.Int32))
                .alias("rr_ms"),
                "contact",
            )
            .cast(dict(SAMPLE_COLUMNS))  # type: ignore[arg-type]
            .sort("sensor", "ts")
        )

    async def query_machine(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        empty = pl.DataFrame(schema=dict(MACHINE_COLUMNS))
        columns = ", ".join(quote_ident(c) for c in ("athlete", "kind", *MACHINE_VALUES))
        q = (
            f"SELECT {columns} FROM {self._measurement(MACHINE)}"
            f" WHERE time >= {start_ms}ms AND time < {end_ms}ms"
        )
        if sensors is not None:
            if not sensors:
                return empty
            q += f" AND {_any_of('sensor', sensors)}"
        if athlete_ids is not None:
            if not athlete_ids:
                return empty
            q += f" AND {_any_of('athlete', [str(a) for a in athlete_ids])}"
        q += ' GROUP BY "sensor"'
        rows = [
            (
                r["sensor"],
                None if r.get("athlete") in (None, "") else int(r["athlete"]),
                int(r["time"]),
                r.get("kind") or "",
                *(r.get(c) for c in MACHINE_VALUES),
            )
            for r in await self._rows(q)
        ]
        if not rows:
            return empty
        return pl.DataFrame(rows, schema=dict(MACHINE_COLUMNS), orient="row", strict=False).sort(
            "sensor", "ts"
        )

    async def count_samples(self) -> int:
        return sum(
            int(r["count"]) for r in await self._rows(f'SELECT count("bpm") FROM {self._hr}')
        )

    async def sample_time_range(self) -> tuple[int, int] | None:
        """``first()`` and ``last()`` over every series of ``hr``: InfluxQL selectors return
        the selected point's time, and TSM answers both from each series' index."""
        results = await self._query(
            f'SELECT first("bpm") FROM {self._hr}; SELECT last("bpm") FROM {self._hr}'
        )
        times = []
        for result in results:
            rows = list(_iter_rows(result["series"]))
            if not rows:
                return None
            times.append(int(rows[0]["time"]))
        if len(times) != 2:
            return None
        return times[0], times[1]

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]:
        q = (
            f'SELECT "received_ms", "topic", "payload", "size", "sha256", "reason", "key",'
            f' "detail" FROM {self._measurement(QUARANTINE)} ORDER BY time ASC'
            f" LIMIT {int(limit)}"
        )
        out = []
        for r in await self._rows(q, epoch="ns"):
            payload = base64.b64decode(r["payload"])
            out.append(
                QuarantineRow(
                    received_ms=int(r["received_ms"]),
                    topic=r["topic"],
                    payload=payload,
                    reason=r["reason"],
                    detail=r["detail"],
                    size=len(payload) if r.get("size") is None else int(r["size"]),
                    sha256=r.get("sha256") or hashlib.sha256(payload).hexdigest(),
                    key=r.get("key") or None,
                )
            )
        return out

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
        q = (
            f"SELECT * FROM {self._hr} WHERE {quote_ident('sensor')} = {quote_str(sensor)}"
            f" AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        moved: list[str] = []
        old_tags: set[str] = set()
        for r in await self._rows(q):
            old = r.get("athlete") or ""
            if old == new_tag:
                continue
            old_tags.add(old)
            fields = {
                k: v
                for k, v in r.items()
                if k not in ("time", "site", "sensor", "athlete", "pct_max", "zone")
                and v is not None
            }
            for int_field in ("bpm", "energy_kj", "seq"):
                if int_field in fields:
                    fields[int_field] = int(fields[int_field])
            if athlete_id is not None and hr_max is not None:
                fields["pct_max"], fields["zone"] = effort_stamp(fields["bpm"], hr_max)
            moved.append(
                line(
                    HR,
                    {"site": r.get("site"), "sensor": sensor, "athlete": new_tag},
                    fields,
                    int(r["time"]),
                )
            )
        if not moved:
            return 0
        refused = await self._post_lines()(moved, "ms")
        if refused:
            raise StoreUnavailable(f"InfluxDB refused re-stamped points: {refused[0][1]}")
        for old in sorted(old_tags):
            await self._delete_points(sensor, old, start_ms, end_ms)
        return len(moved)

    async def _delete_points(self, sensor: str, athlete: str, start_ms: int, end_ms: int) -> None:
        # In InfluxQL, tag = '' matches the series that do not have the tag.
        await self._query(
            f"DELETE FROM {quote_ident(HR)} WHERE {quote_ident('sensor')} = {quote_str(sensor)}"
            f" AND {quote_ident('athlete')} = {quote_str(athlete)}"
            f" AND time >= {start_ms}ms AND time < {end_ms}ms"
        )

    # ------------------------------------------------------------ derived tables

    async def _schema(self, table: str) -> dict[str, Any] | None:
        if table not in self._schemas:
            q = (
                f'SELECT "schema" FROM {self._measurement(SCHEMA)}'
                f" WHERE {quote_ident('table')} = {quote_str(table)}"
            )
            rows = list(await self._rows(q))
            if not rows:
                return None
            self._schemas[table] = json.loads(rows[-1]["schema"])
        return self._schemas[table]

    async def write_rows(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        if table in (HR, QUARANTINE, SCHEMA):
            raise ValueError(f"{table!r} is not a derived table")
        if rows.is_empty():
            return
        columns = {name: _dtype_name(dtype) for name, dtype in rows.schema.items()}
        previous = await self._schema(table)
        if previous is not None:
            merged = dict(previous["columns"])
            merged.update({k: v for k, v in columns.items() if v != "Null" or k not in merged})
            columns = merged
        time_col = _time_column(columns, key) if previous is None else previous["time"]
        if time_col is not None and time_col not in rows.columns:
            raise ValueError(f"{table}: rows lack the time column {time_col!r}")
        tag_cols = [k for k in key if k != time_col]
        schema = {"columns": columns, "key": list(key), "time": time_col, "tags": tag_cols}
        if schema != previous:
            await self._write_checked(
                [line(SCHEMA, {"table": table}, {"schema": json.dumps(schema)}, 0)], table
            )
            self._schemas[table] = schema
        field_cols = [c for c in rows.columns if c not in tag_cols and c != time_col]
        lines: list[str] = []
        times: dict[tuple[str, ...], int] = {}
        for row in rows.iter_rows(named=True):
            tags = {k: _tag_value(row[k]) for k in tag_cols}
            t = 0 if time_col is None else _to_ms(row[time_col])
            fields = {c: _plain(row[c], columns[c]) for c in field_cols}
            if time_col is not None and time_col not in key:
                fields[time_col] = _plain(row[time_col], columns[time_col])
            if all(v is None for v in fields.values()):
                fields["_present"] = True  # a point needs a field
            lines.append(line(table, tags, fields, t))
            times[tuple(tags[k] for k in tag_cols)] = t
        if time_col is not None and time_col not in key:
            await self._drop_moved_rows(table, tag_cols, times)
        await self._write_checked(lines, table)

    async def _drop_moved_rows(
        self, table: str, tag_cols: list[str], times: dict[tuple[str, ...], int]
    ) -> None:
        """When the time comes from a non-key column (a session's start), a row whose start
        changed would become a second point: delete the key's old point first."""
        if not tag_cols:
            return
        group = ", ".join(quote_ident(t) for t in tag_cols)
        q = f"SELECT * FROM {self._measurement(table)} GROUP BY {group}"
        try:
            existing = list(await self._rows(q))
        except InfluxQueryError:
            return
        stale = []
        for r in existing:
            k = tuple(str(r.get(t) or "") for t in tag_cols)
            if k in times and int(r["time"]) != times[k]:
                stale.append((dict(zip(tag_cols, k, strict=True)), int(r["time"])))
        await self._delete_derived_points(table, stale)

    async def _delete_derived_points(
        self, table: str, points: Sequence[tuple[Mapping[str, str], int]]
    ) -> None:
        """Delete single points of a derived table, each by its full tag set and time (ms):
        InfluxQL ``DELETE`` filters on tags and time only, and a tag set + time is exactly
        one point. Sent as ``;``-separated statements, 200 per request."""
        statements = []
        for tags, time_ms in points:
            conds = [f"{quote_ident(t)} = {quote_str(v)}" for t, v in sorted(tags.items())]
            conds.append(f"time = {int(time_ms)}ms")
            statements.append(f"DELETE FROM {quote_ident(table)} WHERE {' AND '.join(conds)}")
        for start in range(0, len(statements), 200):
            await self._query("; ".join(statements[start : start + 200]))

    async def _write_checked(self, lines: list[str], table: str) -> None:
        refused = await self._post_lines()(lines, "ms")
        if refused:
            raise ValueError(f"InfluxDB refused rows of {table}: {refused[0][1]}")

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        found = await self._read_points(table, where)
        if found is None:
            return pl.DataFrame()
        return found.drop(_POINT_TIME, *[c for c in found.columns if c.startswith(_RAW_TAG)])

    async def _read_points(
        self, table: str, where: Mapping[str, object] | None
    ) -> pl.DataFrame | None:
        """The rows of ``table`` matching ``where`` (tags and the time column filtered by the
        server, other columns by polars), plus each point's identity: its time in ms
        (column ``_POINT_TIME``) and its raw tag strings (``_RAW_TAG`` + tag name). None
        when the table was never written."""
        schema = await self._schema(table)
        if schema is None:
            return None
        columns: dict[str, str] = schema["columns"]
        tags: list[str] = schema["tags"]
        time_col: str | None = schema["time"]
        for k in where or {}:
            if k not in columns:
                raise ValueError(f"{table} has no column {k!r}")
        conds = [
            f"{quote_ident(k)} = {quote_str(_tag_value(v))}"
            for k, v in (where or {}).items()
            if k in tags
        ]
        if time_col is not None and time_col in (where or {}):
            value = (where or {})[time_col]
            if isinstance(value, dt.date | int) and not isinstance(value, bool):
                conds.append(f"time = {_to_ms(value)}ms")
        q = f"SELECT * FROM {self._measurement(table)}"
        if conds:
            q += " WHERE " + " AND ".join(conds)
        raw = list(await self._rows(q))
        data: dict[str, list[object]] = {c: [] for c in columns}
        for r in raw:
            for c in columns:
                if c == time_col and c not in r:
                    data[c].append(int(r["time"]))
                elif c in tags:
                    data[c].append(r.get(c) or None)
                else:
                    data[c].append(r.get(c))
        frame = pl.DataFrame(
            {
                c: pl.Series(c, v, dtype=pl.String if c in tags else None, strict=False)
                for c, v in data.items()
            }
        )
        frame = frame.with_columns(
            [_cast_column(frame[c], t).alias(c) for c, t in columns.items() if t != "Null"]
        )
        frame = frame.with_columns(
            pl.Series(_POINT_TIME, [int(r["time"]) for r in raw], dtype=pl.Int64),
            *[
                pl.Series(_RAW_TAG + t, [str(r.get(t) or "") for r in raw], dtype=pl.String)
                for t in tags
            ],
        )
        for k, v in (where or {}).items():
            frame = frame.filter(pl.col(k) == v)
        return frame

    async def delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        """Rows matching ``where`` on any columns: the matching points are read (tags and
        time filtered by the server, field columns such as ``session_summary.date`` in
        polars), then each is deleted by its tag set and time, the only filters InfluxQL
        ``DELETE`` has. Returns how many points were deleted."""
        if table in (HR, QUARANTINE, SCHEMA):
            raise ValueError(f"{table!r} is not a derived table")
        if not where:
            raise ValueError("delete_rows needs at least one condition")
        found = await self._read_points(table, where)
        if found is None or found.is_empty():
            return 0
        tag_cols = [c for c in found.columns if c.startswith(_RAW_TAG)]
        points = [
            (
                {c.removeprefix(_RAW_TAG): str(row[c]) for c in tag_cols},
                int(row[_POINT_TIME]),
            )
            for row in found.select(_POINT_TIME, *tag_cols).iter_rows(named=True)
        ]
        await self._delete_derived_points(table, points)
        return len(points)


_POINT_TIME = "__point_time_ms"
_RAW_TAG = "__point_tag_"


def _dtype_name(dtype: pl.DataType) -> str:
    name = str(type(dtype).__name__)
    return name


def _tag_value(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _iter_rows(series_list: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for series in series_list:
        tags = series.get("tags") or {}
        columns = series["columns"]
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=True))
            for k, v in tags.items():
                row.setdefault(k, v)
                if row[k] is None:
                    row[k] = v
            yield row


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:500]
    return str(body)[:500]


# --------------------------------------------------------------------------- InfluxDB 2.x


class InfluxV2Store(InfluxStore):
    """InfluxDB 2.x / Cloud natively: writes through influxdb-client's write API (org,
    bucket, token); reads with InfluxQL over the v1-compatible ``/query`` (token auth), which
    needs a DBRP mapping from ``database`` to the bucket, exactly as Grafana's InfluxQL data
    source does. Deleting points uses the v2 delete API (predicates on tags)."""

    def __init__(self, settings: InfluxSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._v2: Any = None

    async def open(self) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient

        s = self.settings
        self._v2 = InfluxDBClient(
            url=s.url, token=s.token, org=s.org, timeout=int(s.timeout_s * 1000), enable_gzip=s.gzip
        )
        headers, auth = self._auth()
        self._client = httpx.AsyncClient(
            base_url=s.url.rstrip("/"),
            timeout=s.timeout_s,
            headers=headers,
            auth=auth,
            transport=self._transport,
        )

    async def close(self) -> None:
        if self._v2 is not None:
            self._v2.close()
            self._v2 = None
        await super().close()

    def _post_lines(self) -> PostFn:
        return self._post_lines_v2

    async def _post_lines_v2(self, lines: list[str], precision: str) -> list[tuple[int, str]]:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.client.write_api import SYNCHRONOUS

        s = self.settings
        api = self._v2.write_api(write_options=SYNCHRONOUS)
        wp = {"ms": "ms", "ns": "ns"}[precision]
        rejected: list[tuple[int, str]] = []
        size = max(1, s.batch_points)
        for start in range(0, len(lines), size):
            chunk = lines[start : start + size]
            delay = s.backoff_initial_s
            for attempt in range(s.retries + 1):
                try:
                    await asyncio.to_thread(
                        api.write, bucket=s.bucket, org=s.org, record=chunk, write_precision=wp
                    )
                    break
                except InfluxDBError as err:
                    status = getattr(getattr(err, "response", None), "status", 0) or 0
                    if 400 <= status < 500 and status not in (401, 403, 404, 429):
                        rejected += [(start + i, str(err.message)) for i in range(len(chunk))]
                        break
                    if status in (401, 403, 404):
                        raise StoreUnavailable(
                            f"InfluxDB refused the write: {err.message}"
                        ) from err
                    last = str(err)
                except OSError as err:
                    last = str(err)
                if attempt == s.retries:
                    raise StoreUnavailable(f"InfluxDB at {s.url} unavailable: {last}")
                await self._sleep(min(delay, s.backoff_max_s) * random.uniform(0.5, 1.0))
                delay *= 2
        return rejected

    async def _delete_points(self, sensor: str, athlete: str, start_ms: int, end_ms: int) -> None:
        s = self.settings
        start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
        stop = dt.datetime.fromtimestamp(end_ms / 1000 - 0.000001, dt.UTC)
        predicate = f'_measurement="{HR}" AND sensor="{sensor}" AND athlete="{athlete}"'
        await asyncio.to_thread(
            self._v2.delete_api().delete, start, stop, predicate, bucket=s.bucket, org=s.org
        )

    async def _delete_derived_points(
        self, table: str, points: Sequence[tuple[Mapping[str, str], int]]
    ) -> None:
        """The v2 delete API: a predicate on the measurement and tags, and a time range of
        half a millisecond around the point (derived points are written with ms precision),
        so it hits that one point whether ``stop`` is inclusive or not."""
        s = self.settings
        for tags, time_ms in points:
            start = dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC)
            stop = dt.datetime.fromtimestamp((time_ms + 0.5) / 1000, dt.UTC)
            predicate = " AND ".join(
                [f'_measurement="{table}"', *(f'{t}="{v}"' for t, v in sorted(tags.items()))]
            )
            await asyncio.to_thread(
                self._v2.delete_api().delete, start, stop, predicate, bucket=s.bucket, org=s.org
            )


def make_influx_store(settings: InfluxSettings) -> Store:
    """The InfluxDB store the settings ask for (v1 HTTP API by default); not opened yet."""
    if settings.api == "v2":
        return InfluxV2Store(settings)
    return InfluxStore(settings)
