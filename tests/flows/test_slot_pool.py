"""Provider slots: a local cap, and a cap shared through a Prefect global concurrency limit."""

import threading
import time

import pytest

from flows import limits
from flows.limits import LimitError, SlotPool
from tasks.slots import QUEUED_LOOK_SECONDS, priority


def hammer(pool, workers, hold=0.05, rounds=3):
    """Many threads taking and returning slots; returns the most ever held at once."""
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def work():
        for _ in range(rounds):
            assert pool.acquire()
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(hold)
            with lock:
                state["now"] -= 1
            pool.release()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return state["peak"]


def test_local_pool_caps_holders():
    pool = SlotPool(3)
    assert hammer(pool, 10) == 3
    assert pool.try_acquire() and pool.try_acquire() and pool.try_acquire()
    assert not pool.try_acquire()


def test_acquire_gives_up_when_the_run_stops():
    pool, stop = SlotPool(1), threading.Event()
    assert pool.acquire()
    stop.set()
    assert pool.acquire(stop) is False


def test_waiters_get_slots_first_come_first_served():
    pool, order = SlotPool(1), []
    assert pool.acquire()

    def wait(name):
        assert pool.acquire()
        order.append(name)
        pool.release()

    threads = []
    for name in ("first", "second", "third"):
        threads.append(threading.Thread(target=wait, args=(name,)))
        threads[-1].start()
        time.sleep(0.05)  # queue up in this order
    pool.release()
    for t in threads:
        t.join(timeout=5)
    assert order == ["first", "second", "third"]


def test_the_oldest_chunk_is_served_first_then_arrival_order():
    pool, order = SlotPool(1), []
    assert pool.acquire()

    def wait(name, chunk):
        with priority(chunk):
            assert pool.acquire()
        order.append(name)
        pool.release()

    threads = []
    for name, chunk in (("c2-a", 2), ("c1-a", 1), ("c2-b", 2), ("c0-a", 0), ("c1-b", 1)):
        threads.append(threading.Thread(target=wait, args=(name, chunk)))
        threads[-1].start()
        time.sleep(0.05)  # queue up in this order
    pool.release()
    for t in threads:
        t.join(timeout=5)
    assert order == ["c0-a", "c1-a", "c1-b", "c2-a", "c2-b"]


def test_a_stopped_waiter_leaves_the_queue_without_taking_a_slot():
    pool, stop = SlotPool(1), threading.Event()
    assert pool.acquire()
    result = []
    waiter = threading.Thread(target=lambda: result.append(pool.acquire(stop)))
    waiter.start()
    time.sleep(0.05)
    stop.set()
    waiter.join(timeout=5)
    assert result == [False]
    pool.release()
    assert pool.try_acquire()  # the slot came back; nobody holds a phantom hand-off


def queue_behind_a_held_slot(pool, stop, waiters):
    """`waiters` threads queued for the pool's one slot (held here); their answers."""
    assert pool.acquire()
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda: answers.append(pool.acquire(stop))) for _ in range(waiters)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(pool._waiters) < waiters and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(pool._waiters) == waiters
    return threads, answers


def test_a_stop_reaches_every_queued_waiter_at_the_first_ones_pace():
    pool, stop = SlotPool(1), threading.Event()
    threads, answers = queue_behind_a_held_slot(pool, stop, 8)
    stop.set()
    # The first waiter sees the stop within its poll and wakes the next, and so on: nobody
    # waits out the longer look of a queued waiter.
    deadline = time.monotonic() + limits.HEAD_POLL_SECONDS + 1.0
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert answers == [False] * 8
    assert QUEUED_LOOK_SECONDS > limits.HEAD_POLL_SECONDS + 1.0
    pool.release()
    assert pool.try_acquire()


def test_only_the_first_waiter_polls_and_each_hand_off_wakes_the_next(monkeypatch):
    class CountedEvent(threading.Event):
        waits = 0

        def wait(self, timeout=None):
            CountedEvent.waits += 1
            return super().wait(timeout)

    waiter = limits._Waiter
    monkeypatch.setattr(limits, "_Waiter", lambda: waiter(event=CountedEvent()))
    pool = SlotPool(1)
    threads, answers = queue_behind_a_held_slot(pool, None, 8)
    time.sleep(4 * limits.HEAD_POLL_SECONDS)  # eight polling waiters would look 32 times
    looked = CountedEvent.waits
    assert 8 <= looked <= 8 + 5  # each went to sleep once; only the first looked again
    for _ in range(8):  # each release hands the slot on, and wakes the new first waiter
        pool.release()
    for t in threads:
        t.join(timeout=5)
    assert answers == [True] * 8


def slots_left_held(name: str) -> int:
    """Slots of the server's limit `name` still taken; the limit is deleted after the test."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
        client.delete_global_concurrency_limit_by_name(name)
    return limit.active_slots


@pytest.mark.slow
def test_two_pools_share_one_prefect_limit_and_return_every_slot(prefect_server):
    a, b = SlotPool(4, "test-shared-cap"), SlotPool(4, "test-shared-cap")
    try:
        lock, state = threading.Lock(), {"now": 0, "peak": 0}

        def work(pool):
            for _ in range(4):
                assert pool.acquire()
                with lock:
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                time.sleep(0.1)
                with lock:
                    state["now"] -= 1
                pool.release()

        threads = [threading.Thread(target=work, args=(p,)) for p in (a, b) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert state["peak"] <= 4  # two "runs" of 4 each, one shared cap of 4
    finally:
        a.close()
        b.close()
    assert slots_left_held("test-shared-cap") == 0


@pytest.mark.slow
def test_a_vanished_limit_is_an_error_not_a_free_pass(prefect_server):
    from prefect.client.orchestration import get_client

    pool = SlotPool(2, "test-vanishing")
    try:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name("test-vanishing")
        with pytest.raises(LimitError, match="missing"):
            pool.try_acquire()
    finally:
        pool.close()


@pytest.mark.slow
def test_the_latest_runs_setting_is_the_servers_and_an_inactive_limit_is_refused(prefect_server):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    name = "test-setting"
    with get_client(sync_client=True) as client:
        try:
            for slots in (2, 2, 5):  # made, found as it was, set anew
                SlotPool(slots, name).close()
                limit = client.read_global_concurrency_limit_by_name(name)
                assert (limit.limit, limit.active) == (slots, True)
            # Turned off by hand on the server: a run refuses it rather than run unlimited,
            # whether it asks for the slots the limit has or for others.
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active=False))
            for slots in (5, 3):
                with pytest.raises(LimitError, match=r"is \d+ slots \(inactive\), expected"):
                    SlotPool(slots, name)
            assert client.read_global_concurrency_limit_by_name(name).limit == 3
        finally:
            client.delete_global_concurrency_limit_by_name(name)


@pytest.mark.slow
def test_a_run_starved_by_other_runs_says_it_is_waiting(prefect_server, monkeypatch):

    import flows.limits as limits

    monkeypatch.setattr(limits, "STARVED_WARN_SECONDS", 2.0)
    said: list[str] = []
    holder = SlotPool(2, "test-starved")
    waiter = SlotPool(2, "test-starved", warn=said.append)
    try:
        assert holder.acquire() and holder.acquire()  # another run holds every slot
        got = threading.Event()
        thread = threading.Thread(target=lambda: waiter.acquire() and got.set())
        thread.start()
        deadline = time.monotonic() + 15
        while not said and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not got.is_set()
        assert len(said) == 1, said
        assert "'test-starved'" in said[0] and "other runs hold all of them" in said[0]
        holder.release()
        thread.join(timeout=10)
        assert got.is_set()  # the slot freed by the other run reached the waiter
        time.sleep(3)
        assert len(said) == 1  # said once per wait, not every second
        waiter.release()
        holder.release()
    finally:
        holder.close()
        waiter.close()
    assert slots_left_held("test-starved") == 0
