"""How provider failures are classified, and the one retry policy every outside call shares."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Never wait longer than this for one Retry-After; a provider asking for more is effectively down.
MAX_RETRY_AFTER_SECONDS = 300.0


class ProviderError(Exception):
    """A failed call to Tavily or the LLM; the message is safe to store and show (no secrets)."""


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections, garbled bodies."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """A 429 from a provider's rate limit (not an exhausted quota): wait and send again."""


class InvalidOutputError(TransientError):
    """The LLM answered, but not with a valid classification (truncated, refused, off-schema).

    `usage` and `answer` carry what the unusable answer cost, when known: it is billed too.
    """

    usage: object | None = None
    answer: str = ""


class PermanentError(ProviderError):
    """This company's request cannot succeed as sent (e.g. a 400); do not retry it."""


class FatalProviderError(ProviderError):
    """No further request can succeed (bad key, credits or quota exhausted): stop the run."""


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
    ) -> T:
        """Run `fn`, retrying TransientErrors; re-raises the last one when attempts run out."""
        attempt = limited = 1
        while True:
            try:
                return fn()
            except RateLimitedError as exc:
                if should_stop():
                    raise
                if limited >= self.max_rate_limited:
                    raise RateLimitedError(
                        f"{exc} (gave up after {limited} attempts)", exc.retry_after
                    ) from exc
                if exc.retry_after is not None and exc.retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise RateLimitedError(
                        f"{exc} (provider asked to wait {exc.retry_after:.0f}s; giving up)"
                    ) from exc
                sleep(self.delay(min(limited, 6), exc.retry_after))
                limited += 1
            except TransientError as exc:
                if should_stop():
                    raise
                if attempt >= self.max_attempts:
                    suffix = f" (gave up after {attempt} attempts)" if attempt > 1 else ""
                    raise type(exc)(f"{exc}{suffix}", exc.retry_after) from exc
                if exc.retry_after is not None and exc.retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise TransientError(
                        f"{exc} (provider asked to wait {exc.retry_after:.0f}s; giving up)"
                    ) from exc
                sleep(self.delay(attempt, exc.retry_after))
                attempt += 1
