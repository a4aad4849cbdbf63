"""Tests for domain.accounts: rows naming one company (by name variant or by domain) merge
into one account."""

from __future__ import annotations

from domain.accounts import Account
from tests.domain.accounts_csv import encode, names, parse


def test_duplicates_by_name_variants_are_merged() -> None:
    data = encode(
        [
            ["name", "domain", "owner"],
            ["Acme, Inc.", "", "ann"],
            ["Globex", "", ""],
            ["ACME inc", "acme.com", ""],
            ["acme", "", "bob"],
            ["  Acme   LLC ", "", ""],
        ]
    )
    result = parse(data)
    assert result.merged == 3
    acme, globex = result.accounts
    assert acme == Account("acme", "Acme, Inc.", "acme.com", {"owner": "ann"}, (2, 4, 5, 6))
    assert globex.rows == (3,)


def test_duplicates_by_domain_are_merged() -> None:
    data = encode(
        [
            ["name", "website"],
            ["Alphabet", "https://www.abc.xyz"],
            ["Google", "google.com"],
            ["Alphabet Holdings", "abc.xyz/investors"],
        ]
    )
    result = parse(data)
    assert result.merged == 1
    assert names(result) == ["Alphabet", "Google"]
    assert result.accounts[0].rows == (2, 4)
    assert result.accounts[0].key == "alphabet"


def test_chained_merges_use_union_find() -> None:
    # X~Y by domain a.com, Y~Z by name, Z~W by domain b.com: one account.
    data = encode(
        [
            ["name", "domain"],
            ["X Corp", "a.com"],
            ["Other", "o.com"],
            ["Y", "a.com"],
            ["Y Inc.", "b.com"],
            ["W", "b.com"],
        ]
    )
    result = parse(data)
    assert names(result) == ["X Corp", "Other"]
    assert result.accounts[0].rows == (2, 4, 5, 6)
    assert result.merged == 3


def test_late_link_joins_two_earlier_groups_in_first_appearance_order() -> None:
    data = encode(
        [
            ["name", "domain", "city"],
            ["Beta", "", ""],
            ["Alpha", "", "Paris"],
            ["Gamma", "gamma.com", ""],
            ["Delta", "", ""],
            ["Alpha", "gamma.com", "Rome"],
        ]
    )
    result = parse(data)
    assert names(result) == ["Beta", "Alpha", "Delta"]
    alpha = result.accounts[1]
    assert alpha.rows == (3, 4, 6)
    assert alpha.key == "alpha"
    assert alpha.domain == "gamma.com"
    assert alpha.metadata == {"city": "Paris"}


def test_merged_metadata_first_wins_later_rows_fill_gaps() -> None:
    data = encode(
        [
            ["name", "domain", "owner", "region", "notes"],
            ["Acme", "", "ann", "", ""],
            ["ACME", "acme.com", "bob", "EMEA", ""],
            ["Acme Inc", "acme.org", "", "APAC", "late"],
        ]
    )
    account = parse(data).accounts[0]
    assert account.domain == "acme.com"
    assert account.metadata == {"owner": "ann", "region": "EMEA", "notes": "late"}


def test_same_domain_different_case_and_url_merges() -> None:
    result = parse(b"name,domain\nA,ACME.com\nB,https://www.acme.com/x\n")
    assert result.merged == 1


def test_empty_domains_never_merge() -> None:
    result = parse(b"name,domain\nA,\nB,\nC,\n")
    assert result.merged == 0
    assert len(result.accounts) == 3


def test_keys_are_unique() -> None:
    data = encode([["name"]] + [[n] for n in ["Acme", "Acme Inc", "acme", "Globex", "GLOBEX LLC"]])
    keys = [a.key for a in parse(data).accounts]
    assert keys == ["acme", "globex"]
