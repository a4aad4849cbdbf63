"""The one retry policy every outside call shares: backoff with jitter, Retry-After honoured."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from domain.errors import (
    ProviderDownError,
    RateLimitedError,
    TransientError,
)

T = TypeVar("T")

# Never wait longer than this for one Retry-After; a provider asking for more is effectively down.
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter that honours a provider's Retry-After."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    # A rate limit says "later", not "broken": 429s get many more tries than other failures, so
    # a territory that outruns its limit loses no company (the pacer slows the sending down).
    max_rate_limited: int = 30

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None and retry_after > 0:
            # Retry-After is a floor; a little jitter on top keeps callers from waking together.
            return retry_after + random.uniform(0, min(1.0, retry_after * 0.1))
        return jittered

    def call(
        self,
        fn: Callable[[], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False,
        outage: Callable[[], float] = lambda: 0.0,
    ) -> T:
        """Run `fn`, retrying TransientErrors; re-raises the last one when attempts run out.

        `outage` says how long the provider has failed every request: failures during an
        outage are the provider's, not this request's, so they use up no attempts (the pacer
        holds requests back meanwhile and ends them once the outage outlasts its patience).
        """
        tries = Tries(self, outage)
        while True:
            try:
                return fn()
            except TransientError as exc:
                if should_stop():
                    raise
                sleep(tries.after(exc))


@dataclass
class Tries:
    """One request's attempts so far under a RetryPolicy."""

    policy: RetryPolicy
    outage: Callable[[], float] = lambda: 0.0
    attempt: int = 1  # attempts made, failures other than 429s
    limited: int = 1  # attempts made, 429s
    waits: int = 0  # back-offs so far (they keep growing during an outage)

    def after(self, exc: TransientError) -> float:
        """Seconds to wait before trying again; raises (saying why) when it is time to stop."""
        policy = self.policy
        if isinstance(exc, ProviderDownError):
            raise exc
        if exc.retry_after is not None and exc.retry_after > MAX_RETRY_AFTER_SECONDS:
            raise type(exc)(
                f"{exc} (provider asked to wait {exc.retry_after:.0f}s; giving up)"
            ) from exc
        counts = self.outage() <= 0  # an outage is nobody's attempt
        self.waits += 1
        if isinstance(exc, RateLimitedError):
            if counts and self.limited >= policy.max_rate_limited:
                raise RateLimitedError(
                    f"{exc} (gave up after {self.limited} attempts)", exc.retry_after
                ) from exc
            wait = policy.delay(min(self.limited if counts else self.waits, 6), exc.retry_after)
            self.limited += counts
            return wait
        if counts and self.attempt >= policy.max_attempts:
            suffix = f" (gave up after {self.attempt} attempts)" if self.attempt > 1 else ""
            raise type(exc)(f"{exc}{suffix}", exc.retry_after) from exc
        wait = policy.delay(self.attempt if counts else self.waits, exc.retry_after)
        self.attempt += counts
        return wait
