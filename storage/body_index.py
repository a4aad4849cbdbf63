"""Where `page_bodies` holds each page text: its row, by the text's hash, kept by the writer
between its sessions.

`page_bodies` has no index on its hash: an ART index cost about 125 bytes a text, and DuckDB
2.0.1 still scanned the column for a batch lookup. Scanning the column in each session cost
memory that grew with the file: every block of the column came into DuckDB's buffer pool
(+109 MiB a session at 3.3 million texts, +15 at 377,000, measured on the benchmark's files
written by our simulators). This index holds a fingerprint of each hash instead (its first 32
bits) and the text's row, 8 bytes a text in one sorted array of numbers, read from the file once
per process and kept up to date by the writer: a session finds which texts are stored, and
reads stored ones by row id, without the scan. A fingerprint found is only a candidate: the
row's own hash is read back (a handful of rows, by row id) before the text counts as stored.

It stays true to the file because
* only what a committed transaction stored is added (`add`, after the COMMIT);
* the table is only ever appended to, and its row ids run 0, 1, 2... (a rolled-back append
  gives its row ids back): a count that grew since the last session means another process
  stored texts meanwhile, in the rows past the last count, which are read; a count that shrank
  (a file replaced, a table rebuilt) means the index reads it all again;
* a reader of texts checks each row's hash against the one it asked for (`storage/pages.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import duckdb
import numpy as np

# Texts added one by one wait in a dict (about 100 bytes a text) until this many, then go into
# the sorted array at once (each merge copies it); reading a file also goes this many rows
# at a time, letting DuckDB hand back what it read after each.
BLOCK = 65_536
_LOW = (1 << 64) - 1
# A hash's first 32 bits. At 3.34 million texts (the 100,000 run's file) a lookup of a
# session's 2,000 texts meets about 1.6 fingerprints of other texts, each checked by one row's
# hash; 64 bits would meet none, for 4 bytes more a text.
PRINT_SHIFT = 96
_PRINT_SQL = f"(hash >> {PRINT_SHIFT})::UINTEGER"
_MOST_ROWS = (1 << 32) - 1  # a row is kept in 32 bits


def halves(column: str) -> str:
    """SQL for a UHUGEINT column as its high and low UBIGINT halves (NULL stays NULL): DuckDB
    hands a (U)HUGEINT to Python through its decimal text, about 50 us a value."""
    return f"({column} >> 64)::UBIGINT, ({column} & {_LOW}::UHUGEINT)::UBIGINT"


_HALVES = halves("hash")


def joined(high: str, low: str) -> str:
    """SQL for a UHUGEINT from the UBIGINT columns of its halves (the inverse of `halves`)."""
    return f"(({high})::UHUGEINT << 64) | ({low})"


def split(keys: Collection[int]) -> tuple[np.ndarray, np.ndarray]:
    """128-bit hashes as arrays of their high and low 64-bit halves (numpy has no 128-bit
    integer; DuckDB joins them back with `joined`)."""
    high = np.fromiter((k >> 64 for k in keys), np.uint64, len(keys))
    return high, np.fromiter((k & _LOW for k in keys), np.uint64, len(keys))


def fingerprints(keys: Collection[int]) -> np.ndarray:
    """The first 32 bits of each 128-bit hash."""
    return np.fromiter((k >> PRINT_SHIFT for k in keys), np.uint32, len(keys))


class BodyIndex:
    """The rows of `page_bodies` by hash: fingerprints and rows in one sorted array, and the
    newest texts in a dict by their whole hash until BLOCK of them go into the array."""

    def __init__(self, let_go: Callable[[], None] = lambda: None) -> None:
        # Each text as one number, its fingerprint in the high 32 bits and its row in the low
        # 32, sorted: a text's candidates are the run of numbers its fingerprint starts.
        self._entries = np.empty(0, np.uint64)
        # Called after each block of fingerprints read from the file (the store's
        # let_go_of_reads): DuckDB's buffer pool keeps what a session read until it ends, and
        # reading a large file's hashes whole held them all. The first session of a process on
        # the 100,000 benchmark's file (3.34 million texts) rose +194-196 MiB that way, +109-117
        # letting go after each block, for 0.2 s more CPU once a process (our simulators' file).
        self._let_go = let_go
        self._recent: dict[int, int] = {}  # hash -> row
        self._rows = 0  # rows of page_bodies the index holds

    def __len__(self) -> int:
        return self._rows

    def rows(self, conn: duckdb.DuckDBPyConnection, keys: Iterable[int]) -> dict[int, int]:
        """The row of each of `keys` page_bodies holds (after taking in what other processes
        stored since this process last looked); keys it does not hold are left out."""
        candidates = self.candidates(conn, keys)
        found = {k: rows[0] for k, rows in candidates.items() if k in self._recent}
        unsure = [row for k, rows in candidates.items() if k not in found for row in rows]
        if not unsure:
            return found
        stored = _hashes_at(conn, unsure)
        for key, rows in candidates.items():
            if key not in found:
                found.update((key, row) for row in rows if stored.get(row) == key)
        return found

    def candidates(
        self, conn: duckdb.DuckDBPyConnection, keys: Iterable[int]
    ) -> dict[int, list[int]]:
        """The rows that may hold each of `keys`, to be checked against the hash each row holds
        (a fingerprint is only 32 bits of it); keys no row may hold are left out. A reader of
        the texts checks the hashes it reads with them, so the rows are read once."""
        self._catch_up(conn)
        keys = set(keys)
        found = {k: [self._recent[k]] for k in keys if k in self._recent}
        wanted = [k for k in keys if k not in found]
        if not wanted or not len(self._entries):
            return found
        # Looked up in order: numpy's search starts each from the last one's place, so the
        # lookups walk the array once instead of jumping about it (the array is 26 MB at
        # 3.34 million texts, seldom in the CPU's caches between two sessions).
        wanted.sort(key=lambda k: k >> PRINT_SHIFT)
        first = fingerprints(wanted).astype(np.uint64) << np.uint64(32)
        start = np.searchsorted(self._entries, first, "left")
        count = np.searchsorted(self._entries, first | np.uint64(_MOST_ROWS), "right") - start
        if not count.any():  # no fingerprint in common: none of them is stored
            return found
        # Each candidate: a wanted key, and a row whose fingerprint is the key's.
        asked = np.repeat(np.arange(len(wanted)), count)
        nth = np.arange(len(asked)) - np.repeat(np.cumsum(count) - count, count)
        at = np.repeat(start, count) + nth
        rows = (self._entries[at] & np.uint64(_MOST_ROWS)).astype(np.int64).tolist()
        for i, row in zip(asked.tolist(), rows, strict=True):
            found.setdefault(wanted[i], []).append(row)
        return found

    def add(self, keys: Iterable[int]) -> None:
        """Texts the writer stored, in the order of their rows, once committed."""
        for key in keys:
            self._recent[key] = self._rows
            self._rows += 1
            if len(self._recent) == BLOCK:
                self._seal()

    def _seal(self) -> None:
        """The dict's texts into the sorted array."""
        rows = np.fromiter(self._recent.values(), np.uint64, len(self._recent))
        self._merge(_entries(fingerprints(list(self._recent)), rows))
        self._recent = {}

    def _merge(self, entries: np.ndarray) -> None:
        """Entries (fingerprint and row, see `_entries`) into the sorted array."""
        entries.sort()
        if not len(self._entries):  # a file read whole: inserting would sort the places again
            self._entries = entries
            return
        self._entries = np.insert(self._entries, np.searchsorted(self._entries, entries), entries)

    def forget(self) -> None:
        """Read the table anew at the next lookup (it is not what the index says)."""
        self._entries, self._recent, self._rows = np.empty(0, np.uint64), {}, 0

    def _catch_up(self, conn: duckdb.DuckDBPyConnection) -> None:
        # fetchall, not fetchone: a result left unread keeps the connection from registering
        # the arrays a save inserts (storage/sql.registered).
        ((count,),) = conn.execute("SELECT count(*) FROM page_bodies").fetchall()
        if count < self._rows:
            self.forget()
        if count - self._rows >= BLOCK and self._recent:
            self._seal()  # the rows read next do not follow the dict's own
        if count - self._rows >= BLOCK:
            self._merge(self._read_blocks(conn, (count - self._rows) // BLOCK))
        if count > self._rows:  # a few rows, or after the writer's own: one by one
            rows = conn.execute(
                f"SELECT {_HALVES} FROM page_bodies WHERE rowid >= ? ORDER BY rowid",
                [self._rows],
            ).fetchall()
            _dense(len(rows), count - self._rows)
            self.add((high << 64) | low for high, low in rows)

    def _read_blocks(self, conn: duckdb.DuckDBPyConnection, blocks: int) -> np.ndarray:
        """The entries of the next `blocks` blocks of the file's rows, a block at a time as
        numbers (the rows never sit in Python objects), into one array to merge once: each
        merge copies the index."""
        read = np.empty(blocks * BLOCK, np.uint64)
        for at in range(0, len(read), BLOCK):
            got = conn.execute(
                f"SELECT {_PRINT_SQL} AS print FROM page_bodies "
                "WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
                [self._rows, self._rows + BLOCK],
            ).fetchnumpy()
            _dense(len(got["print"]), BLOCK)
            rows = np.arange(self._rows, self._rows + BLOCK, dtype=np.uint64)
            read[at : at + BLOCK] = _entries(np.asarray(got["print"]), rows)
            self._rows += BLOCK
            self._let_go()
        return read


def _entries(prints: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each text as one number: its fingerprint in the high 32 bits, its row in the low 32."""
    if len(rows) and int(rows.max()) > _MOST_ROWS:
        raise RuntimeError(f"page_bodies holds over {_MOST_ROWS:,} texts: too many to index")
    return (prints.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64)


def _hashes_at(conn: duckdb.DuckDBPyConnection, rows: list[int]) -> dict[int, int]:
    """The hash page_bodies holds in each of `rows` (by row id, no scan)."""
    found = conn.execute(
        f"SELECT rowid, {_HALVES} FROM page_bodies WHERE rowid IN (SELECT unnest(?::BIGINT[]))",
        [rows],
    ).fetchall()
    return {row: (high << 64) | low for row, high, low in found}


def _dense(got: int, wanted: int) -> None:
    """Row ids of a table only ever appended to run 0, 1, 2...: a gap would misplace rows."""
    if got != wanted:
        raise RuntimeError(f"page_bodies' row ids have gaps ({got} rows where {wanted} were)")
