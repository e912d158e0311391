"""Login throttling: slows password guessing without locking the real coach out.

- **Per client address**: the first :data:`FREE_FAILURES` wrong passwords are free; after
  that each further one makes the address wait twice as long before its next attempt is
  even checked (2 s, 4 s, 8 s … at most :data:`MAX_DELAY_S`). A correct password clears
  the address; :data:`WINDOW_S` without a failure forgets it.
- **Per account**: when an account collects :data:`HOT_FAILURES` wrong passwords within
  :data:`WINDOW_S` (from anywhere), every address gets only one free failure for it. The
  account itself is never locked: a correct password from an address that is not
  throttled still logs in, so an attacker cannot keep the real coach out.

State lives in memory of the web process (bounded to :data:`MAX_TRACKED` entries each):
a restart forgets it, which costs an attacker a restart they cannot cause.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

FREE_FAILURES = 5
HOT_FAILURES = 10
WINDOW_S = 900.0
MAX_DELAY_S = 900.0
MAX_TRACKED = 10_000

V = TypeVar("V")


@dataclass(slots=True)
class _Address:
    failures: int = 0
    last_failure: float = 0.0
    next_allowed: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._addresses: OrderedDict[str, _Address] = OrderedDict()
        self._accounts: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_s(self, address: str) -> float:
        """Seconds until ``address`` may try a password again (0: now)."""
        state = self._addresses.get(address)
        if state is None:
            return 0.0
        now = self.clock()
        if now - state.last_failure > WINDOW_S:
            del self._addresses[address]
            return 0.0
        return max(0.0, state.next_allowed - now)

    def account_hot(self, username: str) -> bool:
        times = self._accounts.get(username)
        if times is None:
            return False
        now = self.clock()
        while times and now - times[0] > WINDOW_S:
            times.popleft()
        return len(times) >= HOT_FAILURES

    def failed(self, address: str, username: str) -> tuple[int, float]:
        """Record a wrong password; returns (failures of the address, its wait in s)."""
        now = self.clock()
        times = self._accounts.pop(username, None) or deque(maxlen=HOT_FAILURES)
        times.append(now)
        self._accounts[username] = times
        _trim(self._accounts)
        free = 1 if self.account_hot(username) else FREE_FAILURES
        state = self._addresses.pop(address, None) or _Address()
        if now - state.last_failure > WINDOW_S:
            state.failures = 0
        state.failures += 1
        state.last_failure = now
        over = state.failures - free
        delay = 0.0 if over <= 0 else min(MAX_DELAY_S, 2.0**over)
        state.next_allowed = now + delay
        self._addresses[address] = state
        _trim(self._addresses)
        return state.failures, delay

    def succeeded(self, address: str) -> None:
        self._addresses.pop(address, None)


def _trim(table: OrderedDict[str, V]) -> None:
    while len(table) > MAX_TRACKED:
        table.popitem(last=False)
