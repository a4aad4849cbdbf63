"""The pace of one provider's requests, learnt from its 429s: a limit, or sporadic refusals?

A rate limit (a token bucket, a window per minute) refuses what is sent faster than it
accepts; sporadic refusals (a busy provider, a key shared with other applications) hit some
share of requests whatever the pace. The first calls for sending at about the accepted rate,
the second for changing nothing. A refused share far below the accepted one says neither.

So when more requests are refused than the provider's known background share explains, and
the pace is not yet known to be limited, the pace is halved (a probe; in a run's first
FIRST_PROBE_AFTER seconds, refusals too many for any background share are a limit at once,
and the others wait) and the requests sent next (a cohort of TEST_COHORT first attempts,
more when refusals were rare: enough that none refused could not be chance) are watched
until every one is answered, judged by when they were sent, not by when their answers came
(a 429 comes back at once, an answer after seconds).
Retries are left out of the cohort and of the share before it: a provider may refuse the same
request again whatever the pace (OpenAI refuses a request too large for the tokens left in the
minute), and retries of those would make a slower pace look no better than a faster one:

* none refused (or far fewer): a limit, once a cohort of MAX_COHORT says so too (the
  refusals that set a probe off make the share before it look high, and refusals aimed at
  some requests come in clusters: 20 can miss them all). The pace goes to just under the
  accepted rate and grows back along a CUBIC curve (as in the AWS SDKs' adaptive retry mode)
  whose plateau is the accepted rate, so it probes past the limit rarely;
* refused at about the share before (both counts are samples: Fisher's exact test): halving
  the pace changed nothing, so they are sporadic.
  The share is remembered as the provider's background (fading over BACKGROUND_HALF_LIFE) and
  the pace goes back to what it was;
* half the cohort refused: still far over (a window that is full); pace at what was accepted.

Once limited, each excess refusal of a request sent after the last cut cuts the pace to BETA
of the accepted rate, at once. A run that sends more meets more refusals and so cuts more
often: two runs sharing one key drift towards equal shares. Two cuts for sparse refusals in a
row, without a clean cohort between them, call for a probe again (the refusals may be
sporadic after all); half the requests refused is a limit plainly, and only cuts.

Until a limit is known the pace is "free": at most FREE_HEADROOM times what the provider
accepted over the last second (in-flight requests count as accepted), at least START_RATE. A
run so starts at START_RATE and doubles about every quarter second (TCP's slow start), and a
provider refusing everything at once cannot be flooded with retries faster than twice what it
accepts; where nothing is refused, the concurrency caps bind long before the pace does.
"""

from __future__ import annotations

import math
from collections import deque

from tasks.paces import MAX_RATE, MIN_RATE, TEST_COHORT, Cohort, Pace
from tasks.rate_counts import Sends, binomial_cdf, fewer_chance

START_RATE = 10.0  # requests per second at least (a run starts at this)
FREE_HEADROOM = 2.0  # no limit known: at most this many times the accepted rate
BETA = 0.9  # on a limit, pace at this share of the rate the provider accepted...
YIELD_BELOW, YIELD = 0.95, 0.9  # accepted well under the last plateau: yield (see _cut)
PROBE_BETA = 0.5  # ...but the first time, at this share: a sure answer whether it helps
CUTS_BEFORE_PROBE = 4  # cuts for sparse refusals in a row before a probe asks why
DENSE_EVIDENCE = 10  # requests sent before half of them refused counts as half
MIN_EVIDENCE = 5  # requests sent before refusals can slow anything down
FIRST_PROBE_AFTER = 5.0  # seconds into a run before sparse refusals call for a probe
MAX_COHORT = 60  # ...or up to this many when refusals were rare before it
TEST_TIMEOUT = 120.0  # judge on what came back if a cohort's answers take this long
STARVED = 10.0  # seconds (3 intervals of the pace, if more) without a first attempt to add:
# the cohort is all there will be
DENSE = 0.5  # a refused share at or above this is a limit (or an outage), never background
MAX_BACKGROUND = 0.35
PLAUSIBLE = 0.05  # a cohort's refusals fit the share before unless this unlikely
BACKGROUND_HALF_LIFE = 600.0  # seconds
# Refusals up to this share count as background until a probe measures it: a probe (half the
# pace for dozens of requests) costs a small run more than the retries of a few 429s.
BACKGROUND_PRIOR = 0.05
# A run's first seconds: more refused than any background share (MAX_BACKGROUND) of the last
# RECENT requests sent, or half of a lump of EARLY_EVIDENCE or more sent within LUMP_SPAN, is
# a limit, not something to wait and see about.
EARLY_EVIDENCE = 20
LUMP_SPAN = 1.0  # seconds
RECENT = 50  # answers the excess of refusals is judged on
KEPT = 400  # answers kept, by when they were sent, for the share before a slow-down


class RateControl:
    """The pace of one provider: not thread-safe (the Pacer holds a lock around it)."""

    def __init__(self, window: float, now: float) -> None:
        self.window = window  # the providers' rate-limit window (RATE_LIMIT_WINDOW)
        self.pace = Pace("free", now)
        self.cohort: Cohort | None = None
        self.last_cut = -math.inf
        self.verdicts: list[str] = []  # what was concluded, in order, for the run's log
        self._cuts_in_a_row = 0
        self._clean = 0  # answers in a row, sent after the last cut, none refused
        self._background = 0.0
        self._background_at = now
        self._first_sent: float | None = None
        self._sends = Sends(window)  # when requests went out, and which were refused
        # (sent at, refused, a retry?)
        self._answers: deque[tuple[float, bool, bool]] = deque(maxlen=KEPT)

    def rate(self, now: float) -> float:
        """The pace now, requests per second."""
        if self.pace.mode != "free":
            return self.pace.rate(now)
        started, known = self._started(now), self._sends.known(now)
        span = min(max(known - started, 0.25), 1.0)
        accepted = self._sends.accepted(known - span, known) / span
        return min(max(START_RATE, FREE_HEADROOM * accepted), MAX_RATE)

    def restart(self, now: float) -> None:
        """The run's slow start begins now (the Pacer holds all but one request back until
        the provider first answers)."""
        self._first_sent = now
        if self.pace.mode == "free":
            self.pace = Pace("free", now)

    def on_sent(self, now: float, retry: bool = False) -> None:
        """A request went out (`retry`: an earlier attempt of it failed)."""
        self._sends.on_sent(now)
        if self.cohort is None:
            # The window's past goes as requests go: a run never refused kept every send time
            # (32 bytes a request all run long: 23,757 more in 27 minutes of a 20,000 run,
            # tracemalloc, our simulators). Outside a probe's cohort every read of older ones
            # comes after a refusal's own trim, so nothing read changes; a cohort may read
            # back to its start, so its sends stay until it is judged.
            self._sends.trim(now)
        if self._first_sent is None:
            self._first_sent = now
        cohort = self.cohort
        if cohort is not None and cohort.last_sent is None and not retry:
            cohort.sent, cohort.last_first = cohort.sent + 1, now
            if cohort.sent >= cohort.size:
                cohort.last_sent = now

    def on_answer(self, now: float, sent_at: float, refused: bool, retry: bool = False) -> None:
        """The request sent at `sent_at` was answered: refused (429) or not."""
        self._sends.on_answer(now, sent_at, refused)
        self._answers.append((sent_at, refused, retry))
        if sent_at < self.last_cut:
            return  # sent before the last cut, which answered it already
        self._clean = 0 if refused else self._clean + 1
        if self._clean >= TEST_COHORT:
            self._cuts_in_a_row = 0
        cohort = self.cohort
        if cohort is not None:
            if not retry and (cohort.last_sent is None or sent_at <= cohort.last_sent):
                cohort.answered += 1
                cohort.refused += refused
            self._follow(now, cohort)
        elif refused and self._excess(now):
            sparse, limited = self._sparse(now), self.pace.mode == "limited"
            if not sparse:
                # Half refused: a limit, plainly, and binding since the last cut, so what it
                # accepted since then is its rate (a full window: its share over the window).
                rate = max(self._binding(now), self._sends.over_window(now))
                if self.pace.mode == "free":
                    self._first_limit(now, plateau=rate)
                else:
                    self._cut(now, rate, dense=True)
                self._cuts_in_a_row = 0
            elif limited and self._cuts_in_a_row < CUTS_BEFORE_PROBE:
                # Refused again right after a cut: the limit has bound since that cut, and
                # what it accepted meanwhile is its rate (no burst allowance left in it).
                again = self._cuts_in_a_row and now - self.last_cut >= 1.0
                self._cut(now, self._binding(now) if again else self._accepted(now))
            elif limited or now - self._started(now) >= FIRST_PROBE_AFTER:
                self._probe(now)
            elif self._plainly_limited(now):
                # A run's first seconds, and refused like no background share is: the first
                # limit, as when half is refused (waiting 5 s for the probe, a 20/s bucket
                # refused 42-97 of a 240-request run on our fake clock, 28-80 live). The pace
                # grows back towards what was accepted lately (with the window's share, the
                # plateau was lower: Tavily's 1,000/min bucket used to 89-90%, not 91-95%).
                self._first_limit(now, max(self._binding(now), self._accepted(now)))
            # (Other sparse refusals in a run's first seconds wait: a probe of a pace that is
            # still ramping up would take long and compare little.)

    def on_failed(self, now: float, sent_at: float, retry: bool = False) -> None:
        """The request sent at `sent_at` failed otherwise (5xx, timeout): no push-back on
        the pace, but a cohort stops waiting for it."""
        self._answers.append((sent_at, False, retry))  # past the limiter: not refused
        cohort = self.cohort
        if cohort is not None and sent_at >= cohort.since and not retry:
            if cohort.last_sent is None or sent_at <= cohort.last_sent:
                cohort.failed += 1
                self._follow(now, cohort)

    def _follow(self, now: float, cohort: Cohort) -> None:
        """Judge the probe once its cohort's answers are in (or half of it was refused)."""
        if cohort.refused >= DENSE * cohort.size:
            # Still far over: what the provider accepted since the probe is its rate (a
            # full window accepts nothing for a while: then its share over the window).
            self.cohort = None
            self.pace = cohort.before
            self._cut(now, max(self._binding(now), self._sends.over_window(now)), dense=True)
            return
        complete = cohort.last_sent is not None and cohort.answered + cohort.failed >= cohort.sent
        quiet = now - max(cohort.last_first, cohort.since)
        if cohort.last_sent is None and quiet >= max(STARVED, 3 / self.pace.rate(now)):
            # No first attempts left to send (the run's last companies are all retrying):
            # the cohort is what went out so far.
            cohort.last_sent, cohort.starved = max(cohort.last_first, cohort.since), True
            complete = cohort.answered + cohort.failed >= cohort.sent
        late = cohort.last_sent is not None and now - cohort.last_sent >= TEST_TIMEOUT
        if complete and cohort.answered < MIN_EVIDENCE:
            # Mostly failures (5xx, timeouts): they say nothing either way.
            if cohort.sent < 3 * MAX_COHORT and not cohort.starved:
                cohort.size, cohort.last_sent = cohort.sent + TEST_COHORT, None
            else:  # an outage, not a pace to find (or nothing left to tell it by)
                self.cohort, self.pace = None, cohort.before
                self._new_cut(now)
        elif complete or (late and cohort.answered >= MIN_EVIDENCE):
            self._judge(now, cohort)

    def _judge(self, now: float, cohort: Cohort) -> None:
        """Limit or sporadic? Judged against the refused share before the probe."""
        self.cohort = None
        # A 5xx or a timeout got past the limiter: not refused (as in Sends.accepted). Left
        # out, a provider failing most requests otherwise makes its few 429s look dense.
        n, k = max(cohort.answered + cohort.failed, 1), cohort.refused
        k0, n0 = self._count_before(cohort.since)
        before = _share(k0, n0)
        # Both counts are samples: a share a little under a rough one is not fewer (Fisher).
        fewer = before is not None and (
            k == 0 or (k < before * n and fewer_chance(k, n, k0, n0) < PLAUSIBLE)
        )
        if fewer and cohort.size < MAX_COHORT and not cohort.starved:
            # Fewer refused, by a short cohort: look at more before calling it a limit (our
            # every-fault test's LLM met none in 20 after 6 in the 20 before; 2 in 13 is true).
            cohort.size, cohort.last_sent = MAX_COHORT, None
            self.cohort = cohort
        elif k == 0 and before is not None and binomial_cdf(0, n, before) >= PLAUSIBLE:
            self._learn_background(now, before / 2)  # still none: as you were
            self.pace = cohort.before
            self._new_cut(now)
        elif k == 0:
            # Refusals stopped at half the speed: a limit. Just under what it accepted, with
            # the plateau at what was sent before the probe (the limit lies in between).
            low = max(BETA * cohort.accepted, MIN_RATE)
            self.pace = Pace("limited", now, max(cohort.sending, low), low)
            self._new_cut(now)
            self._verdict(f"rate limit: pacing at about {low * 60:.0f} requests/min")
        elif before is None and k < DENSE * n:
            # Nothing to compare with yet (the run just began): halve again, and compare the
            # next cohort with this one.
            self._probe(now, cohort.before)
        elif before is not None and k > MAX_BACKGROUND * n and k >= before * n:
            # More refused at half the speed, and many: no limit behaves so. Look again, at
            # the same pace, comparing with this cohort.
            self.cohort = Cohort(now, cohort.before, cohort.accepted, cohort.sending, cohort.size)
            self._new_cut(now)
        elif before is not None and k <= MAX_BACKGROUND * n and not fewer:
            # (As many refused at half the speed, or more: whatever it is, not the pace.)
            # Half the speed, no fewer refused: not about the pace. Sporadic: back to the
            # free pace (a limit, if there is one as well, shows up again).
            self._learn_background(now, (k + before * n) / (2 * n))
            self.pace = Pace("free", now)
            self._cuts_in_a_row = 0
            self._new_cut(now)
            self._verdict(f"sporadic 429s (~{k / n:.0%} of requests): retried, pace kept")
        else:
            # Refusals fell at half the speed: a limit, and over it before the probe.
            self.pace = cohort.before
            self._cut(now, cohort.accepted)

    def _excess(self, now: float) -> bool:
        """More refusals since the last cut than the background share explains.

        Out of the requests sent since the cut (the last RECENT of them), not out of the
        answers: 429s come back at once and other answers after seconds, so the first answers
        after a cut are mostly refusals whatever the share.
        """
        self._sends.trim(now)
        n, k = self._sends.read(self._recent_since(self._sends.known(now)), now)
        if n < MIN_EVIDENCE:
            return False  # too few requests to tell anything by
        # Once a limit is known, a background share does not excuse refusals: two runs sharing
        # a key see each other's refusals as sporadic, and a run that let them pass would keep
        # more than its share. (Sporadic ones then cut a little, and soon call for a probe.)
        p = 0.0 if self.pace.mode == "limited" else self._background_now(now)
        return k > n * p + 3 * math.sqrt(n * p * (1 - p)) + (1 if p > 0 else 0)

    def _recent_since(self, until: float = math.inf) -> float:
        """When the last RECENT requests sent before `until` began going out, or the last cut
        if later."""
        return max(self.last_cut, self._sends.nth_last(RECENT, until))

    def _plainly_limited(self, now: float) -> bool:
        """More of the last RECENT requests refused than any background share (sporadic 429s
        of 5-20% stay well under it), or half of a lump of them sent within LUMP_SPAN (a
        bucket's refill is spent at once, while the answers of the last second stay out)."""
        known = self._sends.known(now)
        n, k = self._sends.read(self._recent_since(known), now)
        if n >= EARLY_EVIDENCE and k > MAX_BACKGROUND * n:
            return True
        n, k = self._sends.read(max(self.last_cut, known - LUMP_SPAN), now)
        return n >= EARLY_EVIDENCE and k >= DENSE * n

    def _sparse(self, now: float) -> bool:
        """Under half of what was sent since the last cut was refused (more is a full window
        or an outage)."""
        n, k = self._sends.read(self.last_cut, now)
        if n < DENSE_EVIDENCE and self.pace.mode == "free":
            return True  # too few to call it half (a 20% share refuses 3 of 5 now and then)
        return k < DENSE * n

    def _first_limit(self, now: float, plateau: float) -> None:
        """The first limit: a token bucket's burst inflates what was accepted, so pace under
        what it accepted since its first 429, and grow back towards `plateau` (the rate with
        the burst: another run on the key may have taken it)."""
        self._cut(
            now,
            self._sends.rate_since_refused(now, self._started(now)),
            dense=True,
            plateau=plateau,
        )

    def _probe(self, now: float, before: Pace | None = None) -> None:
        """Halve the pace and watch the next cohort: does slowing down stop the refusals?"""
        before = before or self.pace
        sending = self._sends.send_rate(now, self._started(now))
        accepted = min(self._accepted(now), sending)
        low = max(PROBE_BETA * accepted, MIN_RATE)
        self.pace = Pace("probe", now, low, low)
        # Enough requests that, were the refusals sporadic at the share seen so far, none of
        # them refused would be a 1-in-20 chance.
        share = self._share_before(now) or 0.0
        size = min(MAX_COHORT, max(TEST_COHORT, math.ceil(3 / max(share, 1e-9))))
        self.cohort = Cohort(now, before, accepted, sending, size)
        self._new_cut(now)

    def _cut(
        self, now: float, accepted: float, dense: bool = False, plateau: float | None = None
    ) -> None:
        """Pace just under what the provider accepts, or under the pace if lower (a bucket's
        burst inflates a short look at the accepted rate); when half is refused, under the
        accepted rate alone (cutting from the pace would ratchet it to nothing)."""
        limited = self.pace.mode == "limited"
        rate = accepted if dense or not limited else min(accepted, self.pace.rate(now))
        low = max(MIN_RATE, BETA * rate)
        # A plateau well under the last one: give up a little more (CUBIC's fast
        # convergence), so that another run sharing the key gets its share.
        last = self.pace.w_max if limited else math.inf
        w_max = accepted if accepted >= YIELD_BELOW * last else accepted * YIELD
        if plateau is not None:
            w_max = max(w_max, plateau)
        self.pace = Pace("limited", now, max(w_max, low), low)
        self._cuts_in_a_row += 1
        self._new_cut(now)

    def _new_cut(self, now: float) -> None:
        self.last_cut = now
        self._clean = 0

    def _share_before(self, since: float) -> float | None:
        """The refused share of the last MAX_COHORT first attempts sent before `since`."""
        return _share(*self._count_before(since))

    def _count_before(self, since: float) -> tuple[int, int]:
        """(refused, answered or failed) of the last MAX_COHORT first attempts sent before
        `since`: the refusals that set the probe off end them, and among fewer requests they
        make the share look high (our every-fault test's LLM: 6 of the last 20, not 2 in 13)."""
        before = sorted(
            (at, refused) for at, refused, retry in self._answers if at < since and not retry
        )
        before = before[-MAX_COHORT:]
        return sum(refused for _, refused in before), len(before)

    def _binding(self, now: float) -> float:
        """Accepted per second since the last cut (2 s at least): a limit's binding rate."""
        return self._sends.binding_rate(now, self.last_cut, self._started(now))

    def _accepted(self, now: float) -> float:
        """Accepted per second lately, or over the window if more."""
        return self._sends.accepted_rate(now, self._started(now))

    def _started(self, now: float) -> float:
        """When the run sent its first request (now, if it has sent none)."""
        return self._first_sent if self._first_sent is not None else now

    def _learn_background(self, now: float, share: float) -> None:
        self._background = max(self._background_now(now), share)
        self._background_at = now

    def _background_now(self, now: float) -> float:
        learned = self._background * 0.5 ** ((now - self._background_at) / BACKGROUND_HALF_LIFE)
        return max(learned, BACKGROUND_PRIOR)

    def _verdict(self, text: str) -> None:
        if not self.verdicts or self.verdicts[-1] != text:
            self.verdicts.append(text)


def _share(refused: int, n: int) -> float | None:
    """A refused share, or None when it rests on too few requests to tell anything by."""
    return None if n < TEST_COHORT // 2 else refused / n
