"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.utilities.annotations import quote

from flows.limits import ensure_tag_limit
from flows.pipeline import ChunkScheduler, PipelineReport
from storage.duckdb_store import TerritoryStore
from tasks.accounts import Account, InputError, parse_accounts, read_accounts, rows_to_csv
from tasks.classify import ChunkOutcome, ChunkWork, ClassifyOptions, classify_chunk
from tasks.errors import RetryPolicy
from tasks.llm_client import OpenAICompatibleClassifier
from tasks.models import SearchRequest
from tasks.search import TAVILY_TAG, build_query, search_company
from tasks.tavily_client import TavilySearchClient
from territory.settings import Settings


def load_accounts(
    store: TerritoryStore,
    companies_csv: str | None,
    companies: list[dict[str, str]] | None,
    territory: str | None,
    rerun_failed: bool,
) -> tuple[str, list[Account], int, int]:
    """The companies to research: a territory's failed ones, a list given inline, or a CSV."""
    if rerun_failed:
        territory = territory or "default"
        accounts = [
            Account(r["key"], r["name"], r["domain"], r["metadata"], ())
            for r in store.failed_companies(territory)
        ]
        return territory, accounts, len(accounts), 0
    if companies:
        parsed = parse_accounts(rows_to_csv(companies), "companies")
        territory = territory or "lookups"
    elif companies_csv:
        parsed = read_accounts(companies_csv)
        territory = territory or Path(companies_csv).stem
    else:
        raise InputError("give companies_csv, companies, or rerun_failed=True")
    n_rows = sum(len(a.rows) for a in parsed.accounts)
    return territory, parsed.accounts, n_rows, parsed.merged


def run_chunks(
    settings: Settings,
    store: TerritoryStore,
    run_id: str,
    territory: str,
    accounts: list[Account],
    refresh: bool,
    logger: Any,
) -> PipelineReport:
    """Wire clients and tasks together and let the scheduler run the chunks."""
    tavily_concurrency = settings.effective_tavily_concurrency
    batch = settings.effective_batch_size
    llm_concurrency = settings.effective_llm_concurrency
    if settings.share_limits_across_runs:
        # Runs on one server then share TAVILY_CONCURRENCY through the `tag:tavily` limit.
        # Off by default: on a SQLite-backed server every slot acquisition contends with
        # state writes (503 + client backoff, ~2 s each), while the scheduler below already
        # caps this run's searches without any API call.
        ensure_tag_limit(TAVILY_TAG, tavily_concurrency)
    search_client = TavilySearchClient(
        settings.tavily_api_key.get_secret_value(),
        settings.tavily_base_url,
        settings.tavily_timeout,
        pool_size=tavily_concurrency,
    )
    classifier = OpenAICompatibleClassifier(
        settings.llm_api_key.get_secret_value(),
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_timeout,
        settings.llm_structured_output,
        settings.llm_max_output_tokens,
    )
    policy = RetryPolicy(settings.max_attempts, settings.retry_base_delay, settings.retry_max_delay)
    options = ClassifyOptions(
        settings.search_min_score, settings.context_max_chars, llm_concurrency
    )
    search = search_company.with_options(
        cache_expiration=settings.search_cache_ttl, refresh_cache=refresh
    )
    llm_slots = threading.BoundedSemaphore(llm_concurrency)
    stop = threading.Event()
    chunks = [accounts[i : i + batch] for i in range(0, len(accounts), batch)]
    progress = create_progress_artifact(
        0.0, key=_artifact_key(territory), description=f"Companies stored for {territory}"
    )
    stored = 0

    def submit_search(account: Account):
        request = SearchRequest(
            company_key=account.key,
            endpoint=settings.tavily_base_url,
            name=account.name,
            domain=account.domain,
            query=build_query(settings.search_query_template, account.name, account.domain),
            search_depth=settings.search_depth,
            max_results=settings.search_max_results,
        )
        return search.submit(request, search_client, policy, settings.context_max_chars)

    def submit_classify(work: ChunkWork):
        return classify_chunk.submit(quote(work), classifier, llm_slots, policy, options, stop)

    def on_classified(outcome: ChunkOutcome) -> None:
        nonlocal stored
        store.save_results(run_id, territory, outcome.results)
        stored += len(outcome.results)
        update_progress_artifact(progress, 100.0 * stored / max(1, len(accounts)))
        logger.info(
            "chunk %d/%d stored: %d companies (%d/%d done)",
            outcome.index + 1,
            len(chunks),
            len(outcome.results),
            stored,
            len(accounts),
        )

    scheduler = ChunkScheduler(
        chunks,
        submit_search,
        submit_classify,
        store.save_searches,
        on_classified,
        max_searches=tavily_concurrency,
        max_open_chunks=math.ceil(llm_concurrency / batch) + 2,
        stop=stop,
    )
    try:
        return scheduler.run()
    except BaseException:
        stop.set()  # Ctrl-C or cancellation: tell running chunk tasks to send nothing more
        raise


def _artifact_key(territory: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in territory.lower()).strip("-")[:40]
    return f"progress-{slug or 'territory'}"
