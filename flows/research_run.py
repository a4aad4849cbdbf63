"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
import queue
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from prefect.utilities.annotations import quote

from domain.account_chunks import packed_chunks
from domain.accounts import Account
from domain.costs import Prices, load_prices
from domain.models import CompanyResult, SearchOutcome, SearchRequest
from domain.refresh import RefreshPolicy, Standing, fresh_for, is_due
from domain.rubric import Rubric
from flows.budget import Budget
from flows.execution import Execution, PrefectTaskRun, open_execution
from flows.parameters import ResearchRequest
from flows.pipeline import ChunkScheduler, PipelineReport, TaskRun
from flows.progress import Progress, active_listeners
from flows.reporting import ProgressArtifact
from flows.run_context import RunContext
from flows.settings import Settings
from flows.store_pace import StorePace
from flows.store_sink import StoreSink
from storage.duckdb_store import TerritoryStore
from tasks.classify import (
    ChunkItem,
    ChunkWork,
    ClassifyOptions,
    classify_chunk,
)
from tasks.handoff import Handoff
from tasks.phase_clock import PhaseClock
from tasks.providers import Providers
from tasks.retry import RetryPolicy
from tasks.search import SearchedCompany, build_query, search_chunk

T = TypeVar("T")
# Accounts whose standings are read at once when deciding which are due: the run's start holds
# one batch's requests and rows, not the territory's (all 100,000 at once: the flow process
# from about 470 to 640 MiB, our simulators).
DUE_BATCH = 5_000


def run_chunks(run: RunContext, logger: Any, clock: PhaseClock) -> PipelineReport:
    """Build the providers, slots and tasks, and let the scheduler run the chunks; what the
    work cost in CPU is added up on `clock` by phase (`run_end.record_cpu` stores it)."""
    began = time.thread_time()
    try:
        return _run_chunks(run, logger, clock)
    finally:
        # The flow thread's own CPU besides its DuckDB calls: opening chunks, submitting task
        # runs, reading their outcomes.
        store_seconds = clock.seconds(("store",))["store"]
        clock.add("other", max(0.0, time.thread_time() - began - store_seconds))


def _run_chunks(run: RunContext, logger: Any, clock: PhaseClock) -> PipelineReport:
    """The chunks of a run through the scheduler, their CPU by phase added up on `clock`."""
    settings, rubric, store, request = run.settings, run.rubric, run.store, run.request
    run_id, territory = run.run_id, run.territory
    batch = settings.effective_batch_size
    providers = providers_from(settings, run_id, rubric.kinds)
    prices = load_prices(settings.prices_file)
    options = classify_options(settings, rubric, prices)
    budget = Budget.for_run(
        request.max_cost,
        prices,
        settings.llm_model,
        settings.search_depth,
        settings.context_max_chars,
    )
    warn_if_unpriced(logger, prices, settings.llm_model, request.max_cost is not None)
    plan = StoredSearchPlan(settings, rubric, store, territory, request, clock)
    # Packed, and held by the scheduler alone: it lets go of each chunk as it opens it.
    chunks = packed_chunks(due_accounts(run, plan, logger), batch)
    total = sum(map(len, chunks))
    # The UI's progress bar, and whatever this process shows (the CLI's live line).
    progress = Progress(total, [ProgressArtifact(territory, total), *active_listeners()])
    sink = StoreSink(store, run_id, territory, prices, budget, logger, len(chunks), progress, clock)
    searching = math.ceil(settings.effective_tavily_concurrency / batch) + 2  # one waits its turn
    with open_execution(settings) as execution:
        scheduler = ChunkScheduler(
            chunks,
            plan,
            PrefectChunkTasks(execution, providers, options, settings.context_max_chars),
            sink,
            # Enough chunks that a searched one always waits for the LLM (so it never idles
            # between chunks), and few enough to bound the raw pages held in memory.
            max_open_chunks=searching + math.ceil(settings.effective_llm_concurrency / batch) + 1,
            max_searching=searching,
            stop=execution.stop,
            search_stop=execution.search_stop,
            may_search=not request.rescore,  # a re-score never pays Tavily
            budget=budget,
            pace=StorePace.for_chunks(batch),
            clock=clock,
        )
        try:
            report = scheduler.run()
        except BaseException:
            execution.stop.set()  # Ctrl-C or cancellation: tell running tasks to send nothing more
            providers.abort()  # and cut the requests in flight: nobody will store their answers
            scheduler.store_finished()  # what finished meanwhile is kept
            raise
    if settings.task_runner == "threads":  # on Dask each worker paces its own requests
        log_pacing(logger, providers)
    if report.skipped:
        record_skipped(run, budget, report, logger)
    return report


def classify_options(settings: Settings, rubric: Rubric, prices: Prices) -> ClassifyOptions:
    """How the run classifies: relevance cut, context size, rubric, today, trimming, prices."""
    return ClassifyOptions(
        min_relevance(settings, rubric),
        settings.context_max_chars,
        rubric,
        datetime.now(UTC).date(),
        settings.context_trim,
        prices,
    )


def warn_if_unpriced(logger: Any, prices: Prices, model: str, capped: bool) -> None:
    """Say so when the model has no price: its cost is not counted (nor capped)."""
    if prices.llm.get(model) is None:
        logger.warning(
            "no price for model %r in the price table (PRICES_FILE): its cost is not counted%s",
            model,
            ", and the cost cap counts searches only" if capped else "",
        )


def due_accounts(run: RunContext, plan: StoredSearchPlan, logger: Any) -> list[Account]:
    """The run's accounts that are due (taken from the run); how many are not is recorded."""
    given = run.take_accounts()
    with run.store.session():  # the plan's reads and the count take the file once
        accounts = plan.due(given)
        not_due = len(given) - len(accounts)
        run.store.set_not_due(run.run_id, not_due)
    if not_due:
        logger.info(
            "%d companies not due for a refresh (searched within their tier's window and judged "
            "on that search by this rubric and model): kept as they are; %d to research",
            not_due,
            len(accounts),
        )
    return accounts


def record_skipped(run: RunContext, budget: Budget, report: PipelineReport, logger: Any) -> None:
    """Store the companies the cost cap left out, so the next run picks them up."""
    reason = f"skipped (budget): the run's {budget.describe()}; the next run picks it up"
    run.store.save_skipped(
        run.run_id,
        run.territory,
        [ChunkItem.of(a).result(status="skipped", error=reason) for a in report.skipped],
    )
    report.fatal = report.fatal or (
        f"{budget.describe()}: {len(report.skipped)} companies skipped, the next run picks them up"
    )
    logger.warning("%s; %d companies skipped", budget.describe(), len(report.skipped))


class StoredSearchPlan:
    """Each company's search from the settings and rubric, which companies are due, and the
    stored outcomes that stand in for searches: while fresh for the company's tier (refresh
    by tier, domain/refresh.py), or any age for a re-score (exactly what the stored results
    were judged on)."""

    def __init__(
        self,
        settings: Settings,
        rubric: Rubric,
        store: TerritoryStore,
        territory: str,
        request: ResearchRequest,
        clock: PhaseClock | None = None,
    ) -> None:
        self.settings, self.store, self.research = settings, store, request
        self.clock = clock or PhaseClock()  # its DuckDB reads are the run's "store" phase
        self.territory, self.rubric = territory, rubric.label
        self.template = settings.search_query_template or rubric.search.query
        self.policy = RefreshPolicy.of(rubric.refresh, settings.search_cache_ttl)
        self.now = datetime.now(UTC)
        # Set by `due`: for each company with a stored search fresh enough to stand in for a
        # new one, from when on. A chunk of companies with none reads nothing (a search's key
        # is its company's: none is stored for it during the run but by its own search).
        self.fresh_after: dict[str, datetime] = {}
        self.due_asked = False
        self._after: dict[timedelta, datetime] = {}
        self.stored = store.search_refs(territory) if request.rescore else {}

    def request(self, account: Account) -> SearchRequest:
        """The search for one company."""
        return SearchRequest(
            company_key=account.key,
            endpoint=self.settings.search_endpoint,
            name=account.name,
            domain=account.domain,
            query=build_query(self.template, account.name, account.domain),
            search_depth=self.settings.search_depth,
            max_results=self.settings.search_max_results,
        )

    def due(self, accounts: list[Account]) -> list[Account]:
        """The accounts the run must work on. The others' verdicts stand (searched within
        their tier's window, judged on that search by this rubric and model): they are
        neither searched nor classified. A re-score or a refresh redoes every one."""
        if self.research.rescore or self.research.refresh_cache:
            return accounts
        self.due_asked = True
        return [
            account
            for start in range(0, len(accounts), DUE_BATCH)
            for account in self._due(accounts[start : start + DUE_BATCH])
        ]

    def _due(self, accounts: list[Account]) -> list[Account]:
        """`due` for one batch of accounts."""
        requests = {a.key: self.request(a) for a in accounts}
        with self.clock.timing("store"):
            standings = self.store.standings(self.territory, list(requests.values()))
        due = []
        for account in accounts:
            standing = standings.get(account.key, Standing())
            window = fresh_for(self.policy, standing)  # a few distinct: one datetime each
            after = self._after.setdefault(window, self.now - window)
            if standing.newest_search is not None and standing.newest_search > after:
                self.fresh_after[account.key] = after
            if is_due(
                self.policy,
                standing,
                search_key=requests[account.key].cache_key,
                rubric=self.rubric,
                model=self.settings.llm_model,
                now=self.now,
            ):
                due.append(account)
        return due

    def cached(self, requests: list[SearchRequest]) -> dict[str, SearchOutcome]:
        """Stored outcomes for these searches, by company key."""
        with self.clock.timing("store"):
            return self._cached(requests)

    def _cached(self, requests: list[SearchRequest]) -> dict[str, SearchOutcome]:
        if self.research.rescore:
            refs = {r.company_key: self.stored[r.company_key] for r in requests}
            return self.store.stored_searches(refs)
        if self.research.refresh_cache:
            return {}
        if not self.due_asked:  # any of them may have one
            return self.store.cached_searches(requests, self.now - self.policy.shortest)
        fresh = [r for r in requests if r.company_key in self.fresh_after]
        # None fresh (a territory's first run): no opening of the file, 35 ms of CPU a chunk
        # on the 100,000-company file (our simulators).
        return self.store.cached_searches(fresh, self.fresh_after) if fresh else {}


class PrefectChunkTasks:
    """A chunk's two steps as Prefect task runs, on the run's execution (threads or Dask)."""

    def __init__(
        self, execution: Execution, providers: Providers, options: ClassifyOptions, raw_cap: int
    ) -> None:
        self.execution, self.providers, self.options, self.raw_cap = (
            execution,
            providers,
            options,
            raw_cap,
        )

    def handoff(self, index: int, keys: list[str]) -> Handoff | None:
        """Where chunk `index`'s searches go as each ends (threads: the classification runs
        alongside, and the flow stores each search); None on Dask."""
        searches = self.execution.searches
        return None if searches is None else Handoff(keys, searches)

    def search(
        self, index: int, requests: list[SearchRequest], handoff: Handoff | None = None
    ) -> TaskRun:
        """Submit the searches of chunk `index`."""
        return PrefectTaskRun(
            self.execution.submit(
                search_chunk,
                index=index,
                requests=quote(requests),
                providers=self.providers,
                slots=self.execution.search_slots,
                stop=self.execution.search_stop,
                raw_content_cap=self.raw_cap,
                feed=handoff,
            )
        )

    def classify(self, work: ChunkWork) -> TaskRun:
        """Submit the classification of a chunk."""
        return PrefectTaskRun(
            self.execution.submit(
                classify_chunk,
                chunk=quote(work),
                providers=self.providers,
                llm_slots=self.execution.llm_slots,
                stop=self.execution.stop,
                options=self.options,
                feed=self.execution.results,
            )
        )

    def early_results(self) -> list[CompanyResult]:
        """Results handed over since the last call by companies that have finished."""
        return _drain(self.execution.results)

    def early_searches(self) -> list[SearchedCompany]:
        """Searches handed over since the last call by companies whose search has ended."""
        return _drain(self.execution.searches)


def _drain(feed: queue.Queue[T] | None) -> list[T]:
    """Everything waiting in `feed` now (nothing if there is no feed)."""
    found: list[T] = []
    while feed is not None:
        try:
            found.append(feed.get_nowait())
        except queue.Empty:
            break
    return found


def min_relevance(settings: Settings, rubric: Rubric) -> float:
    """SEARCH_MIN_SCORE when set, else the rubric's relevance cut."""
    return (
        rubric.search.min_relevance
        if settings.search_min_score is None
        else settings.search_min_score
    )


def log_pacing(logger: Any, providers: Providers) -> None:
    """Say how often each provider pushed back, and what the pacer made of it."""
    for name, pace in (("Tavily", providers.search_pace()), ("LLM", providers.llm_pace())):
        if pace.rate_limited:
            verdicts = "; ".join(pace.verdicts[-3:]) or "retried, pace kept"
            logger.info("%s answered 429 %d times: %s", name, pace.rate_limited, verdicts)


def providers_from(settings: Settings, run_id: str, kinds: tuple[str, ...]) -> Providers:
    """The run's providers from its settings (keys must already be present)."""
    tavily_key, llm_key = settings.keys()
    return Providers(
        run_id=run_id,
        tavily_key=tavily_key,
        tavily_url=settings.tavily_base_url,
        tavily_timeout=settings.tavily_timeout,
        tavily_pool=settings.effective_tavily_concurrency,
        llm_key=llm_key,
        llm_url=settings.llm_base_url,
        llm_model=settings.llm_model,
        llm_timeout=settings.llm_timeout,
        structured_output=settings.llm_structured_output,
        max_output_tokens=settings.llm_max_output_tokens,
        policy=RetryPolicy(
            settings.max_attempts, settings.retry_base_delay, settings.retry_max_delay
        ),
        rate_limit_window=settings.rate_limit_window,
        outage_patience=settings.outage_patience,
        signal_kinds=kinds,
    )
