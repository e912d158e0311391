"""The collector's disk queue: the time of one ``put`` (what the collector does for every
sample) with 10 k, 1 M and 3 M samples already queued (a broker outage of minutes, a day,
three days on a 40-strap collector), as a ratio to the 10 k figure, measured in one run.
Flat (≈ 1.0) is the target (issue 17 item 4): a put must not grow with the backlog.

    PYTHONPATH=. .venv/bin/python bench/bench_queue.py [--sizes 10000,1000000,3000000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from gympulse import contract
from gympulse.collectors.buffer import DiskQueue
from gympulse.contract import HrSample

PUTS = 300


def _prefill(path: Path, rows: int) -> None:
    """``rows`` queued samples, written straight into the queue's table (fast setup)."""
    DiskQueue(path, max_samples=10**9).close()  # the schema
    payload = contract.encode(HrSample("strap-1", 1, 1, 70, [850]))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO queue (qid, sensor, ts, payload, seq, kind) VALUES (?,?,?,?,?,'hr')",
        ((q, f"strap-{q % 40}", q, payload, q) for q in range(1, rows + 1)),
    )
    conn.execute("COMMIT")
    conn.close()


def put_ms(rows: int) -> float:
    """Median milliseconds of one put with ``rows`` samples queued."""
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        path = Path(tmp) / "queue.db"
        _prefill(path, rows)
        queue = DiskQueue(path, max_samples=10**9)
        times = []
        for i in range(PUTS):
            qid = rows + 1 + i
            sample = HrSample("strap-1", qid, qid, 70, [850])
            started = time.perf_counter()
            queue.put([(qid, sample)])
            times.append((time.perf_counter() - started) * 1000)
        queue.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,1000000,3000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    base = None
    for rows in sizes:
        ms = put_ms(rows)
        base = base or ms
        print(f"{rows:>9} queued: put {ms:.3f} ms (ratio to {sizes[0]}: {ms / base:.2f})")


if __name__ == "__main__":
    main()
