"""A provider's pace as `tasks.rate_control` sets it: slow start, free (only the caps bind),
a probe at half the pace, or limited (a CUBIC curve back towards, and past, the rate the
provider accepted); and a probe's cohort, the requests whose answers say what it was."""

from __future__ import annotations

from dataclasses import dataclass

MAX_RATE = 1000.0  # requests per second
MIN_RATE = 1 / 60  # never slower than one request a minute
CUBIC_C = 1e-4  # growth back towards (and past) the accepted rate, requests/s per s^3
TEST_COHORT = 20  # requests sent after a probe whose answers decide what it was


@dataclass(frozen=True)
class Pace:
    """How the pace is set: slow start, free (caps only), or limited (a CUBIC curve)."""

    mode: str  # "free" | "probe" (held at `low`) | "limited"
    since: float  # start of the slow start, or of the last slow-down
    w_max: float = 0.0  # the plateau: what the provider accepted at the last limit
    low: float = 0.0  # the pace right after the slow-down

    def rate(self, now: float) -> float:
        """Requests per second allowed at `now` (RateControl.rate paces the free mode)."""
        t = max(now - self.since, 0.0)
        if self.mode == "probe":
            return self.low
        k = (max(self.w_max - self.low, 0.0) / CUBIC_C) ** (1 / 3)
        return min(max(self.w_max + CUBIC_C * (t - k) ** 3, self.low, MIN_RATE), MAX_RATE)


@dataclass
class Cohort:
    """The requests sent after a probe (the pace halved), and what became of them."""

    since: float
    before: Pace  # the pace to go back to if the refusals turn out sporadic
    accepted: float  # what the provider accepted, per second, up to the probe
    sending: float  # what was sent, per second, up to the probe
    size: int = TEST_COHORT
    sent: int = 0
    last_sent: float | None = None  # when the cohort's last request went out
    last_first: float = 0.0  # when a first attempt last joined it (or the probe began)
    starved: bool = False  # ended before it filled: no first attempts were left to send
    answered: int = 0  # accepted or refused
    refused: int = 0
    failed: int = 0  # 5xx, timeouts: answered, but they tell nothing about the pace
