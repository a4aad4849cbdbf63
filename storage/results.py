"""Results: each company's latest result and the history of every result, and their queries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from domain.changes import ResultPair
from domain.models import CompanyResult
from storage.errors import StoreError
from storage.schema import RESULT_COLUMN_NAMES, RESULT_COLUMNS
from storage.sql import (
    Session,
    connected,
    dicts,
    insert_rows,
    iter_batches,
    transaction,
    utcnow,
)

# The tables have no keys (see storage/schema.py, UNKEYED): a company's rows are found by these.
_LATEST = "territory = ? AND company_key IN (SELECT unnest(?::VARCHAR[]))"
_RUNS = "run_id = ? AND " + _LATEST  # zone maps skip the row groups of other runs
_KEY = RESULT_COLUMN_NAMES.index("company_key")

# What `changes` compares: a company's latest result and its baseline.
PAIR_COLUMNS = "company_key, company, tier, score, confidence, signals, run_id, updated_at"


class ResultsMixin(Session):
    """The `company_results` and `result_history` tables."""

    @connected
    def save_results(self, run_id: str, territory: str, results: list[CompanyResult]) -> None:
        """Store a chunk's results as the latest per company, and in the run's history (a
        company stored again in a run replaces its row in both)."""
        if not results:
            return
        now = utcnow()
        rows = _one_each(_result_row(run_id, territory, r, now) for r in results)
        keys = [row[_KEY] for row in rows]
        with transaction(self.conn):
            self.conn.execute(f"DELETE FROM company_results WHERE {_LATEST}", [territory, keys])
            self.conn.execute(
                f"DELETE FROM result_history WHERE {_RUNS}", [run_id, territory, keys]
            )
            for table in ("company_results", "result_history"):
                insert_rows(self.conn, f"INSERT INTO {table} ({RESULT_COLUMNS})", rows)
            # A sign of life for runs on other hosts, whose process cannot be checked.
            self.conn.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", [now, run_id])

    @connected
    def save_skipped(self, run_id: str, territory: str, results: list[CompanyResult]) -> None:
        """Companies the run left untouched (its cost cap): in its history, and as the latest
        result only where the company has none (a good earlier result is not overwritten)."""
        if not results:
            return
        now = utcnow()
        rows = _one_each(_result_row(run_id, territory, r, now) for r in results)
        keys = [row[_KEY] for row in rows]
        with transaction(self.conn):
            held = self.conn.execute(
                f"SELECT company_key FROM company_results WHERE {_LATEST}", [territory, keys]
            ).fetchall()
            have = {key for (key,) in held}
            new = [row for row in rows if row[_KEY] not in have]
            insert_rows(self.conn, f"INSERT INTO company_results ({RESULT_COLUMNS})", new)
            self.conn.execute(
                f"DELETE FROM result_history WHERE {_RUNS}", [run_id, territory, keys]
            )
            insert_rows(self.conn, f"INSERT INTO result_history ({RESULT_COLUMNS})", rows)

    @connected
    def run_failures(self, run_id: str) -> list[dict[str, Any]]:
        """This run's failed companies and why."""
        return dicts(
            self.conn.execute(
                "SELECT company, domain, error FROM result_history "
                "WHERE run_id = ? AND status = 'failed' ORDER BY company",
                [run_id],
            )
        )

    @connected
    def result_pairs(self, territory: str, since_run: str | None = None) -> list[ResultPair]:
        """Each classified company's latest result with the one to compare it to: the result
        before it, or (with `since_run`) the latest one as of that run (None if there was none).
        """
        return list(self.iter_result_pairs(territory, since_run))

    def iter_result_pairs(
        self, territory: str, since_run: str | None = None
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """`result_pairs` a batch at a time, from one query (the latest result joined with its
        baseline), inside the caller's session: `changes` on 100,000 companies keeps only the
        changes, never two lists of every result. The join is narrow: the signals, the
        widest column, are read after by row id, a batch at a time, and a baseline's only
        where they differ from the latest (by a 64-bit hash of the stored text). Joined whole,
        at 100,000 companies with a run before, DuckDB's join held 470 MiB (our simulators)."""
        since_started = self._run_started(territory, since_run) if since_run else None
        names = PAIR_COLUMNS.split(", ")
        narrow = [c for c in names if c != "signals"]
        cursor = self.cursor()
        cursor.execute(
            f"""
            WITH current AS (
                SELECT {", ".join(narrow)}, rowid AS c_row,
                       hash(signals::VARCHAR) AS c_signals_hash
                FROM company_results WHERE territory = ? AND status = 'ok'
            ), picked AS (  -- narrow rows through the window; the wide ones joined after
                SELECT h.company_key, h.run_id
                FROM result_history h JOIN runs r USING (run_id)
                JOIN company_results c ON c.territory = h.territory
                  AND c.company_key = h.company_key
                WHERE h.territory = ? AND h.status = 'ok' AND (
                  CASE WHEN ?::TIMESTAMPTZ IS NULL THEN h.updated_at < c.updated_at
                       ELSE r.started_at <= ?::TIMESTAMPTZ END)
                QUALIFY row_number() OVER (
                  PARTITION BY h.company_key ORDER BY h.updated_at DESC) = 1
            ), baseline AS (
                SELECT {", ".join("h." + c for c in narrow)}, h.rowid AS b_row,
                       hash(h.signals::VARCHAR) AS b_signals_hash
                FROM result_history h JOIN picked p USING (company_key, run_id)
                WHERE h.territory = ?
            )
            SELECT {", ".join("c." + c for c in narrow)}, c.c_row,
                   b.company_key IS NOT NULL AS has_baseline,
                   -- the same signals as stored: decoded once, compared not at all
                   coalesce(b.b_signals_hash = c.c_signals_hash, false) AS same_signals,
                   b.b_row, {", ".join(f"b.{c} AS b_{c}" for c in narrow)}
            FROM current c LEFT JOIN baseline b USING (company_key)
            """,
            [territory, territory, since_started, since_started, territory],
        )
        for rows in iter_batches(cursor):
            # Each batch's signals are read by row id; DuckDB would keep every block read.
            self.let_go_of_reads()
            now = self._signals("company_results", [r["c_row"] for r in rows])
            differ = [r["b_row"] for r in rows if r["has_baseline"] and not r["same_signals"]]
            was = self._signals("result_history", differ)
            for row in rows:
                current = {c: row[c] for c in narrow} | {"signals": now[row["c_row"]]}
                if not row["has_baseline"]:
                    yield current, None
                    continue
                before = {c: row[f"b_{c}"] for c in narrow}
                same = row["same_signals"]
                before["signals"] = current["signals"] if same else was[row["b_row"]]
                yield current, before

    def _signals(self, table: str, rows: list[int]) -> dict[int, Any]:
        """The signals of rows of `table` (company_results or result_history), by row id,
        decoded."""
        if not rows:
            return {}
        found = self.conn.execute(
            f"SELECT rowid, signals FROM {table} WHERE rowid IN (SELECT unnest(?::BIGINT[]))",
            [rows],
        ).fetchall()
        return {row: json.loads(text) if isinstance(text, str) else text for row, text in found}

    def _run_started(self, territory: str, since_run: str) -> datetime:
        """When the run `since_run` (an id or its start) of the territory started."""
        found = self.conn.execute(
            "SELECT run_id, started_at FROM runs WHERE territory = ? AND run_id LIKE ? "
            "ORDER BY started_at",
            [territory, f"{since_run}%"],
        ).fetchall()
        if not found:
            raise StoreError(f"no run {since_run!r} in territory {territory!r}")
        if len(found) > 1:
            raise StoreError(f"{since_run!r} matches {len(found)} runs; give more of its id")
        return found[0][1]

    @connected
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

    @connected
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
        return dicts(self.conn.execute(sql, args))

    @connected
    def results_of(self, territory: str, company_keys: list[str]) -> dict[str, dict[str, Any]]:
        """The latest result of each of these companies of a territory, by company key."""
        if not company_keys:
            return {}
        rows = dicts(
            self.conn.execute(
                f"SELECT {RESULT_COLUMNS} FROM company_results "
                "WHERE territory = ? AND list_contains(?::VARCHAR[], company_key)",
                [territory, company_keys],
            )
        )
        return {r["company_key"]: r for r in rows}


def _result_row(run_id: str, territory: str, r: CompanyResult, now: datetime) -> list[Any]:
    """One result as the values of RESULT_COLUMNS, in their order."""
    row = _result_fields(run_id, territory, r, now)
    return [row[column] for column in RESULT_COLUMN_NAMES]


def _result_fields(run_id: str, territory: str, r: CompanyResult, now: datetime) -> dict[str, Any]:
    """One result by column name (a column missing here is a KeyError, not a shifted row)."""
    c = r.classification
    signals = [s.model_dump(exclude_none=True) for s in c.signals] if c else None
    return {
        "territory": territory,
        "company_key": r.company_key,
        "company": r.name,
        "domain": r.domain,
        "metadata": json.dumps(r.metadata, ensure_ascii=False),
        "status": r.status,
        "tier": c.tier if c else None,
        "score": c.score if c else None,
        "confidence": c.confidence if c else None,
        "reasoning": c.reasoning if c else None,
        "signals": json.dumps(signals, ensure_ascii=False) if signals is not None else None,
        "signals_dropped": r.signals_dropped,
        "error": r.error,
        "run_id": run_id,
        "search_key": r.search_key,
        "search_fetched_at": r.search_fetched_at,
        "search_cached": r.search_cached,
        "model": r.model,
        "prompt_tokens": r.usage.prompt_tokens if r.usage else None,
        "completion_tokens": r.usage.completion_tokens if r.usage else None,
        "updated_at": now,
        "rubric": r.rubric,
        "evidence": json.dumps(r.evidence, ensure_ascii=False) if r.evidence is not None else None,
        "tokens_estimated": r.tokens_estimated,
        "tavily_credits": r.tavily_credits,
        "llm_cost_usd": r.llm_cost_usd,
        "cost_usd": r.cost_usd,
    }


def _one_each(rows: Iterable[list[Any]]) -> list[list[Any]]:
    """One row per company, the last given (as a key's upsert kept it): the tables have no
    key to refuse a second."""
    return list({row[_KEY]: row for row in rows}.values())
