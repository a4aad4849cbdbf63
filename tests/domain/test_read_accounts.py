"""Tests for domain.accounts: read_accounts on files (errors start with the path and stay one
line) and parse_rows on rows given as mappings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.accounts import Account, InputError, read_accounts
from tests.domain.accounts_csv import check_message, encode, fails


def test_read_accounts_from_file(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(b"\xef\xbb\xbfCompany Name,Website\r\nAcme,https://acme.com\r\n")
    result = read_accounts(path)
    assert result.accounts == [Account("acme", "Acme", "acme.com", {}, (2,))]
    assert read_accounts(str(path)) == result


def test_read_accounts_errors_start_with_path(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(b"organisation\nAcme\n")
    with pytest.raises(InputError) as info:
        read_accounts(path)
    check_message(str(info.value), str(path), "no company name column")


def test_read_accounts_max_name_length(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"name\nAcme Corporation\n")
    with pytest.raises(InputError, match="line 2"):
        read_accounts(path, max_name_length=5)


def test_read_accounts_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(InputError) as info:
        read_accounts(path)
    check_message(str(info.value), str(path), "not found")


def test_read_accounts_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_accounts(tmp_path)
    check_message(str(info.value), str(tmp_path), "directory")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_read_accounts_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "locked.csv"
    path.write_bytes(b"name\nAcme\n")
    path.chmod(0)
    try:
        with pytest.raises(InputError) as info:
            read_accounts(path)
        check_message(str(info.value), str(path), "permission denied")
    finally:
        path.chmod(0o600)


def test_read_accounts_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError) as info:
        read_accounts(path)
    check_message(str(info.value), str(path), "binary")


def test_read_accounts_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes("name\nCafé\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_accounts(path)
    check_message(str(info.value), str(path), "not valid UTF-8", "0xe9", "save the file as UTF-8")


def test_read_accounts_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError) as info:
        read_accounts(path)
    check_message(str(info.value), str(path), "no companies")


def test_messages_with_multiline_values_stay_one_line() -> None:
    data = encode([["name", "domain"], ["Acme", "not\na\ndomain"]])
    fails(data, "'not a domain'", line=2)
    header = encode([["org\nname", "x"], ["Acme", "y"]])
    fails(header, "'org name'")


@pytest.mark.parametrize(
    "exc, fragment",
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(5, "Input/output error"), "cannot read the file (Input/output error)"),
    ],
)
def test_read_accounts_os_errors(
    monkeypatch: pytest.MonkeyPatch, exc: OSError, fragment: str
) -> None:
    # Simulated so the test also means something when run as root.
    import domain.accounts as accounts

    def refuse(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(accounts, "open", refuse, raising=False)
    with pytest.raises(InputError) as info:
        read_accounts("companies.csv")
    check_message(str(info.value), "companies.csv", fragment)


def test_rows_given_as_mappings_pass_the_same_checks_as_a_csv() -> None:
    from domain.accounts import parse_rows

    parsed = parse_rows(
        [
            {"name": " Acme, Inc. ", "domain": "https://www.acme.com/x", "owner": "Dana"},
            {"name": "ACME inc", "domain": None, "owner": "Lee"},
            {"name": "", "domain": "", "owner": ""},
            {"name": "Initech"},
        ],
        "companies",
    )
    assert [(a.name, a.domain) for a in parsed.accounts] == [
        ("Acme, Inc.", "acme.com"),
        ("Initech", None),
    ]
    assert (parsed.merged, parsed.blank_rows) == (1, 1)
    with pytest.raises(InputError, match=r"^companies: .*line 2.*name"):
        parse_rows([{"name": "x" * 301}], "companies")
