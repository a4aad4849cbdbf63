"""Runs: starting one (one live run per territory), liveness, resuming, finishing, history."""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

import psutil

from storage.errors import RunConflictError
from storage.sql import Session, connected, dicts, utcnow

# A run on another host that has stored nothing for this long is taken for dead (its process
# cannot be checked from here); a run on this host is alive exactly while its process is.
STALE_RUN_AFTER = timedelta(minutes=30)
# Statuses of runs that ended before doing all their work: a later run can carry on from them.
UNFINISHED = ("interrupted", "stopped", "cancelled", "failed")


class RunsMixin(Session):
    """The `runs` table."""

    @connected
    def start_run(
        self,
        territory: str,
        mode: str,
        parameters: dict[str, Any],
        flow_run_id: str | None,
        n_input_rows: int,
        n_merged: int,
        n_companies: int,
        only_company: str | None = None,
    ) -> str:
        """Record a run as running, unless another live run is researching the territory.

        A run of one company (`only_company`, its key: a lookup) conflicts only with runs of
        the whole territory and with runs of that same company, so people looking up
        different companies at once do not turn each other away.

        Runs left 'running' by a process that is gone are marked interrupted first. The check
        and the insert happen while this process holds the file, so two runs started at once
        cannot both pass it.
        """
        self._mark_dead_runs()
        continued = self._run_of_flow_run(flow_run_id)
        self._refuse_if_busy(territory, continued, only_company)
        me = [socket.gethostname(), os.getpid(), _process_started(os.getpid()), utcnow()]
        if continued:
            self.conn.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, message = NULL, "
                "host = ?, pid = ?, pid_started = ?, heartbeat_at = ? WHERE run_id = ?",
                [*me, continued],
            )
            return continued
        run_id = str(uuid.uuid4())
        self.conn.execute(
            "INSERT INTO runs (run_id, territory, mode, flow_run_id, status, started_at, "
            "parameters, n_input_rows, n_merged, n_companies, host, pid, pid_started, "
            "heartbeat_at, rubric, max_cost_usd, only_company) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                territory,
                mode,
                flow_run_id,
                utcnow(),
                json.dumps(parameters, default=str),
                n_input_rows,
                n_merged,
                n_companies,
                *me,
                parameters.get("rubric"),
                parameters.get("max_cost"),
                only_company,
            ],
        )
        return run_id

    def _run_of_flow_run(self, flow_run_id: str | None) -> str | None:
        """A retry of the same Prefect flow run continues its run row (and skips its work)."""
        if not flow_run_id:
            return None
        found = self.conn.execute(
            "SELECT run_id FROM runs WHERE flow_run_id = ?", [flow_run_id]
        ).fetchone()
        return str(found[0]) if found else None

    def _refuse_if_busy(self, territory: str, continued: str | None, only: str | None) -> None:
        """Two runs of one territory would pay twice for the same companies: refuse the second."""
        row = self.conn.execute(
            "SELECT run_id, host, pid, started_at, only_company FROM runs "
            "WHERE status = 'running' AND territory = ? AND run_id IS DISTINCT FROM ? "
            "AND (only_company IS NULL OR ?::VARCHAR IS NULL OR only_company = ?) "
            "ORDER BY started_at LIMIT 1",
            [territory, continued, only, only],
        ).fetchone()
        if row:
            run_id, host, pid, started_at, company = row
            what = (
                f"company {company!r} of territory {territory!r}"
                if company
                else (f"territory {territory!r}")
            )
            raise RunConflictError(
                f"{what} is already being researched by run {run_id[:8]} "
                f"(process {pid} on {host}, started {started_at:%Y-%m-%d %H:%M} UTC); "
                "wait for it to finish or stop it, then run again"
            )

    def _mark_dead_runs(self) -> None:
        """Runs left 'running' by a process that is gone were cut off: mark them interrupted.

        On this host a run is alive exactly while its process is (the same pid started at the
        same time, so a recycled pid does not count); a run on another host is taken for dead
        once it has stored nothing for STALE_RUN_AFTER.
        """
        host = socket.gethostname()
        rows = self.conn.execute(
            "SELECT run_id, host, pid, pid_started, coalesce(heartbeat_at, started_at) "
            "FROM runs WHERE status = 'running'"
        ).fetchall()
        dead = []
        for run_id, run_host, pid, pid_started, last_seen in rows:
            if run_host == host or run_host is None:
                alive = pid is not None and _process_alive(pid, pid_started)
            else:
                alive = utcnow() - last_seen < STALE_RUN_AFTER
            if not alive:
                dead.append([run_id])
        if dead:
            self.conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, "
                "now()), message = coalesce(message, 'the process ended before the run "
                "finished') WHERE run_id = ?",
                dead,
            )

    @connected
    def carried_over(self, run_id: str, territory: str, since: datetime | None) -> set[str]:
        """Companies already classified that this run need not redo.

        Always those this run stored itself (a retried flow run continues). With `since`, also
        those stored by runs of the territory that ended unfinished (crashed, stopped,
        cancelled) after its last completed full run and after `since`: a new run picks up
        where they stopped.
        """
        rows = self.conn.execute(
            f"""
            SELECT DISTINCT h.company_key FROM result_history h JOIN runs r USING (run_id)
            WHERE h.status = 'ok' AND h.territory = ? AND (
              r.run_id = ? OR (
                ? AND r.status IN ({", ".join("?" * len(UNFINISHED))}) AND r.started_at > ?
                AND r.started_at > coalesce((
                  SELECT max(started_at) FROM runs
                  WHERE territory = ? AND mode = 'full' AND status = 'completed'
                ), '-infinity'::TIMESTAMPTZ)))
            """,
            [
                territory,
                run_id,
                since is not None,
                *UNFINISHED,
                since or utcnow(),
                territory,
            ],
        ).fetchall()
        return {k for (k,) in rows}

    @connected
    def set_carried_over(self, run_id: str, n: int) -> None:
        """Record how many companies this run took over from earlier unfinished runs."""
        self.conn.execute("UPDATE runs SET n_resumed = ? WHERE run_id = ?", [n, run_id])

    @connected
    def set_not_due(self, run_id: str, n: int) -> None:
        """Record how many companies this run left as they were: not due for a refresh."""
        self.conn.execute("UPDATE runs SET n_not_due = ? WHERE run_id = ?", [n, run_id])

    @connected
    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        """Close a run, recomputing its counts from what was stored."""
        self.conn.execute(
            """
            UPDATE runs SET status = ?, finished_at = ?, message = ?,
              n_ok = c.n_ok, n_failed = c.n_failed, n_hot = c.n_hot, n_warm = c.n_warm,
              n_cold = c.n_cold, n_search_cached = c.n_cached, n_ambiguous = c.n_ambiguous,
              prompt_tokens = c.pt, completion_tokens = c.ct, n_skipped = c.n_skipped,
              llm_cost_usd = c.llm, tokens_estimated = c.estimated,
              cost_complete = c.complete,
              tavily_credits = s.credits, tavily_cost_usd = s.usd, cost_usd = c.llm + s.usd
            FROM (
              SELECT count(*) FILTER (status = 'skipped') AS n_skipped,
                     coalesce(sum(llm_cost_usd), 0) AS llm,
                     coalesce(bool_or(tokens_estimated), false) AS estimated,
                     -- a company that used tokens of a model with no price: cost incomplete
                     NOT coalesce(bool_or(llm_cost_usd IS NULL AND prompt_tokens > 0), false)
                       AS complete,
                     count(*) FILTER (status = 'ok') AS n_ok,
                     count(*) FILTER (status = 'failed') AS n_failed,
                     count(*) FILTER (status = 'ambiguous') AS n_ambiguous,
                     count(*) FILTER (tier = 'HOT') AS n_hot,
                     count(*) FILTER (tier = 'WARM') AS n_warm,
                     count(*) FILTER (tier = 'COLD') AS n_cold,
                     count(*) FILTER (search_cached) AS n_cached,
                     coalesce(sum(prompt_tokens), 0) AS pt,
                     coalesce(sum(completion_tokens), 0) AS ct
              FROM result_history WHERE run_id = ?
            ) AS c, (
              -- every search this run paid for, classified or not (a stopped run paid too)
              SELECT coalesce(sum(credits), 0) AS credits, coalesce(sum(cost_usd), 0) AS usd
              FROM searches WHERE run_id = ?
            ) AS s
            WHERE runs.run_id = ?
            """,
            [status, utcnow(), message, run_id, run_id, run_id],
        )

    @connected
    def set_cpu(self, run_id: str, cpu_ms: dict[str, float | int]) -> None:
        """Record the CPU the run's work cost: milliseconds by phase, and the companies."""
        self.conn.execute(
            "UPDATE runs SET cpu_ms = ? WHERE run_id = ?", [json.dumps(cpu_ms), run_id]
        )

    @connected
    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Run history, newest first."""
        return dicts(
            self.conn.execute(
                "SELECT run_id, territory, mode, status, started_at, finished_at, n_companies, "
                "n_merged, n_resumed, n_not_due, n_ok, n_failed, n_ambiguous, n_skipped, n_hot, "
                "n_warm, n_cold, n_search_cached, prompt_tokens, completion_tokens, "
                "tokens_estimated, tavily_credits, tavily_cost_usd, llm_cost_usd, cost_usd, "
                "cost_complete, max_cost_usd, rubric, cpu_ms, message, flow_run_id FROM runs "
                "ORDER BY started_at DESC LIMIT ?",
                [limit],
            )
        )

    @connected
    def run(self, run_id: str) -> dict[str, Any]:
        """One run row."""
        rows = dicts(self.conn.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        return rows[0]


def _process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None if it cannot be told."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _process_alive(pid: int, started: float | None) -> bool:
    """Is the process that recorded a run still running (and not a newer one with its pid)?"""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return True  # it exists but cannot be inspected: do not call it dead
    return started is None or abs(created - started) < 1.0
