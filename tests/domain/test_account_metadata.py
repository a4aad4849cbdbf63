"""Tests for domain.account_metadata: an account's other columns, packed, read as a mapping
and unpacked into the dict a result stores."""

from __future__ import annotations

import pytest

from domain.account_metadata import Metadata
from domain.accounts import Account, parse_rows
from tests.domain.accounts_csv import encode, parse


def test_packed_columns_read_as_the_dict_they_came_from() -> None:
    given = {"Owner": "Ann", "Region": "", "ARR ($)": "1,000", "Notes": 'say "hi"\nthen go'}
    packed = Metadata.of(given)
    assert packed == given and given == packed
    assert packed.to_dict() == given and list(packed) == list(given)
    assert packed["Notes"] == 'say "hi"\nthen go' and packed.get("Region") == ""
    assert "Owner" in packed and "owner" not in packed and len(packed) == 4
    with pytest.raises(KeyError):
        packed["owner"]
    assert Metadata.of(packed) is packed
    assert Metadata.of({}).to_dict() == {} and Metadata.of({"a": ""}).unpacked() == [""]


def test_a_value_holding_the_separator_is_kept_whole() -> None:
    # A CSV with a NUL is refused as binary, but rows given as mappings may hold one.
    given = {"a": "x\x00y", "b": "", "c": "\x00"}
    assert Metadata.of(given).to_dict() == given
    parsed = parse_rows([{"name": "Acme", "note": "one\x00two"}])
    assert parsed.accounts[0].metadata == {"note": "one\x00two"}


def test_accounts_of_a_file_share_one_tuple_of_column_names() -> None:
    header = ["name", "domain", *(f"col{i}" for i in range(20))]
    rows = [[f"Company {n}", f"c{n}.com", *(f"v{n}-{i}" for i in range(20))] for n in range(3)]
    accounts = parse(encode([header, *rows])).accounts
    columns = [a.metadata.columns for a in accounts]  # type: ignore[attr-defined]
    assert columns[0] == tuple(header[2:]) and all(c is columns[0] for c in columns)
    assert accounts[2].metadata["col19"] == "v2-19"


def test_merged_rows_fill_each_column_from_the_first_row_that_has_it() -> None:
    data = encode(
        [
            ["name", "owner", "region", "tier"],
            ["Acme", "", "EMEA", ""],
            ["ACME Inc", "bob", "APAC", ""],
            ["acme", "carl", "", "gold"],
        ]
    )
    (acme,) = parse(data).accounts
    assert acme == Account(
        "acme", "Acme", None, {"owner": "bob", "region": "EMEA", "tier": "gold"}, (2, 3, 4)
    )
    assert list(acme.metadata) == ["owner", "region", "tier"]


def test_a_header_after_many_blank_lines_still_chooses_the_delimiter() -> None:
    data = b"\r\n" * 3000 + b"name;domain;owner\r\nAcme;acme.com;ann\r\n"
    parsed = parse(data)
    assert parsed.blank_rows == 3000
    assert parsed.accounts == [Account("acme", "Acme", "acme.com", {"owner": "ann"}, (3002,))]
