"""The territory database's tables, and how a file of an older version is brought up to date."""

from __future__ import annotations

import duckdb

from storage.effective import EFFECTIVE_VIEW
from storage.pages import (
    COPY_MEMORY_LIMIT,
    PAGE_BODIES_TABLE,
    PAGE_TEXT_VIEW,
    SEARCH_PAGES_TABLE,
    drop_pages_key,
    store_bodies_once,
)
from storage.sql import has_primary_key, memory_capped, replace_table

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
# No key: the one writer stores each (search_key, fetched_at) once (storage/searches.py), and
# reads it by a join that skips the row groups of other times (see UNKEYED).
SEARCHES_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    search_key      VARCHAR NOT NULL,     -- hash of normalised company + query + parameters
    fetched_at      TIMESTAMPTZ NOT NULL, -- when Tavily answered (a cache hit keeps the original)
    company_key     VARCHAR NOT NULL,
    query           VARCHAR NOT NULL,
    parameters      JSON NOT NULL,        -- search_depth, max_results, include_raw_content
    request_id      VARCHAR,
    response_time   DOUBLE,
    n_pages         INTEGER NOT NULL,
    run_id          VARCHAR,              -- the run that paid for it
    credits         DOUBLE,
    cost_usd        DOUBLE
);
"""
SCHEMA += SEARCHES_TABLE.format(name="searches")
SCHEMA += SEARCH_PAGES_TABLE.format(name="search_pages") + PAGE_BODIES_TABLE
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
# Reviewers' overrides: rows of their own, never written into company_results. Append-only:
# a clear is a row too, and the latest row of a company (by seq) is the one in force.
OVERRIDE_TABLES = """
CREATE SEQUENCE IF NOT EXISTS override_seq;
CREATE TABLE IF NOT EXISTS overrides (
    override_id     VARCHAR PRIMARY KEY,
    seq             BIGINT NOT NULL DEFAULT nextval('override_seq'),  -- order of the rows
    territory       VARCHAR NOT NULL,
    company_key     VARCHAR NOT NULL,
    company         VARCHAR NOT NULL,     -- the name as stored when the override was made
    action          VARCHAR NOT NULL,     -- set | clear
    tier            VARCHAR,              -- HOT | WARM | COLD (set)
    score           INTEGER,              -- 0-100, optional
    reason          VARCHAR,
    set_by          VARCHAR NOT NULL,     -- who
    created_at      TIMESTAMPTZ NOT NULL, -- when
    source          VARCHAR NOT NULL,     -- 'cli', or 'review:<file name>'
    model_status    VARCHAR,              -- the model's verdict at the time
    model_tier      VARCHAR,
    model_score     INTEGER,
    model_confidence VARCHAR,
    model_run_id    VARCHAR
);
CREATE INDEX IF NOT EXISTS overrides_company ON overrides (territory, company_key);
"""
# `territory crm push`: one row per company and push (pushed, unchanged, unmatched, skipped,
# failed), with the values sent; the latest row of a company and target is its CRM status.
CRM_TABLES = """
CREATE TABLE IF NOT EXISTS crm_pushes (
    push_id         VARCHAR NOT NULL,     -- one `territory crm push` (or crm-push flow run)
    territory       VARCHAR NOT NULL,
    target          VARCHAR NOT NULL,     -- hubspot | salesforce
    company_key     VARCHAR NOT NULL,
    company         VARCHAR NOT NULL,
    record_id       VARCHAR,              -- the CRM record written (or read)
    matched_by      VARCHAR,              -- id | domain | created
    status          VARCHAR NOT NULL,     -- pushed | unchanged | unmatched | skipped | failed
    reason          VARCHAR,              -- why unmatched, skipped or failed
    sent            JSON,                 -- the properties sent (never a key)
    pushed_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (push_id, company_key)
);
CREATE INDEX IF NOT EXISTS crm_pushes_company ON crm_pushes (territory, target, company_key);
"""
# company_results holds one row per company and territory (the latest); history keeps them all,
# one row per run and company. Neither has a key (see UNKEYED): the one writer keeps them so.
HISTORY_TABLE = """
CREATE TABLE IF NOT EXISTS result_history AS SELECT * FROM company_results WHERE false;
"""
# Version 12 took the keys off the tables the writer adds to in every session. Each session
# opens the file afresh, and its inserts read back and add to an ART index per key: on the
# 100,000 benchmark's file (our simulators), a session storing 50 companies spent 29-30 ms of
# CPU on their results against 41-43 with the keys, 77-78 on their searches against 84-88, and
# peaked about 10 MiB lower. Without a key a batch is found by a scan of the columns it joins
# on (for searches, of the row groups of the batch's times only).
UNKEYED = ("company_results_key", "result_history_key")
RESULT_COLUMN_NAMES = (
    "territory", "company_key", "company", "domain", "metadata", "status", "tier", "score",
    "confidence", "reasoning", "signals", "signals_dropped", "error", "run_id", "search_key",
    "search_fetched_at", "search_cached", "model", "prompt_tokens", "completion_tokens",
    "updated_at", "rubric", "evidence", "tokens_estimated", "tavily_credits", "llm_cost_usd",
    "cost_usd",
)  # fmt: skip
RESULT_COLUMNS = ", ".join(RESULT_COLUMN_NAMES)
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
ALTER TABLE searches ADD COLUMN IF NOT EXISTS run_id VARCHAR;
ALTER TABLE searches ADD COLUMN IF NOT EXISTS credits DOUBLE;
ALTER TABLE searches ADD COLUMN IF NOT EXISTS cost_usd DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS n_skipped INTEGER DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS max_cost_usd DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS tavily_credits DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS tavily_cost_usd DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS llm_cost_usd DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS cost_usd DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS cost_complete BOOLEAN DEFAULT true;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS tokens_estimated BOOLEAN DEFAULT false;
-- The company key of a one-company run (a lookup): it conflicts only with runs of that company.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS only_company VARCHAR;
-- Companies whose verdict still stood (searched within their tier's refresh window, judged by
-- the same rubric and model): neither searched nor classified by the run, kept as they were.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS n_not_due INTEGER DEFAULT 0;
-- The CPU the run's work cost, by phase: {"search": ms, "trim": ms, ..., "companies": n}
-- (milliseconds summed over the run, and how many companies they cover; tasks/phase_clock.py).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS cpu_ms JSON;
"""
# Per company and run: what it cost (company_results and result_history alike).
COST_COLUMNS = ("tokens_estimated BOOLEAN", "tavily_credits DOUBLE", "llm_cost_usd DOUBLE",
                "cost_usd DOUBLE")  # fmt: skip
MIGRATIONS += "".join(
    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column};\n"
    for table in ("company_results", "result_history")
    for column in COST_COLUMNS
)
# Bump with every change to the tables above: files of an older version are migrated on open,
# even by read-only commands.
# 7: crm_pushes; 8: search_pages' text columns zstd-compressed (see compress_pages);
# 9: runs.cpu_ms; 10: page text once per distinct body, in page_bodies (see store_bodies_once);
# 11: search_pages without a primary key (see drop_pages_key); 12: searches, company_results
# and result_history without keys (see UNKEYED).
SCHEMA_VERSION = 12


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The version a file's tables are at (0: from before versions were recorded)."""
    if not has_table(conn, "territory_schema"):
        return 0
    found = conn.execute("SELECT max(version) FROM territory_schema").fetchone()
    return int(found[0] or 0) if found else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing and add columns added since; record the schema version. A file
    that is up to date is not written to at all (opening it must not change it)."""
    if schema_version(conn) >= SCHEMA_VERSION:
        return
    for script in (SCHEMA, HISTORY_TABLE, MIGRATIONS, EVAL_TABLES, OVERRIDE_TABLES, CRM_TABLES):
        conn.execute(script)
    store_bodies_once(conn)
    drop_pages_key(conn)
    drop_row_keys(conn)
    conn.execute(EFFECTIVE_VIEW)  # last: they read the tables above, in their latest shape
    conn.execute(PAGE_TEXT_VIEW)
    conn.execute("CREATE TABLE IF NOT EXISTS territory_schema (version INTEGER NOT NULL)")
    conn.execute("DELETE FROM territory_schema")
    conn.execute("INSERT INTO territory_schema VALUES (?)", [SCHEMA_VERSION])


def has_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


def drop_row_keys(conn: duckdb.DuckDBPyConnection) -> None:
    """Take the keys of version 11 and before off searches and the results (see UNKEYED).
    searches' rows are copied (about 200 bytes a search: no page text). No-op on a file
    without them."""
    for index in UNKEYED:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    if not has_primary_key(conn, "searches"):
        return
    with memory_capped(conn, COPY_MEMORY_LIMIT):  # as drop_pages_key's copy
        replace_table(conn, "searches", SEARCHES_TABLE, "BY NAME SELECT * FROM searches")
