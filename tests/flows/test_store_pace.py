"""When the writer stores what finished: a batch big enough, or not too long after."""

import pytest

from flows import store_pace
from flows.store_pace import StorePace


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(store_pace.time, "monotonic", lambda: now[0])
    return now


def test_a_store_waits_for_a_batch_or_for_the_longest_wait(clock):
    pace = StorePace.for_chunks(50)  # what a run gets at the default chunk of 50
    assert (pace.every, pace.at_least, pace.wait) == (2, 400, 10)  # 4 chunks' searches, results
    assert StorePace() == pace
    assert not pace.due(0) and not pace.due(399)
    clock[0] += 1.9
    assert not pace.due(400)  # a batch waits for `every` since the last store
    clock[0] += 0.1
    assert pace.due(400) and not pace.due(100)  # a chunk's searches and results are not a batch
    clock[0] += 8
    assert pace.due(1) and not pace.due(0)  # nothing waits longer than `wait`
    pace.stored()
    assert not pace.due(1) and not pace.due(400)
