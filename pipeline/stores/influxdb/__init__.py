"""InfluxDB store: line protocol over the v1 HTTP API, InfluxQL over ``/query``.

The v1 API (``/write?db=&rp=&precision=``, ``/query``) is the one InfluxDB 1.x, 2.x (v1
compatibility, token auth) and 3.x all accept, and InfluxQL is what Grafana speaks to all
three. ``api = "v2"`` writes through the influxdb-client package instead (org, bucket,
token) and still reads with InfluxQL (the bucket needs a DBRP mapping, as Grafana's
InfluxQL data source does). The schema and the error table are in
``pipeline/stores/README.md``.

One job per module, the way Telegraf keeps its InfluxDB output, its HTTP client and the
line-protocol serializer apart:

- :mod:`.lineprotocol` — samples, machine samples and quarantine rows as points (pure);
- :mod:`.influxql` — quoting and result rows of InfluxQL (pure);
- :mod:`.http` — the v1 HTTP client, the one :class:`RetryPolicy`, :class:`WriteRefused`
  and the bisecting :func:`write_lines`;
- :mod:`.deletes` — deleting points with InfluxQL;
- :mod:`.samples` — the sample role (write, query, quarantine, reassign);
- :mod:`.tables` — the derived-table role (write_rows, read_rows, delete_rows);
- :mod:`.v2` — the InfluxDB 2.x writer and deleter (influxdb-client);
- this module — :class:`InfluxStore`, the lifecycle (open, close) around both roles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import httpx
import polars as pl

from gympulse.pipeline.stores.base import (
    QuarantineRow,
    Store,
    Window,
    WriteBatch,
    WriteResult,
)
from gympulse.pipeline.stores.influxdb.deletes import Deleter, InfluxQLDeleter
from gympulse.pipeline.stores.influxdb.http import (
    InfluxHttp,
    InfluxQueryError,
    LineWriter,
    RetryPolicy,
    WriteRefused,
)
from gympulse.pipeline.stores.influxdb.lineprotocol import line, sample_line
from gympulse.pipeline.stores.influxdb.samples import InfluxSamples
from gympulse.pipeline.stores.influxdb.tables import InfluxTables
from gympulse.pipeline.stores.influxdb.v2 import V2Client
from gympulse.settings import InfluxSettings

__all__ = [
    "InfluxQueryError",
    "InfluxStore",
    "InfluxV2Store",
    "RetryPolicy",
    "WriteRefused",
    "line",
    "make_influx_store",
    "sample_line",
]


class InfluxStore:
    """:class:`gympulse.pipeline.stores.base.Store` on InfluxDB's v1 HTTP API (httpx,
    async): one HTTP client shared by the sample role and the table role. ``transport``
    and ``sleep`` are seams for tests (httpx.MockTransport, a recording sleep)."""

    name = "influxdb"

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        zone: str = "UTC",
    ) -> None:
        """``zone``: the site's time zone (``settings.timezone``): a derived table's day
        is a point at that day's local midnight."""
        self.settings = settings
        self.http = InfluxHttp(settings, transport=transport, sleep=sleep)
        writer, deleter = self._writer_and_deleter()
        self.samples = InfluxSamples(self.http, writer, deleter)
        self.tables = InfluxTables(self.http, writer, deleter, zone=zone)

    def _writer_and_deleter(self) -> tuple[LineWriter, Deleter]:
        return self.http, InfluxQLDeleter(self.http)

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        await self.http.open(create_database=self.settings.create_database)

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------ samples

    async def write(self, batch: WriteBatch) -> WriteResult:
        return await self.samples.write(batch)

    async def query_samples(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        return await self.samples.query_samples(
            start_ms, end_ms, sensors=sensors, athlete_ids=athlete_ids
        )

    async def query_machine(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        return await self.samples.query_machine(
            start_ms, end_ms, sensors=sensors, athlete_ids=athlete_ids
        )

    async def count_samples(self) -> int:
        return await self.samples.count_samples()

    async def sample_time_range(self) -> tuple[int, int] | None:
        return await self.samples.sample_time_range()

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]:
        return await self.samples.query_quarantine(limit)

    async def reassign(
        self,
        sensor: str,
        start_ms: int,
        end_ms: int,
        athlete_id: int | None,
        *,
        hr_max: float | None = None,
    ) -> int:
        return await self.samples.reassign(sensor, start_ms, end_ms, athlete_id, hr_max=hr_max)

    async def erase_samples(self, athlete_id: int, windows: Sequence[Window]) -> int:
        return await self.samples.erase_samples(athlete_id, windows)

    async def quarantine_of(self, windows: Sequence[Window]) -> list[QuarantineRow]:
        return await self.samples.quarantine_of(windows)

    async def delete_samples_before(self, cutoff_ms: int) -> int:
        return await self.samples.delete_samples_before(cutoff_ms)

    # ------------------------------------------------------------ derived tables

    async def write_rows(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        await self.tables.write_rows(table, rows, key)

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        return await self.tables.read_rows(table, where)

    async def delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        return await self.tables.delete_rows(table, where)


class InfluxV2Store(InfluxStore):
    """InfluxDB 2.x / Cloud natively: writes and deletes through influxdb-client (see
    :mod:`.v2`); reads with InfluxQL over the v1-compatible ``/query``."""

    def _writer_and_deleter(self) -> tuple[LineWriter, Deleter]:
        self.v2 = V2Client(self.settings, self.http.retry)
        return self.v2, self.v2

    async def open(self) -> None:
        self.v2.open()
        await self.http.open(create_database=False)

    async def close(self) -> None:
        self.v2.close()
        await super().close()


def make_influx_store(settings: InfluxSettings, *, zone: str = "UTC") -> Store:
    """The InfluxDB store the settings ask for (v1 HTTP API by default); not opened yet.
    ``zone``: the site's time zone, where a derived table's days begin."""
    if settings.api == "v2":
        return InfluxV2Store(settings, zone=zone)
    return InfluxStore(settings, zone=zone)
