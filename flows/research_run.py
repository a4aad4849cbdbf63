"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
import queue
from datetime import UTC, datetime
from typing import Any

from prefect.utilities.annotations import quote

from domain.accounts import Account
from domain.costs import Prices, load_prices
from domain.models import CompanyResult, SearchOutcome, SearchRequest
from domain.refresh import RefreshPolicy, Standing, fresh_for, is_due
from domain.rubric import Rubric
from flows.budget import Budget
from flows.execution import Execution, PrefectTaskRun, open_execution
from flows.parameters import ResearchRequest
from flows.pipeline import ChunkScheduler, PipelineReport, TaskRun
from flows.progress import PROGRESS_LINE, Progress, active_listeners
from flows.reporting import ProgressArtifact
from flows.run_context import RunContext
from flows.settings import Settings
from storage.duckdb_store import TerritoryStore
from tasks.classify import (
    ChunkItem,
    ChunkOutcome,
    ChunkWork,
    ClassifyOptions,
    classify_chunk,
    search_credits,
)
from tasks.providers import Providers
from tasks.retry import RetryPolicy
from tasks.search import build_query, search_chunk


def run_chunks(run: RunContext, logger: Any) -> PipelineReport:
    """Build the providers, slots and tasks, and let the scheduler run the chunks."""
    settings, rubric, store, request = run.settings, run.rubric, run.store, run.request
    run_id, territory = run.run_id, run.territory
    batch = settings.effective_batch_size
    providers = providers_from(settings, run_id, rubric.kinds)
    prices = load_prices(settings.prices_file)
    options = ClassifyOptions(
        min_relevance(settings, rubric),
        settings.context_max_chars,
        rubric,
        datetime.now(UTC).date(),
        settings.context_trim,
        prices,
    )
    budget = Budget.for_run(
        request.max_cost,
        prices,
        settings.llm_model,
        settings.search_depth,
        settings.context_max_chars,
    )
    warn_if_unpriced(logger, prices, settings.llm_model, request.max_cost is not None)
    plan = StoredSearchPlan(settings, rubric, store, territory, request)
    accounts = due_accounts(run, plan, logger)
    chunks = [accounts[i : i + batch] for i in range(0, len(accounts), batch)]
    # The UI's progress bar, and whatever this process shows (the CLI's live line).
    progress = Progress(
        len(accounts), [ProgressArtifact(territory, len(accounts)), *active_listeners()]
    )
    sink = StoreSink(store, run_id, territory, prices, budget, logger, len(chunks), progress)
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


def warn_if_unpriced(logger: Any, prices: Prices, model: str, capped: bool) -> None:
    """Say so when the model has no price: its cost is not counted (nor capped)."""
    if prices.llm.get(model) is None:
        logger.warning(
            "no price for model %r in the price table (PRICES_FILE): its cost is not counted%s",
            model,
            ", and the cost cap counts searches only" if capped else "",
        )


def due_accounts(run: RunContext, plan: StoredSearchPlan, logger: Any) -> list[Account]:
    """The run's accounts that are due; how many are not is recorded on the run."""
    accounts = plan.due(run.accounts)
    not_due = len(run.accounts) - len(accounts)
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
    ) -> None:
        self.settings, self.store, self.research = settings, store, request
        self.territory, self.rubric = territory, rubric.label
        self.template = settings.search_query_template or rubric.search.query
        self.policy = RefreshPolicy.of(rubric.refresh, settings.search_cache_ttl)
        self.now = datetime.now(UTC)
        self.fresh_after: dict[str, datetime] = {}  # per company key, set by `due`
        self.stored = store.search_refs(territory) if request.rescore else {}

    def request(self, account: Account) -> SearchRequest:
        """The search for one company."""
        return SearchRequest(
            company_key=account.key,
            endpoint=self.settings.tavily_base_url,
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
        requests = {a.key: self.request(a) for a in accounts}
        standings = self.store.standings(self.territory, list(requests.values()))
        due = []
        for account in accounts:
            standing = standings.get(account.key, Standing())
            self.fresh_after[account.key] = self.now - fresh_for(self.policy, standing)
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
        if self.research.rescore:
            refs = {r.company_key: self.stored[r.company_key] for r in requests}
            return self.store.stored_searches(refs)
        if self.research.refresh_cache:
            return {}
        shortest = self.now - self.policy.shortest  # a company `due` was not asked about
        after = {r.company_key: self.fresh_after.get(r.company_key, shortest) for r in requests}
        return self.store.cached_searches(requests, after)


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

    def search(self, index: int, requests: list[SearchRequest]) -> TaskRun:
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
        feed, found = self.execution.results, []
        while feed is not None:
            try:
                found.append(feed.get_nowait())
            except queue.Empty:
                break
        return found


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
    ) -> None:
        self.store, self.run_id, self.territory = store, run_id, territory
        self.prices, self.budget, self.logger = prices, budget, logger
        self.n_chunks, self.progress = n_chunks, progress

    def searched(self, outcomes: list[SearchOutcome]) -> None:
        """Store paid-for searches; Tavily says what each cost, else its depth's price."""
        paid = [
            o
            if o.credits is not None
            else o.model_copy(update={"credits": search_credits(o, self.prices)})
            for o in outcomes
        ]
        self.budget.searched(paid, self.prices)
        self.store.save_searches(paid, self.run_id, self.prices.tavily.usd_per_credit)
        self.progress.paid(sum(self.prices.tavily_usd(o.credits or 0) for o in paid))

    def finished(self, results: list[CompanyResult]) -> None:
        """Store the results of companies that finished before their chunk did."""
        self.budget.stored(results)
        self.store.save_results(self.run_id, self.territory, results)
        self.progress.stored(results)

    def classified(self, outcome: ChunkOutcome, stored: set[str]) -> None:
        """Store the rest of a chunk's results (`stored`: keys stored as they finished) and
        say how far the run is: one plain line, what the UI's logs and a terminal that is
        not a console show (a live display leaves it out: it shows the same numbers)."""
        self.finished([r for r in outcome.results if r.company_key not in stored])
        ok = sum(r.status == "ok" for r in outcome.results)
        self.logger.info(
            "chunk %d/%d stored: %d classified, %d failed; %s",
            outcome.index + 1,
            self.n_chunks,
            ok,
            len(outcome.results) - ok,
            self.progress.latest.describe(),  # the numbers of the snapshot just shown
            extra={PROGRESS_LINE: True},
        )


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
