"""Per-key request-rate windows and credit ledgers (callers hold the state lock)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowDecision:
    """Outcome of asking the rate window for one more request."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float


class SlidingWindowLimiter:
    """Allows at most `limit` accepted requests per key in any `window`-second span."""

    def __init__(self) -> None:
        self._accepted: dict[str, deque[float]] = {}

    def try_acquire(self, key: str, limit: int, window: float, now: float) -> WindowDecision:
        """Record the request if there is room; only accepted requests use up the window."""
        stamps = self._accepted.setdefault(key, deque())
        while stamps and now - stamps[0] >= window:
            stamps.popleft()
        if len(stamps) >= limit:
            reset = window - (now - stamps[0])
            return WindowDecision(False, limit, 0, max(reset, 0.0))
        stamps.append(now)
        reset = window - (now - stamps[0])
        return WindowDecision(True, limit, limit - len(stamps), max(reset, 0.0))

    def clear(self) -> None:
        """Forget every key's history."""
        self._accepted.clear()


class CreditLedger:
    """Per-key credit budgets; once a key runs dry it stays refused until cleared."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}
        self._exhausted: set[str] = set()

    def can_spend(self, key: str, cost: int, budget: int | None) -> bool:
        """True when `cost` more credits fit in the key's budget (None = unlimited)."""
        if budget is None:
            return True
        if key in self._exhausted or self._used.get(key, 0) + cost > budget:
            # Like the real 432, a key that hit its limit keeps failing until billing changes.
            self._exhausted.add(key)
            return False
        return True

    def spend(self, key: str, cost: int) -> None:
        """Charge `cost` credits to the key."""
        self._used[key] = self._used.get(key, 0) + cost

    def refund(self, key: str, cost: int) -> None:
        """Give back credits reserved for a request that ended up failing."""
        self._used[key] = max(0, self._used.get(key, 0) - cost)

    def total_used(self) -> int:
        """Credits charged across every key."""
        return sum(self._used.values())

    def clear(self) -> None:
        """Forget every key's spend and exhaustion."""
        self._used.clear()
        self._exhausted.clear()


class TokenBucketLimiter:
    """Per-key token buckets: `per_minute` tokens a minute, room for `burst` of them.

    The shape most APIs enforce (OpenAI's limits refill continuously): a burst goes through at
    once, then requests are accepted at the refill rate and the rest refused.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (tokens, at)

    def try_acquire(self, key: str, per_minute: float, burst: int, now: float) -> WindowDecision:
        """Take a token if one is there; `reset_seconds` is the time until the next one."""
        rate = per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate if rate > 0 else math.inf
        return WindowDecision(allowed, round(per_minute), int(tokens), wait)

    def clear(self) -> None:
        """Forget every key's bucket."""
        self._buckets.clear()
