"""Letting go of a stored task result while task threads add theirs to the same flow run."""

import threading
import uuid

from prefect.states import Completed

from flows.execution import forget_run_results


def test_a_result_is_forgotten_while_other_threads_add_theirs():
    # Prefect's task threads add to the flow run's `run_results` at any moment; reading the
    # live dict broke a 100,000-company run ("dictionary changed size during iteration").
    ours, theirs = Completed(), Completed()
    ours.state_details.task_run_id, theirs.state_details.task_run_id = uuid.uuid4(), uuid.uuid4()
    run_results = {i: (theirs, None) for i in range(200_000)}
    run_results |= {-i: (ours, None) for i in range(1, 4)}
    stop, added = threading.Event(), [0]

    def add_results():
        key = 10**9
        while not stop.is_set() and added[0] < 100_000:  # bounded: the dict stays small
            run_results[key] = (theirs, None)
            key, added[0] = key + 1, added[0] + 1

    adder = threading.Thread(target=add_results)
    adder.start()
    try:
        for _ in range(20):
            forget_run_results(run_results, ours.state_details.task_run_id)
    finally:
        stop.set()
        adder.join()
    assert added[0] > 0  # the other thread did add while we read
    assert not any(state is ours for state, _ in run_results.values())
    assert len(run_results) == 200_000 + added[0]
