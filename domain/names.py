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


def normalize_name(name: str) -> str:
    """Comparison key for a company name: "Acme, Inc." == "ACME inc" == "Acme"."""
    # Invisible characters go first, so "Ac<zero-width space>me" is the same key as "Acme".
    visible = "".join(ch for ch in name if ch not in INVISIBLE)
    text = unicodedata.normalize("NFKC", visible).casefold()
    chars = []
    for ch in text:
        if ch in _JOINING_PUNCTUATION:
            continue
        # Letters, marks and digits of any script survive; marks matter for e.g. Devanagari.
        chars.append(ch if unicodedata.category(ch)[0] in "LMN" else " ")
    words = "".join(chars).split()
    if len(words) > 2 and words[-2:] == ["pty", "ltd"]:
        words = words[:-2]
    elif len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words = words[:-1]
    if words:
        return " ".join(words)
    # Only punctuation or emoji: still give a non-empty, stable key.
    return " ".join(text.split())


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
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )
