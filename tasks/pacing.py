"""Adaptive pacing of one provider's requests: learn its rate limit from its 429s.

Nobody has to tune a batch size when 429s appear. Until a provider pushes back, requests are
not paced at all (the concurrency caps are the only limit). Providers state their limits per
window (a minute for Tavily and OpenAI; RATE_LIMIT_WINDOW). The first 429 sets the pace just
under what the provider accepted over the last window, which is what its limit lets through;
later ones trim it by 10% (never below that), and while requests succeed it creeps up by a
fifth per window to find spare room (additive increase, multiplicative decrease). After a 429
every request to that provider pauses for one request's time at the new pace (the refused
request waits out its Retry-After); if the request sent after the pause is refused too,
the window is full of earlier requests, and everything waits until the oldest of them has
left it (or the Retry-After, if longer) instead of knocking on the door.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from tasks.errors import FatalProviderError, RateLimitedError
from tasks.slots import Slots, Stopped, StopSignal

T = TypeVar("T")

BACKOFF = 0.95  # the first 429: pace at this share of what the provider accepted
DECREASE = 0.9  # later 429s: slow down by this factor
INCREASE_PER_WINDOW = 0.2  # while requests succeed, grow by this share of the pace per window
MIN_RATE = 0.1  # requests per second; never slower than one every ten seconds


class AdaptiveRate:
    """Thread-safe pacer for one provider in one process."""

    def __init__(
        self,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.rate: float | None = None  # requests per second; None = not paced
        self._base = 0.0  # the pace set by the last decrease (additive steps are a share of it)
        self._next_at = 0.0  # earliest start of the next request
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._last_increase = 0.0
        # Start times of requests sent and of those refused, over the last window. A 429 comes
        # back at once, so sent minus refused is what the provider accepted, long calls included.
        self._sent: deque[float] = deque()
        self._refused: deque[float] = deque()
        self._refused_since_success = False
        self.rate_limited = 0  # 429s seen, for the run's log

    def wait(self, stop: StopSignal | None = None) -> float | None:
        """Block until a request may start; its start time, or None if the run stopped."""
        while True:
            with self._lock:
                now = self._clock()
                start = max(now, self._paused_until)
                if self.rate is not None:
                    start = max(start, self._next_at)
                if start <= now:
                    if self.rate is not None:
                        self._next_at = now + 1.0 / self.rate
                    self._sent.append(now)
                    return now
            if stop is not None and stop.is_set():
                return None
            # No slot is booked while sleeping: when the pace changes, waiters see it within
            # a quarter second instead of sleeping out a start booked at the old pace.
            self._sleep(min(start - now, 0.25) * (0.5 + random.random() / 2))

    def on_success(self, sent_at: float) -> None:
        """The request sent at `sent_at` was accepted: probe a little faster."""
        with self._lock:
            now = self._clock()
            if self.rate is None:
                return
            if self._refused_since_success:
                if sent_at >= self._last_decrease:
                    self._refused_since_success = False
                    self._last_increase = now
                return
            elapsed = min(max(now - self._last_increase, 0.0), 1.0)
            self.rate += self._base * INCREASE_PER_WINDOW * elapsed / self.window
            self._last_increase = now

    def on_rate_limited(self, sent_at: float, retry_after: float | None) -> None:
        """The request sent at `sent_at` got a 429: slow down and pause, once per event."""
        with self._lock:
            now = self._clock()
            self.rate_limited += 1
            self._refused.append(sent_at)
            pause = 0.0  # the refused request itself waits out its Retry-After (RetryPolicy)
            if sent_at < self._last_decrease:
                pass  # sent before the last decrease, which already answered it
            elif not self._refused_since_success:
                # A new push-back. The first one sets the pace from what the provider accepted
                # over its window (a full window: that is its limit); later ones trim it.
                accepted = self._accepted_per_second(now) * BACKOFF
                if self.rate is None:
                    self.rate = max(MIN_RATE, accepted or 1.0)
                else:  # trim by 10%, but not below what the provider just accepted
                    self.rate = max(MIN_RATE, min(self.rate, max(self.rate * DECREASE, accepted)))
                self._base = self.rate
                self._refused_since_success = True
                pause = 1.0 / self.rate  # one slot's time at the new pace, then probe
                self._last_decrease = self._last_increase = now
            else:
                # The probe after a pause was refused too: the window is full of earlier
                # requests, so everything waits until the oldest of them has left it.
                self._trim(now)
                oldest = self._sent[0] if self._sent else now
                pause = max(retry_after or 0.0, oldest + self.window - now)
                self._last_decrease = now
            self._paused_until = max(self._paused_until, now + min(pause, self.window))

    def _accepted_per_second(self, now: float) -> float:
        """What the provider accepted over the last window, per second."""
        self._trim(now)
        return max(0, len(self._sent) - len(self._refused)) / self.window

    def _trim(self, now: float) -> None:
        for stamps in (self._sent, self._refused):
            while stamps and now - stamps[0] > self.window:
                stamps.popleft()


def paced_call(fn: Callable[[], T], slots: Slots, pace: AdaptiveRate, stop: StopSignal) -> T:
    """One request: hold a slot, wait for the pace, and tell the pacer how it went.

    Retry back-offs happen outside (in RetryPolicy), so a waiting retry never holds a slot.
    """
    if stop.is_set() or not slots.acquire(stop):
        raise Stopped
    try:
        sent = None if stop.is_set() else pace.wait(stop)
        if sent is None:
            raise Stopped
        try:
            result = fn()
        except RateLimitedError as exc:
            pace.on_rate_limited(sent, exc.retry_after)
            raise
        except FatalProviderError:
            stop.set()  # before the slot is released, so no waiting request goes out after it
            raise
        pace.on_success(sent)
        return result
    finally:
        slots.release()
