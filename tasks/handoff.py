"""Each company's search, handed from a chunk's search task to its classification task the
moment it ends, so no company waits for the slowest search of its chunk.

A chunk's two task runs start together (threads only: on Dask they run in other processes, and
the classification is submitted once the chunk's searches have ended). Each company's thread
in the classification waits for its own search; one that hangs or waits out retries holds up
that company alone, not the forty-nine others.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from tasks.search import SearchChunkOutcome, SearchedCompany, SearchFeed
from tasks.slots import QUEUED_LOOK_SECONDS, StopSignal

# One company's thread at a time watches the stop signal, this often, while searches run; the
# others sleep until their search ends or the watcher hands the watch on (as its search ends,
# or as it stops), looking by themselves only every tasks.slots.QUEUED_LOOK_SECONDS.
WAIT_STEP = 0.5


class Handoff:
    """The searches of one chunk's companies, each ready for classification as it ends."""

    def __init__(self, keys: Iterable[str], forward: SearchFeed | None = None):
        self._wake = {key: threading.Event() for key in keys}
        self._ended: set[str] = set()
        self._searched: dict[str, SearchedCompany] = {}
        self._forward = forward  # the flow stores each paid-for search as it comes
        self._lock = threading.Lock()
        self._waiting: set[str] = set()
        self._watcher: str | None = None

    def put(self, item: SearchedCompany) -> None:
        """A company's search ended (pages, or why it failed): its classification may start."""
        self._searched[item.company_key] = item
        if self._forward is not None:
            self._forward.put(item)
        self._end(item.company_key)

    def close(self, ended: SearchChunkOutcome) -> None:
        """The search task ended: companies not handed over yet take what it says of them
        (a task that broke says every search failed), and the rest were never searched."""
        for key in self._wake:
            if key in self._ended:
                continue
            if key in ended.outcomes:
                self._searched[key] = SearchedCompany(key, ended.outcomes[key])
            elif key in ended.errors:
                self._searched[key] = SearchedCompany(key, error=ended.errors[key])
            self._end(key)

    def _end(self, key: str) -> None:
        with self._lock:
            self._ended.add(key)
        self._wake[key].set()

    def wait(self, key: str, stop: StopSignal) -> SearchedCompany | bool:
        """The company's search once it has ended; True if it needed none (its search was
        read from the cache); False if it never will be searched (never sent, or stopping)."""
        wake = self._wake.get(key)
        if wake is None:
            return True
        try:
            while True:
                stopping = stop.is_set()
                with self._lock:
                    if key in self._ended:
                        break
                    if not stopping:
                        self._waiting.add(key)
                        self._watcher = self._watcher or key
                        watching = self._watcher == key
                        wake.clear()  # under the lock: an end after the look above still wakes
                if stopping:
                    return False
                wake.wait(WAIT_STEP if watching else QUEUED_LOOK_SECONDS)
        finally:
            with self._lock:
                self._waiting.discard(key)
                if self._watcher == key:
                    self._watcher = None
                if self._watcher is None and self._waiting:  # hand the watch on
                    self._wake[next(iter(self._waiting))].set()
        # Handed on, not kept: the chunk stays open for its slowest company, and its pages
        # (about 100 KB a company) would stay with it.
        return self._searched.pop(key, False)
