"""Deleting points: InfluxQL ``DELETE`` on the v1 API (the v2 variant has its own, in
:mod:`.v2`). ``DELETE`` filters on tags and time only, which is enough: a tag set plus a
time is exactly one point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from gympulse.pipeline.stores.influxdb.http import InfluxHttp
from gympulse.pipeline.stores.influxdb.influxql import quote_ident, quote_str
from gympulse.pipeline.stores.influxdb.lineprotocol import HR

Points = Sequence[tuple[Mapping[str, str], int]]  # (tag set, time in ms or ns) of single points


class Deleter(Protocol):
    async def delete_samples(
        self, sensor: str, athlete: str, start_ms: int, end_ms: int, measurement: str = HR
    ) -> None:
        """The ``measurement`` (``hr``, or ``machine``) points of ``sensor`` under tag
        ``athlete`` ("" = untagged) in [start_ms, end_ms)."""
        ...

    async def delete_points(self, table: str, points: Points) -> None:
        """Single points of a derived table, each by its full tag set and time (ms)."""
        ...

    async def delete_points_ns(self, table: str, points: Points) -> None:
        """Single points written with ns precision (quarantine), by tag set and time (ns)."""
        ...

    async def delete_before(self, measurements: Sequence[str], cutoff_ms: int) -> None:
        """Every point of ``measurements`` older than ``cutoff_ms`` (retention)."""
        ...


class InfluxQLDeleter:
    def __init__(self, http: InfluxHttp) -> None:
        self.http = http

    async def delete_samples(
        self, sensor: str, athlete: str, start_ms: int, end_ms: int, measurement: str = HR
    ) -> None:
        # In InfluxQL, tag = '' matches the series that do not have the tag.
        await self.http.query(
            f"DELETE FROM {quote_ident(measurement)}"
            f" WHERE {quote_ident('sensor')} = {quote_str(sensor)}"
            f" AND {quote_ident('athlete')} = {quote_str(athlete)}"
            f" AND time >= {start_ms}ms AND time < {end_ms}ms"
        )

    async def delete_before(self, measurements: Sequence[str], cutoff_ms: int) -> None:
        await self.http.query(
            "; ".join(
                f"DELETE FROM {quote_ident(m)} WHERE time < {int(cutoff_ms)}ms"
                for m in measurements
            )
        )

    async def delete_points(self, table: str, points: Points) -> None:
        """Sent as ``;``-separated statements, 200 per request."""
        await self._points(table, points, "ms")

    async def delete_points_ns(self, table: str, points: Points) -> None:
        await self._points(table, points, "")  # a bare InfluxQL time is in ns

    async def _points(self, table: str, points: Points, unit: str) -> None:
        statements = []
        for tags, time in points:
            conds = [f"{quote_ident(t)} = {quote_str(v)}" for t, v in sorted(tags.items())]
            conds.append(f"time = {int(time)}{unit}")
            statements.append(f"DELETE FROM {quote_ident(table)} WHERE {' AND '.join(conds)}")
        for start in range(0, len(statements), 200):
            await self.http.query("; ".join(statements[start : start + 200]))
