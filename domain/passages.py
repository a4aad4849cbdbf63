"""What a passage of a page is about: the company, in any of its spellings, or one of the
rubric's words (pure functions, no I/O). Trimming asks it of every paragraph and sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from domain.names import name_needles, name_pattern

WORD = re.compile(r"\w+")
# Every ASCII character that `\w` does not match, as a space: for ASCII text (nearly every
# page) translating these and splitting on whitespace gives WORD.findall's words in a third
# of the time; trimming splits every page and paragraph into words.
_NOT_WORD = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))
_NOT_WORD_TO_SPACE = bytes.maketrans(_NOT_WORD, b" " * len(_NOT_WORD))
# The same, and upper case to lower: for ASCII text, what str.lower() changes.
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_LOWER_WORDS = bytes.maketrans(_NOT_WORD + _UPPER, b" " * len(_NOT_WORD) + _UPPER.lower())


def words(text: str) -> list[str]:
    """The words of `text`, as `WORD.findall(text)` gives them."""
    if text.isascii():
        return text.encode("ascii").translate(_NOT_WORD_TO_SPACE).decode("ascii").split()
    return WORD.findall(text)


def lower_words(text: str) -> list[str]:
    """`words(text.lower())`, in one pass over an ASCII text (every paragraph is asked)."""
    if text.isascii():
        return text.encode("ascii").translate(_LOWER_WORDS).decode("ascii").split()
    return WORD.findall(text.lower())


@lru_cache(maxsize=64)
def terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of the terms as a whole word or phrase, case-insensitive ("AI" never in "said")."""
    parts = sorted(
        {r"\s+".join(re.escape(w) for w in t.split()) for t in terms if t.strip()},
        key=len,
        reverse=True,
    )
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


# The letters outside ASCII that a case-insensitive pattern matches to ASCII ones (dotted and
# dotless i, long s, the Kelvin sign): a text holding one is searched in full, as the word
# look-up below would not see "Aİ" as "ai".
_ODD_CASE = re.compile("[\u0130\u0131\u017f\u212a]")


@lru_cache(maxsize=64)
def term_words(terms: tuple[str, ...]) -> dict[str, tuple[tuple[str, ...], ...]] | None:
    """Every term as its lower-cased words, indexed by its first word. A passage matching a
    term holds each of its words as a whole word ("pre-train": "pre" and "train"), so a
    passage holding no term's words all together holds no term, which set look-ups tell far
    faster than the alternation (most passages hold no keyword). None when some term cannot
    be told that way (not ASCII, or no word in it): then every passage is searched."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for term in (t.strip() for t in terms):
        if not term:
            continue
        words = tuple(WORD.findall(term.lower()))
        if not term.isascii() or not words:
            return None
        index.setdefault(words[0], []).append(words[1:])
    return {first: tuple(rests) for first, rests in index.items()}


@lru_cache(maxsize=64)
def single_words(terms: tuple[str, ...]) -> frozenset[str]:
    """The terms that are one whole word each ("GPU", not "GPU-hours" or "$100M"), lower-cased:
    a passage holding one as a word holds the term, no search needed."""
    return frozenset(
        t.strip().lower() for t in terms if t.strip().isascii() and WORD.fullmatch(t.strip())
    )


@dataclass(frozen=True)
class Reader:
    """What a passage is about: the company (in any spelling) or one of the rubric's words.
    Answers are kept per passage: a page's paragraphs are asked about more than once."""

    keywords: re.Pattern[str] | None
    company: re.Pattern[str] | None
    term_words: dict[str, tuple[tuple[str, ...], ...]] | None = None  # see term_words
    single_words: frozenset[str] = frozenset()  # see single_words
    company_needles: tuple[str, ...] | None = None  # see names.name_needles
    _names: dict[str, bool] = field(default_factory=dict, compare=False)
    _keyword: dict[str, bool] = field(default_factory=dict, compare=False)
    _firsts: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The terms' first words as a set: a passage's words are looked up in it one by one.
        object.__setattr__(self, "_firsts", frozenset(self.term_words or ()))

    def names(self, text: str) -> bool:
        known = self._names.get(text)
        if known is None:
            known = self._names[text] = self._names_company(visible(text))
        return known

    def _names_company(self, text: str) -> bool:
        if self.company is None:
            return False
        if self.company_needles is not None and text.isascii():
            lowered = text.lower()
            if not any(needle in lowered for needle in self.company_needles):
                return False
        return bool(self.company.search(text))

    def has_keyword(self, text: str) -> bool:
        known = self._keyword.get(text)
        if known is None:
            known = self._keyword[text] = self._has_keyword(visible(text))
        return known

    def _has_keyword(self, text: str) -> bool:
        if self.keywords is None:
            return True  # a rubric without keywords: any paragraph may hold its signals
        hint = self._term_hint(text)
        if hint is False or (hint is None and not self.keywords.search(text)):
            return False
        if not self.company or not self._names_company(text):
            return True
        # The company's own name is no signal: "Acme AI" is not "uses AI".
        return bool(self.keywords.search(self.company.sub(" ", text)))

    def _term_hint(self, text: str) -> bool | None:
        """False: no term in `text`; True: a one-word term is in it; None: only a search can
        tell (half the passages hold a term, most of them a one-word term: the search of the
        alternation cost as much as the rest of the reading)."""
        if self.term_words is None or (not text.isascii() and _ODD_CASE.search(text)):
            return None
        said = lower_words(text)
        # Nine passages in ten hold no term's first word: looking their words up one by one
        # tells so without a set of them (4.3 us a paragraph against 5.4, our simulator's pages).
        firsts = self._firsts.intersection(said)
        if not firsts:
            return False
        if not firsts.isdisjoint(self.single_words):
            return True
        found = set(said)
        maybe = any(all(w in found for w in rest) for f in firsts for rest in self.term_words[f])
        return None if maybe else False

    def wanted(self, text: str) -> bool:
        return self.names(text) or self.has_keyword(text)


def reader_for(company: str, keywords: tuple[str, ...], domain: str | None = None) -> Reader:
    """A reader of passages for one company (and its site) and a rubric's keywords."""
    return Reader(
        terms_pattern(keywords),
        name_pattern(company, domain),
        term_words(keywords),
        single_words(keywords),
        name_needles(company, domain),
    )


# A link's target may hold one level of parentheses ("wiki/Acme_(company)").
_MD_TARGET = r"\((?:[^()]|\([^()]*\))*\)"
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + _MD_TARGET)
_MD_LINK = re.compile(r"\[([^\]]*)\]" + _MD_TARGET)
_URL = re.compile(r"\b(?:https?://|www\.)\S+")


def _link_text(text: str) -> str:
    """A markdown link or image as its text: "[Acme](https://acme.example)" is "Acme"."""
    return _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", text))


def readable(text: object) -> str:
    """A quote as a reader sees it on the page, on one line: a markdown link or image as its
    text ("[Acme](https://acme.example) raised $40M" is "Acme raised $40M"). Pages reach us as
    markdown and models quote them so; the stored quote stays verbatim, this is for people."""
    flat = " ".join(str(text or "").split())
    return _link_text(flat) if "](" in flat else flat


@lru_cache(maxsize=4096)  # asked of each paragraph twice: for the name and for the keywords
def visible(text: str) -> str:
    """The words a reader sees: link targets and addresses are not the page saying a thing
    ("github.com/nebius/..." on a badge names no one)."""
    if "](" not in text and "http" not in text and "www." not in text:
        return text  # nothing to take out (most passages): no rewrite
    return _URL.sub(" ", _link_text(text))
