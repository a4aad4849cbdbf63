"""Failures that pile up: pause every request, and wait out an outage without hammering it.

Retries of single requests are RetryPolicy's. This is about the provider as a whole. When
nearly every answer lately is a failure (429s or 5xx, timeouts, dropped connections), every
request pauses, for longer after each failed try (PAUSE_BASE doubling, up to PAUSE_CAP, or
the Retry-After). Answers to requests sent before the trouble began say nothing about it and
are not counted either way. While the provider fails everything, a request's failures are
not its own and use up none of its attempts (`failing_for`). A provider that has failed
everything for DOWN_AFTER seconds is down: one request at a time goes out, every
DOWN_PAUSE_CAP seconds at most, the log says so once a minute, and once the outage outlasts
the run's patience the requests waiting for it fail with the reason instead of waiting on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from domain.errors import ProviderDownError

RECENT = 20  # answers looked at...
FAILING = 0.9  # ...of which this share failed: every request pauses
AGAIN_AFTER = 3  # failures of requests sent after a pause that start the next one
PAUSE_BASE = 0.5  # the first pause, doubling each time...
PAUSE_CAP = 5.0  # ...up to this while the provider may only be busy...
DOWN_PAUSE_CAP = 30.0  # ...and this once it is down
DOWN_AFTER = 60.0  # seconds of nothing but failures before the provider counts as down
SAY_EVERY = 60.0  # an outage is logged once a minute


class FailureStreak:
    """Pauses and outages of one provider: not thread-safe (the Pacer holds a lock)."""

    def __init__(self, name: str, patience: float, say: Callable[[str], None]) -> None:
        self.name = name
        self.patience = patience  # how long an outage is waited out before requests fail
        self._say = say
        self._answers: deque[bool] = deque(maxlen=RECENT)  # failed?, in order of arrival
        self._failing_since: float | None = None  # the first failure since the last success
        self._pauses = 0
        self._paused_at: float | None = None  # when the current run of pauses began
        self._failed_after_pause = 0
        self._pause_started = -math.inf
        self.paused_until = -math.inf
        self._probe_at: float | None = None  # down: the lone request out
        self._last_error = ""
        self._said_at = -math.inf

    def gate(self, now: float) -> float:
        """Seconds until a request may go (0: now). Raises ProviderDownError once the
        provider has failed everything for longer than the patience."""
        wait = 0.25 if self._probe_at is not None else self.paused_until - now
        if wait > 0 and self.down_for(now) >= self.patience:
            raise ProviderDownError(self.describe(now))
        return max(wait, 0.0)

    def on_sent(self, now: float) -> None:
        """A request went out; while the provider is down it is the lone probe."""
        if self._paused_at is not None and self.down_for(now) > 0:
            self._probe_at = now

    def on_success(self, now: float, sent_at: float) -> None:
        """A request was answered; if it was sent after the trouble began, it is over."""
        self._answers.append(False)
        if self._failing_since is None or sent_at < self._failing_since:
            return  # no trouble, or old news about a time before it
        if now - self._failing_since >= DOWN_AFTER:
            self._say(f"{self.name} answers again after {_duration(now - self._failing_since)}")
        self._failing_since = self._paused_at = self._probe_at = None
        self._pauses = self._failed_after_pause = 0
        self.paused_until = -math.inf

    def on_failure(self, now: float, sent_at: float, retry_after: float | None, why: str) -> None:
        """A request failed (a 429 or a transient error): pause if failures pile up."""
        self._answers.append(True)
        self._last_error = why
        if self._failing_since is None:
            self._failing_since = sent_at
        probe_failed = self._probe_at is not None and sent_at >= self._probe_at
        if self._paused_at is None:
            answers = self._answers
            if len(answers) < RECENT // 2 or sum(answers) < FAILING * len(answers):
                return
        elif not probe_failed:
            if sent_at < self._pause_started:
                return  # sent before the last pause: it says nothing new
            self._failed_after_pause += 1
            if self._failed_after_pause < AGAIN_AFTER:
                return
        self._pause(now, retry_after)

    def _pause(self, now: float, retry_after: float | None) -> None:
        down = self.down_for(now) > 0
        pause = min(DOWN_PAUSE_CAP if down else PAUSE_CAP, PAUSE_BASE * 2**self._pauses)
        if retry_after is not None:
            pause = min(max(pause, retry_after), DOWN_PAUSE_CAP)
        if self._paused_at is None:
            self._paused_at = now
        self._pauses += 1
        self._failed_after_pause = 0
        self._probe_at = None
        self._pause_started, self.paused_until = now, now + pause
        if down and now - self._said_at >= SAY_EVERY:
            self._said_at = now
            self._say(f"{self.describe(now)}; trying one request every {pause:.0f} s")

    def failing_for(self, now: float) -> float:
        """Seconds the provider has failed everything (0 unless requests are paused for it)."""
        if self._paused_at is None or self._failing_since is None:
            return 0.0
        return now - self._failing_since

    def down_for(self, now: float) -> float:
        """Seconds of nothing but failures, once that has lasted DOWN_AFTER (else 0)."""
        failing = self.failing_for(now)
        return failing if failing >= DOWN_AFTER else 0.0

    def describe(self, now: float) -> str:
        """One line: how long the provider has failed, and how."""
        since = self._failing_since if self._failing_since is not None else now
        last = f" (last: {self._last_error})" if self._last_error else ""
        return f"{self.name} has failed every request for {_duration(now - since)}{last}"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
