"""Password guessing vs the live board (issue 10, item 5): does argon2 on the web server
slow everyone else down?

A real ``gympulse web`` process; the board's ``/api/live/snapshot`` (with a board link) is
timed sequentially, first alone (baseline), then while ``--guessers`` threads post wrong
passwords as fast as the server answers, each from its own loopback addresses (127.0.0.x,
so the per-address throttle lets each address try 5 times before it waits: the server
really runs argon2 for them). Prints p50/p99 of both phases, their ratio, and how many
password checks the server did per second. Before argon2 moved off the event loop the
issue measured 3 ms -> 0.6 s with four guessers.

Run from the repo root: ``PYTHONPATH=. .venv/bin/python bench/bench_login_load.py``
``[--seconds 10] [--guessers 4]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.support.procs import Mosquitto
from tests.support.web import CSRF_RE, board_token, seed_history, web_server


def _timed(client: httpx.Client, seconds: float) -> list[float]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        assert client.get("/api/live/snapshot").status_code == 200
        out.append(time.perf_counter() - t0)
    return out


def _guesser(base: str, first: int, stop: threading.Event, checks: list[int]) -> None:
    n = 0
    address = first
    while not stop.is_set():
        client = httpx.Client(
            base_url=base, transport=httpx.HTTPTransport(local_address=f"127.0.0.{address}")
        )
        for i in range(5):  # the free tries of this address
            if stop.is_set():
                break
            form = client.get("/coach/login")
            found = CSRF_RE.search(form.text)
            assert found is not None
            client.post(
                "/coach/login",
                data={"username": f"nobody-{address}", "password": f"g{i}", "csrf": found[1]},
            )
            n += 1
        client.close()
        address = address + 4 if address + 4 < 255 else first
    checks.append(n)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="gympulse-bench-login-"))
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    try:
        seeded = seed_history(work / "gympulse.db")
        with web_server(broker.url, seeded.db) as base:
            board = httpx.Client(base_url=base)
            board.get(f"/board/{board_token(seeded.db)}")
            _timed(board, 1.0)  # warm up
            quiet = _timed(board, args.seconds)
            stop = threading.Event()
            checks: list[int] = []
            threads = [
                threading.Thread(target=_guesser, args=(base, 10 + k, stop, checks))
                for k in range(args.guessers)
            ]
            for t in threads:
                t.start()
            time.sleep(1.0)
            loaded = _timed(board, args.seconds)
            stop.set()
            for t in threads:
                t.join()
        q50, q99 = _pct(quiet, 50) * 1000, _pct(quiet, 99) * 1000
        l50, l99 = _pct(loaded, 50) * 1000, _pct(loaded, 99) * 1000
        print(f"board alone:        p50 {q50:.1f} ms  p99 {q99:.1f} ms  ({len(quiet)} requests)")
        print(
            f"with {args.guessers} guessers:  p50 {l50:.1f} ms  p99 {l99:.1f} ms"
            f"  ({len(loaded)} requests; {sum(checks) / (args.seconds + 1):.0f} password"
            " checks/s)"
        )
        print(f"ratio p50 {l50 / q50:.1f}x  p99 {l99 / q99:.1f}x")
    finally:
        broker.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--guessers", type=int, default=4)
    main(parser.parse_args())
