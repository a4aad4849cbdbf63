"""The adaptive pacer against the simulator's own sliding-window limiter, on a fake clock."""

import pytest

from tasks.pacing import AdaptiveRate
from territory.simulators.limits import SlidingWindowLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def drive(limit, window, seconds, retry_after=None, latency=0.0):
    # One sender that sends the moment the pacer lets it: the harshest case for the limiter.
    """Send as fast as the pacer allows; return (accepted, refused, send times)."""
    clock = FakeClock()
    pace = AdaptiveRate(window, clock=clock, sleep=clock.sleep)
    limiter = SlidingWindowLimiter()
    accepted = refused = 0
    sends = []
    while clock.now < seconds:
        sent = pace.wait()
        sends.append(sent)
        if limiter.try_acquire("key", limit, window, sent).allowed:
            accepted += 1
            clock.now += latency
            pace.on_success(sent)
        else:
            refused += 1
            pace.on_rate_limited(sent, retry_after)
    return accepted, refused, sends, pace


@pytest.mark.parametrize("retry_after", [None, 2.0])
@pytest.mark.parametrize("limit_per_minute", [600, 1000])
def test_sustains_at_least_90_percent_of_the_limit_without_hammering(limit_per_minute, retry_after):
    minutes = 10
    accepted, refused, _, pace = drive(limit_per_minute, 60.0, minutes * 60, retry_after)
    rate = accepted / minutes
    assert rate >= 0.9 * limit_per_minute
    assert rate <= limit_per_minute * (minutes + 1) / minutes  # the limiter allowed no more
    # Pushing back is answered by slowing down: refusals stay a small share of what was sent.
    assert refused <= 0.1 * accepted
    assert pace.rate is not None  # it learned a pace rather than relying on retries alone


def test_an_unlimited_provider_is_never_paced():
    accepted, refused, _, pace = drive(10**9, 60.0, 5, latency=0.001)
    assert refused == 0 and pace.rate is None and accepted >= 4900


def test_a_refused_probe_pauses_every_request_for_the_retry_after():
    clock = FakeClock()
    pace = AdaptiveRate(60.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        pace.on_success(pace.wait())
        clock.now += 0.1
    pace.on_rate_limited(pace.wait(), retry_after=5.0)
    probe = pace.wait()  # one request's time later, one probe goes out...
    assert probe - clock.now < 1.0 or probe < 20.0
    refused_at = clock.now
    pace.on_rate_limited(probe, retry_after=5.0)  # ...and is refused: the window is full
    # Every other request now waits for the Retry-After, at least (here: until the oldest
    # request of the window has left it, which is longer).
    assert pace.wait() >= refused_at + 5.0


def test_a_late_refusal_of_an_old_request_does_not_slow_down_twice():
    clock = FakeClock()
    pace = AdaptiveRate(clock=clock, sleep=clock.sleep)
    for _ in range(100):
        pace.on_success(pace.wait())
        clock.now += 0.01
    pace.on_rate_limited(clock.now - 0.5, None)
    first = pace.rate
    pace.on_rate_limited(clock.now - 0.4, None)  # sent before the decrease: already answered
    assert pace.rate == first


def test_stop_ends_a_wait():
    import threading

    clock = FakeClock()
    pace = AdaptiveRate(clock=clock, sleep=clock.sleep)
    pace.on_rate_limited(0.0, retry_after=30.0)
    stop = threading.Event()
    stop.set()
    assert pace.wait(stop) is None
