"""Page text stored once per distinct body: `page_bodies`, keyed by a hash of the text, which
`search_pages` refers to. A later search (a refresh's next run, another company's search)
that returns a page already stored adds a reference, not the text again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from storage.body_index import BodyIndex, halves, joined, split
from storage.sql import (
    has_primary_key,
    memory_capped,
    registered,
    replace_table,
    searches_in,
)

# Page text is most of the file: zstd over whole column segments keeps it at a fraction of
# DuckDB's default string compression (FSST works string by string). No index on the hash: an
# ART index took more bytes per text than the text's key and references together (measured
# with benchmarks/db_size.py); the one writer keeps the hashes itself (storage/body_index.py).
PAGE_BODIES_TABLE = """
CREATE TABLE IF NOT EXISTS page_bodies (
    hash            UHUGEINT NOT NULL,    -- the first 128 bits of the text's SHA-256
    body            VARCHAR NOT NULL USING COMPRESSION zstd
);
"""
# No key on (search_key, fetched_at, rank): a search's pages go in with its row in `searches`
# (a search stored before is found there, and then its pages are not inserted). Version 10's
# key was an ART index of 2 million entries at 100,000 companies: about 72 MB of the file, and
# each session that stored 50 companies' searches loaded and rewrote part of it (+13 MiB of
# memory, 0.05 s of CPU; measured on the benchmark's 100,000 file, our simulators' pages).
SEARCH_PAGES_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    search_key      VARCHAR NOT NULL,
    fetched_at      TIMESTAMPTZ NOT NULL,
    rank            INTEGER NOT NULL,     -- position in Tavily's answer
    url             VARCHAR NOT NULL,
    title           VARCHAR,
    score           DOUBLE,               -- Tavily relevance, 0-1
    content_hash    UHUGEINT,             -- Tavily's snippet, in page_bodies (NULL: none)
    raw_hash        UHUGEINT              -- the full page text (what the LLM reads), likewise
);
"""
# DuckDB's cap while drop_pages_key copies search_pages. It keeps the blocks it copied up to
# its cap: the 100,000 benchmark's file (2 million rows) took +595 MiB at the default cap (80%
# of the machine's RAM, which a bigger file would fill), +543 at 512 MB, +176 at 128 MB in
# 1.7 s, +115 at 64 MB in 2.3 s.
COPY_MEMORY_LIMIT = "128MB"
# For reading by hand (and tests): the pages with their text, as version 9 stored them.
PAGE_TEXT_VIEW = """
CREATE OR REPLACE VIEW search_page_text AS
SELECT p.search_key, p.fetched_at, p.rank, p.url, p.title, p.score,
       c.body AS content, r.body AS raw_content
FROM search_pages p
LEFT JOIN page_bodies c ON c.hash = p.content_hash
LEFT JOIN page_bodies r ON r.hash = p.raw_hash;
"""
# body_hash in SQL (for copying old files in bulk); tests hold the two to the same values.
BODY_HASH_SQL = "('0x' || sha256({}) [1:32])::UHUGEINT"

PageRow = tuple[str, datetime, str, str | None, float | None, str | None, str | None]


# Hashes come out of DuckDB in halves (body_index.halves): as decimal text, 50 us a value (100
# ms of held GIL for a chunk's 2,000 hashes, while the run's requests wait to be sent).
def _joined(high: int | None, low: int | None) -> int | None:
    return None if high is None or low is None else (high << 64) | low


def body_hash(text: str) -> int:
    """The key a page text is stored under: the first 128 bits of its UTF-8 SHA-256 (a
    collision would need 2^64 texts; a shorter hash could hand back another page's text)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def save_pages(
    conn: duckdb.DuckDBPyConnection, pages: Iterable[list[Any]], index: BodyIndex
) -> list[int]:
    """Store pages given as [search_key, fetched_at, rank, url, title, score, content,
    raw_content]: each text not stored yet into page_bodies, the page with its hashes. Gives
    the hashes of the texts stored anew: the caller adds them to `index` once committed."""
    rows: list[list[Any]] = []
    # Snippets, then full pages: like next to like, zstd finds more to share.
    snippets: dict[int, str] = {}
    texts: dict[int, str] = {}
    for *head, content, raw in pages:
        hashes = []
        for text, kind in ((content, snippets), (raw, texts)):
            key = None if text is None else body_hash(text)
            if key is not None:
                kind.setdefault(key, text)
            hashes.append(key)
        rows.append([*head, *hashes])
    bodies = snippets | texts
    found = index.rows(conn, bodies)
    stored = [k for k in bodies if k not in found]
    _insert_bodies(conn, {k: bodies[k] for k in stored})
    _insert_page_rows(conn, rows)
    return stored


def _insert_bodies(conn: duckdb.DuckDBPyConnection, bodies: dict[int, str]) -> None:
    """Texts into page_bodies from arrays DuckDB scans in place: binding each text as a
    parameter of a VALUES list cost a third more CPU (a session of 50 companies' pages: 0.23 s
    against 0.17)."""
    if not bodies:
        return
    high, low = split(bodies)
    body = np.array(list(bodies.values()), dtype=object)
    with registered(conn, "bodies_given", {"high": high, "low": low, "body": body}):
        conn.execute(
            f"INSERT INTO page_bodies SELECT {joined('high', 'low')}, body FROM bodies_given"
        )


def _insert_page_rows(conn: duckdb.DuckDBPyConnection, rows: list[list[Any]]) -> None:
    """Page rows into search_pages, their columns from arrays DuckDB scans in place. Bound as
    parameters of VALUES lists they cost 51 ms a session of 50 companies' 1,000 pages, ~1 ms
    of the flow's CPU a company (our simulators' 100,000 file). Each search's key and time go
    in a VALUES list of their own (a search's pages share them): bound as parameters, naive
    and aware times are read as before."""
    if not rows:
        return
    heads: dict[tuple[str, datetime], int] = {}
    numbers = [heads.setdefault((row[0], row[1]), len(heads)) for row in rows]
    columns: dict[str, np.ndarray] = {
        "row": np.arange(len(rows), dtype=np.int64),
        "head": np.array(numbers, dtype=np.int64),
        "rank": np.array([row[2] for row in rows], dtype=np.int64),
        "url": np.array([row[3] for row in rows], dtype=object),
        "title": np.array([row[4] for row in rows], dtype=object),
        "score": np.array([row[5] for row in rows], dtype=object),
    }
    for name, place in (("content", 6), ("raw", 7)):
        given = [row[place] for row in rows]
        columns[f"{name}_given"] = np.array([key is not None for key in given])
        columns[f"{name}_high"], columns[f"{name}_low"] = split([k or 0 for k in given])
    values = ", ".join(f"({n}, ?, ?)" for n in range(len(heads)))
    hashes = ", ".join(
        f"CASE WHEN p.{name}_given THEN {joined(f'p.{name}_high', f'p.{name}_low')} END"
        for name in ("content", "raw")
    )
    with registered(conn, "page_rows_given", columns):
        conn.execute(
            f"INSERT INTO search_pages SELECT h.search_key, h.fetched_at, p.rank, p.url, p.title, "
            f"p.score, {hashes} FROM page_rows_given p "
            f"JOIN (VALUES {values}) h(head, search_key, fetched_at) ON h.head = p.head "
            "ORDER BY p.row",
            [v for head in heads for v in head],
        )


def read_pages(
    conn: duckdb.DuckDBPyConnection,
    heads: list[tuple[str, datetime]],
    index: BodyIndex | None = None,
) -> list[PageRow]:
    """The pages of searches given as (search_key, fetched_at), best rank first within each:
    (search_key, fetched_at, url, title, score, content, raw_content), text as stored. The
    writer gives its `index`, which finds the texts' rows without scanning the hashes."""
    where, values = searches_in(heads)
    rows = conn.execute(
        "SELECT search_key, fetched_at, url, title, score, "
        f"{halves('content_hash')}, {halves('raw_hash')} "
        f"FROM search_pages WHERE {where} ORDER BY search_key, rank",
        values,
    ).fetchall()
    pages = [(*row[:5], _joined(*row[5:7]), _joined(*row[7:9])) for row in rows]
    keys = {h for page in pages for h in page[5:] if h is not None}
    text = _indexed_bodies(conn, keys, index) if index is not None else None
    if text is None:
        text = _bodies(conn, keys)
    return [
        (k, t, url, title, score, _text(text, c), _text(text, r))
        for k, t, url, title, score, c, r in pages
    ]


def _text(bodies: dict[int, str], key: int | None) -> str | None:
    return None if key is None else bodies[key]


def _indexed_bodies(
    conn: duckdb.DuckDBPyConnection, keys: set[int], index: BodyIndex
) -> dict[int, str] | None:
    """The texts stored under `keys`, read by the rows `index` gives as candidates, each kept
    only if its row is one given for the hash it holds; None (and the index read anew next
    time) if a text asked for was not among them."""
    if not keys:
        return {}
    candidates = index.candidates(conn, keys)
    if len(candidates) == len(keys):
        found = conn.execute(
            f"SELECT rowid, {halves('hash')}, body FROM page_bodies "
            "WHERE rowid IN (SELECT unnest(?::BIGINT[]))",
            [[row for rows in candidates.values() for row in rows]],
        ).fetchall()
        bodies = {
            key: body
            for row, high, low, body in found
            if row in candidates.get(key := (high << 64) | low, ())
        }
        if len(bodies) == len(keys):
            return bodies
    index.forget()
    return None


def _bodies(conn: duckdb.DuckDBPyConnection, keys: set[int]) -> dict[int, str]:
    """The texts stored under `keys`. The hashes are matched first and the rows then fetched by
    row id: a join on the hash would decompress every body in the table to probe it."""
    if not keys:
        return {}
    rows = conn.execute(
        f"SELECT {halves('hash')}, body FROM page_bodies WHERE rowid IN (SELECT rowid FROM "
        "page_bodies WHERE hash IN (SELECT unnest(?::UHUGEINT[])))",
        [[str(k) for k in keys]],
    ).fetchall()
    return {(high << 64) | low: body for high, low, body in rows}


def store_bodies_once(conn: duckdb.DuckDBPyConnection) -> None:
    """Move a file's stored pages (version 9 and before: the text in search_pages itself) into
    page_bodies and the new search_pages, row for row and byte for byte, in one transaction:
    a crash leaves the old table as it was. No-op when already done."""
    columns = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'search_pages' AND "
            "schema_name = current_schema() AND database_name = current_database()"
        ).fetchall()
    }
    if "raw_content" not in columns:
        return
    h = BODY_HASH_SQL.format
    # Each distinct text once: snippets, then full pages, each in the order they were first
    # stored (like next to like: zstd finds more to share between neighbours).
    bodies = f"""
        INSERT INTO page_bodies
        SELECT {h("body")}, body FROM (
            SELECT body, min(seen) AS first_seen FROM (
                SELECT content AS body, (0, fetched_at, search_key, rank) AS seen
                FROM search_pages WHERE content IS NOT NULL
                UNION ALL
                SELECT raw_content, (1, fetched_at, search_key, rank)
                FROM search_pages WHERE raw_content IS NOT NULL
            ) GROUP BY body
        ) ORDER BY first_seen
        """
    _rebuild_pages(
        conn,
        [PAGE_BODIES_TABLE, bodies],
        "SELECT search_key, fetched_at, rank, url, title, score, "
        f"{h('content')}, {h('raw_content')} FROM search_pages "
        "ORDER BY fetched_at, search_key, rank",
    )


def drop_pages_key(conn: duckdb.DuckDBPyConnection) -> None:
    """Rebuild a version 10 search_pages without its key (see SEARCH_PAGES_TABLE): DuckDB
    cannot drop a primary key, so the rows are copied. No-op when the table has no key."""
    if not has_primary_key(conn, "search_pages"):
        return
    # The rows in the order they were stored: a copy DuckDB streams, no sort, in about the
    # memory it may use (see COPY_MEMORY_LIMIT).
    with memory_capped(conn, COPY_MEMORY_LIMIT):
        _rebuild_pages(conn, [], "SELECT * FROM search_pages")


def _rebuild_pages(conn: duckdb.DuckDBPyConnection, first: list[str], rows: str) -> None:
    """Replace search_pages with a table of the current shape holding `rows` (its view goes
    first: it reads the old table; the migration makes it again)."""
    view = "DROP VIEW IF EXISTS search_page_text"
    replace_table(conn, "search_pages", SEARCH_PAGES_TABLE, rows, [*first, view])
