"""The scheduler inside a territory run: windowed searches, per-chunk classification, no barrier.

Searches are submitted one task run per company, but only as many at a time as
TAVILY_CONCURRENCY allows, and only for the few chunks that are "open". A chunk's
classification is submitted the moment its own searches are done, and a new chunk opens
when one is stored. So the LLM never waits for the whole territory's searches, the thread
pool never queues work behind other work, and raw pages in memory stay bounded by the open
chunks rather than growing with the territory.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.futures import PrefectFuture

from flows.limits import SlotPool
from tasks.accounts import Account
from tasks.classify import ChunkItem, ChunkOutcome, ChunkWork
from tasks.errors import FatalProviderError
from tasks.models import CompanyResult, SearchOutcome


@dataclass
class _OpenChunk:
    index: int
    accounts: list[Account]
    items: list[ChunkItem | None]
    next_to_submit: int = 0
    searches_done: int = 0


@dataclass
class PipelineReport:
    """What the scheduler did: counts, and the reason it stopped early (if it did)."""

    chunks_done: int = 0
    searches_submitted: int = 0
    searches_cached: int = 0
    unprocessed: list[str] = field(default_factory=list)
    fatal: str | None = None


@dataclass
class ChunkScheduler:
    """Drives one run's task submissions; every callback runs in the flow's own thread."""

    chunks: list[list[Account]]
    submit_search: Callable[[Account], PrefectFuture[Any]]
    submit_classify: Callable[[ChunkWork], PrefectFuture[Any]]
    on_searched: Callable[[list[SearchOutcome]], None]
    on_classified: Callable[[ChunkOutcome], None]
    search_slots: SlotPool
    max_open_chunks: int
    stop: threading.Event
    report: PipelineReport = field(default_factory=PipelineReport)

    def run(self) -> PipelineReport:
        """Run every chunk to completion (or until a fatal provider error), then return."""
        done: queue.Queue[PrefectFuture[Any]] = queue.Queue()
        self._pending: dict[PrefectFuture[Any], tuple[str, _OpenChunk, int]] = {}
        self._open: list[_OpenChunk] = []
        self._next_chunk = 0
        self._done = done
        while True:
            self._fill()
            if not self._pending:
                if self.stop.is_set() or not self._work_left():
                    break
                time.sleep(0.2)  # every slot is held by other runs: try again shortly
                continue
            try:
                future = done.get(timeout=0.5)
            except queue.Empty:
                continue  # slots may have been freed by another run
            future.wait()  # already done; this loads its final state from memory, not the API
            kind, chunk, position = self._pending.pop(future)
            if kind == "search":
                self._search_finished(chunk, position, future)
            else:
                self._classify_finished(chunk, future)
        for chunk in self._open:  # only left open when stopping early
            self.report.unprocessed.extend(a.key for a in chunk.accounts)
        self.report.unprocessed.extend(a.key for c in self.chunks[self._next_chunk :] for a in c)
        return self.report

    def _work_left(self) -> bool:
        unsubmitted = any(c.next_to_submit < len(c.accounts) for c in self._open)
        return unsubmitted or self._next_chunk < len(self.chunks)

    def _fill(self) -> None:
        if self.stop.is_set():
            return
        while len(self._open) < self.max_open_chunks and self._next_chunk < len(self.chunks):
            accounts = self.chunks[self._next_chunk]
            self._open.append(_OpenChunk(self._next_chunk, accounts, [None] * len(accounts)))
            self._next_chunk += 1
        for chunk in self._open:
            while chunk.next_to_submit < len(chunk.accounts):
                if not self.search_slots.try_acquire():
                    return
                position = chunk.next_to_submit
                try:
                    future = self.submit_search(chunk.accounts[position])
                except BaseException:
                    self.search_slots.release()
                    raise
                self._track(future, "search", chunk, position)
                chunk.next_to_submit += 1
                self.report.searches_submitted += 1

    def _track(self, future: PrefectFuture[Any], kind: str, chunk: _OpenChunk, pos: int) -> None:
        self._pending[future] = (kind, chunk, pos)
        future.add_done_callback(self._done.put)

    def _search_finished(
        self, chunk: _OpenChunk, position: int, future: PrefectFuture[Any]
    ) -> None:
        self.search_slots.release()
        account = chunk.accounts[position]
        item = ChunkItem(account.key, account.name, account.domain, dict(account.metadata))
        state = future.state
        if state.is_completed():
            item.outcome = future.result()
            item.search_cached = state.name == "Cached"
            self.report.searches_cached += item.search_cached
        else:
            error = failure_of(future)
            if isinstance(error, FatalProviderError):
                self._stop(str(error))
            item.search_error = str(error) or type(error).__name__
        chunk.items[position] = item
        chunk.searches_done += 1
        if chunk.searches_done == len(chunk.accounts) and not self.stop.is_set():
            items = [i for i in chunk.items if i is not None]
            self.on_searched([i.outcome for i in items if i.outcome is not None])
            future = self.submit_classify(ChunkWork(chunk.index, items))
            self._track(future, "classify", chunk, -1)

    def _classify_finished(self, chunk: _OpenChunk, future: PrefectFuture[Any]) -> None:
        if future.state.is_completed():
            outcome: ChunkOutcome = future.result()
        else:
            # The task itself broke (not one company): record every company of it as failed.
            reason = f"classification task failed: {failure_of(future)}"
            outcome = ChunkOutcome(
                chunk.index,
                [
                    CompanyResult(
                        company_key=i.company_key,
                        name=i.name,
                        domain=i.domain,
                        metadata=i.metadata,
                        status="failed",
                        error=reason,
                    )
                    for i in chunk.items
                    if i is not None
                ],
            )
        self.on_classified(outcome)
        self.report.unprocessed.extend(outcome.unprocessed)
        self.report.chunks_done += 1
        self._open.remove(chunk)
        if outcome.fatal:
            self._stop(outcome.fatal)

    def _stop(self, reason: str) -> None:
        if self.report.fatal is None:
            self.report.fatal = reason
        self.stop.set()


def failure_of(future: PrefectFuture[Any]) -> BaseException:
    """The exception a failed task run raised (or a stand-in naming its state)."""
    try:
        value = future.state.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read back
        return exc
    if isinstance(value, BaseException):
        return value
    return RuntimeError(f"task ended in state {future.state.name}")
