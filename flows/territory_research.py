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

from domain.accounts import InputError
from domain.errors import ConfigError
from flows.allocator import hand_back_large_blocks
from flows.collector import collect_less_often
from flows.parameters import ResearchRequest
from flows.research_run import run_chunks
from flows.run_context import start_run
from flows.run_end import end_run, end_stopped_run
from storage.duckdb_store import StoreError
from tasks.phase_clock import PhaseClock

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
        else "refresh"  # a full run, named for what it does to the territory
    )
    return f"{label}-{mode}-{datetime.now(UTC):%Y-%m-%d-%H%M}"


@flow(
    name="territory-research",
    flow_run_name=run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_THREADS),  # type: ignore[arg-type]
    persist_result=False,
)
def research_territory(request: ResearchRequest) -> Any:
    """Search, classify and store every company of a territory (or only its failed ones)."""
    logger = get_run_logger()
    started = time.monotonic()
    hand_back_large_blocks()  # the run's freed buffers leave its memory (flows/allocator.py)
    collect_less_often()  # as the CLI does, for a deployment's run (flows/collector.py)
    try:
        run = start_run(request)
    except (ConfigError, InputError, StoreError) as exc:
        # Refused before any work (bad input or settings, a busy territory): one plain line in
        # the UI and the CLI, not a traceback; the exception rides along for the exit code.
        logger.error("%s", exc)
        return Failed(message=str(exc), data=exc)
    clock = PhaseClock()
    try:
        report = run_chunks(run, logger, clock)
    except BaseException as exc:
        # Chunks already stored stay stored; the run row says how it ended.
        status = "cancelled" if _is_stop_signal(exc) else "failed"
        end_stopped_run(run, clock, logger, status, f"{type(exc).__name__}: {exc}"[:500])
        raise
    status = "stopped" if report.fatal else "completed"
    summary, changes = end_run(run, clock, logger, status, report.fatal, started)
    logger.info(
        "run %s %s: %s ok, %s failed, %s not due (HOT %s, WARM %s, COLD %s) in %.1fs",
        run.run_id,
        status,
        summary["n_ok"],
        summary["n_failed"],
        summary["n_not_due"],
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
    if report.fatal:
        # A Failed state with a plain message: the UI and CLI show one line, not a traceback.
        left = f" ({len(report.unprocessed)} not processed)" if report.unprocessed else ""
        message = f"run stopped early: {report.fatal}{left}"
        logger.error(message)
        return Failed(message=message, data=result)
    return result


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
