"""What a provider's response headers say about its limits: Retry-After and x-ratelimit-*.

One parser for both clients. OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
on every response; the IETF draft's `RateLimit-Limit/-Remaining` are read too. Limits are per
minute, as OpenAI documents them (requests and tokens per minute), so the resets are not needed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class StatedLimits:
    """A provider's stated room, from one response: per minute, and what is left of it."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_used: int | None = None  # what this request used (from its usage), to size tokens


def stated_limits(headers: Mapping[str, str] | None) -> StatedLimits | None:
    """The x-ratelimit-* (or RateLimit-*) headers of a response, or None if it has none."""
    if headers is None:
        return None
    limits = StatedLimits(
        requests_limit=_int(headers.get("x-ratelimit-limit-requests"))
        or _int(headers.get("ratelimit-limit")),
        requests_remaining=_int(headers.get("x-ratelimit-remaining-requests"))
        if headers.get("x-ratelimit-remaining-requests") is not None
        else _int(headers.get("ratelimit-remaining")),
        tokens_limit=_int(headers.get("x-ratelimit-limit-tokens")),
        tokens_remaining=_int(headers.get("x-ratelimit-remaining-tokens")),
    )
    if limits.requests_limit is None and limits.tokens_limit is None:
        return None
    return limits


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a response asks to wait: `retry-after-ms`, then `retry-after` (seconds or an
    HTTP date), as the openai client reads them; None when absent or unreadable."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return seconds if seconds >= 0 else None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
