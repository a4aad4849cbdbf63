"""A run's end: its CPU by phase, how it ended, the results table and summary, the alerts.

They read and write the file in one opening (DuckDB's opening and closing cost 20-30 ms of
CPU each time, a small run's largest cost after Prefect's), the artifacts and events made of
them included: the file is held the few calls to the Prefect API longer.
"""

from __future__ import annotations

import time
from typing import Any

from domain.changes import Change
from flows.alerts import read_run_news, send_run_alerts
from flows.reporting import publish_results
from flows.run_context import RunContext
from tasks.phase_clock import PhaseClock, cpu_ms, describe


def end_run(
    run: RunContext,
    clock: PhaseClock,
    logger: Any,
    status: str,
    fatal: str | None,
    started: float,
) -> tuple[dict[str, Any], list[Change]]:
    """Close a run that got through its chunks (`fatal`: why it stopped early, if it did);
    returns its summary (`n_changed`: the companies whose result changed, new ones not
    counted) and what changed, most important first (the first of each kind: `RunNews`)."""
    store, run_id = run.store, run.run_id
    store.bodies.forget()  # the run stores no more pages: its end's reads have the memory
    with store.session():
        record_cpu(run, clock, logger)
        store.finish_run(run_id, status, fatal)
        summary = store.run(run_id) | {"elapsed_seconds": round(time.monotonic() - started, 1)}
        summary |= store.override_counts(run.territory, run_id)  # reviewers' tiers kept?
        # The latest results beside the ones before: read once, for the change list and the
        # alerts (at 100,000 companies a read takes seconds), keeping only the run's news.
        news = read_run_news(store, run.territory, run_id)
        store.let_go_of_reads()
        changes = publish_results(store, run_id, summary, news)
        send_run_alerts(store, run_id, logger, summary, news)
    return summary | {"n_changed": news.n_changed}, changes


def end_stopped_run(
    run: RunContext, clock: PhaseClock, logger: Any, status: str, message: str
) -> None:
    """Close a run cut short (cancelled, or failed): what it stored before the end may have
    moved, and the alerts say so now, or no later run will."""
    with run.store.session():
        record_cpu(run, clock, logger)
        run.store.finish_run(run.run_id, status, message)
        send_run_alerts(run.store, run.run_id, logger)


def record_cpu(run: RunContext, clock: PhaseClock, logger: Any) -> None:
    """Store the run's CPU by phase on its row (`cpu_ms`), and say it per company."""
    totals = cpu_ms(clock.seconds(), clock.companies)
    try:
        run.store.set_cpu(run.run_id, totals)
    except Exception as exc:  # noqa: BLE001 - a measurement must not mask how the run ended
        logger.warning("the run's CPU by phase could not be stored: %s", exc)
    if not clock.companies:
        return
    where = (
        "search to evidence on the Dask workers, store and other in the flow process"
        if run.settings.task_runner == "dask"
        else "flow process"
    )
    logger.info("CPU per company by phase: %s (%s, start-up excluded)", describe(totals), where)
