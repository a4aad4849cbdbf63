"""Small helpers every part of the store uses: sessions, rows as dicts, fast inserts."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import duckdb
import numpy as np

T = TypeVar("T")
INSERT_BATCH_ROWS = 250  # rows per multi-row INSERT: big enough to be fast, small enough to parse
FETCH_ROWS = 2_048  # rows per fetch when streaming (one DuckDB vector)
JSON_COLUMNS = ("metadata", "signals", "parameters", "evidence", "cpu_ms")  # decoded when read
# DuckDB's buffer pool for reading commands. Its default (80% of RAM) let a read of 100,000
# companies keep 1-2 GB of pages it no longer needed. Those reads need 64-128 MB (measured with
# benchmarks/big_db.py): 512 MB leaves room for territories several times that size.
READ_MEMORY_LIMIT = "512MB"
# What `let_go_of_reads` shrinks DuckDB's buffer pool to for a moment.
LET_GO_TO = "32MB"
# DuckDB's buffer pool while a run stores its results (`cap_for_writes`). Uncapped, it kept
# every text a session inserted until the file closed: a store of 400 companies' searches
# held +53 MiB at its median, +63 at its highest; capped so, +8-9 and +41-42, for 0.1-0.2 ms
# more CPU a company (a store script, 480 sessions of our simulators' pages, alternated).
# What is let go is already in the file, or goes to a temporary file beside it.
WRITE_MEMORY_LIMIT = "32MB"


class Session:
    """The connection a store method runs on: set for the length of a session."""

    _open: duckdb.DuckDBPyConnection | None = None
    read_only: bool = False  # opened for reading (the buffer pool capped at READ_MEMORY_LIMIT)
    # cap_for_writes' cap, for the open session only. Kept, not read back: DuckDB reports its
    # limit rounded ("30.5 MiB" for 32MB), and setting that back would not be the cap.
    _write_cap: str | None = None

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """The session's connection (methods run inside one: see `connected`)."""
        if self._open is None:
            raise RuntimeError("no open session: decorate the method with @connected")
        return self._open

    def let_go_of_reads(self) -> None:
        """Let DuckDB hand back the blocks the open session has read. Its buffer pool keeps
        them until the file closes (or memory runs short), and a run's end reads the whole
        territory more than once in one opening: the results table's rows and then the
        disputes held 213 MiB together at 100,000 companies, 166 with this in between (our
        simulators' file)."""
        if self._open is not None:  # the cap in force: the opening's, or cap_for_writes'
            hand_back_blocks(self._open, READ_MEMORY_LIMIT if self.read_only else self._write_cap)

    def cap_for_writes(self) -> None:
        """Hold DuckDB's buffer pool to WRITE_MEMORY_LIMIT for the rest of the open session
        (the session's close puts the writer's default back: see hand_back_blocks)."""
        if self._open is not None and not self.read_only:
            self._open.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT}'")
            # Kept through let_go_of_reads, which the page index calls after each block of a
            # file's fingerprints it reads: a run's first store session on a large file.
            self._write_cap = WRITE_MEMORY_LIMIT

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the session's connection, for a second stream beside the first; it uses
        the session's database (a DuckDB cursor starts in the instance's default one, and the
        writer's file is attached beside it)."""
        row = self.conn.execute("SELECT current_database()").fetchone()
        database = str(row[0] if row else "").replace('"', '""')
        cursor = self.conn.cursor()
        cursor.execute(f'USE "{database}"')
        return cursor


def searches_in(heads: list[tuple[str, datetime]]) -> tuple[str, list[Any]]:
    """A WHERE condition for the searches given as (search_key, fetched_at), and its values.
    The times are also listed on their own: DuckDB skips the row groups whose times hold none
    of them (the tables are written as searches arrive, so a row group's times are close),
    where on the pairs alone it reads every row group: +200 MiB for 50 searches' pages at
    100,000 companies (our simulators' file), +9 MiB with the times."""
    times = sorted({at for _, at in heads})
    pairs = ", ".join(["(?, ?)"] * len(heads))
    return (
        f"(search_key, fetched_at) IN ({pairs}) AND fetched_at IN ({', '.join('?' * len(times))})",
        [v for head in heads for v in head] + times,
    )


def connected(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store method inside a session (its own brief one unless a caller holds one)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with self.session():
            return method(self, *args, **kwargs)

    return wrapper


def dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return list(iter_dicts(cursor))


def iter_dicts(
    cursor: duckdb.DuckDBPyConnection, batch: int = FETCH_ROWS
) -> Iterator[dict[str, Any]]:
    """Rows as dicts (JSON columns decoded), fetched a batch at a time: a caller that writes
    each row out holds one batch, not the whole territory."""
    for rows in iter_batches(cursor, batch):
        yield from rows


def iter_batches(
    cursor: duckdb.DuckDBPyConnection, batch: int = FETCH_ROWS
) -> Iterator[list[dict[str, Any]]]:
    """`iter_dicts` a fetched batch at a time, for a caller that reads more per batch (its
    long text, by row id)."""
    names = [d[0] for d in cursor.description]
    decoded = [name for name in names if name in JSON_COLUMNS]
    while rows := cursor.fetchmany(batch):
        items = [dict(zip(names, row, strict=True)) for row in rows]
        for item in items:
            for key in decoded:
                if isinstance(item[key], str):
                    item[key] = json.loads(item[key])
        yield items


def insert_rows(
    conn: duckdb.DuckDBPyConnection, head: str, rows: list[list[Any]], tail: str = ""
) -> list[tuple[Any, ...]]:
    """Insert rows with multi-row VALUES statements: DuckDB's executemany runs one statement
    per row, about 20x slower (a chunk of search pages: 4.2 s against 0.2 s per 1,000). Gives
    the rows a RETURNING clause in `tail` returned (none without one). Many rows of few types
    go in faster from arrays (`registered`), as page texts and page rows do."""
    returned: list[tuple[Any, ...]] = []
    if not rows:
        return returned
    marks = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        part = rows[start : start + INSERT_BATCH_ROWS]
        conn.execute(
            f"{head} VALUES {', '.join([marks] * len(part))} {tail}",
            [value for row in part for value in row],
        )
        if "RETURNING" in tail:
            returned += conn.fetchall()
    return returned


@contextlib.contextmanager
def registered(
    conn: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray]
) -> Iterator[None]:
    """Arrays as a view `name` DuckDB scans in place, for the length of the block: an insert
    from them binds no parameter a value (a page text or a page row). Every earlier result on
    the connection must be read to its end, or DuckDB refuses to register."""
    conn.register(name, columns)
    try:
        yield
    finally:
        conn.unregister(name)


def hand_back_blocks(conn: duckdb.DuckDBPyConnection, cap: str | None = None) -> None:
    """Lower DuckDB's memory cap for a moment, which evicts the blocks its buffer pool keeps
    (read ones, and a detached file's), then put `cap` back (None: DuckDB's default). Blocks
    in use (a write in flight) cannot go: they stay, nothing is lost."""
    try:
        conn.execute(f"SET memory_limit = '{LET_GO_TO}'")
    except duckdb.Error:
        pass
    finally:
        conn.execute(f"SET memory_limit = '{cap}'" if cap else "RESET memory_limit")


@contextlib.contextmanager
def memory_capped(conn: duckdb.DuckDBPyConnection, cap: str) -> Iterator[None]:
    """DuckDB's memory cap at `cap` for the block (a migration's copy), DuckDB's default after
    (migrations run on the writer, whose cap is the default)."""
    conn.execute(f"SET memory_limit = '{cap}'")
    try:
        yield
    finally:
        conn.execute("RESET memory_limit")


class transaction:
    """BEGIN/COMMIT around a block, ROLLBACK on error: a chunk lands whole or not at all."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def utcnow() -> datetime:
    return datetime.now(UTC)


def has_primary_key(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` (of the file's own schema) has a primary key."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND "
        "constraint_type = 'PRIMARY KEY' AND schema_name = current_schema() AND "
        "database_name = current_database()",
        [table],
    ).fetchone()
    return bool(found and found[0])


def replace_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    create: str,
    rows: str,
    first: Sequence[str] = (),
) -> None:
    """Run `first`, then replace `table` with the one `create` makes (a CREATE TABLE with
    `{name}` for its name) holding `rows` (a SELECT from the old one), in one transaction: a
    crash leaves the old table as it was. DuckDB drops an index but not a primary key, so a
    key goes by copying the rows."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for statement in first:
            conn.execute(statement)
        conn.execute(create.format(name=f"{table}_new"))
        conn.execute(f"INSERT INTO {table}_new {rows}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    conn.execute("CHECKPOINT")  # compress now: until a checkpoint the copy sits in the WAL
