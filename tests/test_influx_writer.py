"""The bisecting writer of the InfluxDB store, at its boundary: a writer that refuses
some lines (as InfluxDB answers 400) and one that refuses everything as too large (413)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.pipeline.stores.influxdb import WriteRefused
from gympulse.pipeline.stores.influxdb.http import write_lines


class Refusing:
    """Refuses a request that holds a line containing ``bad`` (HTTP 400), else stores it."""

    def __init__(self, status: int = 400) -> None:
        self.status = status
        self.requests: list[list[str]] = []
        self.stored: list[str] = []

    async def write_chunk(self, lines: Sequence[str], precision: str) -> None:
        self.requests.append(list(lines))
        if any("bad" in line for line in lines):
            raise WriteRefused(self.status, "unable to parse")
        self.stored += lines


async def test_a_refused_write_is_bisected_to_the_refused_lines() -> None:
    lines = [f"hr v={i}i {i}" for i in range(10)]
    lines[3] = "bad line"
    lines[8] = "bad too"
    writer = Refusing()
    refused = await write_lines(writer, lines, "ms", batch_points=5)
    assert refused == [(3, "HTTP 400: unable to parse"), (8, "HTTP 400: unable to parse")]
    assert sorted(writer.stored) == sorted(line for line in lines if "bad" not in line)
    assert [len(r) for r in writer.requests[:1]] == [5]  # at most batch_points per request


async def test_a_single_point_too_large_means_the_store_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="too large"):
        await write_lines(Refusing(413), ["bad " * 10], "ms", batch_points=5)
