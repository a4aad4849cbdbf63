"""The scheduler inside a territory run: a few chunks open at once, no barrier between steps.

Each chunk of BATCH_SIZE companies goes through two task runs: one that searches its uncached
companies (concurrently inside the task) and one that classifies it. Searches already in the
DuckDB cache are read back by the flow and skip the first task. A chunk's classification is
submitted the moment its searches are stored, and a new chunk opens as soon as one is done,
so the LLM never waits for the whole territory's searches and raw pages in memory stay
bounded by the open chunks. The slots shared by the tasks cap the requests in flight.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture

from flows.budget import Budget
from tasks.accounts import Account
from tasks.classify import ChunkItem, ChunkOutcome, ChunkWork
from tasks.models import SearchOutcome, SearchRequest
from tasks.search import SearchChunkOutcome
from tasks.slots import StopSignal


@dataclass
class _OpenChunk:
    index: int
    items: list[ChunkItem]
    requests: dict[str, SearchRequest]  # by company key: what was sent to the search task


@dataclass
class PipelineReport:
    """What the scheduler did: counts, and the reason it stopped early (if it did)."""

    chunks_done: int = 0
    searches_sent: int = 0
    searches_cached: int = 0
    unprocessed: list[str] = field(default_factory=list)
    fatal: str | None = None
    skipped: list[Account] = field(default_factory=list)  # left out by the cost cap


@dataclass
class ChunkScheduler:
    """Drives one run's task submissions; every callback runs in the flow's own thread."""

    chunks: list[list[Account]]
    make_request: Callable[[Account], SearchRequest]
    lookup_cached: Callable[[list[SearchRequest]], dict[str, SearchOutcome]]
    submit_search: Callable[[int, list[SearchRequest]], PrefectFuture[Any]]
    submit_classify: Callable[[ChunkWork], PrefectFuture[Any]]
    on_searched: Callable[[list[SearchOutcome]], None]
    on_classified: Callable[[ChunkOutcome], None]
    max_open_chunks: int  # searching or classifying
    max_searching: int  # chunks whose searches are in flight (in order, so chunks end in order)
    stop: StopSignal  # everything stops (the LLM failed for good, Ctrl-C, cancellation)
    search_stop: StopSignal  # no more searches (Tavily failed for good); classifying goes on
    may_search: bool = True  # False: companies without stored content fail instead
    budget: Budget | None = None  # the cost cap, checked before each chunk starts
    report: PipelineReport = field(default_factory=PipelineReport)

    def run(self) -> PipelineReport:
        """Run every chunk to completion (or until a fatal provider error), then return."""
        self._done: queue.Queue[PrefectFuture[Any]] = queue.Queue()
        self._pending: dict[PrefectFuture[Any], tuple[str, _OpenChunk]] = {}
        self._open = self._searching = 0
        next_chunk = 0
        while True:
            while (
                not self.search_stop.is_set()
                and self._open < self.max_open_chunks
                and self._searching < self.max_searching
                and next_chunk < len(self.chunks)
            ):
                if not self._start(next_chunk):
                    # Over the cost cap: this chunk and every later one are left for next time.
                    self.report.skipped = [a for c in self.chunks[next_chunk:] for a in c]
                    next_chunk = len(self.chunks)
                    break
                next_chunk += 1
            if not self._pending:
                break
            try:
                future = self._done.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            future.wait()  # already done; this loads its final state from memory, not the API
            kind, chunk = self._pending.pop(future)
            if kind == "search":
                self._search_finished(chunk, future)
            else:
                self._classify_finished(chunk, future)
            forget_result(future)
        self.report.unprocessed.extend(a.key for c in self.chunks[next_chunk:] for a in c)
        return self.report

    def _start(self, index: int) -> bool:
        """Open chunk `index` (False: it does not fit under the cost cap, nothing was sent)."""
        accounts = self.chunks[index]
        items = [ChunkItem.of(a) for a in accounts]
        requests = {a.key: self.make_request(a) for a in accounts}
        cached = self.lookup_cached(list(requests.values()))
        for item in items:
            if item.company_key in cached:
                item.outcome, item.search_cached = cached[item.company_key], True
                del requests[item.company_key]
            elif not self.may_search:
                item.search_error = "no stored search content to re-score"
                del requests[item.company_key]
        if self.budget is not None and not self.budget.admit(index, len(items), len(requests)):
            return False
        self.report.searches_cached += len(cached)
        chunk = _OpenChunk(index, items, requests)
        self._open += 1
        if requests:
            self.report.searches_sent += len(requests)
            self._searching += 1
            self._track(self.submit_search(index, list(requests.values())), "search", chunk)
        else:
            self._classify(chunk)
        return True

    def _track(self, future: PrefectFuture[Any], kind: str, chunk: _OpenChunk) -> None:
        self._pending[future] = (kind, chunk)
        future.add_done_callback(self._done.put)

    def _search_finished(self, chunk: _OpenChunk, future: PrefectFuture[Any]) -> None:
        self._searching -= 1
        if future.state.is_completed():
            result: SearchChunkOutcome = future.result()
        else:  # the task itself broke (not one company): every search of it failed
            error = f"search task failed: {failure_of(future)}"
            result = SearchChunkOutcome(chunk.index, errors=dict.fromkeys(chunk.requests, error))
        # Paid-for pages are stored first, even when the run is stopping.
        self.on_searched(list(result.outcomes.values()))
        for item in chunk.items:
            if item.company_key in result.outcomes:
                item.outcome = result.outcomes[item.company_key]
            elif item.company_key in result.errors:
                item.search_error = result.errors[item.company_key]
        if result.fatal:
            self._stop(result.fatal, self.search_stop)
        # Companies whose search was never sent are left for a later run; the rest go on.
        searched = [i for i in chunk.items if i.outcome is not None or i.search_error is not None]
        self.report.unprocessed.extend(i.company_key for i in chunk.items if i not in searched)
        chunk.items = searched
        if self.stop.is_set() or not chunk.items:
            self.report.unprocessed.extend(i.company_key for i in chunk.items)
            self._open -= 1
            self._release(chunk.index)
            return
        self._classify(chunk)

    def _classify(self, chunk: _OpenChunk) -> None:
        self._track(self.submit_classify(ChunkWork(chunk.index, chunk.items)), "classify", chunk)

    def _classify_finished(self, chunk: _OpenChunk, future: PrefectFuture[Any]) -> None:
        if future.state.is_completed():
            outcome: ChunkOutcome = future.result()
        else:
            # The task itself broke (not one company): record every company of it as failed.
            reason = f"classification task failed: {failure_of(future)}"
            outcome = ChunkOutcome(
                chunk.index, [i.result(status="failed", error=reason) for i in chunk.items]
            )
        self.on_classified(outcome)
        self.report.unprocessed.extend(outcome.unprocessed)
        self.report.chunks_done += 1
        self._open -= 1
        self._release(chunk.index)
        if outcome.fatal:
            self._stop(outcome.fatal, self.stop)

    def _release(self, index: int) -> None:
        if self.budget is not None:
            self.budget.done(index)

    def _stop(self, reason: str, signal: StopSignal) -> None:
        if self.report.fatal is None:
            self.report.fatal = reason
        signal.set()


def forget_result(future: PrefectFuture[Any]) -> None:
    """Let go of a task's result once it is stored.

    Prefect links every task result to its state for the whole flow run (to track data passed
    between tasks); for a search chunk that is megabytes of raw pages. Nothing downstream needs
    the link: the scheduler hands results on itself.
    """
    context = FlowRunContext.get()
    if context is None:
        return
    stale = [
        key
        for key, (state, *_) in context.run_results.items()
        if state.state_details.task_run_id == future.task_run_id
    ]
    for key in stale:
        context.run_results.pop(key, None)


def failure_of(future: PrefectFuture[Any]) -> BaseException:
    """The exception a failed task run raised (or a stand-in naming its state)."""
    try:
        value = future.state.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read back
        return exc
    if isinstance(value, BaseException):
        return value
    return RuntimeError(f"task ended in state {future.state.name}")
