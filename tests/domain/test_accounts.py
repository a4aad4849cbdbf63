"""Tests for domain.accounts: reading the accounts CSV into merged accounts."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from domain.accounts import (
    MAX_NAME_LENGTH,
    Account,
    AccountList,
    InputError,
    parse_accounts,
    read_accounts,
)
from domain.names import normalize_domain, normalize_name

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


def test_xlsx_is_reported_as_workbook() -> None:
    fails(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "export it as CSV")


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
    for accepted in ("name", "company", "company_name", "company name"):
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


# --- name length -------------------------------------------------------------------------


def test_name_of_max_length_accepted() -> None:
    name = "A" * MAX_NAME_LENGTH
    assert names(parse(encode([["name"], [name]]))) == [name]


def test_name_one_over_max_length_rejected() -> None:
    data = encode([["name"], ["Acme"], ["A" * 301]])
    fails(data, "301 characters", "300", line=3)


def test_ten_thousand_char_name_rejected() -> None:
    message = fails(encode([["name"], ["B" * 10_000]]), "10000 characters", line=2)
    assert len(message) < 200


def test_custom_max_name_length() -> None:
    fails(b"name\nAcme Corporation\n", "16 characters", max_name_length=10)
    assert names(parse(b"name\nAcme\n", max_name_length=4)) == ["Acme"]


def test_length_is_counted_in_characters_not_bytes() -> None:
    name = "日" * MAX_NAME_LENGTH  # 900 bytes in UTF-8
    assert names(parse(encode([["name"], [name]]))) == [name]


# --- awkward names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE companies;--",
        'Acme "Rockets" & Co',
        "O'Brien; Sons",
        'He said "hi", then left',
        "100% {name} %s $HOME `ls` \\n <b>bold</b>",
        "Ünïcödé Åktiebolag",
        "日本語株式会社",
        "العربية للتجارة",
        "Ελληνικά Α.Ε.",
        "Acme 🚀 Rockets",
        "🚀🌕",
        "👩‍💻 Devs",
        "Acme  Rockets   Co",
        "Ac\u200bme",
        "\u202bשלום\u202c Ltd",
    ],
)
def test_awkward_names_round_trip_byte_for_byte(name: str) -> None:
    result = parse(encode([["name", "domain"], [name, ""], ["Other", ""]]))
    account = result.accounts[0]
    assert account.name.encode("utf-8") == name.encode("utf-8")
    assert account.key
    assert result.merged == 0


def test_other_scripts_keep_distinct_keys() -> None:
    result = parse(encode([["name"], ["日本語"], ["العربية"], ["Ελληνικά"], ["🚀"], ["🌕"]]))
    keys = [a.key for a in result.accounts]
    assert keys == ["日本語", "العربية", "ελληνικά", "🚀", "🌕"]


@pytest.mark.parametrize(
    "name, code",
    [
        ("\x1b[31mAcme\x1b[0m", "U+001B"),  # ANSI colour codes pasted from a terminal
        ("Acme\x07 Corp", "U+0007"),
        ("Acme\x7f", "U+007F"),
        ("Glo\x9bbex", "U+009B"),  # C1 control
        ("Acme\tRockets", "U+0009"),
        ("Acme\r\nRockets", "U+000D"),
    ],
    ids=["esc", "bel", "del", "c1", "tab", "crlf"],
)
def test_control_character_in_name_rejected(name: str, code: str) -> None:
    message = fails(encode([["name", "domain"], ["Globex", ""], [name, "acme.com"]]), line=3)
    assert message == (
        f"companies.csv: line 3: the company name contains a control character ({code}); remove it"
    )


def test_name_of_only_control_characters_names_the_character() -> None:
    data = "name,domain\n\x07\u200b\x1b,acme.com\n".encode()
    fails(data, "control character (U+0007)", line=2)


@pytest.mark.parametrize("edge", ["\x1c", "\x1f", "\x85"])
def test_separator_controls_at_the_edge_of_a_name_are_refused_not_trimmed(edge: str) -> None:
    # str.strip() would count these as white space and store "Acme" silently.
    data = f"name\n{edge}Acme{edge}\n".encode()
    fails(data, f"control character (U+{ord(edge):04X})", line=2)


def test_name_of_only_invisible_characters_is_empty() -> None:
    data = "name,domain\nAcme,\n\u200b \u2060\u200e\ufeff,globex.com\n".encode()
    fails(data, "empty company name", line=3)


def test_invisible_characters_kept_in_name_but_ignored_by_the_key() -> None:
    data = "name\nAc\u200bme\u202e Corp\nAcme\nGlobex\n".encode()
    result = parse(data)
    assert names(result) == ["Ac\u200bme\u202e Corp", "Globex"]
    assert result.accounts[0].key == "acme"
    assert result.accounts[0].rows == (2, 3)


def test_zero_width_joiner_kept_in_emoji() -> None:
    assert names(parse("name\n👩‍💻\n".encode())) == ["👩‍💻"]


# --- normalize_name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Acme, Inc.", "acme"),
        ("ACME inc", "acme"),
        ("Acme", "acme"),
        ("  Acme   LLC ", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Acme Corp", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co.", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme AG", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme SA", "acme"),
        ("Acme plc", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AB", "acme"),
        ("Acme K.K.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme Pty. Ltd.", "acme"),
        ("Acme Co Inc", "acme co"),  # only one suffix is dropped
        ("Inc.", "inc"),  # a bare suffix is the whole name, keep it
        ("AT&T", "at t"),
        ("AT & T", "at t"),
        ("McDonald’s", "mcdonalds"),
        ("Coca-Cola", "coca cola"),
        ("ＡＣＭＥ", "acme"),  # NFKC folds full-width letters
        ("Straße GmbH", "strasse"),
        ("Ελληνικά Α.Ε.", "ελληνικά αε"),
        ("日本語", "日本語"),
        ("!!!", "!!!"),
        ("Ac\u200bme", "acme"),  # invisible characters never split or change a key
        ("\u202bAcme\u202c Inc.", "acme"),
        ("\ufeffAcme\u2060 \u200eLLC", "acme"),
        ("🚀\u200b🚀", "🚀🚀"),
        ("👩\u200d💻", "👩\u200d💻"),  # ZWJ is not invisible: it builds the emoji
        ("🚀 🚀", "🚀 🚀"),
        ("Acme 🚀", "acme"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


# --- normalize_domain --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("acme.com", "acme.com"),
        ("ACME.COM", "acme.com"),
        ("  www.acme.com  ", "acme.com"),
        ("https://www.Acme.com/about?x=1#top", "acme.com"),
        ("http://acme.com:8080", "acme.com"),
        ("HTTPS://shop.acme.co.uk/", "shop.acme.co.uk"),
        ("acme.com.", "acme.com"),
        ("//acme.com/path", "acme.com"),
        ("bücher.de", "bücher.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("www.com", "www.com"),
        ("", None),
        ("   ", None),
        ("https://", None),
    ],
)
def test_normalize_domain(raw: str, expected: str | None) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "value", ["not a domain", "acme", "info@acme.com", "n/a", "-", "acme..com", "192.168.0.1"]
)
def test_invalid_domain_rejected_with_line(value: str) -> None:
    data = encode([["name", "domain"], ["Acme", "acme.com"], ["Globex", value]])
    fails(data, "is not a valid domain", line=3)


def test_invalid_domain_message_quotes_value() -> None:
    data = encode(
        [["name", "website"]] + [["A" + str(i), ""] for i in range(10)] + [["X", "not a domain"]]
    )
    fails(data, "line 12: 'not a domain' is not a valid domain")


def test_website_urls_normalized() -> None:
    data = encode(
        [
            ["Company", "Website"],
            ["Acme", "https://www.acme.com/"],
            ["Globex", "http://globex.com:80/contact"],
            ["Initech", "WWW.INITECH.IO"],
        ]
    )
    assert [a.domain for a in parse(data).accounts] == ["acme.com", "globex.com", "initech.io"]


# --- merging -----------------------------------------------------------------------------


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


# --- read_accounts -----------------------------------------------------------------------


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
