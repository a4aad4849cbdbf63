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
from tasks.slots import StopSignal

WAIT_STEP = 0.5  # seconds between looks at the stop signal while a search runs


class Handoff:
    """The searches of one chunk's companies, each ready for classification as it ends."""

    def __init__(self, keys: Iterable[str], forward: SearchFeed | None = None):
        self._ready = {key: threading.Event() for key in keys}
        self._searched: dict[str, SearchedCompany] = {}
        self._forward = forward  # the flow stores each paid-for search as it comes

    def put(self, item: SearchedCompany) -> None:
        """A company's search ended (pages, or why it failed): its classification may start."""
        self._searched[item.company_key] = item
        if self._forward is not None:
            self._forward.put(item)
        self._ready[item.company_key].set()

    def close(self, ended: SearchChunkOutcome) -> None:
        """The search task ended: companies not handed over yet take what it says of them
        (a task that broke says every search failed), and the rest were never searched."""
        for key, event in self._ready.items():
            if event.is_set():
                continue
            if key in ended.outcomes:
                self._searched[key] = SearchedCompany(key, ended.outcomes[key])
            elif key in ended.errors:
                self._searched[key] = SearchedCompany(key, error=ended.errors[key])
            event.set()

    def wait(self, key: str, stop: StopSignal) -> SearchedCompany | bool:
        """The company's search once it has ended; True if it needed none (its search was
        read from the cache); False if it never will be searched (never sent, or stopping)."""
        ready = self._ready.get(key)
        if ready is None:
            return True
        while not ready.wait(WAIT_STEP):
            if stop.is_set():
                return False
        # Handed on, not kept: the chunk stays open for its slowest company, and its pages
        # (about 100 KB a company) would stay with it.
        return self._searched.pop(key, False)
