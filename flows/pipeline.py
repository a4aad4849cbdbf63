"""The scheduler inside a territory run: a few chunks open at once, no barrier between steps.

Each chunk of BATCH_SIZE companies goes through two task runs: one that searches its uncached
companies (concurrently inside the task) and one that classifies it. Searches already in the
DuckDB cache are read back by the flow and skip the first task. With threads, both task runs
start together and each company goes on to classification the moment its own search ends
(`tasks/handoff.py`): a search that hangs or waits out retries holds up its company, not its
chunk. On Dask, a chunk is classified once its searches have ended. New chunks open as
companies finish (the windows are counted in companies, not chunks), so the LLM never waits
for the whole territory's searches and the raw pages in memory stay bounded. The slots shared
by the tasks cap the requests in flight.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.accounts import Account
from domain.models import CompanyResult, SearchOutcome, SearchRequest
from flows.budget import Budget
from flows.store_pace import StorePace
from tasks.chunk_outcome import ChunkOutcome
from tasks.classify import ChunkItem, ChunkWork
from tasks.handoff import Handoff
from tasks.phase_clock import PhaseClock
from tasks.search import SearchChunkOutcome, SearchedCompany
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

    def handoff(self, index: int, keys: list[str]) -> Handoff | None:
        """Where chunk `index`'s searches go as each ends, for a classification running
        alongside; None where the tasks cannot share one (the chunk is classified after)."""
        ...

    def search(
        self, index: int, requests: list[SearchRequest], handoff: Handoff | None = None
    ) -> TaskRun:
        """Submit the searches of chunk `index`."""
        ...

    def classify(self, work: ChunkWork) -> TaskRun:
        """Submit the classification of a chunk."""
        ...

    def early_results(self) -> list[CompanyResult]:
        """Results of companies that finished since the last call (their chunk may not have)."""
        ...

    def early_searches(self) -> list[SearchedCompany]:
        """Searches of companies that ended since the last call (their chunk's may not have)."""
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

    def holding(self) -> AbstractContextManager[object]:
        """Hold the store across a block of writes: one open of the file for all of them
        (each open and close of a DuckDB file costs tens of ms of CPU)."""
        ...

    def searched(self, outcomes: list[SearchOutcome]) -> None:
        """Store paid-for searches (before anything else, even when stopping)."""
        ...

    def finished(self, results: list[CompanyResult]) -> None:
        """Store results of companies that finished (their chunk may not have)."""
        ...

    def chunk_stored(self, outcome: ChunkOutcome) -> None:
        """Say that every result of a chunk that ended is stored."""
        ...


POLL_SECONDS = 0.25  # how often the companies' feeds are read while no task run ends


@dataclass
class _OpenChunk:
    index: int
    items: list[ChunkItem]
    requests: dict[str, SearchRequest]  # by company key: what was sent to the search task
    waiting: set[str] = field(default_factory=set)  # companies not finished (the open window)
    unsearched: set[str] = field(default_factory=set)  # searches not ended (the search window)
    handoff: Handoff | None = None  # classified alongside its searches (threads)
    runs: int = 0  # its task runs not yet ended


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

    chunks: list[Sequence[Account]]  # each emptied once open (its items carry it on)
    plan: SearchPlan
    tasks: ChunkTasks
    sink: ChunkSink
    # The windows, in whole chunks' worth of companies but counted by company: a chunk whose
    # stragglers are all that is left of it does not hold a whole chunk's place.
    max_open_chunks: int  # companies searching or classifying
    max_searching: int  # companies whose searches are in flight (slots give the oldest first)
    stop: StopSignal  # everything stops (the LLM failed for good, Ctrl-C, cancellation)
    search_stop: StopSignal  # no more searches (Tavily failed for good); classifying goes on
    may_search: bool = True  # False: companies without stored content fail instead
    budget: Budget | None = None  # the cost cap, checked before each chunk starts
    report: PipelineReport = field(default_factory=PipelineReport)
    clock: PhaseClock = field(default_factory=PhaseClock)  # adds up the tasks' CPU by phase
    pace: StorePace = field(default_factory=StorePace)  # when what finished is stored

    def run(self) -> PipelineReport:
        """Run every chunk to completion (or until a fatal provider error), then return."""
        self._done: queue.Queue[TaskRun] = queue.Queue()
        self._stored: set[str] = set()  # companies stored as they finished
        self._handed_over: list[CompanyResult] = []  # finished, not stored yet
        self._searched: list[SearchOutcome] = []  # handed over as they ended, not stored yet
        self._ended: list[ChunkOutcome] = []  # chunks ended whose results wait for a store
        self.pace.stored()  # the run's start: nothing waits yet
        self._pending: dict[TaskRun, tuple[str, _OpenChunk, list[ChunkItem]]] = {}
        self._open: dict[int, _OpenChunk] = {}
        self._owner: dict[str, _OpenChunk] = {}  # the chunk of each company not finished
        size = max((len(c) for c in self.chunks), default=1)
        self._room = (self.max_open_chunks * size, self.max_searching * size)
        next_chunk = 0
        while True:
            while next_chunk < len(self.chunks) and self._may_open(self.chunks[next_chunk]):
                if not self._start(next_chunk):
                    # Over the cost cap: this chunk and every later one are left for next time.
                    self.report.skipped = [a for c in self.chunks[next_chunk:] for a in c]
                    next_chunk = len(self.chunks)
                    break
                # Held to the run's end, 100,000 accounts kept 8 MiB packed, 61 unpacked.
                self.chunks[next_chunk] = []
                next_chunk += 1
            if not self._pending:
                break
            try:
                first = self._done.get(timeout=POLL_SECONDS)  # a timeout: Ctrl-C responsive
            except queue.Empty:
                self._read_feeds()
                self._store_finished(when_due=True)
                continue
            self._take_ended([first])
        self._store_finished()  # searches of chunks a stop left unclassified
        self.report.unprocessed.extend(a.key for c in self.chunks[next_chunk:] for a in c)
        return self.report

    def _take_ended(self, ended: list[TaskRun]) -> None:
        """Take in every task run ended by now, with one open of the file. One a turn fell
        behind (a chunk ends two runs; a turn opens one): at 100,000 companies hundreds of
        ended chunks waited, holding their items and events (our simulators)."""
        while not self._done.empty():  # the flow's thread is the only one taking
            ended.append(self._done.get_nowait())
        with self.sink.holding():
            for run in ended:
                kind, chunk, items = self._pending.pop(run)
                chunk.runs -= 1
                value, failure = run.outcome()
                if kind == "search":
                    self._search_finished(chunk, value, failure)
                else:
                    self._classify_finished(chunk, items, value, failure)

    def _may_open(self, accounts: Sequence[Account]) -> bool:
        open_room, search_room = self._room
        waiting = sum(len(c.waiting) for c in self._open.values())
        searching = sum(len(c.unsearched) for c in self._open.values())
        return (
            not self.search_stop.is_set()
            and waiting + len(accounts) <= open_room
            and searching + len(accounts) <= search_room
        )

    def _start(self, index: int) -> bool:
        """Open chunk `index` (False: it does not fit under the cost cap, nothing was sent)."""
        accounts = list(self.chunks[index])  # unpacked once, here
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
        chunk = self._open[index] = _OpenChunk(
            index, items, requests, {a.key for a in accounts}, set(requests)
        )
        self._owner.update((a.key, chunk) for a in accounts)
        if requests:
            self.report.searches_sent += len(requests)
            chunk.handoff = self.tasks.handoff(index, list(requests))
            search = self.tasks.search(index, list(requests.values()), chunk.handoff)
            self._track(search, "search", chunk, [])
        if not requests or chunk.handoff is not None:
            self._classify(chunk, chunk.items)
        return True

    def _track(self, run: TaskRun, kind: str, chunk: _OpenChunk, items: list[ChunkItem]) -> None:
        self._pending[run] = (kind, chunk, items)
        chunk.runs += 1
        run.add_done_callback(self._done.put)

    def _read_feeds(self) -> None:
        """Take what companies handed over as they went: results (stored as `pace` says)
        and the searches they rest on (stored before them), each counted off its window."""
        results = self.tasks.early_results()  # first: each one's search was handed over before
        for searched in self.tasks.early_searches():
            chunk = self._owner.get(searched.company_key)
            if chunk is not None and searched.company_key in chunk.unsearched:
                chunk.unsearched.discard(searched.company_key)
                if searched.outcome is not None:
                    self._searched.append(searched.outcome)
        # Counted as handed over, not as stored: a chunk starting later trusts the model.
        self._handed_over += results
        self.report.classified += sum(r.status == "ok" for r in results)
        for result in results:
            self._finish(result.company_key)

    def _finish(self, key: str) -> None:
        chunk = self._owner.pop(key, None)
        if chunk is not None:
            chunk.waiting.discard(key)
            chunk.unsearched.discard(key)

    # -- a chunk's task runs end -----------------------------------------------------------

    def _search_finished(
        self, chunk: _OpenChunk, result: SearchChunkOutcome | None, failure: BaseException | None
    ) -> None:
        if result is None:  # the task itself broke (not one company): every search of it failed
            error = f"search task failed: {failure}"
            result = SearchChunkOutcome(chunk.index, errors=dict.fromkeys(chunk.requests, error))
        self.clock.add_all(result.phase_seconds)
        self._read_feeds()  # what was handed over is stored from the feed, the rest from here
        # Paid-for pages are kept for the next store (see StorePace), even when the run is
        # stopping: the chunk's end, its close, or the run's end stores them (each once).
        self._searched += [o for k, o in result.outcomes.items() if k in chunk.unsearched]
        self._store_finished(when_due=True)
        chunk.unsearched.clear()
        if result.fatal:
            self._stop(result.fatal, self.search_stop)
        if chunk.handoff is not None:
            chunk.handoff.close(result)  # the classification alongside takes the rest
        else:
            self._classify_searched(chunk, result)
        self._close_if_done(chunk)

    def _classify_searched(self, chunk: _OpenChunk, result: SearchChunkOutcome) -> None:
        """Classify a chunk whose searches have ended (Dask: they ran in another process)."""
        for item in chunk.items:
            if item.company_key in result.outcomes:
                item.outcome = result.outcomes[item.company_key]
            elif item.company_key in result.errors:
                item.search_error = result.errors[item.company_key]
        # Companies whose search was never sent are left for a later run; the rest go on.
        searched = [i for i in chunk.items if i.outcome is not None or i.search_error is not None]
        if self.stop.is_set():
            searched = []
        self.report.unprocessed.extend(i.company_key for i in chunk.items if i not in searched)
        for item in chunk.items:
            if item not in searched:
                self._finish(item.company_key)
        if searched:
            self._classify(chunk, searched)

    def _classify(self, chunk: _OpenChunk, items: list[ChunkItem]) -> None:
        work = ChunkWork(chunk.index, items, self.report.classified > 0, chunk.handoff)
        self._track(self.tasks.classify(work), "classify", chunk, items)

    def _classify_finished(
        self,
        chunk: _OpenChunk,
        items: list[ChunkItem],
        outcome: ChunkOutcome | None,
        failure: BaseException | None,
    ) -> None:
        if outcome is None:
            # The task itself broke (not one company): record every company of it as failed.
            reason = f"classification task failed: {failure}"
            searched = [i for i in items if i.outcome or i.search_error]
            outcome = ChunkOutcome(
                chunk.index,
                [i.result(status="failed", error=reason) for i in searched],
                [i.company_key for i in items if i not in searched],
            )
        self.clock.add_all(outcome.phase_seconds)
        self._read_feeds()
        # Its results not handed over yet wait for a store like the others: the store each
        # chunk's end forced often held a few companies, each store a session of the file.
        waiting = self._stored.union(r.company_key for r in self._handed_over)
        rest = [r for r in outcome.results if r.company_key not in waiting]
        self._handed_over += rest
        self.report.classified += sum(r.status == "ok" for r in rest)
        self._ended.append(outcome)
        self._store_finished(when_due=True)
        ended = outcome.statuses()
        self._stored.difference_update(ended)  # needed only to leave them out of `rest`
        self.report.unprocessed.extend(outcome.unprocessed)
        for key in [*ended, *outcome.unprocessed]:
            self._finish(key)
        if outcome.fatal:
            self._stop(outcome.fatal, self.stop)
        self._close_if_done(chunk)

    def _close_if_done(self, chunk: _OpenChunk) -> None:
        if chunk.runs:
            return
        del self._open[chunk.index]
        for key in list(chunk.waiting):
            self._finish(key)
        self.report.chunks_done += 1
        if self.budget is not None:
            if self.budget.capped:  # the cap counts a chunk's spend as it is stored: first
                self._store_finished()
            self.budget.done(chunk.index)

    # -- storing and stopping --------------------------------------------------------------

    def store_finished(self) -> None:
        """Store what has finished (the run is stopping); a failure to do so is not raised."""
        try:
            self._read_feeds()
            self._store_finished()
        except Exception:  # noqa: BLE001 - the stop that brought us here matters more
            pass

    def _store_finished(self, when_due: bool = False) -> None:
        """Store the companies that have finished so far, whatever their chunk is doing (only
        when `pace` says a store is due, if `when_due`: each store is a session of its own)."""
        # Drained results stay here until their store commits: a Ctrl-C that lands in the
        # transaction rolls it back, and the store on the way out writes them again.
        results = [r for r in self._handed_over if r.company_key not in self._stored]
        if results or self._searched:
            if when_due and not self.pace.due(len(results) + len(self._searched)):
                return
            self.pace.stored()
            with self.sink.holding():
                if self._searched:  # a result is stored after the search it rests on
                    self.sink.searched(self._searched)  # kept until the store commits
                    self._searched = []
                if results:
                    self.sink.finished(results)
                    self._stored.update(r.company_key for r in results)
        self._handed_over = []
        for outcome in self._ended:  # every result of theirs is stored by now
            self.sink.chunk_stored(outcome)
        self._ended = []

    def _stop(self, reason: str, signal: StopSignal) -> None:
        if self.report.fatal is None:
            self.report.fatal = reason
        signal.set()
