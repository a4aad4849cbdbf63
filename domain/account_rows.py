"""Accounts and the CSV rows they are made of: rows naming one company are merged into one
account (pure Python, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.account_metadata import Metadata


@dataclass(frozen=True, slots=True)  # slots: a run holds every account (100,000 or more)
class Account:
    """One company, possibly merged from several CSV rows."""

    key: str
    name: str
    domain: str | None
    metadata: Mapping[str, str]  # packed as a Metadata, whatever mapping is given
    rows: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", Metadata.of(self.metadata))


@dataclass(slots=True)
class Row:
    """One non-blank data row after cleaning."""

    line: int
    name: str
    key: str
    domain: str | None
    metadata: Metadata


def merge(rows: list[Row]) -> list[Account]:
    """Union rows sharing a name key or a domain; chains merge transitively. Accounts come in
    the order of their first rows."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        # The earlier row stays the root so the group keeps its first row's identity.
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_by_key: dict[str, int] = {}
    first_by_domain: dict[str, int] = {}
    for i, row in enumerate(rows):
        union(i, first_by_key.setdefault(row.key, i))
        if row.domain:
            union(i, first_by_domain.setdefault(row.domain, i))

    # A group's root is its first row. Only the rows folded into an earlier one are listed:
    # most rows stand alone, and a list for each of 100,000 rows was 17 MB for a moment.
    folded: dict[int, list[Row]] = {}
    for i, row in enumerate(rows):
        root = find(i)
        if root != i:
            folded.setdefault(root, []).append(row)
    return [_account(row, folded.get(i, ())) for i, row in enumerate(rows) if find(i) == i]


def _account(first: Row, others: Sequence[Row]) -> Account:
    """One account of its rows: the first row's name, the first domain given, and each column
    from the first row that fills it."""
    members = (first, *others)
    metadata = first.metadata
    if others:
        values = metadata.unpacked()
        for row in others:
            for at, value in enumerate(row.metadata.unpacked()):
                if value and not values[at]:
                    values[at] = value
        metadata = Metadata(metadata.columns, values)
    return Account(
        key=first.key,
        name=first.name,
        domain=next((row.domain for row in members if row.domain), None),
        metadata=metadata,
        rows=tuple(row.line for row in members),
    )
