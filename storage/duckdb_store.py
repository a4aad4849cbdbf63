"""The DuckDB store: runs, raw search results, each company's latest result, evals. One writer.

The tables and their migrations are in storage/schema.py; each group of tables has its own
module (runs.py, searches.py, results.py, evals.py), put together here.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from domain.errors import first_line
from storage.body_index import BodyIndex
from storage.crm_pushes import CrmPushesMixin
from storage.errors import RunConflictError, StoreError
from storage.evals import EvalsMixin
from storage.exports import ExportsMixin
from storage.overrides import OverridesMixin
from storage.results import ResultsMixin
from storage.runs import STALE_RUN_AFTER, UNFINISHED, RunsMixin
from storage.schema import HISTORY_TABLE, SCHEMA, SCHEMA_VERSION, migrate, schema_version
from storage.searches import SearchesMixin
from storage.sql import READ_MEMORY_LIMIT, hand_back_blocks

__all__ = [
    "HISTORY_TABLE",
    "SCHEMA",
    "STALE_RUN_AFTER",
    "UNFINISHED",
    "RunConflictError",
    "StoreError",
    "TerritoryStore",
]

_LOCK_PID = re.compile(r"PID (\d+)")
# The writer's row groups hold 4,096 rows, not DuckDB's 122,880. DuckDB (1.4 on) puts each
# commit's rows into a row group of their own and merges small ones into full ones at a
# checkpoint, decompressing and recompressing them whole: for page_bodies, 122,880 pages of text
# (about 330 MB) a row group, up to three at once. Such closes cost 0.3-1.2 GB of memory for a
# second at 10,000 companies, more as the file grew (our simulators). At 8,192 a merge still
# set the 100,000-company run's peak: a session that merged took +117-133 MiB against +35-75
# for the rest; at 4,096 it takes +70-75 (sessions of 50 companies on that run's file). Each
# halving costs file size: db_size's simulated file 9.6 KB a company and run at 8,192, 10.2 at
# 4,096, 13.4 at 2,048 (page_bodies' zstd segments per row group; see README "Benchmark").
# Turning merges off instead kept every commit's row group: the file grew 75%.
WRITE_ROW_GROUP_SIZE = 4_096
# How long a command waits for another process's brief hold on the file before giving up.
DEFAULT_LOCK_WAIT = 300.0
# The writer does DuckDB's work on the thread that asks for it. With DuckDB's default (a
# thread per core) its second thread compressed and merged a session's rows out of sight of
# the store phase's clock: 24 s of CPU in the first 17 minutes of a 100,000 run, about 1.8 ms
# a company the run's phases did not show. One thread: a session's highs 56-59 MiB against
# 66-70, its CPU within noise (400 sessions of 50 companies, our simulators' pages).
WRITER_THREADS = 1
# The writer's DuckDB is made anew after this many sessions (12 ms of CPU). Kept for good, it
# held more of glibc's heap with every session: in a store script saving 50 companies a
# session, memory in use there rose 324 -> 329-331 MiB over 400 sessions and 349 over 2,000,
# while made anew every 50 it stayed at 320-324 (our simulators' pages).
WRITER_SESSIONS = 50


class TerritoryStore(
    RunsMixin,
    SearchesMixin,
    ResultsMixin,
    EvalsMixin,
    OverridesMixin,
    CrmPushesMixin,
    ExportsMixin,
):
    """The territory database. Each write takes the file briefly, so several runs (and readers)
    can share it: DuckDB allows one writing process at a time, and others wait their turn."""

    def __init__(self, path: Path, read_only: bool, lock_wait: float) -> None:
        self.path = path
        self.read_only = read_only
        self.lock_wait = lock_wait
        self._open: duckdb.DuckDBPyConnection | None = None
        self._writer: duckdb.DuckDBPyConnection | None = None  # kept between sessions
        self._writer_sessions = 0  # sessions the writer's DuckDB has had
        self.bodies = BodyIndex(let_go=self.let_go_of_reads)

    @classmethod
    def open(
        cls, path: Path | str, read_only: bool = False, lock_wait: float = DEFAULT_LOCK_WAIT
    ) -> TerritoryStore:
        """Check (creating if needed) the database; a file that stays busy is a clear error."""
        path = Path(path)
        if not read_only:
            with cls.opened(path, lock_wait) as store:
                return store
        if not path.exists():
            raise StoreError(f"no database at {path} yet; run `territory run` first")
        store = cls(path, True, lock_wait)
        if store._outdated():
            # A file written by an older version: bring it up to date once, so that reading
            # commands (results, runs, export...) see every column they ask for.
            with cls(path, False, lock_wait).session() as conn:
                migrate(conn)
        return store

    @classmethod
    @contextmanager
    def opened(
        cls, path: Path | str, lock_wait: float = DEFAULT_LOCK_WAIT
    ) -> Iterator[TerritoryStore]:
        """`open` for writing, holding the file on through the block: a run's opening reads
        and writes share the opening that checked it (each costs 20-30 ms of DuckDB's CPU)."""
        path = Path(path)
        store = cls(path, False, lock_wait)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
        with store.session() as conn:
            migrate(conn)
            yield store

    def _outdated(self) -> bool:
        with self.session() as conn:
            return schema_version(conn) < SCHEMA_VERSION

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the file for a block of work (re-entrant); released at the end of the block."""
        if self._open is not None:
            yield self._open
            return
        conn = self._open = self._connect()
        ended = False
        try:
            yield conn
            ended = True
        finally:
            self._open, self._write_cap = None, None
            self._let_go(conn, ended)

    def _let_go(self, conn: duckdb.DuckDBPyConnection, ended: bool) -> None:
        """Let go of the file (a checkpoint first, as DuckDB does on closing it). The writer
        detaches it and keeps its DuckDB for the next session (up to WRITER_SESSIONS):
        creating one costs 12 ms of CPU, attaching the file 2 (measured). A block that broke
        off closes it all, as before."""
        if ended and conn is self._writer:
            try:
                with contextlib.suppress(duckdb.TransactionException):
                    conn.execute("ROLLBACK")  # one left open (a close rolls it back too)
                conn.execute("USE memory")
                conn.execute("DETACH territory")
                hand_back_blocks(conn)  # DuckDB keeps a detached file's blocks till then
                self._writer_sessions += 1
                if self._writer_sessions % WRITER_SESSIONS == 0:  # see WRITER_SESSIONS
                    self._writer = None
                    conn.close()
                return
            except duckdb.Error:
                pass
        if conn is self._writer:
            self._writer = None
        conn.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_wait
        delay = 0.02
        while True:
            try:
                if self.read_only:
                    return duckdb.connect(
                        str(self.path), read_only=True, config={"memory_limit": READ_MEMORY_LIMIT}
                    )
                if self._writer is None:
                    # What a capped buffer pool lets go of before it is in the file goes
                    # beside the file, as DuckDB does for a file it opens itself (its
                    # default for a DuckDB in memory is ".tmp" in the working directory).
                    temp = f"{self.path}.tmp"
                    self._writer = duckdb.connect(
                        config={"threads": WRITER_THREADS, "temp_directory": temp}
                    )
                return _attach_writer(self._writer, self.path)
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower():
                    raise StoreError(f"cannot open {self.path}: {first_line(text)}") from None
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
                raise StoreError(f"cannot open {self.path}: {first_line(str(exc))}") from None

    def __enter__(self) -> TerritoryStore:
        self._held = self.session()
        self._held.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.__exit__(None, None, None)


def _attach_writer(conn: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    """The file attached for writing (a row group size is an option of ATTACH only), made the
    connection's default database so that every statement names its tables plainly."""
    quoted = str(path).replace("'", "''")
    conn.execute(f"ATTACH '{quoted}' AS territory (ROW_GROUP_SIZE {WRITE_ROW_GROUP_SIZE})")
    conn.execute("USE territory")
    return conn
