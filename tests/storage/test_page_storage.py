"""Stored pages: zstd-compressed in the file, read back byte for byte, old files migrated."""

from datetime import UTC, datetime, timedelta

import duckdb

from domain.models import SearchOutcome, SearchPage, SearchRequest
from storage.duckdb_store import TerritoryStore
from storage.schema import (
    EVAL_TABLES,
    KEYED_TABLES,
    MIGRATIONS,
    OVERRIDE_TABLES,
    SCHEMA,
    SCHEMA_VERSION,
    schema_version,
)

# Text a page can hold: scripts, emoji, combining marks, curly quotes, a non-breaking hyphen,
# control-ish whitespace, markdown, and a page as long as the context cap.
PAGES = [
    SearchPage(url="https://a.example/ü", title="Ünïcödé — “quotes”", score=0.91,
               content="snippet 6‑K",
               raw_content="# Straße\n\n東京 GPU クラスタ 🚀 e\u0301\r\n\ttab"),
    SearchPage(url="https://b.example", title="", score=0.5, content="", raw_content=None),
    SearchPage(url="https://c.example", title="empty page", score=0.4, content="x",
               raw_content=""),
    SearchPage(url="https://d.example", title="long", score=0.3, content="y" * 300,
               raw_content="H100 cluster of 1,024 GPUs. " * 2_200),
]  # fmt: skip


def outcome(key: str, fetched_at: datetime, pages: list[SearchPage] = PAGES) -> SearchOutcome:
    request = SearchRequest(company_key=key, name=key.title(), query=f"{key} GPU")
    return SearchOutcome(request=request, fetched_at=fetched_at, pages=pages, request_id="r-1")


def compressions(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """How the page text columns are stored on disk (after a checkpoint)."""
    conn.execute("CHECKPOINT")
    return {
        c
        for (c,) in conn.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('search_pages') "
            "WHERE column_name IN ('raw_content', 'content') AND segment_type = 'VARCHAR'"
        ).fetchall()
    }


def test_pages_read_back_byte_for_byte_from_zstd_columns(tmp_path):
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome("acme", at)], run_id="run-1")
        assert compressions(store.conn) == {"ZSTD"}
        stored = store.stored_searches({"acme": (outcome("acme", at).request.cache_key, at)})
        cached = store.cached_searches([outcome("acme", at).request], at - timedelta(days=1))
    for found in (stored["acme"], cached["acme"]):
        assert found.pages == PAGES  # '' stays '', None stays None, every byte kept
        assert [p.raw_content for p in found.pages] == [p.raw_content for p in PAGES]


def old_file(path, pages: list[SearchPage]) -> None:
    """A file as schema version 6 wrote it: page text in DuckDB's default compression."""
    with duckdb.connect(str(path)) as conn:
        for script in (SCHEMA.replace(" USING COMPRESSION zstd", ""), KEYED_TABLES, MIGRATIONS,
                       EVAL_TABLES, OVERRIDE_TABLES):  # fmt: skip
            conn.execute(script)
        conn.execute("CREATE TABLE territory_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO territory_schema VALUES (6)")
        at = datetime(2026, 10, 1, tzinfo=UTC)
        searches = [outcome(f"company {n}", at, pages) for n in range(300)]  # enough for FSST
        conn.execute(
            "INSERT INTO searches (search_key, fetched_at, company_key, query, parameters, "
            "n_pages) SELECT unnest(?::VARCHAR[]), ?, unnest(?::VARCHAR[]), 'q', '{}', ?",
            [[o.request.cache_key for o in searches], at,
             [o.request.company_key for o in searches], len(pages)],
        )  # fmt: skip
        rows = [
            (o.request.cache_key, i, p.url, p.title, p.score, p.content, p.raw_content)
            for o in searches
            for i, p in enumerate(pages)
        ]
        keys, *rest = (list(column) for column in zip(*rows, strict=True))
        conn.execute(
            "INSERT INTO search_pages SELECT unnest(?::VARCHAR[]), ?, unnest(?::INTEGER[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [keys, at, *rest],
        )
        conn.execute("CHECKPOINT")
        assert "ZSTD" not in compressions(conn)


def test_an_old_file_is_migrated_to_zstd_with_every_page_as_it_was(tmp_path):
    path = tmp_path / "v6.duckdb"
    old_file(path, PAGES[:3])
    with duckdb.connect(str(path), read_only=True) as conn:
        before = conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall()
    with TerritoryStore.open(path, read_only=True) as store:  # `territory results` migrates
        assert schema_version(store.conn) == SCHEMA_VERSION == 9
        assert store.conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall() == before
        assert len(before) == 900
        at = datetime(2026, 10, 1, tzinfo=UTC)
        key = outcome("company 7", at).request.cache_key
        assert store.stored_searches({"company 7": (key, at)})["company 7"].pages == PAGES[:3]
    with duckdb.connect(str(path)) as conn:
        assert compressions(conn) == {"ZSTD"}
        (ddl,) = conn.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'search_pages'"
        ).fetchone()
        assert ddl.count("USING COMPRESSION ZSTD") == 2 and "PRIMARY KEY" in ddl
        # The primary key still holds: the same page again is refused, not duplicated.
        try:
            conn.execute("INSERT INTO search_pages SELECT * FROM search_pages LIMIT 1")
            raise AssertionError("duplicate page accepted")
        except duckdb.ConstraintException:
            pass


def test_writing_after_the_migration_keeps_old_and_new_pages(tmp_path):
    path = tmp_path / "v6.duckdb"
    old_file(path, PAGES[:2])
    new_at = datetime(2026, 11, 2, tzinfo=UTC)
    with TerritoryStore.open(path) as store:
        store.save_searches([outcome("acme", new_at)], run_id="run-2")
        (n,) = store.conn.execute("SELECT count(*) FROM search_pages").fetchone()
        assert n == 600 + len(PAGES)
        key = outcome("acme", new_at).request.cache_key
        assert store.stored_searches({"acme": (key, new_at)})["acme"].pages == PAGES
