"""Tests for domain.accounts and domain.names: company names (length, awkward and invisible
characters, control characters), their keys, and domains."""

from __future__ import annotations

import random

import pytest

from domain import names as names_module
from domain.accounts import MAX_NAME_LENGTH
from domain.names import is_domain, normalize_domain, normalize_name
from tests.domain.accounts_csv import encode, fails, names, parse

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


def test_an_ascii_name_is_folded_by_table_as_by_the_loop_over_its_characters() -> None:
    # Every ASCII character alone and beside letters, and names made of them at random.
    ascii_chars = [chr(c) for c in range(128)]
    pick = random.Random(17).choice
    tried = [*ascii_chars, *(f"Ac{c}me{c}" for c in ascii_chars)]
    tried += ["".join(pick(ascii_chars) for _ in range(pick(range(1, 30)))) for _ in range(3000)]
    for name in tried:
        assert names_module._ascii_key_text(name) == names_module._key_text(name), repr(name)
    assert (
        normalize_name("'`.") == "'`." and normalize_name("O'Brien & Sons, Ltd.") == "obrien sons"
    )


@pytest.mark.parametrize(
    "host, ok",
    [
        ("acme.com", True),
        ("my-shop.co.uk", True),
        ("a--b.io", True),
        ("straße.de", True),
        ("-acme.com", False),
        ("acme-.com", False),
        ("ac_me.com", False),
        ("acme..com", False),
        ("acme.123", False),
        ("acme", False),
    ],
)
def test_is_domain(host: str, ok: bool) -> None:
    assert is_domain(host) is ok


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
