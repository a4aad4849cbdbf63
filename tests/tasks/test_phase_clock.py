"""The clock that charges thread CPU to a run's phases, and how its totals are said."""

import threading
import time

import pytest

from tasks.phase_clock import PHASES, PhaseClock, cpu_ms, describe, per_company


def spin(seconds: float) -> None:
    """Burn CPU in this thread for about `seconds`."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_each_thread_is_charged_its_own_cpu_and_not_its_waiting():
    clock = PhaseClock()

    def work() -> None:
        with clock.timing("trim"):
            spin(0.02)
        with clock.timing("classify"):
            time.sleep(0.05)  # waiting for an answer costs no CPU

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = clock.seconds()
    assert list(seconds) == list(PHASES)
    assert 0.08 <= seconds["trim"] < 0.2  # four threads' 20 ms each, added up
    assert seconds["classify"] < 0.01 and seconds["search"] == 0


def test_a_block_that_raises_is_charged_too_and_unknown_phases_are_refused():
    clock = PhaseClock()
    with pytest.raises(RuntimeError), clock.timing("evidence"):
        spin(0.005)
        raise RuntimeError("bad answer")
    assert clock.seconds(("evidence",))["evidence"] >= 0.005
    clock.add_all({"search": 0.25, "store": 0.5})
    assert clock.seconds(("search", "store")) == {"search": 0.25, "store": 0.5}
    with pytest.raises(ValueError, match="unknown phase 'network'"):
        clock.add_all({"network": 1.0})


def test_the_run_totals_are_milliseconds_by_phase_and_said_per_company():
    totals = cpu_ms({"search": 0.5, "trim": 1.0, "classify": 2.0, "evidence": 0.25}, 100)
    assert totals == {"search": 500.0, "trim": 1000.0, "classify": 2000.0, "evidence": 250.0,
                      "store": 0.0, "other": 0.0, "companies": 100}  # fmt: skip
    assert describe(totals) == (
        "search 5.0 ms, trim 10.0 ms, classify 20.0 ms, evidence 2.5 ms, store 0.0 ms, other 0.0 ms"
    )
    assert per_company(cpu_ms({"search": 1.0}, 0)) == {} and describe({}) == ""
