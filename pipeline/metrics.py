"""Prometheus metrics of the server-side services, and a tiny asyncio /metrics endpoint.

The endpoint runs on the service's own event loop (prometheus_client's built-in server
would start a thread)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest


@dataclass(frozen=True)
class IngestMetrics:
    messages: Counter
    stored: Counter
    duplicates: Counter
    quarantined: Counter
    store_errors: Counter
    batch_seconds: Histogram
    erased: Counter
    no_consent: Counter


INGEST = IngestMetrics(
    messages=Counter("gympulse_ingest_messages", "MQTT messages received"),
    stored=Counter("gympulse_ingest_samples_stored", "samples written (new)"),
    duplicates=Counter("gympulse_ingest_samples_duplicate", "redelivered samples already stored"),
    quarantined=Counter(
        "gympulse_ingest_quarantined", "messages quarantined, by reason", ["reason"]
    ),
    store_errors=Counter("gympulse_ingest_store_errors", "failed store writes (retried)"),
    batch_seconds=Histogram("gympulse_ingest_batch_seconds", "store write time per batch"),
    erased=Counter(
        "gympulse_ingest_samples_erased", "samples refused: inside an erased person's windows"
    ),
    no_consent=Counter(
        "gympulse_ingest_samples_no_consent",
        "samples refused: their wearer consented to neither live nor morning heart rate",
    ),
)


async def serve_metrics(host: str, port: int) -> asyncio.Server:
    """Serve GET /metrics in Prometheus text format on the running loop."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
            if path.split(b"?")[0] == b"/metrics":
                body = generate_latest()
                head = f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
            else:
                body = b"not found\n"
                head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
            writer.write(
                f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
