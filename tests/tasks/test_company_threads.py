"""The threads a chunk's companies run in: every company at once, in the task's context, threads
kept for the next chunk, and an error raised only once the other companies are done."""

import threading
import time

import pytest

from tasks.slots import map_in_threads, priority, slot_priority


def company_threads() -> set[int]:
    return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("company")}


def test_every_company_runs_at_once_in_the_tasks_context():
    together = threading.Barrier(60, timeout=10)  # would break if any company waited its turn

    def work(n: int) -> tuple[int, int]:
        together.wait()
        return n, slot_priority.get()

    with priority(7):
        assert map_in_threads(work, list(range(60))) == [(n, 7) for n in range(60)]


def test_the_next_chunk_runs_in_the_threads_the_last_one_left():
    map_in_threads(lambda n: time.sleep(0.01), list(range(30)))
    kept = company_threads()
    used: set[int] = set()
    map_in_threads(lambda n: used.add(threading.get_ident()), list(range(30)))
    assert used and used <= kept and company_threads() == kept


def test_an_error_is_raised_once_the_other_companies_are_done():
    done = []

    def work(n: int) -> None:
        if n == 0:
            raise ValueError("company 0 failed")
        time.sleep(0.2)
        done.append(n)

    with pytest.raises(ValueError, match="company 0 failed"):
        map_in_threads(work, [0, 1, 2])
    assert sorted(done) == [1, 2]
