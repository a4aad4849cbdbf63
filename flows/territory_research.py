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

from flows.research_run import load_accounts, run_chunks
from storage.duckdb_store import TerritoryStore
from territory.settings import load_settings

# An upper bound on task threads; the scheduler keeps far fewer busy (searches in flight plus
# open chunks), so the pool never queues one task behind another.
MAX_TASK_THREADS = 600


def _run_name() -> str:
    params = runtime.flow_run.parameters
    label = params.get("territory") or Path(params.get("companies_csv") or "territory").stem
    mode = "rerun-failed" if params.get("rerun_failed") else "refresh"
    return f"{label}-{mode}-{datetime.now(UTC):%Y-%m-%d-%H%M}"


@flow(
    name="territory-research",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_THREADS),
    persist_result=False,
)
def research_territory(
    companies_csv: str | None = None,
    territory: str | None = None,
    companies: list[dict[str, str]] | None = None,
    refresh: bool = False,
    rerun_failed: bool = False,
) -> Any:
    """Search, classify and store every company of a territory (or only its failed ones)."""
    settings = load_settings()
    settings.require_keys()
    logger = get_run_logger()
    started = time.monotonic()
    with TerritoryStore.open(settings.territory_db) as store:
        territory, accounts, n_rows, n_merged = load_accounts(
            store, companies_csv, companies, territory, rerun_failed
        )
        params = {
            "companies_csv": companies_csv,
            "territory": territory,
            "refresh": refresh,
            "companies": len(companies) if companies else None,
            "rerun_failed": rerun_failed,
            "settings": settings.public_dict(),
        }
        run_id = store.start_run(
            territory,
            "rerun-failed" if rerun_failed else "full",
            params,
            _flow_run_id(),
            n_rows,
            n_merged,
            len(accounts),
        )
        logger.info(
            "run %s: %d companies in territory %r (%d duplicate rows merged)",
            run_id,
            len(accounts),
            territory,
            n_merged,
        )
        try:
            report = run_chunks(settings, store, run_id, territory, accounts, refresh, logger)
        except BaseException as exc:
            # Chunks already stored stay stored; the run row says how it ended.
            cancelled = isinstance(exc, (KeyboardInterrupt, TerminationSignal))
            store.finish_run(
                run_id, "cancelled" if cancelled else "failed", f"{type(exc).__name__}: {exc}"[:500]
            )
            raise
        status = "stopped" if report.fatal else "completed"
        store.finish_run(run_id, status, report.fatal)
        summary = store.run(run_id) | {"elapsed_seconds": round(time.monotonic() - started, 1)}
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
    if report.fatal:
        # A Failed state with a plain message: the UI and CLI show one line, not a traceback.
        message = (
            f"run stopped early: {report.fatal} ({len(report.unprocessed)} companies not processed)"
        )
        logger.error(message)
        return Failed(message=message, data=result)
    return result


def _flow_run_id() -> str | None:
    value = runtime.flow_run.id
    return str(value) if value else None
