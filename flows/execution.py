"""Where a run's tasks execute: threads of the flow process (default) or a Dask cluster.

Both give the scheduler the same four things: a way to submit a task, request slots for each
provider, and the run's stop signals. With threads, the slots are `SlotPool`s (shared with
other runs through Prefect when there is a server); on Dask they are `distributed`
semaphores and the stop signal is a `distributed.Event`, because tasks run in other
processes. Either way DuckDB is written by the flow process alone.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect import Task, get_run_logger
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from domain.models import CompanyResult
from flows.limits import SlotPool
from flows.settings import Settings
from tasks.search import SearchedCompany
from tasks.slots import EitherStop, Slots, StopSignal

# Prefect global concurrency limits shared by every run on one server (thread runner).
TAVILY_LIMIT = "territory-tavily"
LLM_LIMIT = "territory-llm"
# Chunk tasks one Dask worker runs at once; each chunk runs its companies in its own threads.
DASK_TASKS_PER_WORKER = 8


@dataclass
class Execution:
    """What the scheduler needs from the place tasks run."""

    submit: Callable[..., PrefectFuture[Any]]  # submit(task, **parameters)
    search_slots: Slots
    llm_slots: Slots
    stop: StopSignal  # everything stops
    search_stop: StopSignal  # searching stops (Tavily failed for good)
    # Results handed over as each company finishes (threads only: Dask workers are other
    # processes, their results come with their chunk).
    results: queue.Queue[CompanyResult] | None = None
    # Searches handed over as each company's ends (threads only, like `results`).
    searches: queue.Queue[SearchedCompany] | None = None


@contextmanager
def open_execution(settings: Settings) -> Iterator[Execution]:
    """Set up the run's task execution; everything it borrowed is returned on exit."""
    if settings.task_runner == "dask":
        with _dask_execution(settings) as execution:
            yield execution
        return
    shared = settings.limits_are_shared()
    warn = get_run_logger().warning  # a long wait for other runs' slots is said, not silent
    search_slots = SlotPool(
        settings.effective_tavily_concurrency, TAVILY_LIMIT if shared else None, warn
    )
    llm_slots = SlotPool(settings.effective_llm_concurrency, LLM_LIMIT if shared else None, warn)
    stop = threading.Event()
    try:
        yield Execution(
            lambda task, **parameters: task.submit(**parameters),
            search_slots,
            llm_slots,
            stop,
            EitherStop(threading.Event(), stop),
            queue.Queue(),
            queue.Queue(),
        )
    finally:
        search_slots.close()
        llm_slots.close()


@contextmanager
def _dask_execution(settings: Settings) -> Iterator[Execution]:
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        runner = DaskTaskRunner(address=settings.dask_address)
    else:
        runner = DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": settings.dask_workers,
                "threads_per_worker": DASK_TASKS_PER_WORKER,
                "processes": True,
                "dashboard_address": ":0",  # any free port: never "8787 is already in use"
            },
        )
    with runner:
        client = runner.client  # starts the cluster now: semaphores and events need it
        # Names are per run: two runs on one cluster do not share (or leak into) each other.
        run = uuid.uuid4().hex[:12]
        stop = DaskStop(f"territory-stop-{run}", client)

        def submit(task: Task[..., Any], **parameters: Any) -> PrefectFuture[Any]:
            # The Dask path does not unwrap `quote` (the thread path does): pass plain values.
            plain = {k: v.unwrap() if isinstance(v, quote) else v for k, v in parameters.items()}
            return runner.submit(task, plain)

        yield Execution(
            submit,
            DaskSlots(f"territory-tavily-{run}", settings.effective_tavily_concurrency, client),
            DaskSlots(f"territory-llm-{run}", settings.effective_llm_concurrency, client),
            stop,
            EitherStop(DaskStop(f"territory-search-stop-{run}", client), stop),
        )


class DaskSlots:
    """Slots shared by every worker process of a Dask cluster (a `distributed.Semaphore`)."""

    def __init__(self, name: str, limit: int, client: Any = None) -> None:
        from distributed import Semaphore

        self.name, self.limit = name, limit
        # In the flow process it binds to the runner's client; unpickled on a worker it binds
        # late, to that worker (tasks run their threads in the worker's context for this).
        rpc, loop = (client.scheduler, client.loop) if client else (None, None)
        self._semaphore = Semaphore(limit, name, scheduler_rpc=rpc, loop=loop)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DaskSlots, (self.name, self.limit))

    def acquire(self, stop: StopSignal | None = None) -> bool:
        """Wait for a slot; False if `stop` was set while waiting."""
        while not self._semaphore.acquire(timeout=0.5):
            if stop is not None and stop.is_set():
                return False
        return True

    def release(self) -> None:
        """Give the slot back."""
        self._semaphore.release()


class DaskStop:
    """A stop signal every worker process sees (a `distributed.Event`)."""

    def __init__(self, name: str, client: Any = None) -> None:
        from distributed import Event

        self.name = name
        self._event = Event(name, client=client)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DaskStop, (self.name,))

    def is_set(self) -> bool:
        """True once the run is stopping."""
        return self._event.is_set()

    def set(self) -> None:
        """Tell every task of the run to stop."""
        self._event.set()


class PrefectTaskRun:
    """A submitted Prefect task run, as the scheduler sees it (`flows.pipeline.TaskRun`)."""

    def __init__(self, future: PrefectFuture[Any]) -> None:
        self.future = future

    def add_done_callback(self, fn: Callable[[PrefectTaskRun], None]) -> None:
        """Call `fn(self)` once the task run has ended."""
        self.future.add_done_callback(lambda _: fn(self))

    def outcome(self) -> tuple[Any, BaseException | None]:
        """(its return value, None), or (None, why it failed) if the task itself broke."""
        self.future.wait()  # already done; this loads its final state from memory, not the API
        try:
            if self.future.state.is_completed():
                return self.future.result(), None
            return None, failure_of(self.future)
        finally:
            forget_result(self.future)


def forget_result(future: PrefectFuture[Any]) -> None:
    """Let go of a task's result once it is stored.

    Prefect links every task result to its state for the whole flow run (to track data passed
    between tasks); for a search chunk that is megabytes of raw pages. Nothing downstream needs
    the link: the scheduler hands results on itself.
    """
    context = FlowRunContext.get()
    if context is not None:
        forget_run_results(context.run_results, future.task_run_id)


def forget_run_results(run_results: dict[int, Any], task_run_id: uuid.UUID) -> None:
    """Drop a task run's entries from a flow run's `run_results`. Task threads add entries
    while this runs: it reads a copy (made in one step under the GIL), never the live dict,
    which broke a 100,000-company run with "dictionary changed size during iteration"."""
    stale = [
        key
        for key, (state, *_) in run_results.copy().items()
        if state.state_details.task_run_id == task_run_id
    ]
    for key in stale:
        run_results.pop(key, None)


def failure_of(future: PrefectFuture[Any]) -> BaseException:
    """The exception a failed task run raised (or a stand-in naming its state)."""
    try:
        value = future.state.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read back
        return exc
    if isinstance(value, BaseException):
        return value
    return RuntimeError(f"task ended in state {future.state.name}")
