"""The one backoff rule (gympulse/backoff.py): doubling, capped, ±50 % jitter."""

from __future__ import annotations

import random

from gympulse.backoff import Backoff


def test_delay_doubles_per_failure_up_to_the_cap() -> None:
    b = Backoff(0.5, 30.0)
    assert [b.nominal(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert b.nominal(0) == 0.5  # no failure yet counts as the first


def test_jitter_spreads_each_delay_over_half_to_one_and_a_half_times() -> None:
    b = Backoff(1.0, 60.0)
    rng = random.Random(7)
    delays = [b.delay(3, rng) for _ in range(2000)]
    assert 2.0 <= min(delays) < 2.1 and 5.9 < max(delays) < 6.0
    low = Backoff(1.0, 60.0).delay(3, _Fixed(0.0))
    high = Backoff(1.0, 60.0).delay(3, _Fixed(0.999))
    assert low == 2.0 and abs(high - 5.996) < 1e-9


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value
