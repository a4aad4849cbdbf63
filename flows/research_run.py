"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

import duckdb
from prefect.utilities.annotations import quote

from flows.limits import SlotPool
from flows.parameters import ResearchRequest
from flows.pipeline import ChunkScheduler, PipelineReport
from flows.reporting import Progress
from storage.duckdb_store import TerritoryStore
from tasks.accounts import Account, InputError, parse_accounts, read_accounts, rows_to_csv
from tasks.classify import ChunkOutcome, ChunkWork, ClassifyOptions, classify_chunk
from tasks.errors import RetryPolicy
from tasks.llm_client import OpenAICompatibleClassifier
from tasks.models import SearchRequest
from tasks.search import build_query, search_company
from tasks.tavily_client import TavilySearchClient
from territory.settings import Settings

# Prefect global concurrency limits shared by every run on one server.
TAVILY_LIMIT = "territory-tavily"
LLM_LIMIT = "territory-llm"
# A table reference we can safely splice into SQL: [schema.]table, plain identifiers only.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def load_accounts(
    store: TerritoryStore, request: ResearchRequest
) -> tuple[str, list[Account], int, int]:
    """The companies to research: a territory's failed ones, a CSV, a DuckDB table or a list."""
    territory = request.territory
    if request.rerun_failed:
        territory = territory or "default"
        accounts = [
            Account(r["key"], r["name"], r["domain"], r["metadata"], ())
            for r in store.failed_companies(territory)
        ]
        return territory, accounts[: request.limit], len(accounts), 0
    if request.companies:
        parsed = parse_accounts(rows_to_csv(request.companies), "companies")
        territory = territory or "lookups"
    elif request.accounts_table:
        rows = read_accounts_table(store, request.accounts_table)
        parsed = parse_accounts(rows_to_csv(rows), request.accounts_table)
        territory = territory or request.accounts_table.rsplit(":", 1)[-1]
    else:
        assert request.companies_csv is not None  # the request model guarantees one source
        parsed = read_accounts(request.companies_csv)
        territory = territory or Path(request.companies_csv).stem
    n_rows = sum(len(a.rows) for a in parsed.accounts)
    return territory, parsed.accounts[: request.limit], n_rows, parsed.merged


def read_accounts_table(store: TerritoryStore, spec: str) -> list[dict[str, str]]:
    """Rows of `table` in the territory database, or of `path.duckdb:table` elsewhere."""
    path, _, table = spec.rpartition(":")
    if not _TABLE_NAME.fullmatch(table):
        raise InputError(f"{spec}: not a table name (letters, digits, _ and one optional schema.)")
    try:
        if path:
            with duckdb.connect(path, read_only=True) as conn:
                return _string_rows(conn.execute(f"SELECT * FROM {table}"))
        with store.session() as conn:
            return _string_rows(conn.execute(f"SELECT * FROM {table}"))
    except duckdb.Error as exc:
        raise InputError(f"{spec}: cannot read the accounts table ({_first_line(exc)})") from None


def _string_rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    names = [d[0] for d in cursor.description]
    return [
        {n: "" if v is None else str(v) for n, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def run_chunks(
    settings: Settings,
    store: TerritoryStore,
    run_id: str,
    territory: str,
    accounts: list[Account],
    refresh: bool,
    logger: Any,
) -> PipelineReport:
    """Build the clients, slots and tasks, and let the scheduler run the chunks."""
    tavily_concurrency = settings.effective_tavily_concurrency
    batch = settings.effective_batch_size
    llm_concurrency = settings.effective_llm_concurrency
    # With a Prefect server, every run on it shares these two caps (one provider account).
    shared = settings.limits_are_shared()
    search_slots = SlotPool(tavily_concurrency, TAVILY_LIMIT if shared else None)
    llm_slots = SlotPool(llm_concurrency, LLM_LIMIT if shared else None)
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
    stop = threading.Event()
    chunks = [accounts[i : i + batch] for i in range(0, len(accounts), batch)]
    progress = Progress(territory, len(accounts))

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

    scheduler = ChunkScheduler(
        chunks,
        submit_search,
        submit_classify,
        store.save_searches,
        on_classified,
        search_slots=search_slots,
        max_open_chunks=math.ceil(llm_concurrency / batch) + 2,
        stop=stop,
    )
    try:
        return scheduler.run()
    except BaseException:
        stop.set()  # Ctrl-C or cancellation: tell running chunk tasks to send nothing more
        raise
    finally:
        search_slots.close()
        llm_slots.close()
