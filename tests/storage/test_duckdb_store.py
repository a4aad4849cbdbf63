"""The store: upserts without duplicates, history, run counts, and a clear lock error."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from domain.models import Classification, CompanyResult, SearchOutcome, SearchPage, SearchRequest
from storage.duckdb_store import (
    STALE_RUN_AFTER,
    RunConflictError,
    StoreError,
    TerritoryStore,
)
from tests.storage.old_layouts import KEYED_TABLES, SCHEMA_V11


def ok(key, tier="HOT", score=80):
    verdict = Classification(tier=tier, score=score, confidence="high", reasoning="r", signals=[])
    return CompanyResult(
        company_key=key,
        name=key.title(),
        status="ok",
        classification=verdict,
        metadata={"owner": "Dana"},
    )


def failed(key):
    return CompanyResult(company_key=key, name=key.title(), status="failed", error="boom")


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_rerun_updates_latest_and_keeps_history(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, 2, 0, 2)
        store.save_results(first, "emea", [ok("acme"), failed("globex")])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, 2, 0, 2)
        store.save_results(second, "emea", [ok("acme", "WARM", 50), ok("globex", "COLD", 10)])
        store.finish_run(second, "completed")
        conn = store.conn
        latest = conn.execute(
            "SELECT company_key, tier, run_id = ? FROM company_results ORDER BY 1", [second]
        ).fetchall()
        assert latest == [("acme", "WARM", True), ("globex", "COLD", True)]
        assert rows(conn, "SELECT count(*) FROM result_history") == [(4,)]
        assert rows(conn, f"SELECT n_ok, n_failed, n_hot FROM runs WHERE run_id = '{first}'") == [
            (1, 1, 1)
        ]
        assert store.failed_companies("emea") == []


def test_failed_companies_come_back_with_their_metadata(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run = store.start_run("t", "full", {}, None, 1, 0, 1)
        r = failed("initech").model_copy(
            update={"metadata": {"crm_id": "7"}, "domain": "i.example"}
        )
        store.save_results(run, "t", [r])
        assert store.failed_companies("t") == [
            {
                "key": "initech",
                "name": "Initech",
                "domain": "i.example",
                "metadata": {"crm_id": "7"},
            }
        ]


def test_a_run_whose_process_died_is_marked_interrupted(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        live = store.start_run("t1", "full", {}, None, 1, 0, 1)  # this process: alive
        dead = store.start_run("t2", "full", {}, None, 1, 0, 1)
        recycled = store.start_run("t3", "full", {}, None, 1, 0, 1)
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout.strip()
        store.conn.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [int(gone), dead])
        # Our pid, but recorded for a process that started an hour earlier: a reused pid.
        store.conn.execute(
            "UPDATE runs SET pid_started = pid_started - 3600 WHERE run_id = ?", [recycled]
        )
        store.start_run("t4", "full", {}, None, 1, 0, 1)
        assert store.run(dead)["status"] == "interrupted"
        assert store.run(recycled)["status"] == "interrupted"
        assert store.run(live)["status"] == "running"


def test_a_second_live_run_of_a_territory_is_refused_in_one_line(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, 1, 0, 1)
        with pytest.raises(RunConflictError) as refused:
            store.start_run("emea", "rerun-failed", {}, None, 1, 0, 1)
        message = str(refused.value)
        assert f"already being researched by run {first[:8]}" in message
        assert f"process {os.getpid()}" in message and "\n" not in message
        other = store.start_run("apac", "full", {}, None, 1, 0, 1)  # other territories go on
        store.finish_run(first, "completed")
        store.finish_run(other, "completed")
        assert store.start_run("emea", "full", {}, None, 1, 0, 1) not in (first, other)
        assert rows(store.conn, "SELECT count(*) FROM runs WHERE territory = 'emea'") == [(2,)]


def test_one_company_runs_conflict_only_over_the_same_company(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        acme = store.start_run("lookups", "full", {}, None, 1, 0, 1, only_company="acme")
        # Two people looking up different companies at once: both go on.
        globex = store.start_run("lookups", "full", {}, None, 1, 0, 1, only_company="globex")
        with pytest.raises(RunConflictError) as refused:
            store.start_run("lookups", "full", {}, None, 1, 0, 1, only_company="acme")
        assert str(refused.value).startswith(
            f"company 'acme' of territory 'lookups' is already being researched by run {acme[:8]}"
        )
        # A run of the whole territory may include either company: it waits for both.
        with pytest.raises(RunConflictError):
            store.start_run("lookups", "full", {}, None, 5, 0, 5)
        store.finish_run(acme, "completed")
        store.finish_run(globex, "completed")
        whole = store.start_run("lookups", "full", {}, None, 5, 0, 5)
        with pytest.raises(RunConflictError, match="territory 'lookups' is already"):
            store.start_run("lookups", "full", {}, None, 1, 0, 1, only_company="initech")
        stored = store.conn.execute(
            "SELECT only_company FROM runs WHERE run_id IN (?, ?, ?) ORDER BY 1",
            [acme, globex, whole],
        ).fetchall()
        assert stored == [("acme",), ("globex",), (None,)]


def test_a_run_on_another_host_counts_as_live_until_it_goes_quiet(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        remote = store.start_run("emea", "full", {}, None, 1, 0, 1)
        store.conn.execute("UPDATE runs SET host = 'worker-7', pid = 1 WHERE run_id = ?", [remote])
        with pytest.raises(RunConflictError, match="on worker-7"):
            store.start_run("emea", "full", {}, None, 1, 0, 1)
        quiet = datetime.now(UTC) - STALE_RUN_AFTER - timedelta(minutes=1)
        store.conn.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", [quiet, remote])
        store.start_run("emea", "full", {}, None, 1, 0, 1)
        assert store.run(remote)["status"] == "interrupted"


def test_a_new_run_carries_over_what_unfinished_runs_classified(tmp_path):
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        done = store.start_run("emea", "full", {}, None, 4, 0, 4)
        store.save_results(done, "emea", [ok("acme"), ok("globex"), ok("initech"), ok("hooli")])
        store.finish_run(done, "completed")
        crashed = store.start_run("emea", "full", {}, None, 4, 0, 4)
        store.save_results(crashed, "emea", [ok("acme"), failed("globex")])
        store.finish_run(crashed, "interrupted")
        stopped = store.start_run("emea", "full", {}, None, 4, 0, 4)
        store.save_results(stopped, "emea", [ok("initech")])
        store.finish_run(stopped, "stopped", "quota")
        resumed = store.start_run("emea", "full", {}, None, 4, 0, 4)
        # Both unfinished runs since the last completed one; a failure is not carried over.
        assert store.carried_over(resumed, "emea", since=long_ago) == {"acme", "initech"}
        assert store.carried_over(resumed, "emea", since=None) == set()  # resume off
        assert store.carried_over(resumed, "emea", since=datetime.now(UTC)) == set()  # too old
        assert store.carried_over(resumed, "apac", since=long_ago) == set()
        store.save_results(resumed, "emea", [ok("globex"), ok("hooli")])
        store.finish_run(resumed, "completed")
        # Once a run completes the territory, the next one starts from scratch.
        fresh = store.start_run("emea", "full", {}, None, 4, 0, 4)
        assert store.carried_over(fresh, "emea", since=long_ago) == set()


def test_cached_search_is_stored_once(tmp_path):
    req = SearchRequest(company_key="acme", name="Acme", query="Acme GPU")
    outcome = SearchOutcome(
        request=req,
        fetched_at=datetime.now(UTC),
        pages=[SearchPage(url="https://a.example", score=0.9, raw_content="raw text")],
    )
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome])
        store.save_searches([outcome])
        assert rows(store.conn, "SELECT count(*) FROM searches") == [(1,)]
        assert rows(store.conn, "SELECT url, raw_content FROM search_page_text") == [
            ("https://a.example", "raw text")
        ]


def test_a_file_held_too_long_is_a_clear_error(tmp_path):
    path = tmp_path / "t.duckdb"
    with TerritoryStore.open(path):
        code = (
            f"from storage.duckdb_store import TerritoryStore\n"
            f"TerritoryStore.open({str(path)!r}, lock_wait=1)"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0
        assert "has been in use by process" in proc.stderr and "for over 1s" in proc.stderr


def test_two_processes_take_turns_on_one_file(tmp_path):
    """Writes from another process wait for a brief hold instead of failing."""
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    code = (
        "from storage.duckdb_store import TerritoryStore\n"
        f"s = TerritoryStore.open({str(path)!r})\n"
        "r = s.start_run('other', 'full', {}, None, 1, 0, 1)\n"
        "s.finish_run(r, 'completed')\n"
    )
    with store.session():
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the other process is now waiting for the file
        mine = store.start_run("mine", "full", {}, None, 1, 0, 1)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    store.finish_run(mine, "completed")
    assert sorted((r["territory"], r["status"]) for r in store.runs()) == [
        ("mine", "completed"),
        ("other", "completed"),
    ]


def test_read_only_open_of_missing_db_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no database at"):
        TerritoryStore.open(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()


def test_failed_chunk_write_leaves_nothing_behind(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run = store.start_run("t", "full", {}, None, 2, 0, 2)
        # The latest-results insert succeeds, then the history insert fails: both must go.
        store.conn.execute("DROP TABLE result_history")
        with pytest.raises(duckdb.CatalogException):
            store.save_results(run, "t", [ok("a"), ok("b")])
        assert rows(store.conn, "SELECT count(*) FROM company_results") == [(0,)]
    assert duckdb.connect(str(tmp_path / "t.duckdb")).execute("SELECT 1").fetchall() == [(1,)]


def test_a_file_from_an_older_version_is_brought_up_to_date_even_by_a_reader(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:  # the tables as the first release made them
        conn.execute(SCHEMA_V11)
        conn.execute(KEYED_TABLES)
        conn.execute(
            "INSERT INTO runs (run_id, territory, mode, status, started_at) "
            "VALUES ('r1', 'emea', 'full', 'completed', now())"
        )
        conn.execute(
            "INSERT INTO company_results (territory, company_key, company, status, tier, score, "
            "run_id, updated_at) VALUES ('emea', 'acme', 'Acme', 'ok', 'HOT', 80, 'r1', now())"
        )
    with TerritoryStore.open(path, read_only=True) as store:  # what `territory results` does
        (row,) = store.latest_results(territory="emea")
        assert (row["company"], row["tier"], row["cost_usd"], row["rubric"]) == (
            "Acme",
            "HOT",
            None,
            None,
        )
        assert store.runs()[0]["cost_usd"] == 0 and store.evals() == []


def test_a_version_8_file_gains_the_runs_cpu_by_phase(tmp_path):
    from storage import schema

    path = tmp_path / "v8.duckdb"
    before = schema.MIGRATIONS.replace("ALTER TABLE runs ADD COLUMN IF NOT EXISTS cpu_ms JSON;", "")
    assert before != schema.MIGRATIONS
    with duckdb.connect(str(path)) as conn:  # the tables as version 8 left them
        for script in (SCHEMA_V11, KEYED_TABLES, before, schema.EVAL_TABLES,
                       schema.OVERRIDE_TABLES, schema.CRM_TABLES):  # fmt: skip
            conn.execute(script)
        conn.execute("CREATE TABLE territory_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO territory_schema VALUES (8)")
        conn.execute(
            "INSERT INTO runs (run_id, territory, mode, status, started_at) "
            "VALUES ('r8', 'emea', 'full', 'completed', now())"
        )
        assert "cpu_ms" not in {
            c for (c,) in rows(conn, "SELECT name FROM pragma_table_info('runs')")
        }
    with TerritoryStore.open(path, read_only=True) as store:  # `territory runs` migrates
        (old,) = store.runs()
        assert (old["run_id"], old["cpu_ms"]) == ("r8", None)
        assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION == 12
    with TerritoryStore.open(path) as store:
        run = store.start_run("emea", "full", {}, None, 2, 0, 2)
        store.set_cpu(run, {"search": 12.5, "store": 3.0, "companies": 2})
        assert store.run(run)["cpu_ms"] == {"search": 12.5, "store": 3.0, "companies": 2}
        assert rows(store.conn, "SELECT cpu_ms->>'$.search' FROM runs WHERE run_id = 'r8'") == [
            (None,)
        ]


def test_letting_go_of_reads_empties_duckdbs_buffer_pool_and_keeps_its_cap(tmp_path):
    def held(conn) -> int:  # bytes of table data DuckDB holds in memory
        (n,) = conn.execute(
            "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
        ).fetchone()
        return int(n)

    store = TerritoryStore.open(tmp_path / "t.duckdb")
    with store.session() as conn:
        # Hashes: numbers no compression shrinks, 96 MB of them.
        conn.execute("CREATE TABLE big AS SELECT hash(range) AS n FROM range(12_000_000)")
    with store.session() as conn:
        cap = conn.execute("SELECT current_setting('memory_limit')").fetchone()
        # Every value read (a count of distinct values read them too, for 3.7 s of CPU).
        assert conn.execute("SELECT sum(n % 7) > 0 FROM big").fetchone() == (True,)
        assert held(conn) > 64 * 2**20  # the column, read
        store.let_go_of_reads()
        assert held(conn) < 32 * 2**20
        assert conn.execute("SELECT current_setting('memory_limit')").fetchone() == cap
        assert conn.execute("SELECT count(*) FROM big").fetchone() == (12_000_000,)
    reader = TerritoryStore.open(tmp_path / "t.duckdb", read_only=True)
    with reader.session() as conn:
        cap = conn.execute("SELECT current_setting('memory_limit')").fetchone()
        reader.let_go_of_reads()
        assert conn.execute("SELECT current_setting('memory_limit')").fetchone() == cap
