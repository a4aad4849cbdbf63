"""Stored pages: each distinct text once (page_bodies, zstd-compressed), read back byte for
byte, old files migrated."""

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from domain.models import SearchOutcome, SearchPage, SearchRequest
from storage.duckdb_store import WRITE_ROW_GROUP_SIZE, TerritoryStore
from storage.pages import BODY_HASH_SQL, SEARCH_PAGES_TABLE, body_hash
from storage.schema import (
    EVAL_TABLES,
    MIGRATIONS,
    OVERRIDE_TABLES,
    SCHEMA_VERSION,
    schema_version,
)
from tests.storage.old_layouts import KEYED_TABLES, SCHEMA_V11

# search_pages as versions 6 to 9 laid it out: the text in the table itself (zstd from 8 on).
SEARCH_PAGES_V9 = """
CREATE TABLE search_pages (
    search_key VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL, rank INTEGER NOT NULL,
    url VARCHAR NOT NULL, title VARCHAR, score DOUBLE,
    content VARCHAR{using}, raw_content VARCHAR{using},
    PRIMARY KEY (search_key, fetched_at, rank)
);
"""

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


def compressions(conn: duckdb.DuckDBPyConnection, table: str = "page_bodies") -> set[str]:
    """How the page text columns are stored on disk (after a checkpoint)."""
    conn.execute("CHECKPOINT")
    return {
        c
        for (c,) in conn.execute(
            f"SELECT DISTINCT compression FROM pragma_storage_info('{table}') "
            "WHERE column_name IN ('raw_content', 'content', 'body') AND segment_type = 'VARCHAR'"
        ).fetchall()
    }


def texts(pages: list[SearchPage]) -> set[str]:
    return {t for p in pages for t in (p.content, p.raw_content) if t is not None}


def test_pages_read_back_byte_for_byte_from_zstd_columns(tmp_path):
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome("acme", at)], run_id="run-1")
        assert compressions(store.conn) == {"ZSTD"}
        stored = store.stored_searches({"acme": (outcome("acme", at).request.cache_key, at)})
        cached = store.cached_searches([outcome("acme", at).request], at - timedelta(days=1))
        (n,) = store.conn.execute("SELECT count(*) FROM page_bodies").fetchone()
        assert n == len(texts(PAGES)) == 6  # one "" for two pages; None stores nothing
    for found in (stored["acme"], cached["acme"]):
        assert found.pages == PAGES  # '' stays '', None stays None, every byte kept
        assert [p.raw_content for p in found.pages] == [p.raw_content for p in PAGES]


def test_a_page_stored_again_adds_a_reference_not_its_text(tmp_path):
    first, later = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)
    changed = [*PAGES[:3], PAGES[3].model_copy(update={"raw_content": "the page, edited"})]
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome("acme", first), outcome("bolt", first)], run_id="run-1")
        (once,) = store.conn.execute("SELECT count(*) FROM page_bodies").fetchone()
        store.save_searches([outcome("acme", later, changed)], run_id="run-2")
        (n, pages) = store.conn.execute(
            "SELECT (SELECT count(*) FROM page_bodies), count(*) FROM search_pages"
        ).fetchone()
        refs = {
            "acme": (outcome("acme", later).request.cache_key, later),
            "bolt": (outcome("bolt", first).request.cache_key, first),
        }
        stored = store.stored_searches(refs)
        old = store.stored_searches({"acme": (outcome("acme", first).request.cache_key, first)})
        by_hand = store.conn.execute(
            "SELECT content, raw_content FROM search_page_text WHERE fetched_at = ? ORDER BY rank",
            [later],
        ).fetchall()
    assert once == len(texts(PAGES))  # two companies' identical pages: stored once
    assert (n, pages) == (once + 1, 3 * len(PAGES))  # the edited page alone is new
    assert stored["acme"].pages == changed and stored["bolt"].pages == PAGES
    assert old["acme"].pages == PAGES
    assert by_hand == [(p.content, p.raw_content) for p in changed]


def test_the_hash_in_sql_is_the_hash_in_python():
    samples = [t for p in PAGES for t in (p.title, p.content, p.raw_content) if t is not None]
    with duckdb.connect() as conn:
        for text in samples:
            (in_sql,) = conn.execute(f"SELECT {BODY_HASH_SQL.format('?')}", [text]).fetchone()
            assert in_sql == body_hash(text)


def old_file(path, pages: list[SearchPage], version: int = 6) -> None:
    """A file as schema version 6 wrote it (page text in search_pages, DuckDB's default
    compression), or as 8 and 9 did (the same, zstd)."""
    using = " USING COMPRESSION zstd" if version >= 8 else ""
    old_schema = SCHEMA_V11.replace(SEARCH_PAGES_TABLE.format(name="search_pages"), "")
    with duckdb.connect(str(path)) as conn:
        conn.execute(SEARCH_PAGES_V9.format(using=using))
        for script in (old_schema.split("CREATE TABLE IF NOT EXISTS page_bodies")[0],
                       KEYED_TABLES, MIGRATIONS, EVAL_TABLES, OVERRIDE_TABLES):  # fmt: skip
            conn.execute(script)
        conn.execute("CREATE TABLE territory_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO territory_schema VALUES (?)", [version])
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
        assert (compressions(conn, "search_pages") == {"ZSTD"}) == (version >= 8)


@pytest.mark.parametrize("version", [6, 9])
def test_an_old_file_is_migrated_with_every_page_as_it_was(tmp_path, version):
    path = tmp_path / f"v{version}.duckdb"
    old_file(path, PAGES, version)
    with duckdb.connect(str(path), read_only=True) as conn:
        before = conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall()
    with TerritoryStore.open(path, read_only=True) as store:  # `territory results` migrates
        assert schema_version(store.conn) == SCHEMA_VERSION == 12
        after = store.conn.execute("SELECT * FROM search_page_text ORDER BY ALL").fetchall()
        assert after == before and len(before) == 300 * len(PAGES)
        at = datetime(2026, 10, 1, tzinfo=UTC)
        key = outcome("company 7", at).request.cache_key
        assert store.stored_searches({"company 7": (key, at)})["company 7"].pages == PAGES
    with duckdb.connect(str(path)) as conn:
        assert compressions(conn) == {"ZSTD"}
        (n,) = conn.execute("SELECT count(*) FROM page_bodies").fetchone()
        assert n == len(texts(PAGES))  # 300 companies' identical pages: each text once
        columns = {c for (c,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'search_pages'"
        ).fetchall()}  # fmt: skip
        assert "raw_content" not in columns and {"raw_hash", "content_hash"} <= columns
        assert page_keys(conn) == []  # version 11: no key of its own (see SEARCH_PAGES_TABLE)


def page_keys(conn: duckdb.DuckDBPyConnection) -> list[tuple[str]]:
    return conn.execute(
        "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'search_pages' "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()


def default_memory_limit() -> str:
    with duckdb.connect() as conn:
        (limit,) = conn.execute("SELECT current_setting('memory_limit')").fetchone()
    return limit


def test_a_version_10_file_loses_the_pages_key_and_keeps_every_page(tmp_path):
    path = tmp_path / "v10.duckdb"
    at = datetime(2026, 10, 1, tzinfo=UTC)
    with TerritoryStore.open(path) as store:
        store.save_searches([outcome(f"company {n}", at) for n in range(30)], run_id="run-1")
    keyed = SEARCH_PAGES_TABLE.format(name="search_pages_v10").replace(
        "raw_hash        UHUGEINT ", "raw_hash UHUGEINT, PRIMARY KEY (search_key, fetched_at, rank)"
    )
    with duckdb.connect(str(path)) as conn:  # search_pages as version 10 laid it out
        conn.execute(keyed)
        conn.execute("INSERT INTO search_pages_v10 SELECT * FROM search_pages")
        conn.execute("DROP VIEW search_page_text")
        conn.execute("DROP TABLE search_pages")
        conn.execute("ALTER TABLE search_pages_v10 RENAME TO search_pages")
        conn.execute("UPDATE territory_schema SET version = 10")
        assert page_keys(conn) == [("PRIMARY KEY",)]
        before = conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall()
    with TerritoryStore.opened(path) as store:  # a run migrates, and goes on with the session
        (limit,) = store.conn.execute("SELECT current_setting('memory_limit')").fetchone()
        assert page_keys(store.conn) == []
        assert limit == default_memory_limit()  # the copy's cap is undone
    with TerritoryStore.open(path, read_only=True) as store:
        assert schema_version(store.conn) == SCHEMA_VERSION
        assert store.conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall() == before
        key = outcome("company 7", at).request.cache_key
        assert store.stored_searches({"company 7": (key, at)})["company 7"].pages == PAGES
    assert len(before) == 30 * len(PAGES)


@pytest.mark.parametrize("zone", [UTC, None])  # None: a naive time, read as the session's
def test_a_search_saved_again_stores_its_pages_once(tmp_path, zone):
    at = datetime(2026, 11, 1, 9, 30, 0, 123456, tzinfo=zone)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome("acme", at)], run_id="run-1")
        # A chunk retried after its first save committed: acme again, with a new company
        # (given twice: the feed and the chunk's end may both hand a search over).
        store.save_searches([outcome("bolt", at), outcome("acme", at), outcome("bolt", at)], "r1")
        counts = dict(
            store.conn.execute(
                "SELECT s.company_key, count(*) FROM search_pages p JOIN searches s "
                "USING (search_key, fetched_at) GROUP BY ALL"
            ).fetchall()
        )
        later = at + timedelta(days=1)  # the same request at another time: a search of its own
        store.save_searches([outcome("acme", later)], run_id="run-2")
        (n,) = store.conn.execute("SELECT count(*) FROM search_pages").fetchone()
        refs = {"acme": (outcome("acme", at).request.cache_key, at)}
        stored = store.stored_searches(refs)
    assert counts == {"acme": len(PAGES), "bolt": len(PAGES)}
    assert n == 3 * len(PAGES)
    assert stored["acme"].pages == PAGES


def test_writing_after_the_migration_keeps_old_and_new_pages(tmp_path):
    path = tmp_path / "v9.duckdb"
    old_file(path, PAGES[:2], 9)
    new_at = datetime(2026, 11, 2, tzinfo=UTC)
    with TerritoryStore.open(path) as store:
        store.save_searches([outcome("acme", new_at)], run_id="run-2")
        (n,) = store.conn.execute("SELECT count(*) FROM search_pages").fetchone()
        assert n == 600 + len(PAGES)
        key = outcome("acme", new_at).request.cache_key
        assert store.stored_searches({"acme": (key, new_at)})["acme"].pages == PAGES
        old_key = outcome("company 3", datetime(2026, 10, 1, tzinfo=UTC)).request.cache_key
        old = store.stored_searches({"c": (old_key, datetime(2026, 10, 1, tzinfo=UTC))})
        assert old["company 3"].pages == PAGES[:2]


def test_a_failed_migration_leaves_the_old_table_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v9.duckdb"
    old_file(path, PAGES[:3], 9)
    with duckdb.connect(str(path), read_only=True) as conn:
        before = conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall()
    monkeypatch.setattr("storage.pages.BODY_HASH_SQL", "error('disk full: ' || length({}))")
    with pytest.raises(duckdb.Error, match="disk full"):
        TerritoryStore.open(path)
    monkeypatch.undo()
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT * FROM search_pages ORDER BY ALL").fetchall() == before
    with TerritoryStore.open(path, read_only=True) as store:  # and the next open migrates it
        assert store.conn.execute("SELECT count(*) FROM search_page_text").fetchone() == (900,)


def test_every_bit_of_a_hash_survives_the_read(tmp_path):
    # Hashes are read as two 64-bit halves (a 128-bit integer costs DuckDB's Python client
    # 50 us a value): texts whose hashes have the top bit of either half set, or not, all
    # come back to their own pages.
    pages = [
        SearchPage(url=f"https://{i}.example", title="", score=0.5, raw_content=f"page {i}")
        for i in range(40)
    ]
    halves = {(body_hash(p.raw_content) >> 127, body_hash(p.raw_content) >> 63 & 1) for p in pages}
    assert halves == {(0, 0), (0, 1), (1, 0), (1, 1)}
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([outcome("acme", at, pages)], run_id="run-1")
        store.save_searches([outcome("acme", at + timedelta(days=1), pages)], run_id="run-2")
        stored = store.stored_searches({"acme": (outcome("acme", at).request.cache_key, at)})
        (n,) = store.conn.execute("SELECT count(*) FROM page_bodies").fetchone()
    assert stored["acme"].pages == pages
    assert n == len(texts(pages))  # the second save found every text stored already


def test_the_writer_keeps_row_groups_small_so_a_checkpoint_merges_little_text(tmp_path):
    """A checkpoint merges a session's rows into full row groups, decompressing them whole:
    at DuckDB's 122,880 rows of page text that took up to 1.2 GB for a second."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    path = tmp_path / "t.duckdb"
    sessions, companies, per_company = 4, 120, 25  # 12,000 texts, in four sessions
    for s in range(sessions):
        with TerritoryStore.open(path) as store:
            store.save_searches(
                outcome(
                    f"co-{s}-{c}",
                    at,
                    [
                        SearchPage(url=f"https://{s}-{c}.example/{p}", title="t", score=0.5,
                                   content="", raw_content=f"page {s} {c} {p} GPU cluster")
                        for p in range(per_company)
                    ],
                )
                for c in range(companies)
            )  # fmt: skip
    with duckdb.connect(str(path), read_only=True) as conn:
        groups = conn.execute(
            "SELECT row_group_id, max(count) FROM (SELECT row_group_id, column_id, sum(count) "
            "AS count FROM pragma_storage_info('page_bodies') WHERE segment_type <> 'VALIDITY' "
            "GROUP BY ALL) GROUP BY ALL"
        ).fetchall()
        (n,) = conn.execute("SELECT count(*) FROM page_bodies").fetchone()
        (one,) = conn.execute(
            "SELECT raw_content FROM search_page_text WHERE url = 'https://3-7.example/24'"
        ).fetchone()
    assert n == sessions * companies * per_company + 1  # and the one empty snippet
    assert max(rows for _, rows in groups) <= WRITE_ROW_GROUP_SIZE < n
    assert one == "page 3 7 24 GPU cluster"
