"""Counting for the rate control: requests since a moment, and how likely a refusal count is."""

from __future__ import annotations

import bisect
import math
from collections import deque


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(at most k of n refused) when each is refused with probability p."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(min(k, n) + 1))


def count_since(stamps: deque[float], since: float) -> int:
    """How many of the (ascending) time stamps are at or after `since`."""
    return len(stamps) - bisect.bisect_left(stamps, since)
