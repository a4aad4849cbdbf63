"""Tests for domain.account_chunks: a run's accounts held packed, a chunk to a bytes object,
given back as the accounts they were."""

from __future__ import annotations

import tracemalloc

from domain.account_chunks import packed_chunks
from domain.account_metadata import Metadata
from domain.accounts import Account, parse_rows
from tests.domain.accounts_csv import encode, parse


def test_packed_chunks_give_back_every_account_as_it_was() -> None:
    header = ["name", "domain", "owner", "notes"]
    rows = [
        ["Acme", "acme.com", "Ann", ""],
        ["Globex", "", "", "two\nlines"],
        ["ACME", "acme.com", "", "merged into the first"],
        ["Initech", "initech.io", "Bo", ""],
        ["Umbrella", "umbrella.co", "", ""],
    ]
    accounts = parse(encode([header, *rows])).accounts
    accounts += parse_rows([{"name": "Hooli", "note": "one\x00two"}]).accounts  # kept unjoined
    accounts.append(Account("soylent", "Soylent", None, {}, ()))  # a re-run's: no columns
    chunks = packed_chunks(accounts, 2)
    assert [len(c) for c in chunks] == [2, 2, 2]
    back = [a for chunk in chunks for a in chunk]
    assert back == accounts
    assert [a.metadata.to_dict() for a in back] == [dict(a.metadata) for a in accounts]  # type: ignore[attr-defined]
    assert all(isinstance(a.metadata, Metadata) for a in back)
    assert back[0].rows == (2, 5) and back[0].metadata["notes"] == "merged into the first"
    assert back[1].domain is None and back[1].metadata["notes"] == "two\nlines"
    assert back[4].metadata == {"note": "one\x00two"} and back[5].metadata == {}
    assert chunks[1][0] == accounts[2] and chunks[2][-1:] == accounts[-1:]
    assert packed_chunks([], 50) == []


def test_packed_chunks_hold_a_fraction_of_what_the_accounts_hold() -> None:
    # A run holds every chunk from its start: 100,000 accounts were 61 MiB of objects.
    header = ["name", "domain", "crm_id"]
    rows = [[f"Account {i:05d}", f"a{i:05d}.example", f"CRM-{i}"] for i in range(5_000)]
    data = encode([header, *rows])
    tracemalloc.start()
    try:
        accounts = parse(data).accounts
        as_objects = tracemalloc.get_traced_memory()[0]
        chunks = packed_chunks(accounts, 50)
        del accounts
        packed = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(chunks) == 100 and sum(map(len, chunks)) == 5_000
    assert packed < as_objects / 4, (packed, as_objects)
