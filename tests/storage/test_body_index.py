"""The writer's index of stored page texts: it says what page_bodies holds, as SQL does, for
texts read from the file and texts the writer added, texts sharing a fingerprint, after other
processes' writes, a rolled-back write and a table read anew."""

import random
import tracemalloc
from datetime import UTC, datetime

import duckdb
import pytest

from domain.models import SearchPage
from storage import body_index, pages, searches
from storage.body_index import BodyIndex
from storage.duckdb_store import TerritoryStore
from storage.pages import BODY_HASH_SQL, PAGE_BODIES_TABLE, body_hash
from storage.sql import transaction
from tests.storage.test_page_storage import PAGES, outcome

AT = datetime(2026, 11, 1, tzinfo=UTC)


def table(rows: int) -> duckdb.DuckDBPyConnection:
    """An in-memory page_bodies of `rows` texts, hashed as the store hashes them."""
    conn = duckdb.connect()
    conn.execute(PAGE_BODIES_TABLE)
    conn.execute(
        f"INSERT INTO page_bodies SELECT {BODY_HASH_SQL.format('i::VARCHAR')}, i::VARCHAR "
        f"FROM range({rows}) t(i)"
    )
    return conn


def insert(conn: duckdb.DuckDBPyConnection, keys: list[int]) -> None:
    conn.execute(
        "INSERT INTO page_bodies SELECT unnest(?::UHUGEINT[]), ''", [[str(k) for k in keys]]
    )


def random_keys(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(128) for _ in range(n)]


def in_sql(conn: duckdb.DuckDBPyConnection, keys: list[int]) -> dict[int, int]:
    """The row of each of `keys` the table holds, as SQL gives them (the whole table read, in
    halves: binding 65,000 keys, or turning as many hashes into text, takes DuckDB seconds)."""
    halves = conn.execute(
        "SELECT (hash >> 64)::UBIGINT, (hash & 18446744073709551615::UHUGEINT)::UBIGINT, rowid "
        "FROM page_bodies"
    ).fetchall()
    rows = {(high << 64) | low: row for high, low, row in halves}
    return {k: rows[k] for k in keys if k in rows}


def test_a_file_of_several_blocks_is_read_once_and_answers_as_sql_does():
    rows = 2 * body_index.BLOCK + 123  # two full blocks and a few rows into the dict
    conn = table(rows)
    index = BodyIndex()
    stored = [body_hash(str(i)) for i in random.Random(1).sample(range(rows), 3_000)]
    new = [body_hash(f"new {i}") for i in range(3_000)]
    keys = stored + new
    assert index.rows(conn, keys) == in_sql(conn, keys)
    assert len(in_sql(conn, keys)) == len(stored)
    assert len(index) == rows
    assert len(index._entries) == 2 * body_index.BLOCK and len(index._recent) == 123
    # Every stored text, the first and the last row included.
    every = [body_hash(str(i)) for i in range(rows)]
    assert index.rows(conn, every) == dict(zip(every, range(rows), strict=True))


def test_texts_added_by_the_writer_fill_blocks_and_are_found():
    index = BodyIndex()
    conn = table(0)
    keys = random_keys(body_index.BLOCK + 10, seed=2)
    insert(conn, keys)
    index.add(keys)  # the writer's own, as after its COMMIT: not read from the file again
    assert len(index._entries) == body_index.BLOCK and len(index._recent) == 10
    others = [k ^ 1 for k in keys[:500]]  # one bit off: the low half tells them apart
    assert index.rows(conn, keys + others) == in_sql(conn, keys + others)
    assert len(index.rows(conn, keys + others)) == len(keys)


def test_rows_read_after_the_writers_own_keep_their_places():
    index = BodyIndex()
    conn = table(0)
    own = random_keys(5, seed=5)
    insert(conn, own)
    index.add(own)
    theirs = random_keys(body_index.BLOCK + 7, seed=6)  # another process's, in one session
    insert(conn, theirs)
    assert index.rows(conn, own + theirs) == in_sql(conn, own + theirs)
    assert len(index) == len(own) + len(theirs)
    more = random_keys(body_index.BLOCK, seed=7)  # the writer's again, filling a block
    insert(conn, more)
    index.add(more)
    every = own + theirs + more
    assert index.rows(conn, every) == in_sql(conn, every)


def test_texts_sharing_a_fingerprint_or_more_of_their_hash_are_told_apart():
    high = random.Random(3).getrandbits(64) << 64
    first = high >> body_index.PRINT_SHIFT << body_index.PRINT_SHIFT  # the same first 32 bits
    stored = [high | 5, high | 9, high | 2**63, first | 1 << 70]
    conn = table(0)
    insert(conn, random_keys(body_index.BLOCK - len(stored), seed=4) + stored)
    index = BodyIndex()
    asked = [*stored, high | 6, high, high >> 1, first, first | 1 << 71]
    assert index.rows(conn, asked) == in_sql(conn, asked)
    assert set(in_sql(conn, asked)) == set(stored)
    assert len(index._entries) == body_index.BLOCK  # all sat in the sorted array, not the dict


class Recorded:
    """A DuckDB connection that keeps the SQL of each statement run through it."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn, self.sql = conn, []

    def execute(self, sql: str, *values):
        self.sql.append(sql)
        return self.conn.execute(sql, *values)


def test_the_writer_reads_each_text_once_from_its_own_row_among_rows_sharing_a_fingerprint():
    high = random.Random(5).getrandbits(64) << 64
    first = high >> body_index.PRINT_SHIFT << body_index.PRINT_SHIFT  # the same first 32 bits
    stored = [high | 5, high | 9, first | 1 << 70]
    conn = table(0)
    keys = random_keys(body_index.BLOCK - len(stored), seed=6) + stored
    conn.execute(
        "INSERT INTO page_bodies SELECT unnest(?::UHUGEINT[]), unnest(?::VARCHAR[])",
        [[str(k) for k in keys], [f"text of {k}" for k in keys]],
    )
    index = BodyIndex()
    index.rows(conn, [])  # the file's hashes read
    asked = {high | 9, first | 1 << 70, keys[0]}
    recorded = Recorded(conn)
    assert pages._indexed_bodies(recorded, asked, index) == {k: f"text of {k}" for k in asked}
    # The index's look at the table's size, then the texts: their rows read once, not first
    # their hashes to check the candidates and then again with the texts.
    assert [sql.split()[1] for sql in recorded.sql] == ["count(*)", "rowid,"]
    # A text not stored whose fingerprint is a stored text's: not taken for it.
    assert pages._indexed_bodies(conn, {high | 5, high | 6}, index) is None
    assert len(index) == 0  # read anew at the next lookup


def test_texts_another_process_stored_are_not_stored_again(tmp_path):
    path = tmp_path / "t.duckdb"
    first = TerritoryStore.open(path)
    first.save_searches([outcome("acme", AT)])  # the index now holds acme's texts
    # Another writer (another process in real use) stores a page between two sessions.
    other = [SearchPage(url="https://z.example", title="z", content="z snippet",
                        raw_content="z page text")]  # fmt: skip
    TerritoryStore.open(path).save_searches([outcome("zeta", AT, other)])
    first.save_searches([outcome("zeta-again", AT, other), outcome("acme", AT)])
    with first.session() as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT hash) FROM page_bodies"
        ).fetchone() == (8, 8)  # acme's six and zeta's two, each once
        (n,) = conn.execute(
            "SELECT count(*) FROM search_page_text WHERE url = 'https://z.example'"
        ).fetchone()
        assert n == 2  # both searches read the one text


def test_a_save_whose_commit_fails_leaves_its_texts_unstored(tmp_path, monkeypatch):
    store = TerritoryStore.open(tmp_path / "t.duckdb")

    class CommitFails(transaction):
        def __exit__(self, exc_type, *rest):
            self.conn.execute("ROLLBACK")  # as DuckDB does when the commit cannot be written
            raise duckdb.IOException("disk full")

    monkeypatch.setattr(searches, "transaction", CommitFails)
    with pytest.raises(duckdb.IOException):
        store.save_searches([outcome("acme", AT)])
    monkeypatch.setattr(searches, "transaction", transaction)
    store.save_searches([outcome("acme", AT)])  # the retry stores the texts the failure lost
    found = store.stored_searches({"acme": (outcome("acme", AT).request.cache_key, AT)})
    assert found["acme"].pages == outcome("acme", AT).pages
    with store.session() as conn:
        assert conn.execute("SELECT count(*) FROM page_bodies").fetchone() == (6,)


def test_a_table_that_shrank_is_read_again():
    conn = table(50)
    index = BodyIndex()
    assert index.rows(conn, [body_hash("7")]) == {body_hash("7"): 7}
    replaced = table(20)  # another file, or the table rebuilt: fewer rows than the index read
    replaced.execute("INSERT INTO page_bodies VALUES (1, 'one')")
    asked = [body_hash("7"), body_hash("30"), 1]
    assert index.rows(replaced, asked) == {body_hash("7"): 7, 1: 20}
    assert len(index) == 21


def test_the_writer_reads_stored_texts_by_row_without_scanning_the_hashes(tmp_path, monkeypatch):
    store = TerritoryStore.open(tmp_path / "t.duckdb")
    store.save_searches([outcome("acme", AT), outcome("beta", AT, PAGES[:1])])

    def scan(conn, keys):
        raise AssertionError("scanned page_bodies' hashes")

    monkeypatch.setattr(pages, "_bodies", scan)
    found = store.stored_searches({"acme": (outcome("acme", AT).request.cache_key, AT)})
    assert found["acme"].pages == PAGES


def test_rows_that_do_not_hold_the_texts_asked_for_are_not_trusted(tmp_path):
    store = TerritoryStore.open(tmp_path / "t.duckdb")
    store.save_searches([outcome("acme", AT)])
    # An index out of step with its file (as if the file were swapped for one with as many
    # texts): every text one row off.
    recent = store.bodies._recent
    store.bodies._recent = {k: (row + 1) % len(recent) for k, row in recent.items()}
    found = store.stored_searches({"acme": (outcome("acme", AT).request.cache_key, AT)})
    assert found["acme"].pages == PAGES  # read by hash instead, each text where it belongs
    with store.session() as conn:
        keys = list(recent)
        assert store.bodies.rows(conn, keys) == in_sql(conn, keys)  # the index read anew


def test_reading_a_files_hashes_lets_duckdb_hand_back_the_blocks_it_read(tmp_path):
    texts = 40 * body_index.BLOCK  # 2.6 million: DuckDB read about 63 MB of blocks for them
    path = tmp_path / "t.duckdb"
    with TerritoryStore.open(path).session() as conn:
        conn.execute(
            f"INSERT INTO page_bodies SELECT {BODY_HASH_SQL.format('i::VARCHAR')}, '' "
            f"FROM range({texts}) t(i)"
        )

    def held(conn: duckdb.DuckDBPyConnection) -> int:
        """Bytes of the file's tables DuckDB's buffer pool holds."""
        ((used,),) = conn.execute(
            "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
        ).fetchall()
        return int(used)

    def cap(conn: duckdb.DuckDBPyConnection) -> str:
        ((limit,),) = conn.execute("SELECT current_setting('memory_limit')").fetchall()
        return str(limit)

    for read_only in (False, True):  # the writer, and a reader under its 512 MB cap
        store = TerritoryStore.open(path, read_only)
        with store.session() as conn:
            opened_with = cap(conn)
            tracemalloc.start()
            assert store.bodies.rows(conn, [body_hash("7")]) == {body_hash("7"): 7}
            kept, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert len(store.bodies) == texts
            # 8 bytes a text (numpy's arrays are traced): 20 when the index kept whole hashes.
            assert kept < 9 * texts
            assert held(conn) <= 32 << 20  # what let_go_of_reads shrinks the pool to
            assert cap(conn) == opened_with  # each keeps the cap it was opened with
