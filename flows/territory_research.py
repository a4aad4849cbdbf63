"""The territory research flow: read accounts, search each company, classify in chunks, store."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.exceptions import TerminationSignal
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.parameters import ResearchRequest
from flows.reporting import publish_results
from flows.research_run import run_chunks
from flows.secrets import fill_keys_from_blocks
from flows.sources import load_accounts
from storage.duckdb_store import StoreError, TerritoryStore
from tasks.accounts import Account, InputError
from tasks.rubric import Rubric, load_rubric
from territory.settings import ConfigError, Settings, load_settings

# An upper bound on task threads; the scheduler keeps far fewer busy (searches in flight plus
# open chunks), so the pool never queues one task behind another.
MAX_TASK_THREADS = 600
TOP_CHANGES = 10  # changes the run's result (and the CLI summary) spells out


def run_name() -> str:
    """`<territory>-<refresh|rerun-failed>-<UTC date and time>`, from the run's parameters."""
    request = runtime.flow_run.parameters.get("request") or {}
    if isinstance(request, ResearchRequest):
        request = request.model_dump()
    source = request.get("companies_csv") or request.get("accounts_table") or "territory"
    label = request.get("territory") or Path(str(source).rsplit(":", 1)[-1]).stem
    mode = (
        "rerun-failed"
        if request.get("rerun_failed")
        else "rescore"
        if request.get("rescore")
        else "refresh"
    )
    return f"{label}-{mode}-{datetime.now(UTC):%Y-%m-%d-%H%M}"


@flow(
    name="territory-research",
    flow_run_name=run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_THREADS),
    persist_result=False,
)
def research_territory(request: ResearchRequest) -> Any:
    """Search, classify and store every company of a territory (or only its failed ones)."""
    logger = get_run_logger()
    started = time.monotonic()
    try:
        run = start_run(request)
    except (ConfigError, InputError, StoreError) as exc:
        # Refused before any work (bad input or settings, a busy territory): one plain line in
        # the UI and the CLI, not a traceback; the exception rides along for the exit code.
        logger.error("%s", exc)
        return Failed(message=str(exc), data=exc)
    settings, rubric, store, run_id, territory, todo = run
    try:
        report = run_chunks(settings, rubric, store, run_id, territory, todo, request, logger)
    except BaseException as exc:
        # Chunks already stored stay stored; the run row says how it ended.
        status = "cancelled" if _is_stop_signal(exc) else "failed"
        store.finish_run(run_id, status, f"{type(exc).__name__}: {exc}"[:500])
        raise
    status = "stopped" if report.fatal else "completed"
    store.finish_run(run_id, status, report.fatal)
    summary = store.run(run_id) | {"elapsed_seconds": round(time.monotonic() - started, 1)}
    changes = publish_results(store, run_id, summary)
    logger.info(
        "run %s %s: %s ok, %s failed (HOT %s, WARM %s, COLD %s) in %.1fs",
        run_id,
        status,
        summary["n_ok"],
        summary["n_failed"],
        summary["n_hot"],
        summary["n_warm"],
        summary["n_cold"],
        summary["elapsed_seconds"],
    )
    result = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in summary.items()
        if k != "parameters"
    }
    # The moves worth a line in the summary (new companies are counted, not listed).
    moved = [c for c in changes if c.old_tier is not None]
    result["changes"] = [f"{c.company}: {c.describe()}" for c in moved[:TOP_CHANGES]]
    result["n_changed"] = len(moved)
    if report.fatal:
        # A Failed state with a plain message: the UI and CLI show one line, not a traceback.
        left = f" ({len(report.unprocessed)} not processed)" if report.unprocessed else ""
        message = f"run stopped early: {report.fatal}{left}"
        logger.error(message)
        return Failed(message=message, data=result)
    return result


def start_run(
    request: ResearchRequest,
) -> tuple[Settings, Rubric, TerritoryStore, str, str, list[Account]]:
    """Settings, rubric, accounts and a run row; what an unfinished run did is not redone."""
    settings = load_settings(**request.settings_overrides())
    if settings.keys_missing:
        settings = fill_keys_from_blocks(settings)
    settings.require_keys()
    rubric = load_rubric(settings.rubric_file)
    # No `with`: each store call takes the file briefly, so other runs and readers share it.
    store = TerritoryStore.open(settings.territory_db)
    territory, accounts, n_rows, n_merged = load_accounts(store, request)
    parameters = request.model_dump(exclude={"companies"}) | {
        "territory": territory,
        "rubric": rubric.label,
        "settings": settings.public_dict(),
    }
    run_id = store.start_run(
        territory,
        request.mode,
        parameters,
        _flow_run_id(),
        n_rows,
        n_merged,
        len(accounts),
        only_company=accounts[0].key if len(accounts) == 1 else None,
    )
    try:
        todo = _skip_done(store, run_id, territory, accounts, request, settings)
    except BaseException as exc:
        store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    get_run_logger().info(
        "run %s: %d companies in territory %r (%d duplicate rows merged%s)",
        run_id,
        len(accounts),
        territory,
        n_merged,
        f"; {len(accounts) - len(todo)} already classified by an unfinished run, not redone"
        if len(todo) < len(accounts)
        else "",
    )
    return settings, rubric, store, run_id, territory, todo


def _skip_done(
    store: TerritoryStore,
    run_id: str,
    territory: str,
    accounts: list[Account],
    request: ResearchRequest,
    settings: Settings,
) -> list[Account]:
    """The accounts still to research: a crashed or stopped run is picked up where it ended.

    Companies this flow run already classified (a retry) are skipped, and so, unless the run
    refreshes or is told not to resume, are those classified by unfinished runs of the
    territory since its last completed run, as long as that work is younger than the search
    cache TTL (older work is refreshed like any other).
    """
    resume = request.resume and not request.refresh_cache and request.mode == "full"
    since = datetime.now(UTC) - settings.search_cache_ttl if resume else None
    done = store.carried_over(run_id, territory, since)
    todo = [a for a in accounts if a.key not in done]
    if len(todo) < len(accounts):
        store.set_carried_over(run_id, len(accounts) - len(todo))
    return todo


def _is_stop_signal(exc: BaseException | None) -> bool:
    """Ctrl-C or a cancellation (SIGTERM), even when it surfaced as an interrupted DuckDB query."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (KeyboardInterrupt, TerminationSignal)):
            return True
        if isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower():
            return True  # DuckDB turns the signal into "Query interrupted"
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _flow_run_id() -> str | None:
    value = runtime.flow_run.id
    return str(value) if value else None
