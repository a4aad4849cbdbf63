"""Pacing one provider's requests by how it pushes back.

A 429 means different things, and each calls for its own answer:

* **sporadic refusals** (a busy provider, a key shared with other applications): only the
  refused request waits (its Retry-After, in RetryPolicy); the pace stays;
* **a rate limit** (a token bucket, a window per minute): send at about the rate the provider
  accepts, probing for more now and then (`tasks.rate_control` tells these two apart);
* **stated limits** (OpenAI's `x-ratelimit-*` headers): once the stated room runs low,
  requests go at the stated rate, before any 429;
* **an outage** (every request 429 or 5xx for minutes): one request at a time, further and
  further apart, a line in the log every minute (`tasks.outages`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from tasks.outages import FailureStreak
from tasks.rate_control import MIN_RATE, RateControl
from tasks.rate_headers import StatedLimits
from tasks.slots import QUEUED_LOOK_SECONDS, Slots, Stopped, StopSignal

T = TypeVar("T")

STATED_LOW = 0.1  # stated room below this share of the limit: go at the stated rate
STATED_GAIN = 0.95
STATED_FRESH = 10.0  # seconds a stated limit counts without a newer response
# Until the provider first answers, only one request goes: its answer may state the limits
# (a bucket with a burst of 10 refuses most of 50 requests sent blind). A first request
# that hangs holds the others back this long at most.
OPENING_WAIT = 5.0

_logger = logging.getLogger(__name__)


class Pacer:
    """Thread-safe pacer for one provider in one process."""

    def __init__(
        self,
        name: str = "provider",
        window: float = 60.0,
        patience: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        # The head of the line naps between asks; the first answer wakes it at once rather
        # than at the end of its nap (every run opens this way, for each provider).
        self._opened_signal = threading.Condition(threading.Lock())
        self._sleep = sleep or self._nap
        now = clock()
        self._control = RateControl(window, now)
        self._streak = FailureStreak(name, patience, say or _logger.warning)
        # When the last request went and the next may, on the pace's own clock (up to one
        # interval of credit behind the real one). A gap of more than a second, set at a slow
        # pace, is reckoned again at the pace of the moment: a pace that rises (after a cut
        # to a few requests a minute) must not leave the run waiting out the old gap.
        self._last_at = now
        self._next_at = now
        self._line: deque[threading.Event] = deque()  # requests waiting for their turn
        self._stated: tuple[float, float | None] = (-STATED_FRESH, None)  # (at, rate)
        self._opening: float | None = None  # when the first request went, until it is answered
        self._opened = False
        self.rate_limited = 0  # 429s seen, for the run's log

    @property
    def rate(self) -> float | None:
        """The pace now, requests per second (None: only the concurrency caps bound it)."""
        with self._lock:
            return self._rate(self._clock())

    @property
    def verdicts(self) -> list[str]:
        """What the pacer concluded about the provider's 429s, in order."""
        return list(self._control.verdicts)

    def admit(self, retry: bool = False) -> float:
        """0.0 if a request may start now (it is counted as sent); else seconds to wait
        before asking again. Raises ProviderDownError once an outage outlasts the patience.
        `retry`: an earlier attempt of the request failed (here and in the on_* calls)."""
        return self._admit(retry)[0]

    def _admit(self, retry: bool = False) -> tuple[float, float]:
        """(seconds to wait, now): the request's send time is the one counted as sent, so
        its answer is matched to the same instant (a probe's cohort ends on it)."""
        with self._lock:
            now = self._clock()
            wait = self._streak.gate(now)
            if not self._opened and self._opening is not None:
                if now < self._opening + OPENING_WAIT:
                    wait = max(wait, self._opening + OPENING_WAIT - now)
                else:
                    self._open(now)
            rate = self._rate(now)
            due = self._next_at
            if rate is not None:
                if due - self._last_at > 1.0:
                    due = min(due, self._last_at + 1.0 / rate)
                wait = max(wait, due - now)
            if wait > 0:
                return wait, now
            if rate is not None:
                # One interval of credit: a short gap does not waste the pace.
                self._last_at = max(due, now - 1.0 / rate)
                self._next_at = self._last_at + 1.0 / rate
            if self._opening is None:
                self._opening = now
            self._control.on_sent(now, retry)
            self._streak.on_sent(now)
            return 0.0, now

    def wait(self, stop: StopSignal | None = None, retry: bool = False) -> float | None:
        """Block until a request may start; its start time, or None if the run stopped.

        Requests wait in line: only the first asks the pace, every quarter second at most
        (so a change of pace is seen at once), and hands its turn on when it goes or stops;
        the others sleep until their turn comes (hundreds of threads polling the pace cost
        real CPU), so a stop reaches them one after the other at once.
        """
        turn = threading.Event()
        with self._lock:
            self._line.append(turn)
            if self._line[0] is turn:
                turn.set()
        try:
            while True:
                if stop is not None and stop.is_set():
                    return None
                if not turn.wait(QUEUED_LOOK_SECONDS):
                    continue
                delay, now = self._admit(retry)
                if delay <= 0:
                    return now
                self._sleep(min(delay, 0.25))
        finally:
            with self._lock:
                self._line.remove(turn)
                if self._line:
                    self._line[0].set()

    def on_success(
        self, sent_at: float, stated: StatedLimits | None = None, retry: bool = False
    ) -> None:
        """The request sent at `sent_at` was answered."""
        with self._lock:
            now = self._clock()
            self._open(now)
            self._control.on_answer(now, sent_at, refused=False, retry=retry)
            self._streak.on_success(now, sent_at)
            if stated is not None:
                self._stated = (now, _stated_rate(stated, self._control.window))

    def on_rate_limited(
        self, sent_at: float, retry_after: float | None, retry: bool = False
    ) -> None:
        """The request sent at `sent_at` got a 429."""
        with self._lock:
            now = self._clock()
            self.rate_limited += 1
            self._open(now)
            self._control.on_answer(now, sent_at, refused=True, retry=retry)
            self._streak.on_failure(now, sent_at, retry_after, "429")

    def on_failure(
        self, sent_at: float, retry_after: float | None, why: str, retry: bool = False
    ) -> None:
        """The request sent at `sent_at` failed in a way worth retrying (5xx, timeout...)."""
        with self._lock:
            now = self._clock()
            self._open(now)
            self._control.on_failed(now, sent_at, retry)
            self._streak.on_failure(now, sent_at, retry_after, why)

    def on_lost(self, sent_at: float, retry: bool = False) -> None:
        """The request sent at `sent_at` ended without an answer (a bug, an interrupt): a
        probe stops waiting for it."""
        with self._lock:
            now = self._clock()
            self._open(now)
            self._control.on_failed(now, sent_at, retry)
            self._streak.on_lost(sent_at)

    def _open(self, now: float) -> None:
        """The first request was answered (or waited for long enough): the run starts now."""
        if not self._opened:
            self._opened = True
            self._control.restart(now)
            with self._opened_signal:
                self._opened_signal.notify_all()

    def _nap(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the pacer opens meanwhile."""
        with self._opened_signal:
            if not self._opened:
                self._opened_signal.wait(seconds)
                return
        time.sleep(seconds)

    def outage(self) -> float:
        """Seconds the provider has failed every request (0 while it answers some)."""
        with self._lock:
            return self._streak.failing_for(self._clock())

    def _rate(self, now: float) -> float | None:
        rate = self._control.rate(now)
        at, stated = self._stated
        if stated is not None and now - at < STATED_FRESH:
            rate = stated if rate is None else min(rate, stated)
        return rate


def _stated_rate(stated: StatedLimits, window: float) -> float | None:
    """Requests per second a provider's stated limits (per window) allow once its room runs
    low; None while there is room."""
    rates = []
    if stated.requests_limit and stated.requests_remaining is not None:
        if stated.requests_remaining < max(2, STATED_LOW * stated.requests_limit):
            rates.append(STATED_GAIN * stated.requests_limit / window)
    if stated.tokens_limit and stated.tokens_remaining is not None and stated.tokens_used:
        low = max(3 * stated.tokens_used, STATED_LOW * stated.tokens_limit)
        if stated.tokens_remaining < low:
            rates.append(STATED_GAIN * stated.tokens_limit / window / stated.tokens_used)
    return max(min(rates), MIN_RATE) if rates else None


def paced_call(
    fn: Callable[[], T],
    slots: Slots,
    pace: Pacer,
    stop: StopSignal,
    stated: Callable[[], StatedLimits | None] = lambda: None,
    retry: bool = False,
) -> T:
    """One request: hold a slot, wait for the pace, and tell the pacer how it went.

    Retry back-offs happen outside (in RetryPolicy), so a waiting retry never holds a slot.
    `stated` reads the limits the provider stated on this thread's last response; `retry`
    says an earlier attempt of this request failed (the pacer judges a probe without them).
    """
    if stop.is_set() or not slots.acquire(stop):
        raise Stopped
    try:
        sent = None if stop.is_set() else pace.wait(stop, retry)
        if sent is None:
            raise Stopped
        try:
            result = fn()
        except RateLimitedError as exc:
            pace.on_rate_limited(sent, exc.retry_after, retry)
            raise
        except FatalProviderError:
            stop.set()  # before the slot is released, so no waiting request goes out after it
            raise
        except (InvalidOutputError, PermanentError):
            pace.on_success(sent, stated(), retry)  # answered; the answer was unusable
            raise
        except TransientError as exc:
            pace.on_failure(sent, exc.retry_after, str(exc), retry)
            raise
        except BaseException:
            pace.on_lost(sent, retry)  # a bug or an interrupt: no answer to learn from
            raise
        pace.on_success(sent, stated(), retry)
        return result
    finally:
        slots.release()
