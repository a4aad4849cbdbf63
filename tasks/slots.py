"""Request slots and the stop signal every provider call goes through."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Protocol, TypeVar

A = TypeVar("A")
R = TypeVar("R")

# A thread queued behind others (for a slot, a turn in a pacer's line, its search) sleeps until
# the one before it wakes it, going or stopping, so one stop reaches them all one after the
# other; it looks at its own stop signal by itself only this often. Hundreds of waiting
# threads each looking 2-4 times a second cost real CPU (the classify phase fell by 1.0-1.3
# ms a company at a provider-bound pace, our simulators).
QUEUED_LOOK_SECONDS = 5.0

# Which chunk the current thread works for: slots go to the lowest first (then by arrival).
slot_priority: contextvars.ContextVar[int] = contextvars.ContextVar("slot_priority", default=0)


@contextmanager
def priority(value: int) -> Iterator[None]:
    """Requests made inside (and in threads started by `map_in_threads`) queue as `value`."""
    token = slot_priority.set(value)
    try:
        yield
    finally:
        slot_priority.reset(token)


class StopSignal(Protocol):
    """Set when the run must stop sending requests (a fatal provider error, Ctrl-C, cancel)."""

    def is_set(self) -> bool:
        """True once the run is stopping."""
        ...

    def set(self) -> None:
        """Tell every task of the run to stop."""
        ...


class Slots(Protocol):
    """Request slots of one provider, shared by every chunk of the run (and other runs)."""

    def acquire(self, stop: StopSignal | None = None) -> bool:
        """Wait for a slot; False if `stop` was set while waiting."""
        ...

    def release(self) -> None:
        """Give the slot back."""
        ...


class Stopped(Exception):
    """The run is stopping: this request was not sent."""


class EitherStop:
    """Stops when either signal is set; setting it sets only the first (its own) signal.

    A run has two: Tavily failing for good stops the searching, while the companies already
    searched still get classified; the LLM failing for good stops everything.
    """

    def __init__(self, own: StopSignal, everything: StopSignal) -> None:
        self.own = own
        self.everything = everything

    def is_set(self) -> bool:
        """True once either signal is set."""
        return self.own.is_set() or self.everything.is_set()

    def set(self) -> None:
        """Set the own signal only."""
        self.own.set()


def map_in_threads(fn: Callable[[A], R], items: list[A], name: str) -> list[R]:
    """`fn` over `items`, each in a thread of its own at once (every company waits in line
    for its slots), sharing the calling task's context.

    The context carries Prefect's task run (so logging works) and, on Dask, the worker the
    task runs on (so distributed semaphores and events can find their scheduler).
    """
    parent = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(lambda item: parent.copy().run(fn, item), items))
