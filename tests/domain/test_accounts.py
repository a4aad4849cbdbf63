"""Tests for domain.accounts: reading the accounts CSV into accounts: its shape, encoding and
line endings, blank rows, headers, delimiters, cells and rows. (Names and domains:
test_account_names.py; merging: test_account_merging.py; files: test_read_accounts.py.)"""

from __future__ import annotations

import pytest

from domain.accounts import Account, AccountList, InputError, parse_accounts
from tests.domain.accounts_csv import encode, fails, names, parse

# --- basic shape -------------------------------------------------------------------------


def test_simple_file_gives_accounts_in_order() -> None:
    result = parse(b"name,domain\nAcme,acme.com\nGlobex,\nInitech,initech.io\n")
    assert result == AccountList(
        accounts=[
            Account("acme", "Acme", "acme.com", {}, (2,)),
            Account("globex", "Globex", None, {}, (3,)),
            Account("initech", "Initech", "initech.io", {}, (4,)),
        ],
        merged=0,
        blank_rows=0,
        name_column="name",
        domain_column="domain",
    )


def test_input_error_is_a_value_error() -> None:
    assert issubclass(InputError, ValueError)


def test_default_source_is_input() -> None:
    with pytest.raises(InputError, match=r"^input: "):
        parse_accounts(b"")


def test_no_domain_column() -> None:
    result = parse(b"Company\nAcme\n")
    assert result.domain_column is None
    assert result.accounts[0].domain is None


# --- encoding and line endings -----------------------------------------------------------


def test_utf8_bom_is_ignored() -> None:
    result = parse(b"\xef\xbb\xbfname,domain\r\nAcme,acme.com\r\n")
    assert result.name_column == "name"
    assert names(result) == ["Acme"]


def test_crlf_line_endings_and_line_numbers() -> None:
    result = parse(b"name,domain\r\nAcme,acme.com\r\n\r\nGlobex,globex.com\r\n")
    assert [a.rows for a in result.accounts] == [(2,), (4,)]
    assert result.accounts[1].domain == "globex.com"
    assert result.blank_rows == 1


def test_lf_and_no_trailing_newline() -> None:
    assert names(parse(b"name\nAcme\nGlobex")) == ["Acme", "Globex"]


def test_old_mac_cr_line_endings() -> None:
    assert names(parse(b"name\rAcme\rGlobex\r")) == ["Acme", "Globex"]


def test_invalid_utf8_reports_byte_and_offset() -> None:
    data = b"name\nCaf\xe9 Latin-1\n"
    message = fails(data)
    assert message == (
        "companies.csv: not valid UTF-8 text (byte 0xe9 at offset 8); save the file as UTF-8"
    )


def test_invalid_utf8_offset_counts_the_bom() -> None:
    message = fails(b"\xef\xbb\xbfname\n\xff\n")
    assert "(byte 0xff at offset 8)" in message


def test_nul_bytes_mean_binary() -> None:
    fails(b"name\nAc\x00me\n", "binary")


def test_png_is_binary() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
    fails(png, "binary")


def test_a_cut_short_xlsx_is_reported_as_a_damaged_workbook() -> None:
    fails(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "a damaged workbook")


def test_utf16_is_reported_as_utf16() -> None:
    fails("name\nAcme\n".encode("utf-16"), "UTF-16", "UTF-8")


# --- blank rows and empty files ----------------------------------------------------------


def test_blank_rows_are_skipped_and_counted() -> None:
    data = b"name,domain,notes\n\nAcme,acme.com,x\n,,\n   ,  ,\t\n\nGlobex,,\n"
    result = parse(data)
    assert names(result) == ["Acme", "Globex"]
    assert result.blank_rows == 4
    assert [a.rows for a in result.accounts] == [(3,), (7,)]


def test_blank_lines_before_the_header_are_skipped() -> None:
    result = parse(b"\n\nname\nAcme\n")
    assert result.name_column == "name"
    assert result.accounts[0].rows == (4,)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xef\xbb\xbf", b"\n\n\r\n", b"   \n\t\n", b",,,\n,,\n"],
    ids=["empty", "bom-only", "blank-lines", "whitespace", "only-commas"],
)
def test_empty_file_has_no_companies(data: bytes) -> None:
    fails(data, "no companies")


def test_header_only_has_no_companies() -> None:
    fails(b"name,domain\n", "no companies", "header")


def test_header_and_blank_rows_have_no_companies() -> None:
    fails(b"name,domain\n\n,\n  \n", "no companies", "blank")


# --- header handling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "name",
        "Name",
        "  NAME  ",
        "company",
        "Company",
        "company_name",
        "Company Name",
        "COMPANY_NAME",
    ],
)
def test_accepted_name_headers(header: str) -> None:
    result = parse(encode([[header, "Website"], ["Acme", "acme.com"]]))
    assert result.name_column == header.strip()
    assert result.domain_column == "Website"
    assert names(result) == ["Acme"]


def test_no_name_column_lists_found_and_accepted_columns() -> None:
    message = fails(b"organisation,url\nAcme,acme.com\n")
    assert "'organisation'" in message and "'url'" in message
    for accepted in ("name", "company", "company_name", "account_name", "any case"):
        assert accepted in message


def test_two_name_columns_are_ambiguous() -> None:
    fails(b"Name,Company\nJane Doe,Acme\n", "'Name'", "'Company'")


def test_duplicate_columns_rejected() -> None:
    fails(b"name,notes,notes\nAcme,a,b\n", "duplicate column 'notes'", "2", "3")


def test_duplicate_columns_differing_only_in_case_rejected() -> None:
    fails(b"name,Domain,domain\nAcme,acme.com,acme.com\n", "duplicate column")


def test_domain_column_preferred_over_website() -> None:
    result = parse(b"name,website,domain\nAcme,https://acme.example.org,acme.com\n")
    assert result.domain_column == "domain"
    assert result.accounts[0].domain == "acme.com"
    assert result.accounts[0].metadata == {"website": "https://acme.example.org"}


def test_empty_trailing_header_column_is_tolerated() -> None:
    result = parse(b"name,domain,\nAcme,acme.com,\n")
    assert result.accounts[0].metadata == {}


def test_value_under_a_nameless_column_rejected() -> None:
    fails(b"name,\nAcme,surprise\n", "column 2", line=2)


# --- delimiters --------------------------------------------------------------------------


def test_semicolon_separated_file() -> None:
    data = "Firmenname;Name;Website\r\nMüller GmbH, Berlin;Müller;www.mueller.de\r\n".encode()
    # "Firmenname" is passthrough; commas inside values are fine with ';' as delimiter.
    result = parse(data)
    assert result.name_column == "Name"
    assert result.accounts[0].metadata == {"Firmenname": "Müller GmbH, Berlin"}
    assert result.accounts[0].domain == "mueller.de"


def test_semicolon_file_with_bom_and_quoting() -> None:
    data = b"\xef\xbb\xbf" + encode([["name", "domain"], ["A; B", "ab.com"]], delimiter=";")
    assert names(parse(data)) == ["A; B"]


def test_tab_separated_file() -> None:
    result = parse(b"name\tdomain\tnotes\nAcme, Inc.\tacme.com\tbig\n")
    assert names(result) == ["Acme, Inc."]
    assert result.accounts[0].metadata == {"notes": "big"}


def test_comma_header_wins_over_semicolons_in_data() -> None:
    result = parse(b"name,domain\nA;B;C,abc.com\n")
    assert names(result) == ["A;B;C"]


# --- cells and rows ----------------------------------------------------------------------


def test_cells_trimmed_and_inner_name_whitespace_kept() -> None:
    result = parse(b"name , domain ,notes\n   Acme    Rocket  Co \t ,  acme.com  ,  keep  me \n")
    account = result.accounts[0]
    assert account.name == "Acme    Rocket  Co"
    assert account.key == "acme rocket"
    assert account.domain == "acme.com"
    assert account.metadata == {"notes": "keep  me"}


def test_empty_name_with_other_values_is_an_error() -> None:
    data = b"name,domain\nAcme,acme.com\n\n\n\n\n,globex.com\n"
    fails(data, "empty company name", line=7)


def test_ragged_row_with_extra_values_rejected() -> None:
    fails(b"name,domain\nAcme,acme.com\nAcme, Inc.,acme.com\n", "3 values", "2 columns", line=3)


def test_short_rows_are_padded_with_empty_values() -> None:
    result = parse(b"name,domain,industry,size\nAcme\nGlobex,globex.com,retail\n")
    assert result.accounts[0].metadata == {"industry": "", "size": ""}
    assert result.accounts[0].domain is None
    assert result.accounts[1].metadata == {"industry": "retail", "size": ""}


def test_extra_empty_trailing_cells_are_tolerated() -> None:
    assert names(parse(b"name,domain\nAcme,acme.com,,\n")) == ["Acme"]


def test_passthrough_columns_preserved_in_order() -> None:
    data = encode(
        [
            ["Owner", "Company Name", "Region", "Website", "ARR ($)"],
            ["Ann", "Acme", "EMEA", "https://acme.com", "1,000"],
            ["Bob", "Globex", "", "", ""],
        ]
    )
    result = parse(data)
    assert result.accounts[0].metadata == {"Owner": "Ann", "Region": "EMEA", "ARR ($)": "1,000"}
    assert list(result.accounts[1].metadata) == ["Owner", "Region", "ARR ($)"]
    assert result.accounts[1].metadata["Region"] == ""


def test_quoted_multiline_value_and_following_line_numbers() -> None:
    data = b'name,notes\n"Acme","first\nsecond"\n,\nGlobex,"x"\n'
    result = parse(data)
    assert names(result) == ["Acme", "Globex"]
    assert result.accounts[0].metadata == {"notes": "first\nsecond"}
    assert [a.rows for a in result.accounts] == [(2,), (5,)]


def test_quoted_multiline_name_rejected_at_its_first_line() -> None:
    data = b'name,domain\nGlobex,globex.com\n"Acme\nRocket",acme.com\n'
    fails(data, "control character (U+000A)", line=3)


def test_error_line_number_after_multiline_value() -> None:
    fails(b'name,notes\nAcme,"first\nsecond"\n,x\n', "empty company name", line=4)


def test_badly_quoted_value_rejected_with_line() -> None:
    fails(b'name,domain\nAcme,acme.com\n"Acme" Inc,x.com\n', "quote", line=3)


def test_unclosed_quote_rejected_with_line() -> None:
    fails(
        b'name,domain\nAcme,acme.com\n"Globex,globex.com\nInitech,i.com\n', "never closed", line=3
    )


def test_huge_field_rejected_cleanly() -> None:
    fails(b"name,notes\nAcme," + b"x" * 200_000 + b"\n", "longer than", line=2)
