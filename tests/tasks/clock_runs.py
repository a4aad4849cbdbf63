"""Runs of many requests on a fake clock: the pacer and the retry policy against push-back.

An event loop stands in for a run's threads: every company waits for one of the run's slots,
asks the real `Pacer` for its turn, is answered by a provider shape after its latency, and on
a refusal waits what the real `Tries` says before queueing again. Shapes are the push-back
providers show: sporadic refusals, a token bucket, a sliding window, stated limits, outages.
Hours of provider time run in a fraction of a second, so each shape is tested at the limits
and defaults a user has.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.errors import ProviderDownError, RateLimitedError, TransientError
from simulators.limits import SlidingWindowLimiter, TokenBucketLimiter
from tasks.pacing import Pacer
from tasks.rate_headers import StatedLimits
from tasks.retry import RetryPolicy, Tries


@dataclass(frozen=True)
class Answer:
    """What the provider does with one request."""

    status: int  # 200, 429 or 503
    latency: float
    retry_after: float | None = None
    stated: StatedLimits | None = None


def lognormal(median: float, sigma: float = 0.35) -> Callable[[random.Random], float]:
    """A latency sampler like the simulators' profiles."""
    return lambda rng: median * math.exp(sigma * rng.gauss(0.0, 1.0))


class Clean:
    """A provider that answers everything after its latency."""

    def __init__(self, latency: Callable[[random.Random], float]) -> None:
        self.latency = latency

    def answer(self, now: float, rng: random.Random) -> Answer:
        return Answer(200, self.latency(rng))

    def answer_for(self, company: int, attempt: int, now: float, rng: random.Random) -> Answer:
        """What it does with `company`'s `attempt`-th request (most shapes do not look)."""
        return self.answer(now, rng)


class Targeted(Clean):
    """Refuses the first attempts of some requests, whatever the pace: a request too large
    for the tokens left this minute is refused again on retry while small ones pass. Every
    `every`-th company is refused once or twice (alternately), with or without Retry-After."""

    def __init__(self, every: int, latency) -> None:
        super().__init__(latency)
        self.every = every

    def answer_for(self, company: int, attempt: int, now: float, rng: random.Random) -> Answer:
        n = company // self.every
        if company % self.every == 0 and attempt <= 1 + n % 2:
            return Answer(429, 0.01, 1.0 if n % 4 < 2 else None)
        return self.answer(now, rng)


class Clustered(Clean):
    """Refuses the first attempt of 2 companies in 13 (our every-fault test's LLM mix), but
    unevenly: from company `at`, 6 refused in a row, then none in 20 (searches that end out
    of order send the companies' first LLM requests out of order)."""

    def __init__(self, latency, at: int) -> None:
        super().__init__(latency)
        self.at = at

    def answer_for(self, company: int, attempt: int, now: float, rng: random.Random) -> Answer:
        offset = company - self.at
        refused = 14 <= offset < 20 if 0 <= offset < 40 else company % 13 in (11, 12)
        if attempt == 1 and refused:
            return Answer(429, 0.01)
        return self.answer(now, rng)


class EveryFault(Clean):
    """Our every-fault test's Tavily mix by company: of each ten, one answered at once, seven
    failing their first attempt (503), two refused once or twice (429s, if `refusals`)."""

    def __init__(self, latency, refusals: bool = True) -> None:
        super().__init__(latency)
        self.refusals = refusals

    def answer_for(self, company: int, attempt: int, now: float, rng: random.Random) -> Answer:
        kind = company % 10
        if 1 <= kind <= 7 and attempt == 1:
            return Answer(503, 0.05)
        if kind >= 8 and self.refusals and attempt <= kind - 7:
            return Answer(429, 0.01, 1.0 if kind == 8 else None)
        return self.answer(now, rng)


class Sporadic(Clean):
    """Refuses a share of requests at random, whatever the pace (a busy or shared provider)."""

    def __init__(self, share: float, retry_after: float | None, latency) -> None:
        super().__init__(latency)
        self.share, self.retry_after = share, retry_after

    def answer(self, now: float, rng: random.Random) -> Answer:
        if rng.random() < self.share:
            return Answer(429, 0.01, self.retry_after)
        return super().answer(now, rng)


class Bucket(Clean):
    """A token bucket: `per_minute` refill with room for `burst`; may state its limits."""

    def __init__(
        self, per_minute: int, burst: int, latency, stated: bool = False, refusal_latency=None
    ) -> None:
        super().__init__(latency)
        self.bucket = TokenBucketLimiter()
        self.per_minute, self.burst, self.stated = per_minute, burst, stated
        # A 429 comes back at once, but a busy client may read it late (our e2e tests' flow
        # process, trimming pages on 2 cores, read them 0.1-1.5 s after sending).
        self.refusal_latency = refusal_latency or (lambda rng: 0.01)

    def answer(self, now: float, rng: random.Random) -> Answer:
        decision = self.bucket.try_acquire("key", self.per_minute, self.burst, now)
        stated = (
            StatedLimits(requests_limit=self.per_minute, requests_remaining=decision.remaining)
            if self.stated
            else None
        )
        if not decision.allowed:
            return Answer(429, self.refusal_latency(rng), None, stated)
        return Answer(200, self.latency(rng), None, stated)


class Window(Clean):
    """A sliding window: at most `limit` accepted requests in any `window` seconds."""

    def __init__(self, limit: int, window: float, latency) -> None:
        super().__init__(latency)
        self.limiter = SlidingWindowLimiter()
        self.limit, self.window = limit, window

    def answer(self, now: float, rng: random.Random) -> Answer:
        if not self.limiter.try_acquire("key", self.limit, self.window, now).allowed:
            return Answer(429, 0.01)
        return super().answer(now, rng)


class Outage(Clean):
    """Every request refused (429) or failed (503) from `start` to `end`, then answered."""

    def __init__(self, start: float, end: float, status: int, latency) -> None:
        super().__init__(latency)
        self.start, self.end, self.status = start, end, status
        self.during = 0  # requests that reached it while it was down

    def answer(self, now: float, rng: random.Random) -> Answer:
        if self.start <= now < self.end:
            self.during += 1
            return Answer(self.status, 0.05)
        return super().answer(now, rng)


@dataclass
class Run:
    """One run's companies, caps and what became of them."""

    companies: int
    concurrency: int
    start_at: float = 0.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    window: float = 60.0
    patience: float = 600.0
    # Companies come in lumps of `lump`, `lump_every` seconds apart (a run's chunks opening
    # as their stored searches are read), not all at once; 0: all at once.
    lump: int = 0
    lump_every: float = 0.0
    # Seconds from the pacer's go to the request reaching the provider: a busy client builds
    # and sends it late (our e2e test's flow process, on 2 cores: 0.74 s median, 1.7 s at
    # most), so every answer, a 429 too, is read that much later. None: at once.
    client_lag: Callable[[random.Random], float] | None = None
    # Filled in by `simulate`:
    pacer: Pacer | None = None
    accepted: list[float] = field(default_factory=list)  # when each accepted request was sent
    refused: int = 0
    failed: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    finished_at: float = 0.0

    @property
    def wall(self) -> float:
        """Seconds from the run's start to its last company."""
        return self.finished_at - self.start_at

    def sustained(self, skip: float) -> float:
        """Accepted requests per second after the first `skip` seconds (a bucket's burst or a
        window's first fill), up to the last accepted one."""
        steady = [t for t in self.accepted if t >= self.start_at + skip]
        if len(steady) < 2:
            return 0.0
        return (len(steady) - 1) / (steady[-1] - steady[0])

    def sustained_between(self, start: float, end: float) -> float:
        """Accepted requests per second between two moments."""
        return sum(1 for t in self.accepted if start <= t < end) / (end - start)


def simulate(shape: Clean, *runs: Run, seed: int = 1) -> list[Run]:
    """Play the runs against one provider (one key) until every company is done."""
    rng = random.Random(seed)
    now = 0.0
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = itertools.count()

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, (when, next(order), action))

    # RetryPolicy's jitter draws from the module's generator: seeded too, so that a run
    # is the same run whatever ran before it.
    state = random.getstate()
    random.seed(seed)
    try:
        for run in runs:
            _Companies(run, shape, rng, lambda: now, at).start()
        while events:
            now, _, action = heapq.heappop(events)
            action()
    finally:
        random.setstate(state)
    return list(runs)


class _Companies:
    """One run's companies on the clock: each waits for one of the run's slots, then in line
    for the pace, is answered by the shape, and after a refusal waits what its `Tries` says."""

    def __init__(self, run: Run, shape: Clean, rng: random.Random, clock, at) -> None:
        self.run, self.shape, self.rng, self.clock, self.at = run, shape, rng, clock, at
        run.pacer = Pacer(
            "provider",
            run.window,
            run.patience,
            clock=clock,
            sleep=lambda s: None,
            say=run.said.append,
        )
        self.pacer = run.pacer
        self.free = run.concurrency
        self.waiting: deque[int] = deque()  # for a slot
        self.line: deque[int] = deque()  # for the pace
        self.tries = {c: Tries(run.policy, self.pacer.outage) for c in range(run.companies)}
        self.sent = dict.fromkeys(range(run.companies), 0)  # attempts each company made

    def start(self) -> None:
        run = self.run
        for company in range(run.companies):
            lumps_before = company // run.lump if run.lump else 0
            when = run.start_at + lumps_before * run.lump_every
            self.at(when, lambda c=company: self.want_slot(c))

    def done(self, company: int, failed: str | None = None) -> None:
        if failed is not None:
            self.run.failed.append(failed)
        self.run.finished_at = max(self.run.finished_at, self.clock())

    def want_slot(self, company: int) -> None:
        if self.free > 0:
            self.free -= 1
            self.ask(company)
        else:
            self.waiting.append(company)

    def release(self) -> None:
        if self.waiting:
            self.ask(self.waiting.popleft())
        else:
            self.free += 1

    def ask(self, company: int) -> None:
        # Requests wait in line for the pace, as in Pacer.wait: only the first one asks.
        line = self.line
        if not line or line[0] != company:
            line.append(company)
            if line[0] != company:
                return
        try:
            delay = self.pacer.admit(retry=self.sent[company] > 0)
        except ProviderDownError as exc:
            self.done(company, str(exc))
            self.next_in_line()
            self.at(self.clock(), self.release)  # later, not from inside another company's turn
            return
        if delay > 0:
            self.at(self.clock() + min(delay, 0.25), lambda: self.ask(company))
            return
        self.next_in_line()
        self.sent[company] += 1
        sent = self.clock()
        lag = self.run.client_lag(self.rng) if self.run.client_lag else 0.0
        self.at(sent + lag, lambda: self.arrive(company, sent))

    def arrive(self, company: int, sent: float) -> None:
        """The request reaches the provider (its limiter judges it now, not when sent)."""
        answer = self.shape.answer_for(company, self.sent[company], self.clock(), self.rng)
        self.at(self.clock() + answer.latency, lambda: self.answered(company, sent, answer))

    def next_in_line(self) -> None:
        self.line.popleft()
        if self.line:
            self.at(self.clock(), lambda c=self.line[0]: self.ask(c))

    def answered(self, company: int, sent: float, answer: Answer) -> None:
        self.release()
        retry = self.sent[company] > 1
        if answer.status == 200:
            self.pacer.on_success(sent, answer.stated, retry)
            self.run.accepted.append(sent)
            self.done(company)
            return
        if answer.status == 429:
            self.run.refused += 1
            self.pacer.on_rate_limited(sent, answer.retry_after, retry)
            error: TransientError = RateLimitedError("429", answer.retry_after)
        else:
            self.pacer.on_failure(sent, answer.retry_after, f"HTTP {answer.status}", retry)
            error = TransientError(f"HTTP {answer.status}", answer.retry_after)
        try:
            wait = self.tries[company].after(error)
        except TransientError as exc:
            self.done(company, str(exc))
            return
        self.at(self.clock() + wait, lambda: self.want_slot(company))
