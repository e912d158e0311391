"""A rate limit on the Web Bluetooth samples endpoint, per guest (issue 18 item 6).

A strap sends about one sample a second. A guest's page keeps what it could not post (a
dropped connection, a phone asleep) and posts it later in batches of up to 200, so a
link may post a backlog at once — but never more, over time, than a strap can measure.

One token bucket per guest counts samples, not posts: it holds :data:`BURST` samples
(a quarter of an hour of backlog) and refills at :data:`RATE_PER_S` samples a second
(twice a strap's rate). A post that needs more samples than the bucket holds is refused
whole (429 with ``Retry-After``); the page keeps its samples and tries again. Refusals
are counted per guest and logged at most once a minute each.

State lives in the web process's memory, bounded to :data:`MAX_TRACKED` guests (the
longest idle are forgotten; a forgotten guest starts with a full bucket, which is the
same as having been idle).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

log = logging.getLogger(__name__)

BURST = 900.0  # samples: 15 minutes of a strap's backlog
RATE_PER_S = 2.0  # samples a second, sustained
MAX_TRACKED = 10_000
LOG_EVERY_S = 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    refused: int = 0
    logged_at: float = -math.inf


class SampleRate:
    def __init__(
        self,
        burst: float = BURST,
        rate_per_s: float = RATE_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate_per_s = rate_per_s
        self.clock = clock
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def take(self, athlete_id: int, samples: int) -> float:
        """Take ``samples`` from the guest's bucket: 0 when allowed, else the seconds until
        the bucket holds them (nothing is taken then)."""
        now = self.clock()
        bucket = self._buckets.pop(athlete_id, None)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        self._buckets[athlete_id] = bucket  # most recently used last
        while len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        if samples <= bucket.tokens:
            bucket.tokens -= samples
            return 0.0
        bucket.refused += samples
        if now - bucket.logged_at >= LOG_EVERY_S:
            bucket.logged_at = now
            log.warning(
                "web samples of athlete %d refused: over %.0f a second (%d refused so far)",
                athlete_id,
                self.rate_per_s,
                bucket.refused,
            )
        need = min(float(samples), self.burst) - bucket.tokens
        return need / self.rate_per_s


def count_samples(body: bytes) -> int:
    """How many samples a post carries (a contract hr payload: one sample or an array); a
    body that is not JSON counts one (ingestion quarantines it)."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return 1
    return len(decoded) if isinstance(decoded, list) else 1
