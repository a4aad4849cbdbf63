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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.accounts import Account
from domain.models import CompanyResult, SearchOutcome, SearchRequest
from flows.budget import Budget
from tasks.classify import ChunkItem, ChunkOutcome, ChunkWork
from tasks.phase_clock import PhaseClock
from tasks.search import SearchChunkOutcome
from tasks.slots import StopSignal


class TaskRun(Protocol):
    """A submitted task run, as the scheduler sees it."""

    def add_done_callback(self, fn: Callable[[TaskRun], None]) -> None:
        """Call `fn(self)` once the task run has ended (at once if it has)."""
        ...

    def outcome(self) -> tuple[Any, BaseException | None]:
        """(its return value, None), or (None, why it failed) if the task itself broke."""
        ...


class ChunkTasks(Protocol):
    """Where a chunk's two steps run: submitted as task runs."""

    def search(self, index: int, requests: list[SearchRequest]) -> TaskRun:
        """Submit the searches of chunk `index`."""
        ...

    def classify(self, work: ChunkWork) -> TaskRun:
        """Submit the classification of a chunk."""
        ...

    def early_results(self) -> list[CompanyResult]:
        """Results of companies that finished since the last call (their chunk may not have)."""
        ...


class SearchPlan(Protocol):
    """What each company's search is, and which are already stored."""

    def request(self, account: Account) -> SearchRequest:
        """The search for one company."""
        ...

    def cached(self, requests: list[SearchRequest]) -> dict[str, SearchOutcome]:
        """Stored outcomes that may stand in for these searches, by company key."""
        ...


class ChunkSink(Protocol):
    """Where results go as they come back: the run's one writer."""

    def searched(self, outcomes: list[SearchOutcome]) -> None:
        """Store paid-for searches (before anything else, even when stopping)."""
        ...

    def finished(self, results: list[CompanyResult]) -> None:
        """Store results of companies that finished before their chunk did."""
        ...

    def classified(self, outcome: ChunkOutcome, stored: set[str]) -> None:
        """Store the rest of a chunk's results (`stored`: the keys already stored)."""
        ...


# Companies that finished are stored this often (and with their chunk when it ends): a stop or
# a crash loses at most this much, and the writer is not kept busy by one row at a time.
STORE_EVERY = 2.0


@dataclass
class _OpenChunk:
    index: int
    items: list[ChunkItem]
    requests: dict[str, SearchRequest]  # by company key: what was sent to the search task


@dataclass
class PipelineReport:
    """What the scheduler did: counts, and the reason it stopped early (if it did)."""

    chunks_done: int = 0
    classified: int = 0  # companies classified ("ok") so far
    searches_sent: int = 0
    searches_cached: int = 0
    unprocessed: list[str] = field(default_factory=list)
    fatal: str | None = None
    skipped: list[Account] = field(default_factory=list)  # left out by the cost cap


@dataclass
class ChunkScheduler:
    """Drives one run's task submissions; every call to the sink is in the flow's thread."""

    chunks: list[list[Account]]
    plan: SearchPlan
    tasks: ChunkTasks
    sink: ChunkSink
    max_open_chunks: int  # searching or classifying
    max_searching: int  # chunks whose searches are in flight (in order, so chunks end in order)
    stop: StopSignal  # everything stops (the LLM failed for good, Ctrl-C, cancellation)
    search_stop: StopSignal  # no more searches (Tavily failed for good); classifying goes on
    may_search: bool = True  # False: companies without stored content fail instead
    budget: Budget | None = None  # the cost cap, checked before each chunk starts
    report: PipelineReport = field(default_factory=PipelineReport)
    clock: PhaseClock = field(default_factory=PhaseClock)  # adds up the tasks' CPU by phase
    store_every: float = STORE_EVERY  # seconds between stores of companies that finished early

    def run(self) -> PipelineReport:
        """Run every chunk to completion (or until a fatal provider error), then return."""
        self._done: queue.Queue[TaskRun] = queue.Queue()
        self._stored: set[str] = set()  # companies stored as they finished
        self._handed_over: list[CompanyResult] = []  # finished, not stored yet
        self._last_store = time.monotonic()
        self._pending: dict[TaskRun, tuple[str, _OpenChunk]] = {}
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
                run = self._done.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                self._store_finished(every=self.store_every)
                continue
            kind, chunk = self._pending.pop(run)
            value, failure = run.outcome()
            if kind == "search":
                self._search_finished(chunk, value, failure)
            else:
                self._classify_finished(chunk, value, failure)
        self.report.unprocessed.extend(a.key for c in self.chunks[next_chunk:] for a in c)
        return self.report

    def _start(self, index: int) -> bool:
        """Open chunk `index` (False: it does not fit under the cost cap, nothing was sent)."""
        accounts = self.chunks[index]
        items = [ChunkItem.of(a) for a in accounts]
        requests = {a.key: self.plan.request(a) for a in accounts}
        cached = self.plan.cached(list(requests.values()))
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
            self._track(self.tasks.search(index, list(requests.values())), "search", chunk)
        else:
            self._classify(chunk)
        return True

    def _track(self, run: TaskRun, kind: str, chunk: _OpenChunk) -> None:
        self._pending[run] = (kind, chunk)
        run.add_done_callback(self._done.put)

    def _search_finished(
        self, chunk: _OpenChunk, result: SearchChunkOutcome | None, failure: BaseException | None
    ) -> None:
        self._searching -= 1
        if result is None:  # the task itself broke (not one company): every search of it failed
            error = f"search task failed: {failure}"
            result = SearchChunkOutcome(chunk.index, errors=dict.fromkeys(chunk.requests, error))
        self.clock.add_all(result.phase_seconds)
        # Paid-for pages are stored first, even when the run is stopping.
        self.sink.searched(list(result.outcomes.values()))
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
        work = ChunkWork(chunk.index, chunk.items, answers_proven=self.report.classified > 0)
        self._track(self.tasks.classify(work), "classify", chunk)

    def store_finished(self) -> None:
        """Store what has finished (the run is stopping); a failure to do so is not raised."""
        try:
            self._store_finished()
        except Exception:  # noqa: BLE001 - the stop that brought us here matters more
            pass

    def _store_finished(self, every: float = 0.0) -> None:
        """Store the companies that have finished so far, whatever their chunk is doing (at
        most once per `every` seconds: each store is a transaction in the flow's thread)."""
        now = time.monotonic()
        if now - self._last_store < every:
            return
        self._last_store = now
        # Drained results stay here until their store commits: a Ctrl-C that lands in the
        # transaction rolls it back, and the store on the way out writes them again.
        self._handed_over += self.tasks.early_results()
        results = [r for r in self._handed_over if r.company_key not in self._stored]
        if results:
            self.sink.finished(results)
            self._stored.update(r.company_key for r in results)
            self.report.classified += sum(r.status == "ok" for r in results)
        self._handed_over = []

    def _classify_finished(
        self, chunk: _OpenChunk, outcome: ChunkOutcome | None, failure: BaseException | None
    ) -> None:
        if outcome is None:
            # The task itself broke (not one company): record every company of it as failed.
            reason = f"classification task failed: {failure}"
            outcome = ChunkOutcome(
                chunk.index, [i.result(status="failed", error=reason) for i in chunk.items]
            )
        self.clock.add_all(outcome.phase_seconds)
        self._store_finished()  # every result handed over before the task ended
        self.sink.classified(outcome, self._stored)
        self.report.classified += sum(
            r.status == "ok" for r in outcome.results if r.company_key not in self._stored
        )
        self._stored.difference_update(r.company_key for r in outcome.results)
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
