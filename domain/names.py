"""Company names and domains as keys: two spellings of one company compare equal."""

from __future__ import annotations

import re
import unicodedata

# Invisible characters that only hide differences between names: zero-width space, word
# joiner, BOM and bidi marks/overrides. The stored name keeps them (it is the file's own
# text); the comparison key and the emptiness check ignore them. ZWJ/ZWNJ are not listed:
# emoji sequences and scripts such as Persian or Hindi need them to tell names apart.
INVISIBLE = frozenset(
    "\u200b\u2060\ufeff\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# Punctuation that sits *inside* a word ("McDonald's", "S.A.", "Inc.") is dropped so the
# word stays whole; every other symbol separates words ("AT&T" vs "AT & T", "Coca-Cola").
_JOINING_PUNCTUATION = frozenset("'\u2018\u2019`.")

# Compared after punctuation is removed, so "Inc." is "inc" and "S.A." is "sa".
_LEGAL_SUFFIXES = frozenset(
    "inc llc ltd limited corp corporation co gmbh ag sa plc bv nv oy ab kk".split()
)

_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.\-]*:)?//")
_PORT = re.compile(r":\d*$")


# What the loop of `normalize_name` does to each ASCII character, as one table: NFKC and the
# invisible characters leave ASCII alone, casefold is lower, and the letters and digits are
# the ASCII characters whose category is L, M or N. That loop, a character at a time, was a
# quarter of reading 100,000 accounts (nearly every name is ASCII).
_ASCII_KEY_TABLE = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() else ord(" ") for c in range(256)
)  # only the first 128 are used: the text is ASCII
_ASCII_JOINING = "".join(ch for ch in sorted(_JOINING_PUNCTUATION) if ch.isascii()).encode()


def normalize_name(name: str) -> str:
    """Comparison key for a company name: "Acme, Inc." == "ACME inc" == "Acme"."""
    return _key_words(_ascii_key_text(name) if name.isascii() else _key_text(name), name)


def _ascii_key_text(name: str) -> str:
    """`_key_text` of an ASCII name, by table."""
    return name.encode("ascii").translate(_ASCII_KEY_TABLE, _ASCII_JOINING).decode("ascii")


def _key_text(name: str) -> str:
    """The name folded for comparison: its letters, marks and digits, the rest spaces."""
    chars = []
    for ch in _folded(name):
        if ch in _JOINING_PUNCTUATION:
            continue
        # Letters, marks and digits of any script survive; marks matter for e.g. Devanagari.
        chars.append(ch if unicodedata.category(ch)[0] in "LMN" else " ")
    return "".join(chars)


def _key_words(folded: str, name: str) -> str:
    """The key from the folded name: its words without a legal suffix."""
    words = folded.split()
    if len(words) > 2 and words[-2:] == ["pty", "ltd"]:
        words = words[:-2]
    elif len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words = words[:-1]
    if words:
        return " ".join(words)
    # Only punctuation or emoji: still give a non-empty, stable key.
    return " ".join(_folded(name).split())


def _folded(name: str) -> str:
    """The name without its invisible characters, NFKC-normalised and case-folded."""
    # Invisible characters go first, so "Ac<zero-width space>me" is the same key as "Acme".
    visible = "".join(ch for ch in name if ch not in INVISIBLE)
    return unicodedata.normalize("NFKC", visible).casefold()


def normalize_domain(raw: str) -> str | None:
    """Bare lowercase host from a domain or URL ("https://www.Acme.com/x" -> "acme.com")."""
    host = unicodedata.normalize("NFKC", raw).strip().lower()
    host = _SCHEME.sub("", host)
    for stop in "/?#":
        host = host.split(stop, 1)[0]
    host = _PORT.sub("", host).strip().rstrip(".")
    # "www.com" is a host of its own, so only drop "www." when a real domain remains.
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host or None


def is_domain(host: str) -> bool:
    """Loose hostname check: dotted labels of letters (any script), digits and hyphens."""
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        # Letters, digits and hyphens (a label of hyphens alone has one at its start).
        and label.replace("-", "").isalnum()
        for label in labels
    )


# Words a company's name is written with or without: "Sierra Nevada Brewing Co." is "Sierra
# Nevada Brewing Company" on its own site and "Sierra Nevada Brewing" in the news.
_NAME_TAILS = _LEGAL_SUFFIXES | {
    "company",
    "incorporated",
    "holdings",
    "group",
    "pty",
    "llp",
    "lp",
    "se",
    "&",
    "and",
}
# Words naming the trade after the name: the news writes "Rivian", "Crusoe" and "Stickley"
# for Rivian Automotive, Crusoe Energy Systems and Stickley Furniture.
_TRADE_WORDS = frozenset(
    "automotive bakery brewing brewery cement energy entertainment financial furniture labs "
    "pharmaceuticals plumbing systems technologies technology therapeutics".split()
)
_APOSTROPHES = "'\u2018\u2019`\u02bc"
_NAME_WORD = re.compile(
    rf"[^\s{re.escape(_APOSTROPHES)}]+(?:[{_APOSTROPHES}][^\s{_APOSTROPHES}]+)*"
)
# A spelling this short on its own ("AI", "Co") would match everywhere.
_MIN_SPELLING_CHARS = 3


def name_spellings(name: str, domain: str | None = None) -> list[str]:
    """The ways pages write a company's name, longest first: as given, without its legal
    suffix ("Co.", "Inc", "Ltd"...), without a trailing "AI" ("Mistral AI" is "Mistral"),
    and the one word of it its site is named for ("John Deere" at deere.com is "Deere")."""
    words = _NAME_WORD.findall(unicodedata.normalize("NFKC", name))
    first_comma = bool(words) and words[0].endswith(",")
    words = [w.rstrip(",") for w in words if w.rstrip(",")]
    spellings = [words]
    core = list(words)
    while len(core) > 1 and core[-1].replace(".", "").casefold() in _NAME_TAILS:
        core.pop()
    if core[0].casefold() == "the" and len(core) <= 2:
        core = words  # "The Boring Company" is never "the boring"
    spellings.append(core)
    if len(core) > 1 and core[-1].casefold() == "ai":
        spellings.append(core[:-1])
    if len(core) > 2 and core[0].casefold() == "the":
        spellings.append(core[1:])
    trade = list(core)
    while len(trade) > 1 and trade[-1].casefold() in _TRADE_WORDS:
        trade.pop()
    spellings.append(trade)
    if len(core) > 1 and ("&" in core or first_comma):
        spellings.append(core[:1])  # "Cravath, Swaine & Moore" is "Cravath"; "Deere & Co" "Deere"
    label = _site_label(domain)
    if len(core) > 1 and label:
        spellings.extend([w] for w in core if normalize_name(w).replace(" ", "") == label)
    out: list[str] = []
    for spelling in spellings:
        text = " ".join(spelling)
        if len(text) >= _MIN_SPELLING_CHARS and text not in out:
            out.append(text)
    return sorted(out, key=len, reverse=True)


# Second-level labels under a country's domain: "acme.co.uk" is registered as "acme".
_SECOND_LEVEL = frozenset("ac co com edu gov ltd net or org plc".split())


def _site_label(domain: str | None) -> str | None:
    """The name a site is registered under: "deere" for www.deere.com, "crusoe" for crusoe.ai."""
    host = normalize_domain(domain) if domain else None
    labels = host.split(".") if host else []
    if len(labels) > 2 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        labels.pop()
    return labels[-2] if len(labels) >= 2 else None


def name_pattern(name: str, domain: str | None = None) -> re.Pattern[str] | None:
    """The company named in any of its spellings, as whole words, case-insensitively, with
    any apostrophe or none ("Semifreddi's" is "Semifreddi’s"), hyphens, spaces or nothing
    between its words ("StitchFix" is "Stitch Fix")."""
    parts = []
    for spelling in name_spellings(name, domain):
        words = []
        for word in spelling.split():
            pieces = _pieces(word)
            words.append(f"[{_APOSTROPHES}]?".join(re.escape(p) for p in pieces) + r"\.?")
        parts.append(r",?[\s\-]*".join(words))
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def name_needles(name: str, domain: str | None = None) -> tuple[str, ...] | None:
    """What an ASCII text holds, lower-cased, wherever `name_pattern` finds the name in it: the
    start of some spelling's first word. A substring test of each is a few times faster than
    the pattern, which a look-behind opens (tried at every character), and most passages do
    not name the company. None when a spelling starts outside ASCII, whose letters
    IGNORECASE also matches to ASCII ones ("ſ" to "s")."""
    needles = []
    for spelling in name_spellings(name, domain):
        start = _pieces(spelling.split()[0])[0]
        if not start.isascii():
            return None
        needles.append(start.lower())
    return tuple(needles) or None


def _pieces(word: str) -> list[str]:
    """A word of a spelling cut at its apostrophes (any apostrophe or none matches there)."""
    return re.split(f"[{_APOSTROPHES}]", word.rstrip("."))
