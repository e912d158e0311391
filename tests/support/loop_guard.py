"""A guard that records every blocking call made on the event loop's own thread.

No timing: it watches what runs on the loop thread (``sys.setprofile``, which profiles only
the thread that installs it) and records

- any call into SQLite (a method of a ``sqlite3`` connection or cursor, ``sqlite3.connect``);
- a wait on a ``concurrent.futures.Future`` that is not done yet (handing work to a SQLite
  owner thread and waiting for it with ``SqliteOwner.run`` from the loop);
- ``time.sleep``;
- with ``work=True``, work that grows with the data when our own code (not the web
  framework's, not the test's) calls it: decoding and encoding JSON (``json.loads``,
  ``json.dumps``), building and walking polars frames (``pl.DataFrame(...)``, ``pl.concat``,
  ``.rows()``, ``.iter_rows()``, ``.write_csv()``), CSV writers, writing into a zip, and
  walking an InfluxDB answer's rows (``influxql.iter_rows``): a gym-day of InfluxDB results
  decoded on the loop stalled it for seconds, a guest's export zip as long.

Use it around the code under test inside a coroutine::

    with LoopGuard() as guard:
        ...  # drive the service through real processes
    assert guard.blocking == []
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import sys
import time
import traceback
import zipfile
from concurrent.futures import Future
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any, Self

import polars as pl

import gympulse
from gympulse.pipeline.stores.influxdb import influxql

_SQLITE_TYPES = (sqlite3.Connection, sqlite3.Cursor, sqlite3.Blob)
_RESULT_CODE = Future.result.__code__
_CSV_WRITER = type(csv.writer(io.StringIO()))
_WORK: dict[CodeType, str] = {
    f.__code__: name
    for name, f in {
        "json.loads": json.loads,
        "json.dumps": json.dumps,
        "pl.DataFrame()": pl.DataFrame.__init__,
        "pl.concat": pl.concat,
        "DataFrame.rows": pl.DataFrame.rows,
        "DataFrame.iter_rows": pl.DataFrame.iter_rows,
        "DataFrame.write_csv": pl.DataFrame.write_csv,
        "ZipFile.writestr": zipfile.ZipFile.writestr,
        "shutil.copyfileobj": shutil.copyfileobj,
        "influxql.iter_rows": influxql.iter_rows,
    }.items()
}
_ROOT = Path(gympulse.__file__).resolve().parent.parent  # the checkout
_OURS = tuple(str(_ROOT / d) for d in ("gympulse", "pipeline", "dashboards", "collectors"))


def _ours(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs our product code (the links resolved: gympulse/pipeline ->
    pipeline)."""
    if frame is None:
        return False
    name = frame.f_code.co_filename
    return name.startswith(_OURS) or str(Path(name).resolve()).startswith(_OURS)


def _work(frame: FrameType, event: str, arg: Any) -> str | None:
    if event == "call":
        what = _WORK.get(frame.f_code)
        if what is not None and (what == "influxql.iter_rows" or _ours(frame.f_back)):
            return what
    elif (
        event == "c_call"
        and isinstance(getattr(arg, "__self__", None), _CSV_WRITER)
        and _ours(frame)
    ):
        return f"csv {getattr(arg, '__name__', arg)}"
    return None


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

    def __init__(self, *, work: bool = False) -> None:
        self.blocking: list[str] = []  # one line per call: what, and where it came from
        self.work = work
        self._previous: Any = None

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        what = _blocking(frame, event, arg)
        if what is None and self.work:
            what = _work(frame, event, arg)
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
