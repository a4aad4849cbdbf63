"""Helpers for the tests of domain.accounts: a CSV written the way a spreadsheet writes it,
parsed as `companies.csv`, and the checks every one-line input error must pass."""

from __future__ import annotations

import csv
import io

import pytest

from domain.accounts import AccountList, InputError, parse_accounts

SOURCE = "companies.csv"


def encode(rows: list[list[str]], delimiter: str = ",", newline: str = "\r\n") -> bytes:
    """Write rows the way a spreadsheet would (csv module quoting), as UTF-8 bytes."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def parse(data: bytes, **kwargs) -> AccountList:
    return parse_accounts(data, source=SOURCE, **kwargs)


def fails(data: bytes, *fragments: str, line: int | None = None, **kwargs) -> str:
    """Parse expecting an InputError; check it is one clean line and return it."""
    with pytest.raises(InputError) as info:
        parse(data, **kwargs)
    return check_message(str(info.value), SOURCE, *fragments, line=line)


def check_message(message: str, source: str, *fragments: str, line: int | None = None) -> str:
    assert message.startswith(f"{source}: "), message
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message and "\\x" not in message and "Error(" not in message
    if line is not None:
        assert f"line {line}:" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def names(result: AccountList) -> list[str]:
    return [account.name for account in result.accounts]
