"""The one retry-delay rule of gympulse: capped exponential backoff with ±50 % jitter.

Every loop that retries (the MQTT client's reconnect, a strap's reconnect, ingestion's
store retries, the InfluxDB store's request retries) waits ``Backoff.delay(failures)``
after its ``failures``-th failure in a row: ``initial_s`` doubled per failure, capped at
``max_s``, times a uniform factor in [0.5, 1.5) so that many clients that failed together
do not retry together."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float
    max_s: float

    def nominal(self, failures: int) -> float:
        """The delay before jitter after ``failures`` (≥ 1) failures in a row."""
        return float(min(self.max_s, self.initial_s * 2.0 ** max(0, failures - 1)))

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The jittered delay after ``failures`` failures in a row."""
        r = rng.random() if rng is not None else random.random()
        return self.nominal(failures) * (0.5 + r)
