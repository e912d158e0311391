"""Quiet-by-default logging on stderr, one line per event: ``UTC-time level logger: message``."""

from __future__ import annotations

import logging
import sys
import time
from collections import OrderedDict

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # stdlib stub is narrower


def configure_logging(level: str = "WARNING", verbose: int = 0) -> None:
    """WARNING by default; -v gives INFO, -vv DEBUG."""
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    numeric = max(logging.DEBUG, numeric - 10 * verbose)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter(_FORMAT, "%Y-%m-%dT%H:%M:%SZ"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Third-party chatter stays at WARNING unless -vv.
    for noisy in ("amqtt", "transitions", "uvicorn.access", "httpx", "bumble"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)


class RateLimitedLog:
    """Log a message at most once per ``interval_s`` per key (e.g. per sensor per minute).

    Keys come from what anyone publishes (topic text), so only the ``max_keys`` most
    recently logged are remembered (least recently logged forgotten first): a flood of made-up
    topics costs a bounded dictionary, and a forgotten key may be logged once more."""

    def __init__(
        self, logger: logging.Logger, interval_s: float = 60.0, *, max_keys: int = 1024
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.max_keys = max(1, max_keys)
        self._last: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._last)

    def due(self, key: str) -> bool:
        """True (and remembered) when ``key`` was not logged within ``interval_s``."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return True

    def warning(self, key: str, msg: str, *args: object) -> bool:
        if not self.due(key):
            return False
        self.logger.warning(msg, *args)
        return True
