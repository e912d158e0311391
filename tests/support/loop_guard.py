"""A guard that records every blocking call made on the event loop's own thread.

No timing: it watches what runs on the loop thread (``sys.setprofile``, which profiles only
the thread that installs it) and records

- any call into SQLite (a method of a ``sqlite3`` connection or cursor, ``sqlite3.connect``);
- a wait on a ``concurrent.futures.Future`` that is not done yet (handing work to a SQLite
  owner thread and waiting for it with ``SqliteOwner.run`` from the loop);
- ``time.sleep``.

Use it around the code under test inside a coroutine::

    with LoopGuard() as guard:
        ...  # drive the service through real processes
    assert guard.blocking == []
"""

from __future__ import annotations

import sqlite3
import sys
import time
import traceback
from concurrent.futures import Future
from types import FrameType, TracebackType
from typing import Any, Self

_SQLITE_TYPES = (sqlite3.Connection, sqlite3.Cursor, sqlite3.Blob)
_RESULT_CODE = Future.result.__code__


def _blocking(frame: FrameType, event: str, arg: Any) -> str | None:
    if event == "c_call":
        owner = getattr(arg, "__self__", None)
        if isinstance(owner, _SQLITE_TYPES) or getattr(owner, "__name__", "") == "_sqlite3":
            return f"sqlite3 {getattr(arg, '__name__', arg)}"
        if arg is time.sleep:
            return "time.sleep"
    elif event == "call" and frame.f_code is _RESULT_CODE:
        future = frame.f_locals.get("self")
        if isinstance(future, Future) and not future.done():
            return "waited on a Future (work handed to a thread)"
    return None


class LoopGuard:
    """Install inside a coroutine: records blocking calls of this (the loop's) thread."""

    def __init__(self) -> None:
        self.blocking: list[str] = []  # one line per call: what, and where it came from
        self._previous: Any = None

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        what = _blocking(frame, event, arg)
        if what is not None:
            caller = traceback.extract_stack(frame, limit=6)
            where = " <- ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})"
                                for f in reversed(caller))  # fmt: skip
            self.blocking.append(f"{what}: {where}")

    def __enter__(self) -> Self:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sys.setprofile(self._previous)
