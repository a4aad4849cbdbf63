"""Turn search results into the fenced evidence the LLM reads (pure functions, no I/O)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from domain.models import SearchPage

# Pages this alike (Jaccard similarity of their word 5-gram shingles) say the same thing.
NEAR_DUPLICATE = 0.8
SHINGLE_WORDS = 5
# A paragraph on this many of a company's pages is site furniture (navigation, footers).
BOILERPLATE_PAGES = 2
# A first paragraph this short is a title or dateline: the next one says what the page is.
LEAD_TITLE_CHARS = 120
# A neighbour of a signal paragraph is sent as context only when it is this short: context
# helps read the signal ("It raised..."), a long neighbour would cost more than it tells.
CONTEXT_MAX_CHARS = 600
OMISSION = "[…]"
# A line this short with a year in it is a dateline ("Published 2026-03-14."): never furniture,
# though two pages published the same day share it.
DATELINE_CHARS = 80

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
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


def _page_text(page: SearchPage) -> str:
    return (page.raw_content or page.content or "").strip()


def split_paragraphs(text: str) -> list[str]:
    """A page's paragraphs, verbatim: blocks between blank lines, each heading line its own."""
    out: list[str] = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n")):
        run: list[str] = []
        for line in block.split("\n"):
            if _HEADING.match(line):
                out.extend(p for p in ("\n".join(run).strip(), line.strip()) if p)
                run = []
            else:
                run.append(line)
        if tail := "\n".join(run).strip():
            out.append(tail)
    return out


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
    """What the page is: its first paragraph, and the next too if the first is only a title."""
    own = [i for i in range(len(paras)) if i not in furniture]
    if len(own) > 1 and (_HEADING.match(paras[own[0]]) or len(paras[own[0]]) <= LEAD_TITLE_CHARS):
        return set(own[:2])
    return set(own[:1])


def _join(paras: list[str], chosen: set[int]) -> str:
    """Chosen paragraphs in page order, an omission mark where paragraphs were left out."""
    parts: list[str] = []
    previous = -1
    for i in sorted(chosen):
        if parts and i != previous + 1:
            parts.append(OMISSION)
        parts.append(paras[i])
        previous = i
    return "\n\n".join(parts)


def trim_pages(pages: list[SearchPage], focus: Focus) -> list[SearchPage]:
    """The pages cut to the passages the rubric looks for, each paragraph kept verbatim.

    Near-duplicates of a better page go; a paragraph found on several pages (navigation,
    footers) is sent once if it holds a keyword, else never. Each page keeps its lead (title,
    dateline or first paragraph), the first paragraph naming the company, and every paragraph
    with a keyword; one that does not name the company also keeps its neighbours and section
    heading, so the reader can tell whom it is about. Pages left with nothing are dropped.
    """
    keywords = _terms(tuple(focus.keywords))
    company = _terms((focus.company,))
    pages = _distinct(pages)
    split = [split_paragraphs(_page_text(p)) for p in pages]
    normal = [[_normal(p) for p in paras] for paras in split]  # computed once, used thrice
    pages_with = Counter(key for keys in normal for key in set(keys))
    boilerplate = {key for key, count in pages_with.items() if count >= BOILERPLATE_PAGES}
    sent: set[str] = set()  # boilerplate already sent with an earlier page

    def names(text: str) -> bool:
        return bool(company and company.search(text))

    def has_keyword(text: str) -> bool:
        if keywords is None:
            return True  # a rubric without keywords: any paragraph may hold its signals
        # Most paragraphs hold no keyword at all: one search tells, without the rewrite below.
        if not keywords.search(text):
            return False
        # The company's own name is no signal: "Acme AI" is not "uses AI".
        return not company or bool(keywords.search(company.sub(" ", text)))

    trimmed: list[SearchPage] = []
    for page, paras, keys in zip(pages, split, normal, strict=True):
        furniture = {
            i
            for i, p in enumerate(paras)
            if keys[i] in boilerplate and not (len(p) <= DATELINE_CHARS and _YEAR.search(p))
        }
        keyworded = [has_keyword(p) for p in paras]  # each paragraph searched once
        chosen, relevant = _choose(paras, keys, furniture, keyworded, names, sent)
        if relevant:
            trimmed.append(page.model_copy(update={"raw_content": _join(paras, chosen)}))
    return trimmed


def _choose(
    paras: list[str],
    keys: list[str],
    furniture: set[int],
    keyworded: list[bool],
    names: Callable[[str], bool],
    sent: set[str],
) -> tuple[set[int], bool]:
    """A page's paragraphs to keep, and whether the page is relevant at all."""
    lead = _lead(paras, furniture)
    chosen = set(lead)
    relevant = any(names(paras[i]) or keyworded[i] for i in lead)
    # The first paragraph naming the company says who the page is about (often with a
    # link to its site, which tells namesakes apart).
    first_named = next((i for i, p in enumerate(paras) if i not in furniture and names(p)), None)
    if first_named is not None:
        chosen.add(first_named)
        relevant = True
    for i, para in enumerate(paras):
        if not keyworded[i]:
            continue
        if i in furniture:
            key = keys[i]
            if key not in sent:  # repeated furniture with a keyword: sent once
                sent.add(key)
                chosen.add(i)
            continue
        chosen.add(i)
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
