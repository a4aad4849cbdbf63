"""Turn search results into the fenced evidence the LLM reads (pure functions, no I/O)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from domain.entities import host_of
from domain.models import SearchPage
from domain.names import name_pattern

# Pages this alike (Jaccard similarity of their word 5-gram shingles) say the same thing.
NEAR_DUPLICATE = 0.8
SHINGLE_WORDS = 5
# A paragraph on this many pages of one site is its furniture (navigation, footers). The same
# paragraph on two sites is a syndicated story: sent once, never dropped.
BOILERPLATE_PAGES = 2
# A page's first lines this short are its title, byline or dateline: the lead runs on to the
# first real paragraph (at most LEAD_PARAGRAPHS blocks), which says what the page is.
LEAD_TITLE_CHARS = 120
LEAD_PARAGRAPHS = 4
# Characters of paragraphs that name the company but hold no keyword kept per company (best
# pages first; each page's first such paragraph always): a COLD verdict rests on the
# sentences saying what the business is, and those carry no rubric keyword.
NAMED_CHARS = 6_000
# A kept paragraph longer than this is cut to the sentences about the company or the
# rubric's signals (and those going on about them).
SENTENCE_TRIM_CHARS = 300
# A block longer than this (a page without line breaks) is cut at sentence ends, so one
# keyword does not bring a whole page.
MAX_BLOCK_CHARS = 1_000
# A neighbour of a signal paragraph is sent as context only when it is this short: context
# helps read the signal ("It raised..."), a long neighbour would cost more than it tells.
CONTEXT_MAX_CHARS = 600
OMISSION = "[…]"
# A line this short with a year in it is a dateline ("Published 2026-03-14."): never furniture,
# though two pages published the same day share it.
DATELINE_CHARS = 80

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A line ending a sentence, a heading or a list item ends a block; a line that does not,
# followed by one starting in lower case, was wrapped mid-sentence.
_LINE_END = re.compile(r"[.!?:;)\]\"'”’|]\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“(]?[A-Z0-9])")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_WORD = re.compile(r"\w+")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SourceBlock:
    """One page as the LLM sees it, numbered so signals can cite it."""

    id: int
    url: str
    title: str
    score: float
    text: str


def select_pages(pages: list[SearchPage], min_score: float) -> list[SearchPage]:
    """Drop pages below the relevance threshold and sort the rest, best first."""
    kept = [p for p in pages if p.score >= min_score]
    return sorted(kept, key=lambda p: p.score, reverse=True)


@dataclass(frozen=True)
class Focus:
    """What a page is cut down to: passages about the company and the rubric's signals."""

    company: str
    keywords: tuple[str, ...] = ()
    domain: str | None = None  # the company's own site: its pages are all about it


def _page_text(page: SearchPage) -> str:
    return (page.raw_content or page.content or "").strip()


def split_paragraphs(text: str) -> list[str]:
    """A page's blocks, verbatim: each line its own block (crawlers put a newline between
    the blocks of a page, or a blank line, or none), lines wrapped mid-sentence joined back,
    each heading its own, and a block longer than MAX_BLOCK_CHARS cut at sentence ends."""
    out: list[str] = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n")):
        run: list[str] = []
        for line in block.split("\n"):
            if not line.strip():
                continue
            if run and not _HEADING.match(line) and _wrapped(run[-1], line):
                run[-1] = f"{run[-1]}\n{line}"
            else:
                run.append(line)
        out.extend(piece for line in run for piece in _cut(line.strip()) if piece)
    return out


def _wrapped(previous: str, line: str) -> bool:
    """Was `line` wrapped off the end of `previous` (one sentence over two lines)?"""
    first = line.lstrip()[:1]
    return (
        not _HEADING.match(previous)
        and not _LINE_END.search(previous)
        and first.isalpha()
        and first.islower()
    )


def _cut(block: str) -> list[str]:
    """A long block as runs of whole sentences, each at most MAX_BLOCK_CHARS where the
    sentences allow."""
    if len(block) <= MAX_BLOCK_CHARS:
        return [block]
    ends = [m.start() for m in _SENTENCE_END.finditer(block)] + [len(block)]
    pieces: list[str] = []
    start = last = 0
    for end in ends:
        if end - start > MAX_BLOCK_CHARS and last > start:
            pieces.append(block[start:last].strip())
            start = last
        last = end
    pieces.append(block[start:].strip())
    return pieces


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip()


@lru_cache(maxsize=64)
def _terms(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of the terms as a whole word or phrase, case-insensitive ("AI" never in "said")."""
    parts = sorted(
        {r"\s+".join(re.escape(w) for w in t.split()) for t in terms if t.strip()},
        key=len,
        reverse=True,
    )
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return frozenset([tuple(words)])
    # zip over shifted lists builds the word n-grams in C, ~4x faster than slicing in Python.
    # The shifted lists differ in length by design: zip stops at the shortest.
    return frozenset(zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False))


def _alike(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    small, large = sorted((len(a), len(b)))
    # Jaccard is at most small / large: most pairs of pages are told apart by size alone.
    if not large or small < NEAR_DUPLICATE * large:
        return False
    common = len(a & b)
    return common / (len(a) + len(b) - common) >= NEAR_DUPLICATE


def _distinct(pages: list[SearchPage]) -> list[SearchPage]:
    """Pages with text, without near-duplicates of a better page (pages come best first)."""
    kept: list[SearchPage] = []
    seen: list[frozenset[tuple[str, ...]]] = []
    for page in pages:
        text = _page_text(page)
        if not text:
            continue
        shingles = _shingles(text)
        if any(_alike(shingles, other) for other in seen):
            continue
        kept.append(page)
        seen.append(shingles)
    return kept


def _lead(paras: list[str], furniture: set[int]) -> set[int]:
    """What the page is: its first lines (title, byline, dateline) up to and including its
    first real paragraph."""
    lead: set[int] = set()
    for i in (i for i in range(len(paras)) if i not in furniture):
        lead.add(i)
        if len(lead) >= LEAD_PARAGRAPHS or (
            len(paras[i]) > LEAD_TITLE_CHARS and not _HEADING.match(paras[i])
        ):
            break
    return lead


def _join(paras: list[str] | dict[int, str], chosen: set[int]) -> str:
    """Chosen paragraphs in page order, an omission mark where paragraphs were left out."""
    parts: list[str] = []
    previous = -1
    for i in sorted(chosen):
        if parts and i != previous + 1:
            parts.append(OMISSION)
        parts.append(paras[i])
        previous = i
    return "\n\n".join(parts)


# A sentence opening so goes on about what the sentence before it was about.
_ANAPHOR = re.compile(
    r"^(?:\W*\w+){0,4}?\W*\b(?:it|its|it's|they|their|them|this|these|those|he|she|his|her|we|"
    r"our|the (?:company|firm|brewery|bakery|business|group|startup|chain|store|plant)|today|"
    r"now|also|in addition|additionally|however)\b",
    re.IGNORECASE,
)


def _sentences(para: str, wanted: Callable[[str], bool]) -> str:
    """A long paragraph cut to its wanted sentences (and the sentences going on about them),
    each verbatim, an omission mark where sentences were left out."""
    if len(para) <= SENTENCE_TRIM_CHARS:
        return para
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(para)]
    spans = [para[a:b].strip() for a, b in zip(starts, [*starts[1:], len(para)], strict=True)]
    keep = [wanted(x) for x in spans]
    for i in range(1, len(spans)):
        if keep[i - 1] and not keep[i] and _ANAPHOR.match(spans[i]):
            keep[i] = True
    if all(keep) or not any(keep):
        return para
    out: list[str] = []
    for i, span in enumerate(spans):
        if keep[i]:
            out.append(span)
        elif not out or out[-1] != OMISSION:
            out.append(OMISSION)
    return " ".join(out)


def trim_pages(pages: list[SearchPage], focus: Focus) -> list[SearchPage]:
    """The pages cut to the passages the rubric looks for, each paragraph kept verbatim.

    Near-duplicates of a better page go. A paragraph on several pages of one site (navigation,
    footers) is furniture: sent once if it holds a keyword, else never; a paragraph on pages
    of several sites (a syndicated story) is sent with the first page that keeps it. Each
    page keeps its lead (title, byline, dateline, first paragraph), the first paragraphs
    naming the company (in any of its spellings), and every paragraph with a keyword; one
    that does not name the company also keeps its neighbours and section heading, so the
    reader can tell whom it is about. Pages left with nothing are dropped.
    """
    keywords = _terms(tuple(focus.keywords))
    company = name_pattern(focus.company)
    pages = _distinct(pages)
    split = [split_paragraphs(_page_text(p)) for p in pages]
    normal = [[_normal(p) for p in paras] for paras in split]  # computed once, used thrice
    on_site = Counter(
        (host_of(page.url), key)
        for page, keys in zip(pages, normal, strict=True)
        for key in set(keys)
    )
    sent: set[str] = set()  # paragraphs already sent with an earlier page
    said = _Said()  # ...and what they said, to know a mirrored or lightly edited copy
    budget = _Budget(NAMED_CHARS)

    def names(text: str) -> bool:
        return bool(company and company.search(_visible(text)))

    def wanted(text: str) -> bool:
        return names(text) or has_keyword(text)

    def has_keyword(text: str) -> bool:
        text = _visible(text)
        if keywords is None:
            return True  # a rubric without keywords: any paragraph may hold its signals
        # Most paragraphs hold no keyword at all: one search tells, without the rewrite below.
        if not keywords.search(text):
            return False
        # The company's own name is no signal: "Acme AI" is not "uses AI".
        return not company or bool(keywords.search(company.sub(" ", text)))

    trimmed: list[SearchPage] = []
    for page, paras, keys in zip(pages, split, normal, strict=True):
        site = host_of(page.url)
        furniture = {
            i
            for i, p in enumerate(paras)
            if on_site[(site, keys[i])] >= BOILERPLATE_PAGES
            and not (len(p) <= DATELINE_CHARS and _YEAR.search(p))
        }
        keyworded = [has_keyword(p) for p in paras]  # each paragraph searched once
        own = _own_site(site, focus.domain)
        lead = _lead(paras, furniture)
        # The company's own page is about it throughout ("we", "our bakers"): each of its
        # paragraphs counts as naming it.
        about = (lambda _: True) if own else names
        chosen, relevant = _choose(paras, furniture, keyworded, about, budget)
        # Furniture with a keyword, and a story syndicated on several sites, go once.
        chosen = {i for i in chosen if keys[i] not in sent and not said.again(paras[i])}
        sent.update(keys[i] for i in chosen if i in furniture or len(keys[i]) > DATELINE_CHARS)
        if relevant and chosen:
            texts = {
                i: paras[i] if own or i in lead else _sentences(paras[i], wanted) for i in chosen
            }
            trimmed.append(page.model_copy(update={"raw_content": _join(texts, chosen)}))
    return trimmed


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+")


@dataclass
class _Budget:
    """What is left to spend, across a company's pages, on passages kept for naming it."""

    named_chars: int


class _Said:
    """The word 5-grams of the long paragraphs sent so far: a paragraph mostly made of them
    is a copy (a mirror, a reprint with a changed word) and says nothing new."""

    def __init__(self) -> None:
        self.shingles: set[tuple[str, ...]] = set()

    def again(self, para: str) -> bool:
        if len(para) <= DATELINE_CHARS:
            return False
        own = _shingles(para)
        if len(own) >= 4 and len(own & self.shingles) >= NEAR_DUPLICATE * len(own):
            return True
        self.shingles |= own
        return False


def _visible(text: str) -> str:
    """The words a reader sees: link targets and addresses are not the page saying a thing
    ("github.com/nebius/..." on a badge names no one)."""
    return _URL.sub(" ", _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", text)))


def _own_site(host: str, domain: str | None) -> bool:
    if not domain:
        return False
    domain = domain.lower().removeprefix("www.")
    return host == domain or host.endswith("." + domain)


def _choose(
    paras: list[str],
    furniture: set[int],
    keyworded: list[bool],
    names: Callable[[str], bool],
    budget: _Budget,
) -> tuple[set[int], bool]:
    """A page's paragraphs to keep, and whether the page is relevant at all."""
    lead = _lead(paras, furniture)
    chosen = set(lead)
    relevant = any(names(paras[i]) or keyworded[i] for i in lead)
    # The first paragraphs naming the company say who the page is about and what the business
    # is (often with a link to its site, which tells namesakes apart).
    named = [i for i, p in enumerate(paras) if i not in furniture and names(p)]
    if named:
        chosen.add(named[0])
        for i in named[1:]:
            if not keyworded[i] and len(paras[i]) <= budget.named_chars:
                chosen.add(i)
                budget.named_chars -= len(paras[i])
        relevant = True
    for i, para in enumerate(paras):
        if not keyworded[i]:
            continue
        chosen.add(i)
        if i in furniture:
            continue
        relevant = True
        # A passage naming the company needs no neighbours to say whom it is about.
        if not names(para):
            chosen.update(_context(paras, i, furniture))
    return chosen, relevant


def _context(paras: list[str], i: int, furniture: set[int]) -> set[int]:
    """A paragraph either side of paragraph `i` (if short and not furniture), and the heading
    of its section."""
    near = {
        j
        for j in (i - 1, i + 1)
        if 0 <= j < len(paras) and j not in furniture and len(paras[j]) <= CONTEXT_MAX_CHARS
    }
    heading = next((j for j in range(i - 1, -1, -1) if _HEADING.match(paras[j])), None)
    if heading is not None and heading not in furniture:
        near.add(heading)
    return near


def build_sources(
    pages: list[SearchPage], max_chars: int, focus: Focus | None = None
) -> list[SourceBlock]:
    """Raw page content (snippet only if raw is missing), best first, within a character budget.

    With a `focus`, each page is first cut to the passages that matter (see `trim_pages`).
    """
    if focus is not None:
        pages = trim_pages(pages, focus)
    blocks: list[SourceBlock] = []
    budget = max_chars
    for page in pages:
        text = _page_text(page)
        if not text:
            continue
        if budget <= 0:
            break
        text = text[:budget]
        budget -= len(text)
        blocks.append(SourceBlock(len(blocks) + 1, page.url, page.title, page.score, text))
    return blocks


def render_sources(blocks: list[SourceBlock]) -> str:
    """The sources as tagged blocks; tag-like text inside a page cannot close its fence."""
    parts = []
    for b in blocks:
        text = b.text.replace("</source", "< /source").replace("<source", "< source")
        title = b.title.replace('"', "'").replace("\n", " ")
        parts.append(
            f'<source id="{b.id}" url="{b.url}" title="{title}" score="{b.score:.2f}">\n'
            f"{text}\n</source>"
        )
    return "\n".join(parts)
