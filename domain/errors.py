"""What can go wrong, named once: a configuration problem, and how a provider failed (the
classes the retry policy and the scheduler act on)."""

from __future__ import annotations

from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration problem, phrased as one line for the user."""


class ProviderError(Exception):
    """A failed call to Tavily or the LLM; the message is safe to store and show (no secrets)."""


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections, garbled bodies."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TimedOutError(TransientError):
    """No answer in time: the provider may have read the prompt (and bills for it)."""


class RateLimitedError(TransientError):
    """A 429 from a provider's rate limit (not an exhausted quota): wait and send again."""


class InvalidOutputError(TransientError):
    """The LLM answered, but not with a valid classification (truncated, refused, off-schema).

    `usage` and `answer` carry what the unusable answer cost, when known: it is billed too.
    """

    usage: object | None = None
    answer: str = ""


class ProviderDownError(TransientError):
    """The provider has failed every request for longer than a run waits for it."""


class PermanentError(ProviderError):
    """This company's request cannot succeed as sent (e.g. a 400); do not retry it."""


class FatalProviderError(ProviderError):
    """No further request can succeed (bad key, credits or quota exhausted): stop the run."""


def first_line(text: str, default: str = "unknown error") -> str:
    """The first line of a message, at most 200 characters: what a one-line error shows."""
    return text.strip().splitlines()[0][:200] if text.strip() else default


def first_problem(exc: ValidationError, default_place: str = "value") -> tuple[str, str]:
    """(where, what) of a pydantic error's first problem: `a.b.0`, and its message without
    pydantic's "Value error, " prefix."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or default_place
    return where, str(err.get("msg", "invalid")).removeprefix("Value error, ")
