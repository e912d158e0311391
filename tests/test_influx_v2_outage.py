"""``store.api = "v2"``: influxdb-client's connection errors mean "store unavailable".

No InfluxDB 2.x runs on these machines (not in Debian), so the v2 write API is a small
front that translates ``POST /api/v2/write?bucket=B&precision=ms`` into the real influxd
1.6.7's ``/write?db=B`` and passes ``/query`` (the v1-compatible read API the v2 store uses)
through — the points really land in InfluxDB. The front can drop connections on cue:
it closes the socket without an answer (urllib3 ``ProtocolError``), or nothing listens
(``NewConnectionError``). Neither is an ``OSError``; a write that meets them must raise
:class:`StoreUnavailable` (so ingestion acknowledges nothing) and never quarantine a
valid sample.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gympulse.contract import now_ms as contract_now
from gympulse.pipeline.stores.base import (
    QuarantineRow,
    StoredMachineSample,
    StoredSample,
    StoreUnavailable,
    WriteBatch,
)
from gympulse.pipeline.stores.influxdb import InfluxV2Store
from gympulse.settings import InfluxSettings
from tests.support.influxd import Influxd
from tests.support.procs import free_port

DB = "gympulse"
T0 = 1_700_000_000_000


def influxql_delete(request: dict[str, Any]) -> str:
    """The v2 delete request (``start``/``stop`` RFC 3339, both inclusive; a predicate of
    ``key="value"`` terms joined by AND, ``_measurement`` among them) as InfluxQL."""
    terms = dict(re.findall(r'(\w+)="([^"]*)"', request["predicate"]))
    measurement = terms.pop("_measurement")

    def ns(text: str) -> int:
        whole, _, fraction = text.removesuffix("Z").removesuffix("+00:00").partition(".")
        moment = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC)
        return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))

    where = [f"\"{k}\" = '{v}'" for k, v in terms.items()]
    where += [f"time >= {ns(request['start'])}", f"time <= {ns(request['stop'])}"]
    return f'DELETE FROM "{measurement}" WHERE {" AND ".join(where)}'


class V2Front:
    """``/api/v2/write`` onto a real influxd's ``/write``; drops the first ``drop`` writes."""

    def __init__(self, influxd: Influxd, drop: int) -> None:
        self.influxd = influxd
        self.drop = drop
        self.dropped = 0
        self.writes: list[bytes] = []
        self.deletes: list[dict[str, Any]] = []
        self.queries: list[str] = []  # InfluxQL sent to the v1-compatible /query
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if url.path == "/api/v2/write" and front.dropped < front.drop:
                    front.dropped += 1
                    self.close_connection = True
                    self.connection.shutdown(2)  # no status line: RemoteDisconnected
                    return
                params = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/query":
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    front.queries.append(params.get("q") or form.get("q", ""))
                if url.path == "/api/v2/delete":
                    front.deletes.append(json.loads(body))
                    influxd.query(influxql_delete(json.loads(body)), db=params["bucket"])
                    self.send_response(204)
                    self.end_headers()
                    return
                if url.path == "/api/v2/write":
                    front.writes.append(body)
                    target = "/write?" + urllib.parse.urlencode(
                        {"db": params["bucket"], "precision": params.get("precision", "ns")}
                    )
                else:
                    target = self.path
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "content-encoding")
                }
                req = urllib.request.Request(
                    influxd.url + target, data=body, method="POST", headers=headers
                )
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status, payload = resp.status, resp.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front(influxd: Influxd) -> Iterator[V2Front]:
    influxd.query(f"CREATE DATABASE {DB}")
    f = V2Front(influxd, drop=6)
    yield f
    f.close()


def v2_settings(url: str, retries: int) -> InfluxSettings:
    return InfluxSettings(
        url=url,
        api="v2",
        database=DB,
        bucket=DB,
        org="site",
        token="t",
        retries=retries,
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
        gzip=False,
    )


def samples(n: int) -> list[StoredSample]:
    return [
        StoredSample("gym-a", "edge-1", "strap-1", T0 + i * 1000, i, 70 + i, (850,), True, None, 1)
        for i in range(n)
    ]


def stored_ts(influxd: Influxd) -> list[int]:
    return [r["time"] for r in influxd.rows('SELECT bpm FROM "hr"', db=DB)]


@pytest.mark.slow  # a real influxd
async def test_dropped_connections_are_unavailable_never_quarantine(
    front: V2Front, influxd: Influxd
) -> None:
    store = InfluxV2Store(v2_settings(front.url, retries=2))
    await store.open()
    try:
        batch = samples(4)
        # 3 tries per write, 6 dropped connections: two writes meet only dropped ones.
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                await store.write(WriteBatch(batch))
        assert front.dropped == 6
        result = await store.write(WriteBatch(batch))
        assert (result.stored, result.quarantined) == (4, 0)
    finally:
        await store.close()
    assert stored_ts(influxd) == [s.ts for s in batch]
    assert influxd.rows('SELECT * FROM "quarantine"', db=DB) == []
    assert all(b"quarantine" not in w for w in front.writes)


@pytest.mark.slow  # a real influxd
async def test_nothing_listening_is_unavailable(influxd: Influxd) -> None:
    influxd.query(f"CREATE DATABASE {DB}")
    # /query goes to the real influxd; /api/v2/write to a port nobody listens on.
    settings = v2_settings(influxd.url, retries=1)
    store = InfluxV2Store(settings)
    await store.open()
    try:
        store.v2.settings = v2_settings(f"http://127.0.0.1:{free_port()}", retries=1)
        store.v2.close()
        store.v2.open()
        with pytest.raises(StoreUnavailable):
            await store.write(WriteBatch(samples(2)))
    finally:
        await store.close()
    assert stored_ts(influxd) == []


@pytest.mark.slow  # a real influxd
async def test_retention_deletes_old_raw_samples_through_the_delete_api(
    influxd: Influxd,
) -> None:
    influxd.query(f"CREATE DATABASE {DB}")
    front = V2Front(influxd, drop=0)
    store = InfluxV2Store(v2_settings(front.url, retries=1))
    await store.open()
    try:
        day = 86_400_000
        now = contract_now()
        old = [replace(s, ts=now - 500 * day + s.seq * 1000) for s in samples(3)]
        new = [replace(s, ts=now - day + s.seq * 1000) for s in samples(3)]
        await store.write(WriteBatch(old + new))
        assert len(stored_ts(influxd)) == 6
        await store.delete_samples_before(now - 400 * day)
    finally:
        await store.close()
        front.close()
    assert stored_ts(influxd) == [s.ts for s in new]
    assert {d["predicate"] for d in front.deletes} == {
        '_measurement="hr"',
        '_measurement="machine"',
        '_measurement="quarantine"',
    }


@pytest.mark.slow  # a real influxd
async def test_erasure_deletes_through_the_delete_api(influxd: Influxd) -> None:
    """A guest's erasure on 2.x: heart rate, machine samples and quarantined messages are
    all deleted through the v2 delete API, no InfluxQL ``DELETE`` goes to ``/query``; the
    other guest's samples stay."""
    influxd.query(f"CREATE DATABASE {DB}")
    front = V2Front(influxd, drop=0)
    store = InfluxV2Store(v2_settings(front.url, retries=1))
    await store.open()
    try:
        hers = samples(3)
        other = [replace(s, sensor="strap-2", athlete_id=2) for s in samples(2)]
        bike = [
            StoredMachineSample(
                "gym-a", "edge-1", "bike-1", T0 + i * 1000, i, "bike",
                120, 80.0, 30.0, 100 * i, None, None, None, None, 1,
            )
            for i in range(3)
        ]  # fmt: skip
        junk = QuarantineRow(
            received_ms=T0 + 1500,
            topic="gympulse/v1/gym-a/edge-1/strap-1/hr",
            payload=b"not json",
            reason="bad-json",
            detail="expected an object",
        )
        await store.write(WriteBatch(hers + other, quarantine=[junk], machine=bike))
        assert len(influxd.rows('SELECT * FROM "quarantine"', db=DB)) == 1
        assert len(influxd.rows('SELECT power_w FROM "machine"', db=DB)) == 3
        await store.erase_samples(1, [("strap-1", T0, T0 + 60_000)])
    finally:
        await store.close()
        front.close()
    assert stored_ts(influxd) == [s.ts for s in other]
    assert influxd.rows('SELECT power_w FROM "machine"', db=DB) == []
    assert influxd.rows('SELECT * FROM "quarantine"', db=DB) == []
    assert not [q for q in front.queries if "DELETE" in q.upper()], front.queries
    measurements = {re.search(r'_measurement="(\w+)"', d["predicate"])[1] for d in front.deletes}  # type: ignore[index]
    assert measurements == {"hr", "machine", "quarantine"}
