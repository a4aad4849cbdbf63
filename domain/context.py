"""Turn search results into the fenced evidence the LLM reads (pure functions, no I/O)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.blocks import HEADING, cut_to_sentences, join_blocks, split_paragraphs
from domain.entities import host_of
from domain.models import SearchPage
from domain.near_duplicates import NEAR_DUPLICATE, distinct, shingles
from domain.passages import Reader, reader_for, words

# A paragraph on this many pages of one site is its furniture (navigation, footers). The same
# paragraph on two sites is a syndicated story: sent once, never dropped.
BOILERPLATE_PAGES = 2
# A page's first lines this short are its title, byline or dateline: the lead runs on to the
# first real paragraph (at most LEAD_PARAGRAPHS blocks), whose first sentence says what the
# page is (its other sentences are kept only if they are about the company or a signal).
LEAD_TITLE_CHARS = 120
LEAD_PARAGRAPHS = 4
# Characters of paragraphs that name the company but hold no keyword kept per company (best
# pages first; each page's first such paragraph always): a COLD verdict rests on the
# sentences saying what the business is, and those carry no rubric keyword.
NAMED_CHARS = 6_000
# A neighbour of a signal paragraph is sent as context only when it is this short: context
# helps read the signal ("It raised..."), a long neighbour would cost more than it tells.
CONTEXT_MAX_CHARS = 600
# The search's title is sent in each page's source tag: a line saying it again (the page's
# headline, with the site's name after it or not) is not sent twice, and a titled page's lead
# is only its dateline (the title says what the page is). benchmarks/corpus: 3.3 points more
# cut as stored, no labelled evidence lost (also with every page given its first line as a
# title, as Tavily gives one for every result).
TITLE_MIN_WORDS = 3
SITE_NAME_WORDS = 4
TITLE_SLACK_CHARS = 100
_SITE_NAME = re.compile(r"\s+[|\-–—·:]\s+([^|\-–—·:]+?)\s*$")
# A line this short with a year in it is a dateline ("Published 2026-03-14."): never furniture,
# though two pages published the same day share it.
DATELINE_CHARS = 80

_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


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


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())  # the whitespace of str.split is that of \s (r"\s+")


def _lead(paras: list[str], skip: set[int], titled: bool) -> set[int]:
    """What the page is: a dateline among its first short lines, and, when the search gave
    no title (the source tag then has none to say it), its first line and the first
    sentence of its first real paragraph."""
    lead: set[int] = set()
    for n, i in enumerate(i for i in range(len(paras)) if i not in skip):
        long = len(paras[i]) > LEAD_TITLE_CHARS and not HEADING.match(paras[i])
        # A byline, a photo credit or "Advertisement" between the title and the text says
        # nothing about the company: of the short lines only the date is kept.
        if _dateline(paras[i]) or (not titled and (n == 0 or long)):
            lead.add(i)
        if long or n + 1 >= LEAD_PARAGRAPHS:
            break
    return lead


def _title_lines(paras: list[str], title: str) -> set[int]:
    """The lines saying the search's title again ("# Title", "Title:", "Title | Site")."""
    told = _title_words(title)
    if not told:
        return set()
    longest = len(title) + TITLE_SLACK_CHARS  # a longer line is no title: skip its words
    return {
        i for i, p in enumerate(paras) if len(p) <= longest and not told.isdisjoint(_title_words(p))
    }


def _title_words(line: str) -> set[tuple[str, ...]]:
    """A headline's words, with and without a site's name after it ("... | TechCrunch")."""
    whole = tuple(words(line.casefold()))
    found = {whole} if whole else set()
    site = _SITE_NAME.search(line)
    if site and len(words(site.group(1))) <= SITE_NAME_WORDS:
        head = tuple(words(line[: site.start()].casefold()))
        if len(head) >= TITLE_MIN_WORDS:
            found.add(head)
    return found


def _dateline(para: str) -> bool:
    return len(para) <= DATELINE_CHARS and bool(_YEAR.search(para))


def trim_pages(pages: list[SearchPage], focus: Focus) -> list[SearchPage]:
    """The pages cut to the passages the rubric looks for, each paragraph kept verbatim.

    Near-duplicates of a better page go. A paragraph on several pages of one site (navigation,
    footers) is furniture: sent once if it holds a keyword, else never; a paragraph on pages
    of several sites (a syndicated story) is sent with the first page that keeps it. A line
    saying the page's title again is not sent (the source tag carries the title). Each page
    keeps its lead (its dateline; untitled, its first line and the first sentence of its
    first paragraph too), the first paragraphs naming the company (in any of its
    spellings), and every paragraph with a keyword; one that does not name the company also
    keeps its neighbours and section heading, so the reader can tell whom it is about. Each
    kept paragraph is cut to the sentences naming the company or holding a keyword (and
    those going on about them). Pages left with nothing are dropped.
    """
    terms = tuple(focus.keywords)
    reader = reader_for(focus.company, terms, focus.domain)
    pages = distinct(pages, _page_text)
    split = [split_paragraphs(_page_text(p)) for p in pages]
    page_keys = [_Keys(paras) for paras in split]
    hosts = [host_of(page.url) for page in pages]
    # Furniture is on several pages of one site: a site with one page here has none.
    shared = {host for host, n in Counter(hosts).items() if n >= BOILERPLATE_PAGES}
    on_site = Counter(
        (host, key)
        for host, keys in zip(hosts, page_keys, strict=True)
        if host in shared
        for key in keys.every()
    )
    state = _Sent(budget=_Budget(NAMED_CHARS))
    trimmed: list[SearchPage] = []
    for page, site, paras, keys in zip(pages, hosts, split, page_keys, strict=True):
        furniture = (
            {
                i
                for i, p in enumerate(paras)
                if on_site[(site, keys[i])] >= BOILERPLATE_PAGES and not _dateline(p)
            }
            if site in shared
            else set()
        )
        own = _own_site(site, focus.domain)
        text = _trim_page(paras, keys, furniture, own, reader, state, page.title.strip())
        if text is not None:
            trimmed.append(page.model_copy(update={"raw_content": text}))
    return trimmed


class _Keys:
    """A page's paragraphs as compared with other pages' (case and whitespace folded), each
    folded when first asked for: only the paragraphs chosen to be sent and those of a site
    with several pages are asked for, most paragraphs are neither (folding them all was a
    tenth of trimming, in the flow on our simulators' pages)."""

    def __init__(self, paras: list[str]) -> None:
        self._paras = paras
        self._keys: list[str | None] = [None] * len(paras)

    def __getitem__(self, i: int) -> str:
        key = self._keys[i]
        if key is None:
            key = self._keys[i] = _normal(self._paras[i])
        return key

    def every(self) -> set[str]:
        """Every paragraph's key (each once)."""
        return {self[i] for i in range(len(self._paras))}


@dataclass
class _Sent:
    """What earlier pages of the company sent: paragraphs (by key), their words, the budget."""

    budget: _Budget
    keys: set[str] = field(default_factory=set)
    said: _Said = field(default_factory=lambda: _Said())


def _trim_page(
    paras: list[str],
    keys: _Keys,
    furniture: set[int],
    own: bool,
    reader: Reader,
    state: _Sent,
    title: str = "",
) -> str | None:
    """One page cut to what it adds to the pages before it, or None if it adds nothing."""
    keyworded = [reader.has_keyword(p) for p in paras]  # each paragraph searched once
    shown = _title_lines(paras, title)
    lead = _lead(paras, furniture | shown, bool(title))
    # The company's own page is about it throughout ("we", "our bakers"): each of its
    # paragraphs counts as naming it.
    about = (lambda _: True) if own else reader.names
    chosen, relevant = _choose(paras, lead, furniture, shown, keyworded, about, state.budget)
    chosen = _unsent(chosen, paras, keys, furniture, state)
    if not (relevant and chosen) and title and reader.wanted(title):
        # A title naming the company (or a signal) makes the page about it, though its text
        # says "the startup": the lead of an untitled page goes with the title.
        lead = _lead(paras, furniture | shown, titled=False)
        chosen, relevant = _unsent(lead, paras, keys, furniture, state), True
    if not (relevant and chosen):
        return None
    texts = {i: cut_to_sentences(paras[i], reader.wanted, keep_first=i in lead) for i in chosen}
    return join_blocks(texts, chosen)


def _unsent(
    chosen: set[int], paras: list[str], keys: _Keys, furniture: set[int], state: _Sent
) -> set[int]:
    """The chosen paragraphs that earlier pages did not send: furniture with a keyword, and a
    story syndicated on several sites, go once."""
    chosen = {i for i in chosen if keys[i] not in state.keys and not state.said.again(paras[i])}
    state.keys.update(keys[i] for i in chosen if i in furniture or len(keys[i]) > DATELINE_CHARS)
    return chosen


@dataclass
class _Budget:
    """What is left to spend, across a company's pages, on passages kept for naming it."""

    named_chars: int


class _Said:
    """The word 5-grams of the long paragraphs sent so far: a paragraph mostly made of them
    is a copy (a mirror, a reprint with a changed word) and says nothing new."""

    def __init__(self) -> None:
        self.shingles: set[int] = set()

    def again(self, para: str) -> bool:
        if len(para) <= DATELINE_CHARS:
            return False
        own = shingles(para)
        if len(own) >= 4 and len(own & self.shingles) >= NEAR_DUPLICATE * len(own):
            return True
        self.shingles |= own
        return False


def _own_site(host: str, domain: str | None) -> bool:
    if not domain:
        return False
    domain = domain.lower().removeprefix("www.")
    return host == domain or host.endswith("." + domain)


def _choose(
    paras: list[str],
    lead: set[int],
    furniture: set[int],
    shown: set[int],
    keyworded: list[bool],
    names: Callable[[str], bool],
    budget: _Budget,
) -> tuple[set[int], bool]:
    """A page's paragraphs to keep (its `lead` first), and whether the page is relevant;
    the lines `shown` (the title, sent in the source tag) never."""
    chosen = set(lead)
    relevant = any(names(paras[i]) or keyworded[i] for i in lead)
    # The first paragraphs naming the company say who the page is about and what the business
    # is (often with a link to its site, which tells namesakes apart).
    hidden = furniture | shown
    named = [i for i, p in enumerate(paras) if i not in hidden and names(p)]
    if named:
        chosen.add(named[0])
        for i in named[1:]:
            if not keyworded[i] and len(paras[i]) <= budget.named_chars:
                chosen.add(i)
                budget.named_chars -= len(paras[i])
        relevant = True
    for i, para in enumerate(paras):
        if not keyworded[i] or i in shown:
            continue
        chosen.add(i)
        if i in furniture:
            continue
        relevant = True
        # A passage naming the company needs no neighbours to say whom it is about.
        if not names(para):
            chosen.update(_context(paras, i, hidden))
    return chosen, relevant


def _context(paras: list[str], i: int, furniture: set[int]) -> set[int]:
    """A paragraph either side of paragraph `i` (if short and not furniture), and the heading
    of its section."""
    near = {
        j
        for j in (i - 1, i + 1)
        if 0 <= j < len(paras) and j not in furniture and len(paras[j]) <= CONTEXT_MAX_CHARS
    }
    heading = next((j for j in range(i - 1, -1, -1) if HEADING.match(paras[j])), None)
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
