"""The InfluxDB HTTP client: the v1 API (``/write``, ``/query``) over httpx, with ONE retry
policy and one error type for a write the server refuses.

- :class:`RetryPolicy`: 5xx, timeouts and connection errors are retried ``retries`` times
  with capped, jittered exponential backoff (doubling from ``backoff_initial_s``, capped at
  ``backoff_max_s``, ×0.5–1), then :class:`StoreUnavailable`. The v2 writer uses it too.
- :class:`WriteRefused`: the server answered a write with a 4xx other than the
  configuration errors (400 bad points, 413 too large): sending the same body again
  cannot help. :func:`write_lines` bisects such a write down to the refused lines.
- 401/403/404 are configuration errors (credentials, missing database) that no retry or
  quarantine fixes: :class:`StoreUnavailable` at once, so nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import httpx

from gympulse.backoff import Backoff
from gympulse.pipeline.stores.base import StoreUnavailable
from gympulse.pipeline.stores.influxdb.influxql import iter_rows, quote_ident
from gympulse.settings import InfluxSettings

log = logging.getLogger("gympulse.pipeline.stores.influxdb")

T = TypeVar("T")
P = TypeVar("P")
CHUNK_ROWS = 10_000  # rows per chunk of a /query answer (decoded one chunk at a time)
Sleep = Callable[[float], Awaitable[None]]
CONFIG_ERRORS = (401, 403, 404)


class InfluxQueryError(RuntimeError):
    """InfluxDB refused a query (4xx or an error in the result): a bug, not an outage."""


class WriteRefused(Exception):
    """The server refused the points of a write (HTTP 400 bad points, 413 too large, ...):
    retrying the same body cannot help. ``message`` is the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Retryable(Exception):
    """An attempt failed in a way a later attempt may not (5xx, timeout, connection)."""


class RetryPolicy:
    """Capped, jittered exponential backoff: the one retry loop of the InfluxDB store."""

    def __init__(self, settings: InfluxSettings, sleep: Sleep = asyncio.sleep) -> None:
        self.settings = settings
        self.sleep = sleep

    async def run(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Call ``attempt`` until it returns; retry when it raises :class:`Retryable`;
        :class:`StoreUnavailable` when the retries run out. Other errors pass through."""
        s = self.settings
        backoff = Backoff(s.backoff_initial_s, s.backoff_max_s)
        last = ""
        for tries in range(s.retries + 1):
            try:
                return await attempt()
            except Retryable as err:
                last = str(err)
            if tries < s.retries:
                pause = backoff.delay(tries + 1)
                log.info("InfluxDB %s failed (%s); retry in %.2f s", what, last, pause)
                await self.sleep(pause)
        raise StoreUnavailable(
            f"InfluxDB at {s.url} unavailable after {s.retries + 1} tries: {last}"
        )


class LineWriter(Protocol):
    """Writes one request's worth of lines; raises :class:`WriteRefused` or
    :class:`StoreUnavailable`."""

    async def write_chunk(self, lines: Sequence[str], precision: str) -> None: ...


async def write_lines(
    writer: LineWriter, lines: Sequence[str], precision: str, batch_points: int
) -> list[tuple[int, str]]:
    """Write ``lines`` in requests of at most ``batch_points``; returns (index, server
    message) of the lines the server refused. A refused request is bisected to its refused
    lines (InfluxDB 1.x stores the good points of a partial write; writing them again is
    idempotent)."""
    rejected: list[tuple[int, str]] = []
    size = max(1, batch_points)
    for start in range(0, len(lines), size):
        rejected += await _bisecting(writer, lines, start, min(start + size, len(lines)), precision)
    return rejected


async def _bisecting(
    writer: LineWriter, lines: Sequence[str], lo: int, hi: int, precision: str
) -> list[tuple[int, str]]:
    try:
        await writer.write_chunk(lines[lo:hi], precision)
    except WriteRefused as refused:
        if hi - lo == 1:
            if refused.status == 413:
                raise StoreUnavailable(
                    f"InfluxDB refuses even a single point as too large: {lines[lo][:200]}"
                ) from None
            return [(lo, str(refused))]
        mid = (lo + hi) // 2
        return await _bisecting(writer, lines, lo, mid, precision) + await _bisecting(
            writer, lines, mid, hi, precision
        )
    return []


class InfluxHttp:
    """One httpx client on InfluxDB's v1 HTTP API: ``write_chunk`` (line protocol to
    ``/write``) and ``query`` (InfluxQL over ``/query``, chunked JSON)."""

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.retry = RetryPolicy(settings, sleep)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("store is not open (or already closed)")
        return self._client

    def auth(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        s = self.settings
        if s.token:
            # InfluxDB 2.x/3.x v1 compatibility: "Authorization: Token ...".
            return {"Authorization": f"Token {s.token}"}, None
        if s.username:
            return {}, httpx.BasicAuth(s.username, s.password)
        return {}, None

    async def open(self, *, create_database: bool) -> None:
        headers, auth = self.auth()
        self._client = httpx.AsyncClient(
            base_url=self.settings.url.rstrip("/"),
            timeout=self.settings.timeout_s,
            headers=headers,
            auth=auth,
            transport=self._transport,
        )
        if create_database:
            try:
                await self.query(f"CREATE DATABASE {quote_ident(self.settings.database)}")
            except InfluxQueryError as err:
                # A non-admin user cannot create databases; the database may exist anyway.
                log.warning("could not create database %s: %s", self.settings.database, err)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST under the retry policy. Returns any response below 500."""
        client = self.client

        async def attempt() -> httpx.Response:
            try:
                resp = await client.post(
                    path, params=params, content=content, data=data, headers=headers
                )
            except httpx.TransportError as err:  # connect/read errors and timeouts
                raise Retryable(f"{type(err).__name__}: {err}") from err
            if resp.status_code >= 500:
                raise Retryable(f"HTTP {resp.status_code}: {message(resp)}")
            return resp

        return await self.retry.run(path, attempt)

    def config_error(self, resp: httpx.Response) -> StoreUnavailable:
        return StoreUnavailable(
            f"InfluxDB refused {resp.request.url.path} with {resp.status_code}"
            f" ({message(resp)}): check url, database and credentials"
        )

    async def write_chunk(self, lines: Sequence[str], precision: str) -> None:
        """One ``/write`` request (gzip when configured)."""
        params = {"db": self.settings.database, "precision": precision}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        resp = await self.post("/write", params, content=body, headers=headers)
        if resp.status_code in (200, 204):
            return
        if resp.status_code in CONFIG_ERRORS:
            raise self.config_error(resp)
        raise WriteRefused(resp.status_code, message(resp))

    async def _fetch(self, q: str, *, epoch: str, chunk_size: int) -> bytes:
        """The raw (chunked JSON) body of ``q``; decoding is the caller's, off the loop."""
        params = {
            "db": self.settings.database,
            "epoch": epoch,
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        resp = await self.post("/query", params, data={"q": q})
        if resp.status_code in (401, 403):
            raise self.config_error(resp)
        if resp.status_code >= 400:
            raise InfluxQueryError(f"{q[:200]!r}: HTTP {resp.status_code}: {message(resp)}")
        return resp.content

    async def query(
        self, q: str, *, epoch: str = "ms", chunk_size: int = CHUNK_ROWS
    ) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the statement results (each with ``series``), decoded in a
        worker thread."""
        body = await self._fetch(q, epoch=epoch, chunk_size=chunk_size)
        return await asyncio.to_thread(decode_results, body, q)

    async def rows(self, q: str, *, epoch: str = "ms") -> list[dict[str, Any]]:
        """The rows of the first statement of ``q``, decoded in a worker thread."""
        return await self.decoded(q, list, _flatten, epoch=epoch)

    async def decoded(
        self,
        q: str,
        part: Callable[[Iterator[dict[str, Any]]], P],
        finish: Callable[[list[P]], T],
        *,
        epoch: str = "ms",
    ) -> T:
        """The first statement of ``q`` decoded off the event loop: in one worker thread,
        each chunk of the answer (at most :data:`CHUNK_ROWS` rows) is parsed and its rows
        handed to ``part`` (a gym-day of samples is 1 M rows: the JSON and the per-row work
        of one chunk at a time, so the thread lets go of the GIL between chunks), then
        ``finish`` gets the parts in order."""
        body = await self._fetch(q, epoch=epoch, chunk_size=CHUNK_ROWS)
        return await asyncio.to_thread(_decode, body, q, part, finish)

    def measurement(self, name: str) -> str:
        """``name`` quoted, qualified with database and retention policy when one is set."""
        rp = self.settings.retention_policy
        if rp:
            return f"{quote_ident(self.settings.database)}.{quote_ident(rp)}.{quote_ident(name)}"
        return quote_ident(name)


def message(resp: httpx.Response) -> str:
    """The server's error message of ``resp`` (JSON ``error``/``message``, else text)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:500]
    return str(body)[:500]


def _chunks(body: bytes, q: str) -> Iterator[dict[str, Any]]:
    """The statement results of a chunked ``/query`` answer, one chunk at a time; an error
    in any of them is :class:`InfluxQueryError`."""
    for chunk_line in body.splitlines():
        if not chunk_line.strip():
            continue
        chunk = json.loads(chunk_line)
        if "error" in chunk:
            raise InfluxQueryError(f"{q[:200]!r}: {chunk['error']}")
        for result in chunk.get("results", []):
            if "error" in result:
                raise InfluxQueryError(f"{q[:200]!r}: {result['error']}")
            yield result


def decode_results(body: bytes, q: str) -> list[dict[str, Any]]:
    """Every statement's result of a chunked answer, its chunks' series merged (blocking:
    run it in a worker thread)."""
    results: dict[int, dict[str, Any]] = {}
    for result in _chunks(body, q):
        merged = results.setdefault(result.get("statement_id", 0), {"series": []})
        merged["series"].extend(result.get("series", []))
    return [results[k] for k in sorted(results)]


def _decode(
    body: bytes,
    q: str,
    part: Callable[[Iterator[dict[str, Any]]], P],
    finish: Callable[[list[P]], T],
) -> T:
    first: int | None = None
    parts: list[P] = []
    for result in _chunks(body, q):
        statement = result.get("statement_id", 0)
        if first is None:
            first = statement
        if statement == first and result.get("series"):
            parts.append(part(iter_rows(result["series"])))
    return finish(parts)


def _flatten(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for rows in parts for row in rows]
