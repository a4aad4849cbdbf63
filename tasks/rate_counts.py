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


def fewer_chance(k: int, n: int, k0: int, n0: int) -> float:
    """P(at most k of n refused) if refusals were as common as k0 of n0 were, both counts
    being samples (Fisher's exact test, one-sided): a share measured on 20 requests is too
    rough to take as the true one (20% sporadic comes out as 35% one time in ten)."""
    total, refused = n + n0, k + k0
    ways = math.comb(total, n)
    return (
        sum(math.comb(refused, i) * math.comb(total - refused, n - i) for i in range(min(k, n) + 1))
        / ways
    )


def count_since(stamps: deque[float], since: float) -> int:
    """How many of the (ascending) time stamps are at or after `since`."""
    return len(stamps) - bisect.bisect_left(stamps, since)
