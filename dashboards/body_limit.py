"""Request bodies bounded while they are read (issue 18 item 6).

A handler's own size check runs after ``await request.body()``, when the whole body is
already in memory: a 200 MB POST grew the web process by about 350 MB before its 413.
This pure ASGI middleware refuses a declared ``Content-Length`` over the limit before
reading anything, and counts the bytes of a chunked body as they arrive, answering 413 as
soon as the count passes the limit. Handlers keep their smaller, per-endpoint limits.

A route that takes larger bodies (the FIT upload: ``ingest.fit_max_mb``) is named with its
own limit in ``wider`` (a path pattern and its bound); it is bounded the same way, while
read, and refused with ``refusal``'s answer (a page in the visitor's language).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024  # the largest body any endpoint takes (forms, JSON, sample posts)


# A route's own refusal: (the request's headers) -> (content type, body).
Refusal = Callable[[list[tuple[bytes, bytes]]], tuple[bytes, bytes]]
Wider = Sequence[tuple[re.Pattern[str], int, Refusal]]


def _json_refusal(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    return b"application/json", b'{"detail":"body too large"}'


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, wider: Wider = ()) -> None:
        self.app = app
        self.max_body = max_body
        self.wider = tuple(wider)

    def _limit(self, scope: Scope) -> tuple[int, Refusal]:
        path = scope.get("path", "")
        for pattern, limit, refusal in self.wider:
            if scope.get("method") == "POST" and pattern.fullmatch(path):
                return limit, refusal
        return self.max_body, _json_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_body, refusal = self._limit(scope)
        headers = list(scope["headers"])

        async def _refuse(send: Send) -> None:
            await _answer(send, *refusal(headers))

        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > max_body:
                    await _refuse(send)
                    return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused, started
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:
                    # Answer 413 now and tell the app the client left: it stops reading.
                    if not started:
                        started = refused = True
                        await _refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise  # the app's own failure; after a 413 its ClientDisconnect is expected


async def _answer(send: Send, content_type: bytes, body: bytes) -> None:
    headers: list[Any] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
