"""Failures that pile up: pause every request, and wait out an outage without hammering it.

Retries of single requests are RetryPolicy's. This is about the provider as a whole. When
nearly every request lately failed (429s or 5xx, timeouts, dropped connections), every
request pauses, for longer after each failed try (PAUSE_BASE doubling, up to PAUSE_CAP, or
the Retry-After). Answers to requests sent before the trouble began say nothing about it and
are not counted either way. While the provider fails everything, a request's failures are
not its own and use up none of its attempts (`failing_for`). A provider that has failed
everything for DOWN_AFTER seconds is down: one request at a time goes out, every
DOWN_PAUSE_CAP seconds at most, the log says so once a minute, and once the outage outlasts
the run's patience the requests waiting for it fail with the reason instead of waiting on.

"Lately" is by the order requests were sent, not the order answers came back: a refusal or
a 503 comes back at once and an answer takes seconds, so by arrival the failures of the
requests sent last crowd out the answers still on their way (a provider failing nine first
attempts in ten and answering every retry read as down, and every pause's first failures
called the next one). So the requests judged are the last ones sent no later than the
newest one answered; one of them still out has taken longer than that one and is counted
as not failed (it is most likely an answer on its way; a hung request is not the provider
refusing everything either).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from domain.errors import ProviderDownError

RECENT = 20  # requests looked at, the last sent...
FAILING = 0.95  # ...of which this share failed: every request pauses
AGAIN_AFTER = 3  # failures of requests sent after a pause that (as FAILING of them) start the next
LEDGER = 2000  # requests remembered in the order sent (more than any run has out at once)
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
        self._ledger = _Ledger()
        self._failing_since: float | None = None  # the first failure since the last success
        self._pauses = 0
        self._paused_at: float | None = None  # when the current run of pauses began
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
        self._ledger.sent(now)
        if self._paused_at is not None and self.down_for(now) > 0:
            self._probe_at = now

    def on_lost(self, sent_at: float) -> None:
        """A request ended without an answer: it says nothing either way."""
        self._ledger.settle(sent_at, None)

    def on_success(self, now: float, sent_at: float) -> None:
        """A request was answered; if it was sent after the trouble began, it is over."""
        self._ledger.settle(sent_at, False)
        if self._failing_since is None or sent_at < self._failing_since:
            return  # no trouble, or old news about a time before it
        if now - self._failing_since >= DOWN_AFTER:
            self._say(f"{self.name} answers again after {_duration(now - self._failing_since)}")
        self._failing_since = self._paused_at = self._probe_at = None
        self._pauses = 0
        self.paused_until = -math.inf

    def on_failure(self, now: float, sent_at: float, retry_after: float | None, why: str) -> None:
        """A request failed (a 429 or a transient error): pause if failures pile up."""
        self._ledger.settle(sent_at, True)
        self._last_error = why
        if self._failing_since is None:
            self._failing_since = sent_at
        probe_failed = self._probe_at is not None and sent_at >= self._probe_at
        if self._paused_at is None:
            failed, judged = self._ledger.lately(RECENT)
            if failed < RECENT // 2 or failed < FAILING * judged:
                return
        elif not probe_failed:
            if sent_at < self._pause_started:
                return  # sent before the last pause: it says nothing new
            failed, judged = self._ledger.lately(LEDGER, since=self._pause_started)
            if failed < AGAIN_AFTER or failed < FAILING * judged:
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


class _Ledger:
    """The requests sent lately, in the order sent, in groups sent at the same instant
    (one request each on a real clock): how many went, and how many of them failed."""

    def __init__(self) -> None:
        self._groups: deque[list] = deque()  # [sent_at, sent, failed], oldest first
        self._by_time: dict[float, list] = {}
        self._sent = 0
        self._newest_answered = -math.inf  # send time of the newest request answered

    def sent(self, at: float) -> None:
        if self._groups and self._groups[-1][0] == at:
            self._groups[-1][1] += 1
        else:
            group = [at, 1, 0]
            self._groups.append(group)
            self._by_time[at] = group
        self._sent += 1
        while self._sent > LEDGER:
            at, sent, _ = self._groups.popleft()
            del self._by_time[at]
            self._sent -= sent

    def settle(self, sent_at: float, failed: bool | None) -> None:
        """The request sent at `sent_at` failed, was answered, or (None) was lost."""
        group = self._by_time.get(sent_at)
        if group is None:
            return  # sent before the ledger began, or long forgotten
        if failed is None:
            group[1] -= 1
            self._sent -= 1
            return
        group[2] += failed
        self._newest_answered = max(self._newest_answered, sent_at)

    def lately(self, most: int, since: float = -math.inf) -> tuple[float, int]:
        """(failed, judged) of up to `most` requests sent last, from `since` on, no later
        than the newest one answered; those still out count as judged and not failed (of
        a group cut short, its share)."""
        failed, judged = 0.0, 0
        for at, sent, group_failed in reversed(self._groups):
            if at > self._newest_answered:
                continue
            if at < since or judged >= most:
                break
            taken = min(sent, most - judged)
            judged += taken
            failed += group_failed * taken / sent if sent else 0.0
        return failed, judged


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
