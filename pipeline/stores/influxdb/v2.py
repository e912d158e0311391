"""InfluxDB 2.x / Cloud natively: writes through influxdb-client's write API (org, bucket,
token) under the same :class:`RetryPolicy` as the v1 client, deletes through the v2
delete API (predicates on tags). Reads stay InfluxQL over the v1-compatible ``/query``
(token auth), which needs a DBRP mapping from ``database`` to the bucket, exactly as
Grafana's InfluxQL data source does.

influxdb-client is synchronous: each call runs in a worker thread, never on the loop."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.pipeline.stores.influxdb.deletes import Points
from gympulse.pipeline.stores.influxdb.http import (
    CONFIG_ERRORS,
    Retryable,
    RetryPolicy,
    WriteRefused,
)
from gympulse.pipeline.stores.influxdb.lineprotocol import HR
from gympulse.settings import InfluxSettings


class V2Client:
    """The influxdb-client connection: a :class:`LineWriter` and a :class:`Deleter`."""

    def __init__(self, settings: InfluxSettings, retry: RetryPolicy) -> None:
        self.settings = settings
        self.retry = retry
        self._client: Any = None

    def open(self) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient

        s = self.settings
        self._client = InfluxDBClient(
            url=s.url, token=s.token, org=s.org, timeout=int(s.timeout_s * 1000), enable_gzip=s.gzip
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def write_chunk(self, lines: Sequence[str], precision: str) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.client.write_api import SYNCHRONOUS
        from urllib3.exceptions import HTTPError as Urllib3Error

        s = self.settings
        api = self._client.write_api(write_options=SYNCHRONOUS)
        wp = {"ms": "ms", "ns": "ns"}[precision]
        record = list(lines)

        async def attempt() -> None:
            try:
                await asyncio.to_thread(
                    api.write, bucket=s.bucket, org=s.org, record=record, write_precision=wp
                )
            except InfluxDBError as err:
                status = getattr(getattr(err, "response", None), "status", 0) or 0
                if status in CONFIG_ERRORS:
                    raise StoreUnavailable(f"InfluxDB refused the write: {err.message}") from err
                if 400 <= status < 500 and status != 429:
                    raise WriteRefused(status, str(err.message)) from err
                raise Retryable(str(err)) from err
            except (OSError, Urllib3Error) as err:
                # Connection trouble: influxdb-client surfaces urllib3's ProtocolError,
                # NewConnectionError, ReadTimeoutError, MaxRetryError — none an OSError.
                # The store is unavailable; the sample is neither quarantined nor acked.
                raise Retryable(f"{type(err).__name__}: {err}") from err

        await self.retry.run("v2 write", attempt)

    async def delete_samples(
        self, sensor: str, athlete: str, start_ms: int, end_ms: int, measurement: str = HR
    ) -> None:
        s = self.settings
        start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
        stop = dt.datetime.fromtimestamp(end_ms / 1000 - 0.000001, dt.UTC)
        predicate = f'_measurement="{measurement}" AND sensor="{sensor}" AND athlete="{athlete}"'
        await asyncio.to_thread(
            self._client.delete_api().delete, start, stop, predicate, bucket=s.bucket, org=s.org
        )

    async def delete_before(self, measurements: Sequence[str], cutoff_ms: int) -> None:
        s = self.settings
        start = dt.datetime.fromtimestamp(0, dt.UTC)
        stop = dt.datetime.fromtimestamp(cutoff_ms / 1000 - 0.000001, dt.UTC)
        for measurement in measurements:
            await asyncio.to_thread(
                self._client.delete_api().delete,
                start,
                stop,
                f'_measurement="{measurement}"',
                bucket=s.bucket,
                org=s.org,
            )

    async def delete_points_ns(self, table: str, points: Points) -> None:
        """As :meth:`delete_points` for points stamped in ns: ``start`` = ``stop`` = the
        point's time, written out to the nanosecond (RFC 3339; a datetime holds only µs)."""
        s = self.settings
        for tags, time_ns in points:
            seconds, ns = divmod(int(time_ns), 1_000_000_000)
            when = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
            at = f"{when}.{ns:09d}Z"
            predicate = " AND ".join(
                [f'_measurement="{table}"', *(f'{t}="{v}"' for t, v in sorted(tags.items()))]
            )
            await asyncio.to_thread(
                self._client.delete_api().delete, at, at, predicate, bucket=s.bucket, org=s.org
            )

    async def delete_points(self, table: str, points: Points) -> None:
        """A predicate on the measurement and tags, and a time range of half a millisecond
        around the point (derived points are written with ms precision), so it hits that one
        point whether ``stop`` is inclusive or not."""
        s = self.settings
        for tags, time_ms in points:
            start = dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC)
            stop = dt.datetime.fromtimestamp((time_ms + 0.5) / 1000, dt.UTC)
            predicate = " AND ".join(
                [f'_measurement="{table}"', *(f'{t}="{v}"' for t, v in sorted(tags.items()))]
            )
            await asyncio.to_thread(
                self._client.delete_api().delete, start, stop, predicate, bucket=s.bucket, org=s.org
            )
