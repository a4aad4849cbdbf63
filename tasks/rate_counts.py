"""Counting for the rate control: requests since a moment (as far as is known by now), and how
likely a refusal count is."""

from __future__ import annotations

import bisect
import math
from collections import deque

from tasks.paces import MIN_RATE


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


# A 429 comes back at once, but a busy client sends late: our e2e test's flow process, on 2
# cores, got its requests to the provider 0.74 s (median; 1.7 s at most) after the pacer let
# them go, so their 429s were read that late (our simulators; before its page hashes were read
# as halves and its companies took turns at their CPU work, now 0.02-0.05 s at the 90th
# percentile: other busy clients still send late). Requests sent within the LAG_SHARE quantile of
# the last LAGS refusals' delays are not yet known to be accepted.
LAGS = 20
LAG_SHARE = 0.8
BINDING_SPAN = 2.0  # seconds, at least, that a binding rate is measured over


class Sends:
    """When requests went out over the providers' window, which of them were refused, and by
    when a refusal is read (so what is known of the requests still out)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.sent: deque[float] = deque()  # ascending
        self.refused: deque[float] = deque()  # when the refused ones went out, ascending
        self._lags: deque[float] = deque(maxlen=LAGS)  # how long refusals took to be read
        self._lag = 0.0
        self._fastest = math.inf  # the quickest answer yet: until a 429, the lag at most

    def on_sent(self, now: float) -> None:
        self.sent.append(now)

    def on_answer(self, now: float, sent_at: float, refused: bool) -> None:
        took = max(now - sent_at, 0.0)
        if not refused:
            if not self._lags:
                self._fastest = min(self._fastest, took)
            return
        bisect.insort(self.refused, sent_at)  # answers come back out of order
        self._lags.append(took)
        self._lag = sorted(self._lags)[int(LAG_SHARE * (len(self._lags) - 1))]

    def known(self, now: float) -> float:
        """Requests sent before this are accepted unless refused: a 429 of one sent later
        may not have been read yet (before the first 429, an answer as quick as the quickest
        yet would have come back by now)."""
        if self._lags:
            return now - self._lag
        return now - (0.0 if self._fastest == math.inf else self._fastest)

    def between(self, since: float, until: float) -> tuple[int, int]:
        """(sent, refused) of the requests sent from `since` to `until`."""
        return (
            count_since(self.sent, since) - count_since(self.sent, until),
            count_since(self.refused, since) - count_since(self.refused, until),
        )

    def accepted(self, since: float, until: float = math.inf) -> int:
        """Requests sent from `since` to `until` that were not refused (a 5xx or a timeout
        got past the limiter: counted as refused, a burst of faults would read as a limit near
        zero)."""
        sent, refused = self.between(since, until)
        return sent - refused

    def read(self, since: float, now: float) -> tuple[int, int]:
        """(answered, refused) of the requests sent since `since`, as far as is known by
        `now`: those sent before `known`, and the refusals read of those sent after it (the
        others are still out, or their 429s not read yet)."""
        known = self.known(now)
        sent, refused = self.between(since, known)
        late = count_since(self.refused, max(since, known))
        return sent + late, refused + late

    def nth_last(self, n: int, until: float) -> float:
        """When the n-th last request sent before `until` went out (-inf: fewer were sent)."""
        end = bisect.bisect_left(self.sent, until)
        return self.sent[end - n] if end >= n else -math.inf

    def trim(self, now: float) -> None:
        """Forget what went out more than a window ago."""
        for stamps in (self.sent, self.refused):
            while stamps and now - stamps[0] > self.window:
                stamps.popleft()

    # -- rates: requests per second, as far as is known by `now` ---------------------------

    def accepted_rate(self, now: float, started: float) -> float:
        """What the provider has been accepting: the larger of the recent rate (a token
        bucket's refill) and the rate over its window (a full window's share).

        Counted as sent minus refused: 429s come back at once (by `known`), so requests
        still out count as accepted and a long call does not hide what the provider lets
        through.
        """
        known = self.known(now)  # (over_window forgets what is older than the window)
        oldest = max(self.nth_last(30, known), started)
        span = min(max(known - oldest, 0.5), self.window)
        return max(self.accepted(known - span, known) / span, self.over_window(now))

    def binding_rate(self, now: float, last_cut: float, started: float) -> float:
        """Accepted since the last cut or the run's start, over BINDING_SPAN at least."""
        known = self.known(now)
        since = max(min(last_cut, known - BINDING_SPAN), started)
        return max(self.accepted(since, known) / max(known - since, 0.5), MIN_RATE)

    def rate_since_refused(self, now: float, started: float) -> float:
        """Accepted since the first refused request of the run: a token bucket's refill,
        without the burst it let through before (over half a second at least)."""
        known = self.known(now)
        since = self.refused[0] if self.refused else started
        return max(self.accepted(since, known) / max(known - since, 0.5), MIN_RATE)

    def over_window(self, now: float) -> float:
        """Accepted over the last window."""
        self.trim(now)
        known = self.known(now)
        return max(self.accepted(known - self.window, known) / self.window, MIN_RATE)

    def send_rate(self, now: float, started: float) -> float:
        """Sent lately (what the caps let through when nothing paces): over the last 5 s, or
        over the window if more (a slow provider's slots stay full for seconds after they
        first fill, and so send almost nothing for a while)."""
        elapsed = max(now - started, 1.0)
        recent, whole = min(elapsed, 5.0), min(elapsed, self.window)
        return max(
            count_since(self.sent, now - recent) / recent,
            count_since(self.sent, now - whole) / whole,
            MIN_RATE,
        )
