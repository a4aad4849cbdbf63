"""searches, company_results and result_history have no keys (schema version 12): the writer
keeps one row per search, per company and per run and company, and a version 11 file loses
its keys with every row kept."""

from datetime import UTC, datetime

import duckdb

from domain.models import Classification, CompanyResult
from storage.duckdb_store import TerritoryStore
from storage.schema import MIGRATIONS, SCHEMA_VERSION, schema_version
from tests.storage.old_layouts import KEYED_TABLES, SCHEMA_V11
from tests.storage.test_page_storage import PAGES, outcome


def result(key: str, tier: str = "HOT", status: str = "ok") -> CompanyResult:
    verdict = Classification(tier=tier, score=50, confidence="high", reasoning="r", signals=[])
    return CompanyResult(company_key=key, name=key.title(), status=status, classification=verdict)


def keys_of(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every index and primary or unique key on the three tables."""
    indexes = conn.execute(
        "SELECT table_name, index_name FROM duckdb_indexes() "
        "WHERE table_name IN ('searches', 'company_results', 'result_history')"
    ).fetchall()
    constraints = conn.execute(
        "SELECT table_name, constraint_type FROM duckdb_constraints() "
        "WHERE table_name IN ('searches', 'company_results', 'result_history') "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()
    return sorted(indexes + constraints)


def test_a_company_stored_again_in_a_run_has_one_row_in_each_table_the_last(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, 3, 0, 3)
        store.save_results(first, "emea", [result("acme", "COLD"), result("bolt")])
        # Stored as it finished, then again with its chunk (a store cut short is done again);
        # and a batch naming a company twice keeps the last.
        store.save_results(first, "emea", [result("acme", "WARM"), result("acme", "HOT")])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, 1, 0, 1)
        store.save_results(second, "emea", [result("bolt", "COLD")])
        latest = store.conn.execute(
            "SELECT company_key, tier, run_id = ? FROM company_results ORDER BY ALL", [second]
        ).fetchall()
        history = store.conn.execute(
            "SELECT company_key, tier, run_id = ? FROM result_history ORDER BY ALL", [second]
        ).fetchall()
        assert keys_of(store.conn) == []
    assert latest == [("acme", "HOT", False), ("bolt", "COLD", True)]
    assert history == [("acme", "HOT", False), ("bolt", "COLD", True), ("bolt", "HOT", False)]


def test_a_skipped_company_keeps_its_latest_result_and_is_in_the_runs_history_once(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, 1, 0, 1)
        store.save_results(first, "emea", [result("acme")])
        store.finish_run(first, "completed")
        capped = store.start_run("emea", "full", {}, None, 2, 0, 2)
        skipped = [result("acme", status="failed"), result("bolt", status="failed")]
        store.save_skipped(capped, "emea", skipped)
        store.save_skipped(capped, "emea", skipped)  # the stop's store, done again
        latest = store.conn.execute(
            "SELECT company_key, status, run_id = ? FROM company_results ORDER BY ALL", [capped]
        ).fetchall()
        (n,) = store.conn.execute(
            "SELECT count(*) FROM result_history WHERE run_id = ?", [capped]
        ).fetchone()
    assert latest == [("acme", "ok", False), ("bolt", "failed", True)]
    assert n == 2


def test_a_version_11_file_loses_its_keys_and_keeps_every_row(tmp_path):
    path = tmp_path / "v11.duckdb"
    at = datetime(2026, 10, 1, tzinfo=UTC)
    with TerritoryStore.open(path) as store:  # the rows, as this version stores them
        run = store.start_run("emea", "full", {}, None, 30, 0, 30)
        store.save_searches([outcome(f"company {n}", at) for n in range(30)], run, 0.008)
        store.save_results(run, "emea", [result(f"company {n}") for n in range(30)])
    tables = ("searches", "company_results", "result_history")
    with duckdb.connect(str(path)) as conn:  # the tables as version 11 laid them out
        for table in tables:
            conn.execute(f"CREATE TABLE {table}_rows AS SELECT * FROM {table}")
            conn.execute(f"DROP TABLE {table}")
        conn.execute(SCHEMA_V11)
        conn.execute(KEYED_TABLES)
        conn.execute(MIGRATIONS)
        for table in tables:
            conn.execute(f"INSERT INTO {table} SELECT * FROM {table}_rows")
            conn.execute(f"DROP TABLE {table}_rows")
        conn.execute("UPDATE territory_schema SET version = 11")
        assert len(keys_of(conn)) == 3
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    with TerritoryStore.open(path, read_only=True) as store:  # `territory results` migrates
        assert schema_version(store.conn) == SCHEMA_VERSION == 12
        assert keys_of(store.conn) == []
        for table in tables:
            assert (
                store.conn.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                == (before[table])
            )
        nullable = store.conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'searches' "
            "AND is_nullable ORDER BY ALL"
        ).fetchall()
        key = outcome("company 7", at).request.cache_key
        assert store.stored_searches({"company 7": (key, at)})["company 7"].pages == PAGES
    assert [c for (c,) in nullable] == [
        "cost_usd", "credits", "request_id", "response_time", "run_id"
    ]  # fmt: skip
    assert len(before["searches"]) == len(before["result_history"]) == 30
