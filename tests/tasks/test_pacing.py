"""The pacer's pieces on a fake clock: the line, stated limits, verdicts, outages, retries.

Whole runs against each shape of push-back are in test_pushback.py; these pin down the
rules one at a time, each in a few milliseconds.
"""

import threading
import time

import pytest

from domain.errors import ProviderDownError, RateLimitedError, TransientError
from tasks.outages import FailureStreak
from tasks.pacing import OPENING_WAIT, Pacer
from tasks.rate_control import PLAUSIBLE, START_RATE
from tasks.rate_counts import binomial_cdf, fewer_chance
from tasks.rate_headers import StatedLimits, retry_after_seconds, stated_limits
from tasks.retry import RetryPolicy, Tries
from tasks.slots import QUEUED_LOOK_SECONDS


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def pacer(**kwargs):
    clock = FakeClock()
    said = []
    pace = Pacer("Tavily", clock=clock, sleep=clock.sleep, say=said.append, **kwargs)
    return pace, clock, said


def test_a_new_run_starts_slowly_and_speeds_up_while_everything_is_accepted():
    pace, clock, _ = pacer()
    starts = []
    while clock.now < 3.0:
        starts.append(pace.wait())
        pace.on_success(starts[-1])
    # START_RATE at first (a provider with a burst of 5 sees a handful of 429s, not a wave)...
    assert sum(1 for t in starts if t < 0.25) <= START_RATE * 0.25 + 2
    # ...then twice what was accepted, so within seconds only the caps bind.
    assert pace.rate >= 100


def test_only_the_first_request_goes_until_the_provider_first_answers():
    pace, clock, _ = pacer()
    first = pace.wait()
    assert pace._admit()[0] > 0  # the second waits: the first answer may state the limits
    clock.now += 1.0
    pace.on_success(first, StatedLimits(requests_limit=1200, requests_remaining=9))
    second = pace.wait()
    assert second == pytest.approx(1.0)  # answered: the run opens, no faster than stated
    assert pace.rate <= 0.95 * 1200 / 60
    # A first request that hangs holds the others back for OPENING_WAIT only.
    hung, clock2, _ = pacer()
    hung.wait()
    assert hung.wait() == pytest.approx(OPENING_WAIT, abs=0.3)


def test_the_first_answer_wakes_the_waiting_request_at_once():
    # On the real clock: the head of the line naps while the first request is out, and the
    # answer ends the nap (every run opens this way, for each provider).
    pace = Pacer("Tavily")
    first = pace.wait()
    napping = threading.Thread(target=pace._sleep, args=(600.0,))
    napping.start()
    while not pace._opened_signal._waiters:  # type: ignore[attr-defined]  # napping now
        napping.join(timeout=0.01)
    pace.on_success(first)
    napping.join(timeout=30)
    assert not napping.is_alive()


def test_requests_wait_in_line_and_only_the_first_asks_the_pace():
    pace, clock, _ = pacer()
    asked = []
    real_admit = pace._admit

    def counting_admit(retry=False):
        asked.append(threading.current_thread().name)
        return real_admit(retry)

    pace._admit = counting_admit
    done = []
    threads = [
        threading.Thread(target=lambda: done.append(pace.wait()), name=f"t{i}") for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(done) == 8 and not pace._line  # everyone went, nobody is left in line
    # Turns: a thread asks (perhaps several times) until it goes, then the next one does.
    turns = [name for i, name in enumerate(asked) if i == 0 or asked[i - 1] != name]
    assert sorted(turns) == sorted(set(turns)) and len(turns) == 8


def test_stated_limits_pace_requests_once_the_room_runs_low():
    pace, clock, _ = pacer(window=60.0)
    room = StatedLimits(requests_limit=600, requests_remaining=500)
    low = StatedLimits(requests_limit=600, requests_remaining=20)
    for _ in range(5):
        pace.on_success(pace.wait(), room)
    assert pace.rate > 10  # plenty of room: the stated limit does not pace
    pace.on_success(pace.wait(), low)
    assert pace.rate == pytest.approx(0.95 * 600 / 60)  # at the stated rate, just under it
    tokens = StatedLimits(tokens_limit=2_000_000, tokens_remaining=40_000, tokens_used=16_000)
    pace.on_success(pace.wait(), tokens)
    assert pace.rate == pytest.approx(0.95 * 2_000_000 / 60 / 16_000)  # tokens bind first


def test_a_stop_ends_a_wait_and_hands_the_turn_on():
    pace, clock, _ = pacer()
    stop = threading.Event()
    stop.set()
    assert pace.wait(stop) is None
    assert not pace._line


def test_an_outage_pauses_everything_says_so_each_minute_and_ends_after_the_patience():
    pace, clock, said = pacer(patience=300.0)
    while clock.now < 400:
        try:
            sent = pace.wait()
        except ProviderDownError as exc:
            message = str(exc)
            break
        clock.now += 0.05
        pace.on_failure(sent, None, "Tavily HTTP 503")
    else:
        pytest.fail("the outage was waited out forever")
    assert message == "Tavily has failed every request for 5 min (last: Tavily HTTP 503)"
    waiting = [s for s in said if "trying one request every 30 s" in s]
    assert 3 <= len(waiting) <= 5, said  # once a minute after the first one
    assert 300 <= clock.now <= 340


def test_failures_back_before_the_answers_on_their_way_are_no_outage():
    # Four in five requests fail (at once); the fifth is answered after 2 s. By arrival the
    # failures are all there is for 2 s; by the order sent, one in five is still out.
    streak = FailureStreak("Tavily", 600.0, lambda line: None)
    sent = [i * 0.01 for i in range(60)]
    for at in sent:
        streak.on_sent(at)
    for i, at in enumerate(sent):
        if i % 5:
            streak.on_failure(at + 0.05, at, None, "HTTP 503")
    assert streak.gate(0.7) == 0.0 and streak.failing_for(0.7) == 0.0
    # Were those five answers never coming (every request refused), it is an outage.
    for i, at in enumerate(sent):
        if i % 5 == 0:
            streak.on_failure(at + 0.05, at, None, "HTTP 503")
    assert streak.gate(0.7) > 0.0


def test_the_provider_answering_again_ends_the_outage_and_says_so():
    pace, clock, said = pacer()
    for _ in range(40):
        sent = pace.wait()
        clock.now += 2.0
        pace.on_failure(sent, None, "LLM HTTP 503")
    assert pace.outage() > 60
    pace.on_success(pace.wait())
    assert pace.outage() == 0
    assert said[-1].startswith("Tavily answers again after")


def test_an_old_success_does_not_end_an_outage():
    pace, clock, _ = pacer()
    early = pace.wait()
    for _ in range(40):
        sent = pace.wait()
        clock.now += 2.0
        pace.on_failure(sent, None, "LLM HTTP 503")
    pace.on_success(early)  # a long call sent before the trouble came back fine
    assert pace.outage() > 60


def test_failures_during_an_outage_use_up_no_attempts():
    down = [100.0]
    tries = Tries(RetryPolicy(max_attempts=2), outage=lambda: down[0])
    for _ in range(10):  # any number of failures while the provider is down
        assert tries.after(TransientError("HTTP 503")) <= 30.0
    down[0] = 0.0
    tries.after(TransientError("HTTP 503"))  # the provider answers others: this one counts
    with pytest.raises(TransientError, match="gave up after 2 attempts"):
        tries.after(TransientError("HTTP 503"))


def test_a_provider_down_error_is_not_retried():
    with pytest.raises(ProviderDownError):
        Tries(RetryPolicy()).after(ProviderDownError("Tavily has failed every request"))


def test_429s_back_off_exponentially_without_retry_after_and_honour_it_when_given():
    tries = Tries(RetryPolicy(base_delay=1.0, max_delay=30.0))
    waits = [tries.after(RateLimitedError("429")) for _ in range(7)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 15 <= waits[-1] <= 30
    assert 2.0 <= Tries(RetryPolicy()).after(RateLimitedError("429", 2.0)) <= 2.2


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "350", "retry-after": "9"}, 0.35),  # ms wins, as in openai
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-1"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_as_the_openai_client_reads_it(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_an_http_date():
    from email.utils import formatdate
    from time import time

    assert 8 <= retry_after_seconds({"retry-after": formatdate(time() + 10, usegmt=True)}) <= 10


def test_openai_rate_limit_headers_are_read():
    limits = stated_limits(
        {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-remaining-requests": "4999",
            "x-ratelimit-limit-tokens": "160000",
            "x-ratelimit-remaining-tokens": "159976",
            "x-ratelimit-reset-requests": "12ms",
        }
    )
    assert limits == StatedLimits(5000, 4999, 160000, 159976)
    assert stated_limits({"ratelimit-limit": "100", "ratelimit-remaining": "0"}) == StatedLimits(
        100, 0
    )
    assert stated_limits({"content-type": "application/json"}) is None


def test_a_cohort_a_little_under_a_rough_share_before_it_is_no_limit():
    # 20% sporadic 429s measured as 6 of 20 just before a probe, then 8 of 60 (13%) in its
    # cohort: the same share, within what two samples vary by. Taking 30% as the true share
    # called it a limit: Tavily paced at 1.5-7 requests/s for 110 s of a run of our every-fault
    # test (170 s, against 46-63 s when it did not).
    assert fewer_chance(8, 60, 6, 20) >= PLAUSIBLE > binomial_cdf(8, 60, 6 / 20)
    # A limit: half refused before the probe, none or few at half the pace.
    assert fewer_chance(0, 20, 10, 20) < PLAUSIBLE and fewer_chance(3, 60, 7, 20) < PLAUSIBLE


def test_a_stop_reaches_every_request_waiting_in_line_at_once():
    # Before the provider first answers, one request goes and the rest wait in line: the
    # first polls (the real clock), the others sleep until it hands its turn on.
    pace, stop = Pacer("Tavily"), threading.Event()
    assert pace.wait(stop) is not None
    answers: list[float | None] = []
    threads = [threading.Thread(target=lambda: answers.append(pace.wait(stop))) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert not answers and len(pace._line) == 6
    stop.set()
    deadline = time.monotonic() + 1.5  # well under a queued request's own look
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert answers == [None] * 6 and not pace._line
    assert QUEUED_LOOK_SECONDS > 1.5 and OPENING_WAIT > 1.5


def test_a_run_never_refused_keeps_only_its_last_window_of_send_times():
    """A pacer lives as long as its run: what it keeps must not grow with the run."""
    pace, clock, _ = pacer()  # the providers' window as a run has it: 60 s
    sent = 0
    while clock.now < 200.0:
        start = pace.wait()
        pace.on_success(start)
        sent += 1
        clock.now += 0.01  # each request takes a moment to go (10 ms)
    kept = len(pace._control._sends.sent)  # the send times the rate control still holds
    assert sent > 10_000
    assert kept <= 60.0 / 0.01 + 1  # one window of them
