"""One run's wiring: the accounts to research, clients built from settings, the scheduler."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect.utilities.annotations import quote

from flows.execution import open_execution
from flows.parameters import ResearchRequest
from flows.pipeline import ChunkScheduler, PipelineReport
from flows.reporting import Progress
from storage.duckdb_store import TerritoryStore
from tasks.accounts import Account, InputError, parse_accounts, read_accounts, rows_to_csv
from tasks.classify import ChunkOutcome, ChunkWork, ClassifyOptions, classify_chunk
from tasks.models import SearchOutcome, SearchRequest
from tasks.providers import Providers, providers_from
from tasks.rubric import Rubric
from tasks.search import build_query, search_chunk
from territory.settings import Settings

# A table reference we can safely splice into SQL: [schema.]table, plain identifiers only.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def load_accounts(
    store: TerritoryStore, request: ResearchRequest
) -> tuple[str, list[Account], int, int]:
    """The companies to research: a territory's failed ones, its stored ones (to re-score),
    a CSV, a DuckDB table or a list."""
    territory = request.territory
    if request.rescore:
        assert territory is not None  # the request model guarantees it
        rows = store.latest_results(territory=territory)
        if not rows:
            raise InputError(f"territory {territory!r} has no stored results to re-score")
        stored = [r for r in rows if r["search_key"]]
        if not stored:
            raise InputError(
                f"territory {territory!r} has no stored searches to re-score (every search "
                "failed); run it or rerun-failed first"
            )
        accounts = [
            Account(r["company_key"], r["company"], r["domain"], r["metadata"] or {}, ())
            for r in stored
        ]
        return territory, accounts[: request.limit], len(rows), 0
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
    options = ClassifyOptions(
        min_relevance(settings, rubric),
        settings.context_max_chars,
        rubric,
        datetime.now(UTC).date(),
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

    searching = math.ceil(tavily_concurrency / batch) + 2  # one more waits its turn for slots
    with open_execution(settings) as execution:
        scheduler = ChunkScheduler(
            chunks,
            make_request,
            lookup_cached,
            submit_search,
            submit_classify,
            store.save_searches,
            on_classified,
            # Enough chunks that a searched one always waits for the LLM (so it never idles
            # between chunks), and few enough to bound the raw pages held in memory.
            max_open_chunks=searching + math.ceil(llm_concurrency / batch) + 1,
            max_searching=searching,
            stop=execution.stop,
            search_stop=execution.search_stop,
            may_search=not request.rescore,  # a re-score never pays Tavily
        )
        try:
            report = scheduler.run()
        except BaseException:
            execution.stop.set()  # Ctrl-C or cancellation: tell running tasks to send nothing more
            raise
    if settings.task_runner == "threads":  # on Dask each worker paces its own requests
        log_pacing(logger, providers)
    return report


def min_relevance(settings: Settings, rubric: Rubric) -> float:
    """SEARCH_MIN_SCORE when set, else the rubric's relevance cut."""
    return (
        rubric.search.min_relevance
        if settings.search_min_score is None
        else settings.search_min_score
    )


def log_pacing(logger: Any, providers: Providers) -> None:
    """Say how often each provider pushed back, and the pace the run settled on."""
    for name, pace in (("Tavily", providers.search_pace()), ("LLM", providers.llm_pace())):
        if pace.rate_limited:
            logger.info(
                "%s answered 429 %d times; requests were paced to %.1f per minute",
                name,
                pace.rate_limited,
                (pace.rate or 0) * 60,
            )
