"""What the rate control counts as known: a busy client reads its 429s late."""

from __future__ import annotations

import pytest

from tasks.rate_counts import Sends


def sends_every_tenth_of_a_second(until: float) -> Sends:
    sends = Sends(window=60.0)
    t = 0.0
    while t < until:
        sends.on_sent(round(t, 1))
        t += 0.1
    return sends


def test_before_any_answer_everything_sent_counts_as_accepted():
    sends = sends_every_tenth_of_a_second(2.0)
    assert sends.known(2.0) == 2.0
    assert sends.accepted(0.0, sends.known(2.0)) == 20


def test_before_the_first_429_what_is_known_lags_the_quickest_answer():
    sends = sends_every_tenth_of_a_second(2.0)
    sends.on_answer(1.5, sent_at=0.0, refused=False)  # 1.5 s: the quickest yet
    sends.on_answer(1.9, sent_at=0.1, refused=False)  # slower: changes nothing
    assert sends.known(2.0) == 0.5
    assert sends.accepted(0.0, sends.known(2.0)) == 5  # sent at 0.0-0.4


def test_429s_read_late_set_what_is_known_and_count_at_once():
    sends = sends_every_tenth_of_a_second(3.0)
    sends.on_answer(1.0, sent_at=0.1, refused=False)
    # Refusals read 1 s after their requests went: the requests of the last second are
    # not known to be accepted, but the refusals already read count.
    for sent_at in (1.0, 1.1, 1.2, 1.9):
        sends.on_answer(sent_at + 1.0, sent_at=sent_at, refused=True)
    assert sends.known(3.0) == 2.0
    answered, refused = sends.read(1.0, now=3.0)
    assert (answered, refused) == (10 + 0, 4)  # 1.0-1.9 sent and known; none refused later
    sends.on_answer(2.95, sent_at=2.5, refused=True)  # read quicker than the others
    assert sends.read(1.0, now=3.0) == (11, 5)
    assert sends.accepted(1.0, sends.known(3.0)) == 6


def test_rates_leave_out_what_is_not_known_yet():
    sends = sends_every_tenth_of_a_second(4.0)  # 10/s
    # Every other request from 1.0 s on refused, each 429 read 0.5 s later: by 4.0 s, those
    # sent up to 3.4 s.
    for i in range(10, 35, 2):
        sends.on_answer(i / 10 + 0.5, sent_at=i / 10, refused=True)
    # Known up to 3.5 s: 12 of the 25 sent from 1.0 s accepted (the requests of the last half
    # second, their 429s not read yet, counted as accepted made it 17 of 30 from 1.0 s).
    assert sends.rate_since_refused(4.0, started=0.0) == pytest.approx(12 / 2.5)
    # The last 30 known (0.5-3.4 s, the first half second before any refusal): 17 in 3 s.
    assert sends.accepted_rate(4.0, started=0.0) == pytest.approx(17 / 3.0)
