"""A run's accounts held packed, one bytes object a chunk, until the run opens the chunk
(pure Python, no I/O)."""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator, Sequence
from typing import overload

from domain.account_metadata import Metadata
from domain.account_rows import Account

# One account as plain values. Pickled as tuples and zlib'd, a chunk costs about 2 us an
# account to pack and 1 to unpack; pickling the Account objects themselves cost 6 and 8.
_Fields = tuple[str, str, str | None, tuple[str, ...], str | tuple[str, ...], tuple[int, ...]]


class PackedChunk(Sequence[Account]):
    """One chunk's accounts as a single bytes object. A run holds every chunk from its start,
    and the objects are what they cost: 100,000 accounts held 61 MiB as Account objects and
    8 MiB packed (`benchmarks.accounts_memory`). Freed one chunk at a time, the objects' space
    was kept by the process, not handed back (our simulators' 100,000 run); packed, it is
    taken only while the run starts."""

    __slots__ = ("_blob", "_size")

    def __init__(self, accounts: Sequence[Account]) -> None:
        fields: list[_Fields] = [
            (a.key, a.name, a.domain, *Metadata.of(a.metadata).state(), a.rows) for a in accounts
        ]
        self._size = len(fields)
        # zlib's fastest level: the benchmark's 100,000 accounts pickled to 9.2 MiB, packed to
        # 1.4, for 0.07 s more CPU in all (names and domains of one chunk share a lot).
        self._blob = zlib.compress(pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL), 1)

    def unpacked(self) -> list[Account]:
        """The chunk's accounts, made anew each time: hold the list only while it is used."""
        fields: list[_Fields] = pickle.loads(zlib.decompress(self._blob))  # noqa: S301 - ours
        return [
            Account(key, name, domain, Metadata.from_state(columns, packed), rows)
            for key, name, domain, columns, packed, rows in fields
        ]

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Account]:
        return iter(self.unpacked())

    @overload
    def __getitem__(self, index: int) -> Account: ...
    @overload
    def __getitem__(self, index: slice) -> list[Account]: ...
    def __getitem__(self, index: int | slice) -> Account | list[Account]:
        return self.unpacked()[index]


def packed_chunks(accounts: Sequence[Account], batch: int) -> list[Sequence[Account]]:
    """The accounts in chunks of `batch`, each packed (a list its holder may empty chunk by
    chunk)."""
    return [PackedChunk(accounts[i : i + batch]) for i in range(0, len(accounts), batch)]
