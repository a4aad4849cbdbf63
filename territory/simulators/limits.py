"""Per-key request-rate windows and credit ledgers (callers hold the state lock)."""

from __future__ import annotations

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
