"""A chunk's searches handed to its classification: each company's thread waits for its own
search, and one thread at a time watches the run's stop signal for all of them."""

import threading
import time

from tasks import handoff as handoff_module
from tasks.handoff import Handoff
from tasks.search import SearchChunkOutcome, SearchedCompany
from tasks.slots import QUEUED_LOOK_SECONDS

KEYS = [f"k{i}" for i in range(8)]


class CountedEvent(threading.Event):
    """An event that counts how often a thread went to sleep on it."""

    waits = 0

    def wait(self, timeout=None):
        CountedEvent.waits += 1
        return super().wait(timeout)


def waiting(handoff, stop, keys=KEYS):
    """A thread per company waiting for its search; their answers by company."""
    answers: dict[str, object] = {}
    threads = [
        threading.Thread(target=lambda k=k: answers.__setitem__(k, handoff.wait(k, stop)))
        for k in keys
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(handoff._waiting) < len(keys) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(handoff._waiting) == len(keys)
    return threads, answers


def joined_within(threads, seconds):
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


def test_each_company_gets_its_own_search_as_it_ends_and_the_rest_what_the_task_said():
    handoff, stop = Handoff(KEYS), threading.Event()
    threads, answers = waiting(handoff, stop)
    handoff.put(SearchedCompany("k3", error="HTTP 432"))
    assert joined_within(threads[3:4], 2) and answers == {
        "k3": SearchedCompany("k3", error="HTTP 432")
    }
    handoff.close(SearchChunkOutcome(0, errors={"k0": "timed out"}))
    assert joined_within(threads, 2)
    assert answers["k0"] == SearchedCompany("k0", error="timed out")
    assert [answers[k] for k in KEYS if k not in ("k0", "k3")] == [False] * 6  # never searched
    assert handoff.wait("cached", stop) is True


def test_a_search_that_ended_is_taken_though_the_run_is_stopping():
    handoff, stop = Handoff(["k0"]), threading.Event()
    handoff.put(SearchedCompany("k0", error="HTTP 500"))
    stop.set()
    assert handoff.wait("k0", stop) == SearchedCompany("k0", error="HTTP 500")


def test_a_stop_reaches_every_waiting_company_at_the_watchers_pace():
    handoff, stop = Handoff(KEYS), threading.Event()
    threads, answers = waiting(handoff, stop)
    stop.set()
    assert joined_within(threads, handoff_module.WAIT_STEP + 1.0)
    assert answers == dict.fromkeys(KEYS, False)
    assert QUEUED_LOOK_SECONDS > handoff_module.WAIT_STEP + 1.0


def test_the_watch_goes_on_when_the_watchers_search_ends():
    handoff, stop = Handoff(KEYS), threading.Event()
    threads, answers = waiting(handoff, stop)
    for _ in KEYS[:-1]:  # whoever watches, its search ends, until one company is left
        watcher = handoff._watcher
        assert watcher is not None
        handoff.put(SearchedCompany(watcher, error="HTTP 500"))
        deadline = time.monotonic() + 2
        while handoff._watcher in (None, watcher) and time.monotonic() < deadline:
            time.sleep(0.01)
    stop.set()
    assert joined_within(threads, handoff_module.WAIT_STEP + 1.0)
    assert len(answers) == 8 and list(answers.values()).count(False) == 1


def test_only_the_watcher_looks_at_the_stop_signal_while_searches_run():
    handoff, stop = Handoff(KEYS), threading.Event()
    handoff._wake = {key: CountedEvent() for key in KEYS}
    threads, answers = waiting(handoff, stop)
    time.sleep(4 * handoff_module.WAIT_STEP)  # eight threads looking would look 32 times
    assert len(KEYS) <= CountedEvent.waits <= len(KEYS) + 5
    handoff.close(SearchChunkOutcome(0))
    assert joined_within(threads, 2) and answers == dict.fromkeys(KEYS, False)
