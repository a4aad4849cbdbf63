"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from prefect.utilities.annotations import quote

from flows.budget import Budget
from flows.execution import open_execution
from flows.parameters import ResearchRequest
from flows.pipeline import ChunkScheduler, PipelineReport
from flows.reporting import Progress
from storage.duckdb_store import TerritoryStore
from tasks.accounts import Account
from tasks.classify import (
    ChunkItem,
    ChunkOutcome,
    ChunkWork,
    ClassifyOptions,
    classify_chunk,
    search_credits,
)
from tasks.costs import load_prices
from tasks.models import SearchOutcome, SearchRequest
from tasks.providers import Providers, providers_from
from tasks.rubric import Rubric
from tasks.search import build_query, search_chunk
from territory.settings import Settings


def run_chunks(
    settings: Settings,
    rubric: Rubric,
    store: TerritoryStore,
    run_id: str,
    territory: str,
    accounts: list[Account],
    request: ResearchRequest,
    logger: Any,
) -> PipelineReport:
    """Build the providers, slots and tasks, and let the scheduler run the chunks."""
    batch = settings.effective_batch_size
    tavily_concurrency = settings.effective_tavily_concurrency
    llm_concurrency = settings.effective_llm_concurrency
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
    if prices.llm.get(settings.llm_model) is None:
        logger.warning(
            "no price for model %r in the price table (PRICES_FILE): its cost is not counted%s",
            settings.llm_model,
            ", and the cost cap counts searches only" if request.max_cost is not None else "",
        )
    template = settings.search_query_template or rubric.search.query
    chunks = [accounts[i : i + batch] for i in range(0, len(accounts), batch)]
    progress = Progress(territory, len(accounts))
    fresh_after = datetime.now(UTC) - settings.search_cache_ttl

    def make_request(account: Account) -> SearchRequest:
        return SearchRequest(
            company_key=account.key,
            endpoint=settings.tavily_base_url,
            name=account.name,
            domain=account.domain,
            query=build_query(template, account.name, account.domain),
            search_depth=settings.search_depth,
            max_results=settings.search_max_results,
        )

    stored = store.search_refs(territory) if request.rescore else {}

    def lookup_cached(requests: list[SearchRequest]) -> dict[str, SearchOutcome]:
        if request.rescore:  # exactly the content the stored results were judged on, any age
            return store.stored_searches({r.company_key: stored[r.company_key] for r in requests})
        return {} if request.refresh_cache else store.cached_searches(requests, fresh_after)

    def submit_search(index: int, requests: list[SearchRequest]):
        return execution.submit(
            search_chunk,
            index=index,
            requests=quote(requests),
            providers=providers,
            slots=execution.search_slots,
            stop=execution.search_stop,
            raw_content_cap=settings.context_max_chars,
        )

    def submit_classify(work: ChunkWork):
        return execution.submit(
            classify_chunk,
            chunk=quote(work),
            providers=providers,
            llm_slots=execution.llm_slots,
            stop=execution.stop,
            options=options,
        )

    def on_searched(outcomes: list[SearchOutcome]) -> None:
        # Tavily says what a search cost; if it does not, its depth's price is what was paid.
        paid = [
            o
            if o.credits is not None
            else o.model_copy(update={"credits": search_credits(o, prices)})
            for o in outcomes
        ]
        budget.searched(paid, prices)
        store.save_searches(paid, run_id, prices.tavily.usd_per_credit)

    def on_classified(outcome: ChunkOutcome) -> None:
        budget.stored(outcome.results)
        store.save_results(run_id, territory, outcome.results)
        progress.add(len(outcome.results))
        ok = sum(r.status == "ok" for r in outcome.results)
        logger.info(
            "chunk %d/%d stored: %d classified, %d failed (%d/%d done)",
            outcome.index + 1,
            len(chunks),
            ok,
            len(outcome.results) - ok,
            progress.done,
            len(accounts),
        )

    searching = math.ceil(tavily_concurrency / batch) + 2  # one more waits its turn for slots
    with open_execution(settings) as execution:
        scheduler = ChunkScheduler(
            chunks,
            make_request,
            lookup_cached,
            submit_search,
            submit_classify,
            on_searched,
            on_classified,
            # Enough chunks that a searched one always waits for the LLM (so it never idles
            # between chunks), and few enough to bound the raw pages held in memory.
            max_open_chunks=searching + math.ceil(llm_concurrency / batch) + 1,
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
            raise
    if settings.task_runner == "threads":  # on Dask each worker paces its own requests
        log_pacing(logger, providers)
    if report.skipped:
        reason = f"skipped (budget): the run's {budget.describe()}; the next run picks it up"
        store.save_skipped(
            run_id,
            territory,
            [ChunkItem.of(a).result(status="skipped", error=reason) for a in report.skipped],
        )
        report.fatal = report.fatal or (
            f"{budget.describe()}: {len(report.skipped)} companies skipped, the next run "
            "picks them up"
        )
        logger.warning("%s; %d companies skipped", budget.describe(), len(report.skipped))
    return report


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
