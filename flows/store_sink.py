"""The run's one writer: where the scheduler's results go, priced, capped, stored, shown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from domain.costs import Prices
from domain.models import CompanyResult, SearchOutcome
from flows.budget import Budget
from flows.progress import PROGRESS_LINE, Progress
from storage.duckdb_store import TerritoryStore
from tasks.chunk_outcome import ChunkOutcome
from tasks.classify import search_credits
from tasks.phase_clock import PhaseClock


class StoreSink:
    """Where the scheduler's results go: priced, counted against the cap, stored, counted
    for the progress shown (one snapshot per stored batch), logged once per chunk."""

    def __init__(
        self,
        store: TerritoryStore,
        run_id: str,
        territory: str,
        prices: Prices,
        budget: Budget,
        logger: Any,
        n_chunks: int,
        progress: Progress,
        clock: PhaseClock | None = None,
    ) -> None:
        self.store, self.run_id, self.territory = store, run_id, territory
        self.prices, self.budget, self.logger = prices, budget, logger
        self.n_chunks, self.progress = n_chunks, progress
        self.clock = clock or PhaseClock()  # the writes are the run's "store" phase
        self._held: ExitStack | None = None  # the block holding the file, if one does
        self._opened = False  # whether that block opened it yet

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the file across a block of writes, from its first write on: each open and
        close of it costs tens of ms of CPU (a checkpoint on close), so a turn's writes share
        one, and a turn that writes nothing opens none."""
        if self._held is not None:  # an outer block holds it
            yield
            return
        held = self._held = ExitStack()
        try:
            yield
        finally:
            self._held, self._opened = None, False
            with self.clock.timing("store"):
                held.close()

    def _take_file(self) -> None:
        """Open the file for the block holding it, at its first write (timed as the store's)."""
        if self._held is not None and not self._opened:
            self._held.enter_context(self.store.session())
            self.store.cap_for_writes()  # see WRITE_MEMORY_LIMIT
            self._opened = True

    def searched(self, outcomes: list[SearchOutcome]) -> None:
        """Store paid-for searches; Tavily says what each cost, else its depth's price."""
        if not outcomes:
            return
        paid = [
            o
            if o.credits is not None
            else o.model_copy(update={"credits": search_credits(o, self.prices)})
            for o in outcomes
        ]
        self.budget.searched(paid, self.prices)
        with self.clock.timing("store"):
            self._take_file()
            self.store.save_searches(paid, self.run_id, self.prices.tavily.usd_per_credit)
        self.progress.paid(sum(self.prices.tavily_usd(o.credits or 0) for o in paid))

    def finished(self, results: list[CompanyResult]) -> None:
        """Store the results of companies that finished (their chunk may not have)."""
        if not results:
            return
        with self.clock.timing("store"):
            self._take_file()
            self.store.save_results(self.run_id, self.territory, results)
        self.budget.stored(results)  # once stored: a store cut short is done again
        self.clock.count(len(results))
        self.progress.stored(results)

    def chunk_stored(self, outcome: ChunkOutcome) -> None:
        """Say that a chunk's results are stored, and how far the run is: one plain line,
        what the UI's logs and a terminal that is not a console show (a live display leaves
        it out: it shows the same numbers)."""
        statuses = outcome.statuses().values()
        ok = sum(status == "ok" for status in statuses)
        self.logger.info(
            "chunk %d/%d stored: %d classified, %d failed; %s",
            outcome.index + 1,
            self.n_chunks,
            ok,
            len(statuses) - ok,
            self.progress.latest.describe(),  # the numbers of the snapshot just shown
            extra={PROGRESS_LINE: True},
        )
