"""The DuckDB store: runs, raw search results and each company's latest result. One writer."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import psutil

from tasks.models import CompanyResult, SearchOutcome, SearchPage, SearchRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id          VARCHAR PRIMARY KEY,  -- one territory refresh
    territory       VARCHAR NOT NULL,
    mode            VARCHAR NOT NULL,     -- 'full' or 'rerun-failed'
    flow_run_id     VARCHAR,              -- the Prefect flow run, when there is one
    status          VARCHAR NOT NULL,     -- running | completed | stopped | failed | interrupted
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    parameters      JSON,                 -- flow parameters and non-secret settings
    n_input_rows    INTEGER,              -- companies read (before merging duplicates)
    n_merged        INTEGER,              -- duplicate rows merged away
    n_companies     INTEGER,              -- companies this run set out to research
    n_ok            INTEGER DEFAULT 0,
    n_failed        INTEGER DEFAULT 0,
    n_hot           INTEGER DEFAULT 0,
    n_warm          INTEGER DEFAULT 0,
    n_cold          INTEGER DEFAULT 0,
    n_search_cached INTEGER DEFAULT 0,    -- searches answered from the cache (no Tavily request)
    prompt_tokens   BIGINT DEFAULT 0,
    completion_tokens BIGINT DEFAULT 0,
    message         VARCHAR               -- why a run stopped or failed
);
CREATE TABLE IF NOT EXISTS searches (
    search_key      VARCHAR NOT NULL,     -- hash of normalised company + query + parameters
    fetched_at      TIMESTAMPTZ NOT NULL, -- when Tavily answered (a cache hit keeps the original)
    company_key     VARCHAR NOT NULL,
    query           VARCHAR NOT NULL,
    parameters      JSON NOT NULL,        -- search_depth, max_results, include_raw_content
    request_id      VARCHAR,
    response_time   DOUBLE,
    n_pages         INTEGER NOT NULL,
    PRIMARY KEY (search_key, fetched_at)
);
CREATE TABLE IF NOT EXISTS search_pages (
    search_key      VARCHAR NOT NULL,
    fetched_at      TIMESTAMPTZ NOT NULL,
    rank            INTEGER NOT NULL,     -- position in Tavily's answer
    url             VARCHAR NOT NULL,
    title           VARCHAR,
    score           DOUBLE,               -- Tavily relevance, 0-1
    content         VARCHAR,              -- Tavily's snippet
    raw_content     VARCHAR,              -- the full page text (what the LLM reads)
    PRIMARY KEY (search_key, fetched_at, rank)
);
CREATE TABLE IF NOT EXISTS company_results (
    territory       VARCHAR NOT NULL,
    company_key     VARCHAR NOT NULL,     -- normalised company name
    company         VARCHAR NOT NULL,     -- the name as given
    domain          VARCHAR,
    metadata        JSON,                 -- passthrough CSV columns (owner, CRM id, ...)
    status          VARCHAR NOT NULL,     -- ok | failed | ambiguous
    tier            VARCHAR,              -- HOT | WARM | COLD
    score           INTEGER,              -- 0-100
    confidence      VARCHAR,              -- high | medium | low
    reasoning       VARCHAR,
    signals         JSON,                 -- [{kind, url, excerpt}]
    signals_dropped INTEGER DEFAULT 0,    -- signals citing pages the model was not shown
    error           VARCHAR,              -- why it failed
    run_id          VARCHAR NOT NULL,
    search_key      VARCHAR,
    search_fetched_at TIMESTAMPTZ,
    search_cached   BOOLEAN,
    model           VARCHAR,
    prompt_tokens   INTEGER,
    completion_tokens INTEGER,
    updated_at      TIMESTAMPTZ NOT NULL
);
"""
# `territory eval`: one row per evaluation against a golden set, one per golden company.
EVAL_TABLES = """
CREATE TABLE IF NOT EXISTS evals (
    eval_id         VARCHAR PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL,
    golden          VARCHAR NOT NULL,     -- the golden file's name
    golden_sha256   VARCHAR NOT NULL,     -- and its content: evals of the same set compare
    territory       VARCHAR NOT NULL,
    run_id          VARCHAR,              -- the run whose verdicts were scored
    rubric          VARCHAR,              -- name@version
    model           VARCHAR,
    n               INTEGER NOT NULL,
    agreement       DOUBLE,
    metrics         JSON NOT NULL         -- confusion matrix, per tier, per confidence
);
CREATE TABLE IF NOT EXISTS eval_items (
    eval_id         VARCHAR NOT NULL,
    company_key     VARCHAR NOT NULL,
    company         VARCHAR NOT NULL,
    expected        VARCHAR NOT NULL,
    predicted       VARCHAR NOT NULL,     -- HOT | WARM | COLD | none (failed, ambiguous)
    confidence      VARCHAR,
    status          VARCHAR,
    correct         BOOLEAN NOT NULL,
    PRIMARY KEY (eval_id, company_key)
);
"""
# company_results holds one row per company and territory (the latest); history keeps them all.
KEYED_TABLES = """
CREATE UNIQUE INDEX IF NOT EXISTS company_results_key ON company_results (territory, company_key);
CREATE TABLE IF NOT EXISTS result_history AS SELECT * FROM company_results WHERE false;
CREATE UNIQUE INDEX IF NOT EXISTS result_history_key
    ON result_history (run_id, territory, company_key);
"""
RESULT_COLUMNS = (
    "territory, company_key, company, domain, metadata, status, tier, score, confidence, "
    "reasoning, signals, signals_dropped, error, run_id, search_key, search_fetched_at, "
    "search_cached, model, prompt_tokens, completion_tokens, updated_at, rubric, evidence"
)
_LOCK_PID = re.compile(r"PID (\d+)")
# How long a command waits for another process's brief hold on the file before giving up.
DEFAULT_LOCK_WAIT = 300.0
# Columns added after the first release; ADD COLUMN IF NOT EXISTS keeps old files working.
MIGRATIONS = """
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid_started DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS n_resumed INTEGER DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS n_ambiguous INTEGER DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS rubric VARCHAR;
ALTER TABLE company_results ADD COLUMN IF NOT EXISTS rubric VARCHAR;
ALTER TABLE company_results ADD COLUMN IF NOT EXISTS evidence JSON;
ALTER TABLE result_history ADD COLUMN IF NOT EXISTS rubric VARCHAR;
ALTER TABLE result_history ADD COLUMN IF NOT EXISTS evidence JSON;
"""
# A run on another host that has stored nothing for this long is taken for dead (its process
# cannot be checked from here); a run on this host is alive exactly while its process is.
STALE_RUN_AFTER = timedelta(minutes=30)
# Statuses of runs that ended before doing all their work: a later run can carry on from them.
UNFINISHED = ("interrupted", "stopped", "cancelled", "failed")
T = TypeVar("T")
INSERT_BATCH_ROWS = 250  # rows per multi-row INSERT: big enough to be fast, small enough to parse


def _connected(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store method inside a session (its own brief one unless a caller holds one)."""

    @functools.wraps(method)
    def wrapper(self: TerritoryStore, *args: Any, **kwargs: Any) -> T:
        with self.session():
            return method(self, *args, **kwargs)

    return wrapper


class StoreError(Exception):
    """A storage problem, phrased as one line for the user."""


class RunConflictError(StoreError):
    """Another live run is researching the same territory in this database."""


class TerritoryStore:
    """The territory database. Each write takes the file briefly, so several runs (and readers)
    can share it: DuckDB allows one writing process at a time, and others wait their turn."""

    def __init__(self, path: Path, read_only: bool, lock_wait: float) -> None:
        self.path = path
        self.read_only = read_only
        self.lock_wait = lock_wait
        self.conn: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def open(
        cls, path: Path | str, read_only: bool = False, lock_wait: float = DEFAULT_LOCK_WAIT
    ) -> TerritoryStore:
        """Check (creating if needed) the database; a file that stays busy is a clear error."""
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(f"no database at {path} yet; run `territory run` first")
        store = cls(path, read_only, lock_wait)
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
            with store.session() as conn:
                conn.execute(SCHEMA)
                conn.execute(KEYED_TABLES)
                conn.execute(MIGRATIONS)
                conn.execute(EVAL_TABLES)
        return store

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the file for a block of work (re-entrant); released at the end of the block."""
        if self.conn is not None:
            yield self.conn
            return
        self.conn = self._connect()
        try:
            yield self.conn
        finally:
            conn, self.conn = self.conn, None
            conn.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_wait
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower():
                    raise StoreError(f"cannot open {self.path}: {_first_line(text)}") from None
                if time.monotonic() >= deadline:
                    pid = _LOCK_PID.search(text)
                    who = f" by process {pid[1]}" if pid else ""
                    raise StoreError(
                        f"{self.path} has been in use{who} for over {self.lock_wait:g}s; "
                        "try again when the other territory command finishes"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open {self.path}: {_first_line(str(exc))}") from None

    def __enter__(self) -> TerritoryStore:
        self._held = self.session()
        self._held.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.__exit__(None, None, None)

    # -- runs -----------------------------------------------------------------------------

    @_connected
    def start_run(
        self,
        territory: str,
        mode: str,
        parameters: dict[str, Any],
        flow_run_id: str | None,
        n_input_rows: int,
        n_merged: int,
        n_companies: int,
    ) -> str:
        """Record a run as running, unless another live run is researching the territory.

        Runs left 'running' by a process that is gone are marked interrupted first. The check
        and the insert happen while this process holds the file, so two runs started at once
        cannot both pass it.
        """
        self._mark_dead_runs()
        continued = None
        if flow_run_id:
            # A retry of the same Prefect flow run continues its run row (and skips its work).
            found = self.conn.execute(
                "SELECT run_id FROM runs WHERE flow_run_id = ?", [flow_run_id]
            ).fetchone()
            continued = str(found[0]) if found else None
        self._refuse_if_busy(territory, continued)
        me = [socket.gethostname(), os.getpid(), _process_started(os.getpid()), _now()]
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
            "heartbeat_at, rubric) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                territory,
                mode,
                flow_run_id,
                _now(),
                json.dumps(parameters, default=str),
                n_input_rows,
                n_merged,
                n_companies,
                *me,
                parameters.get("rubric"),
            ],
        )
        return run_id

    def _refuse_if_busy(self, territory: str, continued: str | None) -> None:
        """Two runs of one territory would pay twice for the same companies: refuse the second."""
        assert self.conn is not None
        row = self.conn.execute(
            "SELECT run_id, host, pid, started_at FROM runs WHERE status = 'running' "
            "AND territory = ? AND run_id IS DISTINCT FROM ? ORDER BY started_at LIMIT 1",
            [territory, continued],
        ).fetchone()
        if row:
            run_id, host, pid, started_at = row
            raise RunConflictError(
                f"territory {territory!r} is already being researched by run {run_id[:8]} "
                f"(process {pid} on {host}, started {started_at:%Y-%m-%d %H:%M} UTC); "
                "wait for it to finish or stop it, then run again"
            )

    def _mark_dead_runs(self) -> None:
        """Runs left 'running' by a process that is gone were cut off: mark them interrupted.

        On this host a run is alive exactly while its process is (the same pid started at the
        same time, so a recycled pid does not count); a run on another host is taken for dead
        once it has stored nothing for STALE_RUN_AFTER.
        """
        assert self.conn is not None
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
                alive = _now() - last_seen < STALE_RUN_AFTER
            if not alive:
                dead.append([run_id])
        if dead:
            self.conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, "
                "now()), message = coalesce(message, 'the process ended before the run "
                "finished') WHERE run_id = ?",
                dead,
            )

    @_connected
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
                since or _now(),
                territory,
            ],
        ).fetchall()
        return {k for (k,) in rows}

    @_connected
    def set_carried_over(self, run_id: str, n: int) -> None:
        """Record how many companies this run took over from earlier unfinished runs."""
        self.conn.execute("UPDATE runs SET n_resumed = ? WHERE run_id = ?", [n, run_id])

    @_connected
    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        """Close a run, recomputing its counts from what was stored."""
        self.conn.execute(
            """
            UPDATE runs SET status = ?, finished_at = ?, message = ?,
              n_ok = c.n_ok, n_failed = c.n_failed, n_hot = c.n_hot, n_warm = c.n_warm,
              n_cold = c.n_cold, n_search_cached = c.n_cached, n_ambiguous = c.n_ambiguous,
              prompt_tokens = c.pt, completion_tokens = c.ct
            FROM (
              SELECT count(*) FILTER (status = 'ok') AS n_ok,
                     count(*) FILTER (status = 'failed') AS n_failed,
                     count(*) FILTER (status = 'ambiguous') AS n_ambiguous,
                     count(*) FILTER (tier = 'HOT') AS n_hot,
                     count(*) FILTER (tier = 'WARM') AS n_warm,
                     count(*) FILTER (tier = 'COLD') AS n_cold,
                     count(*) FILTER (search_cached) AS n_cached,
                     coalesce(sum(prompt_tokens), 0) AS pt,
                     coalesce(sum(completion_tokens), 0) AS ct
              FROM result_history WHERE run_id = ?
            ) AS c
            WHERE runs.run_id = ?
            """,
            [status, _now(), message, run_id, run_id],
        )

    # -- searches and results ---------------------------------------------------------------

    @_connected
    def save_searches(self, outcomes: Iterable[SearchOutcome]) -> None:
        """Keep fresh raw search results: the search cache, and the input of re-scoring."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        rows, pages = [], []
        for o in outcomes:
            r = o.request
            params = {
                "search_depth": r.search_depth,
                "max_results": r.max_results,
                "include_raw_content": r.include_raw_content,
                "endpoint": r.endpoint,
                "domain": r.domain,
            }
            rows.append(
                [
                    r.cache_key,
                    o.fetched_at,
                    r.company_key,
                    r.query,
                    json.dumps(params),
                    o.request_id,
                    o.response_time,
                    len(o.pages),
                ]
            )
            pages.extend(
                [r.cache_key, o.fetched_at, i, p.url, p.title, p.score, p.content, p.raw_content]
                for i, p in enumerate(o.pages)
            )
        if not rows:
            return
        with _transaction(self.conn):
            _insert_rows(self.conn, "INSERT INTO searches", rows, "ON CONFLICT DO NOTHING")
            _insert_rows(self.conn, "INSERT INTO search_pages", pages, "ON CONFLICT DO NOTHING")

    @_connected
    def cached_searches(
        self, requests: list[SearchRequest], fresh_after: datetime
    ) -> dict[str, SearchOutcome]:
        """The newest stored search per request fetched after `fresh_after`, by company key."""
        if not requests:
            return {}
        by_key = {r.cache_key: r for r in requests}
        heads = self.conn.execute(
            "SELECT search_key, max(fetched_at) FROM searches WHERE fetched_at > ? AND "
            f"search_key IN ({', '.join('?' * len(by_key))}) GROUP BY search_key",
            [fresh_after, *by_key],
        ).fetchall()
        return self._outcomes(heads, by_key)

    @_connected
    def search_refs(self, territory: str) -> dict[str, tuple[str, datetime]]:
        """The search each company's latest result was judged on: (search_key, fetched_at)."""
        rows = self.conn.execute(
            "SELECT company_key, search_key, search_fetched_at FROM company_results "
            "WHERE territory = ? AND search_key IS NOT NULL",
            [territory],
        ).fetchall()
        return {k: (key, at) for k, key, at in rows}

    @_connected
    def stored_searches(self, refs: dict[str, tuple[str, datetime]]) -> dict[str, SearchOutcome]:
        """Those exact stored searches, whatever their age (re-scoring reads them), by company."""
        return self._outcomes(list(dict.fromkeys(refs.values())), None)

    def _outcomes(
        self, heads: list[tuple[str, datetime]], requests: dict[str, SearchRequest] | None
    ) -> dict[str, SearchOutcome]:
        """Searches and their pages for (search_key, fetched_at) pairs, by company key.

        Without `requests`, each search's request is rebuilt from what was stored with it.
        """
        assert self.conn is not None
        if not heads:
            return {}
        pairs = f"({', '.join(['(?, ?)'] * len(heads))})"
        flat = [v for head in heads for v in head]
        meta = {
            (k, t): (company, query, params, rid, rt)
            for k, t, company, query, params, rid, rt in self.conn.execute(
                "SELECT search_key, fetched_at, company_key, query, parameters, request_id, "
                f"response_time FROM searches WHERE (search_key, fetched_at) IN {pairs}",
                flat,
            ).fetchall()
        }
        pages: dict[tuple[str, datetime], list[SearchPage]] = {key: [] for key in meta}
        for k, t, url, title, score, content, raw in self.conn.execute(
            "SELECT search_key, fetched_at, url, title, score, content, raw_content "
            f"FROM search_pages WHERE (search_key, fetched_at) IN {pairs} "
            "ORDER BY search_key, rank",
            flat,
        ).fetchall():
            pages[(k, t)].append(
                SearchPage(
                    url=url,
                    title=title or "",
                    score=score or 0.0,
                    content=content or "",
                    raw_content=raw,
                )
            )
        found = {}
        for (key, fetched_at), (company, query, params, request_id, rt) in meta.items():
            request = (
                requests[key] if requests is not None else _stored_request(company, query, params)
            )
            found[request.company_key] = SearchOutcome(
                request=request,
                fetched_at=fetched_at,
                pages=pages[(key, fetched_at)],
                response_time=rt,
                request_id=request_id,
            )
        return found

    @_connected
    def save_results(self, run_id: str, territory: str, results: list[CompanyResult]) -> None:
        """Upsert a chunk's results as the latest per company, and append them to history."""
        if not results:
            return
        now = _now()
        rows = [_result_row(run_id, territory, r, now) for r in results]
        with _transaction(self.conn):
            for table in ("company_results", "result_history"):
                _insert_rows(self.conn, f"INSERT OR REPLACE INTO {table} ({RESULT_COLUMNS})", rows)
            # A sign of life for runs on other hosts, whose process cannot be checked.
            self.conn.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", [now, run_id])

    # -- queries ------------------------------------------------------------------------------

    @_connected
    def run_failures(self, run_id: str) -> list[dict[str, Any]]:
        """This run's failed companies and why."""
        return _dicts(
            self.conn.execute(
                "SELECT company, domain, error FROM result_history "
                "WHERE run_id = ? AND status = 'failed' ORDER BY company",
                [run_id],
            )
        )

    @_connected
    def result_pairs(
        self, territory: str, since_run: str | None = None
    ) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each classified company's latest result with the one to compare it to: the result
        before it, or (with `since_run`) the latest one as of that run (None if there was none).
        """
        since_started = None
        if since_run:
            found = self.conn.execute(
                "SELECT run_id, started_at FROM runs WHERE territory = ? AND run_id LIKE ? "
                "ORDER BY started_at",
                [territory, f"{since_run}%"],
            ).fetchall()
            if not found:
                raise StoreError(f"no run {since_run!r} in territory {territory!r}")
            if len(found) > 1:
                raise StoreError(f"{since_run!r} matches {len(found)} runs; give more of its id")
            since_started = found[0][1]
        columns = "company_key, company, tier, score, confidence, signals, run_id, updated_at"
        current = _dicts(
            self.conn.execute(
                f"SELECT {columns} FROM company_results WHERE territory = ? AND status = 'ok'",
                [territory],
            )
        )
        baseline = _dicts(
            self.conn.execute(
                f"""
                SELECT {", ".join("h." + c for c in columns.split(", "))}
                FROM result_history h JOIN runs r USING (run_id)
                JOIN company_results c ON c.territory = h.territory
                  AND c.company_key = h.company_key
                WHERE h.territory = ? AND h.status = 'ok' AND (
                  CASE WHEN ?::TIMESTAMPTZ IS NULL THEN h.updated_at < c.updated_at
                       ELSE r.started_at <= ?::TIMESTAMPTZ END)
                QUALIFY row_number() OVER (
                  PARTITION BY h.company_key ORDER BY h.updated_at DESC) = 1
                """,
                [territory, since_started, since_started],
            )
        )
        before = {b["company_key"]: b for b in baseline}
        return [(c, before.get(c["company_key"])) for c in current]

    @_connected
    def failed_companies(self, territory: str) -> list[dict[str, Any]]:
        """Companies of a territory whose latest status is failed (name, domain, metadata)."""
        rows = self.conn.execute(
            "SELECT company_key, company, domain, metadata FROM company_results "
            "WHERE territory = ? AND status = 'failed' ORDER BY company",
            [territory],
        ).fetchall()
        return [
            {"key": k, "name": n, "domain": d, "metadata": json.loads(m) if m else {}}
            for k, n, d, m in rows
        ]

    @_connected
    def latest_results(
        self, territory: str | None = None, tier: str | None = None, company_key: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest result per company, as plain dicts, filtered as asked."""
        where, args = [], []
        for column, value in (
            ("territory", territory),
            ("tier", tier),
            ("company_key", company_key),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {RESULT_COLUMNS} FROM company_results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY territory, score DESC NULLS LAST, company"
        return _dicts(self.conn.execute(sql, args))

    # -- evals ----------------------------------------------------------------------------------

    @_connected
    def save_eval(self, row: dict[str, Any], items: list[dict[str, Any]]) -> str:
        """Store one evaluation and its items; returns its id."""
        eval_id = str(uuid.uuid4())
        with _transaction(self.conn):
            self.conn.execute(
                "INSERT INTO evals (eval_id, created_at, golden, golden_sha256, territory, "
                "run_id, rubric, model, n, agreement, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    eval_id,
                    _now(),
                    row["golden"],
                    row["golden_sha256"],
                    row["territory"],
                    row["run_id"],
                    row["rubric"],
                    row["model"],
                    row["metrics"]["n"],
                    row["metrics"]["agreement"],
                    json.dumps(row["metrics"]),
                ],
            )
            _insert_rows(
                self.conn,
                "INSERT INTO eval_items (eval_id, company_key, company, expected, predicted, "
                "confidence, status, correct)",
                [
                    [
                        eval_id,
                        i["company_key"],
                        i["company"],
                        i["expected"],
                        i["predicted"],
                        i["confidence"],
                        i["status"],
                        i["correct"],
                    ]
                    for i in items
                ],
            )
        return eval_id

    @_connected
    def evals(self, limit: int = 20) -> list[dict[str, Any]]:
        """Stored evaluations, newest first."""
        if not self._has_table("evals"):
            return []  # a file from before evals existed, opened read-only
        rows = _dicts(
            self.conn.execute(
                "SELECT eval_id, created_at, golden, golden_sha256, territory, run_id, rubric, "
                "model, n, agreement, metrics FROM evals ORDER BY created_at DESC LIMIT ?",
                [limit],
            )
        )
        for row in rows:
            if isinstance(row["metrics"], str):
                row["metrics"] = json.loads(row["metrics"])
        return rows

    @_connected
    def eval_items(self, eval_id: str) -> dict[str, dict[str, Any]]:
        """One evaluation's items by company key."""
        rows = _dicts(self.conn.execute("SELECT * FROM eval_items WHERE eval_id = ?", [eval_id]))
        return {r["company_key"]: r for r in rows}

    def _has_table(self, name: str) -> bool:
        assert self.conn is not None
        found = self.conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
        ).fetchone()
        return bool(found and found[0])

    @_connected
    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Run history, newest first."""
        return _dicts(
            self.conn.execute(
                "SELECT run_id, territory, mode, status, started_at, finished_at, n_companies, "
                "n_merged, n_resumed, n_ok, n_failed, n_ambiguous, n_hot, n_warm, n_cold, "
                "n_search_cached, prompt_tokens, completion_tokens, rubric, message, flow_run_id "
                "FROM runs "
                "ORDER BY started_at DESC LIMIT ?",
                [limit],
            )
        )

    @_connected
    def run(self, run_id: str) -> dict[str, Any]:
        """One run row."""
        rows = _dicts(self.conn.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        return rows[0]


def _result_row(run_id: str, territory: str, r: CompanyResult, now: datetime) -> list[Any]:
    c = r.classification
    return [
        territory,
        r.company_key,
        r.name,
        r.domain,
        json.dumps(r.metadata, ensure_ascii=False),
        r.status,
        c.tier if c else None,
        c.score if c else None,
        c.confidence if c else None,
        c.reasoning if c else None,
        json.dumps([s.model_dump(exclude_none=True) for s in c.signals], ensure_ascii=False)
        if c
        else None,
        r.signals_dropped,
        r.error,
        run_id,
        r.search_key,
        r.search_fetched_at,
        r.search_cached,
        r.model,
        r.usage.prompt_tokens if r.usage else None,
        r.usage.completion_tokens if r.usage else None,
        now,
        r.rubric,
        json.dumps(r.evidence, ensure_ascii=False) if r.evidence is not None else None,
    ]


def _stored_request(
    company_key: str, query: str, parameters: str | dict[str, Any]
) -> SearchRequest:
    """The request a stored search answered, rebuilt from its row (the name is not stored)."""
    params = json.loads(parameters) if isinstance(parameters, str) else parameters
    return SearchRequest(
        company_key=company_key,
        name=company_key,
        domain=params.get("domain"),
        endpoint=params.get("endpoint") or "https://api.tavily.com",
        query=query,
        search_depth=params.get("search_depth", "advanced"),
        max_results=params.get("max_results", 20),
        include_raw_content=params.get("include_raw_content", True),
    )


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        for key in ("metadata", "signals", "parameters", "evidence"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        out.append(item)
    return out


def _insert_rows(
    conn: duckdb.DuckDBPyConnection, head: str, rows: list[list[Any]], tail: str = ""
) -> None:
    """Insert rows with multi-row VALUES statements: DuckDB's executemany runs one statement
    per row, about 20x slower for a chunk of search pages (4.2 s against 0.2 s per 1,000)."""
    if not rows:
        return
    marks = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        part = rows[start : start + INSERT_BATCH_ROWS]
        conn.execute(
            f"{head} VALUES {', '.join([marks] * len(part))} {tail}",
            [value for row in part for value in row],
        )


class _transaction:
    """BEGIN/COMMIT around a block, ROLLBACK on error: a chunk lands whole or not at all."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "unknown error"


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


def _now() -> datetime:
    return datetime.now(UTC)
