"""Where `page_bodies` holds each page text: its row, by the text's hash, kept by the writer
between its sessions.

`page_bodies` has no index on its hash: an ART index cost about 125 bytes a text, and DuckDB
2.0.1 still scanned the column for a batch lookup. Scanning the column in each session cost
memory that grew with the file: every block of the column came into DuckDB's buffer pool
(+109 MiB a session at 3.3 million texts, +15 at 377,000, measured on the benchmark's files
written by our simulators). This index holds the hashes in sorted blocks of numbers instead,
20 bytes a text, read from the file once per process and kept up to date by the writer: a
session finds which texts are stored, and reads stored ones by row id, without the scan.

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

# Hashes are 128-bit and numpy has none: a block is a pair of uint64 arrays (high and low
# halves) sorted by high then low, and each entry's place in the block's run of row ids.
BLOCK = 65_536  # texts a block: a lookup searches each block, so bigger blocks cost fewer
_LOW = (1 << 64) - 1


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


class _Block:
    """BLOCK texts in rows first_row.. first_row + BLOCK - 1, sorted by hash."""

    def __init__(self, first_row: int, high: np.ndarray, low: np.ndarray) -> None:
        order = np.lexsort((low, high))
        self.first_row = first_row
        self.high, self.low = high[order], low[order]
        self.place = order.astype(np.uint32)  # the row is first_row + place

    def rows(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """The row of each (high, low) pair, -1 where the block does not hold it."""
        start = np.searchsorted(self.high, high, "left")
        end = np.searchsorted(self.high, high, "right")
        found = np.full(len(high), -1, np.int64)
        single = end - start == 1  # one entry with that high half: the usual case by far
        hit = single.copy()
        hit[single] = self.low[start[single]] == low[single]
        found[hit] = self.first_row + self.place[start[hit]].astype(np.int64)
        # Two texts sharing 64 bits of hash (about one in 10^12 at 10 million texts): look at
        # each entry with that high half.
        for i in np.flatnonzero(end - start > 1).tolist():
            same = np.flatnonzero(self.low[start[i] : end[i]] == low[i])
            if len(same):
                found[i] = self.first_row + int(self.place[start[i] + same[0]])
        return found


class BodyIndex:
    """The rows of `page_bodies` by hash: sorted blocks, and the newest in a dict until they
    fill a block (about 100 bytes a text in the dict against 20 in a block)."""

    def __init__(self, let_go: Callable[[], None] = lambda: None) -> None:
        self._blocks: list[_Block] = []
        # Called after each block of hashes read from the file (the store's let_go_of_reads):
        # DuckDB's buffer pool keeps what a session read until it ends, and reading a large
        # file's hashes whole held them all. The first session of a process on the 100,000
        # benchmark's file (3.34 million texts) rose +194-196 MiB that way, +109-117 letting go
        # after each block, for 0.2 s more CPU once a process (our simulators' file).
        self._let_go = let_go
        self._recent: dict[int, int] = {}  # hash -> row
        self._rows = 0  # rows of page_bodies the index holds

    def __len__(self) -> int:
        return self._rows

    def rows(self, conn: duckdb.DuckDBPyConnection, keys: Iterable[int]) -> dict[int, int]:
        """The row of each of `keys` page_bodies holds (after taking in what other processes
        stored since this process last looked); keys it does not hold are left out."""
        self._catch_up(conn)
        keys = set(keys)
        found = {k: self._recent[k] for k in keys if k in self._recent}
        wanted = [k for k in keys if k not in found]
        if not wanted or not self._blocks:
            return found
        high, low = split(wanted)
        rows = np.full(len(wanted), -1, np.int64)
        for block in self._blocks:
            rows = np.maximum(rows, block.rows(high, low))  # each text is in one block
        found.update((k, r) for k, r in zip(wanted, rows.tolist(), strict=True) if r >= 0)
        return found

    def add(self, keys: Iterable[int]) -> None:
        """Texts the writer stored, in the order of their rows, once committed."""
        for key in keys:
            self._recent[key] = self._rows
            self._rows += 1
            if len(self._recent) == BLOCK:
                self._seal()

    def _seal(self) -> None:
        """The dict's texts (rows one after the other) into a sorted block."""
        hashes = list(self._recent)  # in the order of their rows
        first = self._recent[hashes[0]]
        self._recent = {}
        self._blocks.append(_Block(first, *split(hashes)))

    def forget(self) -> None:
        """Read the table anew at the next lookup (it is not what the index says)."""
        self._blocks, self._recent, self._rows = [], {}, 0

    def _catch_up(self, conn: duckdb.DuckDBPyConnection) -> None:
        # fetchall, not fetchone: a result left unread keeps the connection from registering
        # the arrays a save inserts (storage/sql.registered).
        ((count,),) = conn.execute("SELECT count(*) FROM page_bodies").fetchall()
        if count < self._rows:
            self.forget()
        if count - self._rows >= BLOCK and self._recent:
            self._seal()  # the rows read next do not follow the dict's own
        while count - self._rows >= BLOCK:
            # A block at a time, as numbers: the rows never sit in Python objects.
            arrays = conn.execute(
                f"SELECT {_HALVES} FROM page_bodies WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
                [self._rows, self._rows + BLOCK],
            ).fetchnumpy()
            high, low = (np.asarray(column) for column in arrays.values())
            _dense(len(high), BLOCK)
            self._blocks.append(_Block(self._rows, high, low))
            self._rows += BLOCK
            self._let_go()
        if count > self._rows:  # a few rows, or after the writer's own: one by one
            rows = conn.execute(
                f"SELECT {_HALVES} FROM page_bodies WHERE rowid >= ? ORDER BY rowid",
                [self._rows],
            ).fetchall()
            _dense(len(rows), count - self._rows)
            self.add((high << 64) | low for high, low in rows)


def _dense(got: int, wanted: int) -> None:
    """Row ids of a table only ever appended to run 0, 1, 2...: a gap would misplace rows."""
    if got != wanted:
        raise RuntimeError(f"page_bodies' row ids have gaps ({got} rows where {wanted} were)")
