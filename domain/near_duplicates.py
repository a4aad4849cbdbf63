"""Near-duplicate pages: each page split once into paragraphs and their words, and compared
by the hashes of its word 5-grams (pure functions, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from domain.blocks import split_paragraphs
from domain.models import SearchPage
from domain.passages import lower_words, words

# Pages this alike (Jaccard similarity of their word 5-gram shingles) say the same thing.
NEAR_DUPLICATE = 0.8
SHINGLE_WORDS = 5


def page_text(page: SearchPage) -> str:
    """What a page says: its raw content, else its snippet."""
    return (page.raw_content or page.content or "").strip()


def shingles(text: str) -> frozenset[int]:
    """The word 5-grams of `text`, each as its hash: equal 5-grams give equal hashes and
    different ones differ but for a 2^-64 chance. Comparing two pages' sets of hashes is
    several times faster than comparing sets of word tuples (each match compared five
    strings): on our simulators' pages, whose sizes are close, that comparison took half the
    near-duplicate check and the check a third of trimming."""
    return shingles_of(words(text.casefold()))


def shingles_of(found: list[str]) -> frozenset[int]:
    """The 5-gram hashes of a text's case-folded words (see `shingles`)."""
    if len(found) < SHINGLE_WORDS:
        return frozenset([hash(tuple(found))])
    # zip over shifted lists builds the word n-grams in C, and hands each to hash without
    # keeping it. The shifted lists differ in length by design: zip stops at the shortest.
    return frozenset(map(hash, zip(*(found[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def alike(a: frozenset[int], b: frozenset[int]) -> bool:
    """Do two pages' 5-gram hash sets say the same thing (Jaccard at least NEAR_DUPLICATE)?"""
    small, large = sorted((len(a), len(b)))
    # Jaccard is at most small / large: most pairs of pages are told apart by size alone.
    if not large or small < NEAR_DUPLICATE * large:
        return False
    common = len(a & b)
    return common / (len(a) + len(b) - common) >= NEAR_DUPLICATE


@dataclass
class SplitPage:
    """A page as paragraphs and each paragraph's lower-cased words (`lower_words`): split
    into words once for the near-duplicate check, the keyword look-up and the check for
    copied paragraphs (each split the text afresh: 1-2 ms of CPU a company of 20 pages)."""

    page: SearchPage
    paras: list[str]
    lowered: list[list[str]]

    @classmethod
    def of(cls, page: SearchPage) -> SplitPage:
        """The page split into paragraphs and words."""
        paras = split_paragraphs(page_text(page))
        return cls(page, paras, [lower_words(p) for p in paras])

    def shingles(self) -> frozenset[int]:
        """The page's 5-gram hashes, from the words it was split into."""
        text = page_text(self.page)
        if not text.isascii():  # case folding and lower case differ outside ASCII
            return shingles(text)
        # The paragraphs hold the page's words in order: they are cut at white space only.
        return shingles_of(list(chain.from_iterable(self.lowered)))


def distinct(pages: list[SearchPage]) -> list[SplitPage]:
    """Pages with text, split, without near-duplicates of a better page (pages come best
    first)."""
    kept: list[SplitPage] = []
    seen: list[frozenset[int]] = []
    for page in pages:
        if not page_text(page):
            continue
        split = SplitPage.of(page)
        hashes = split.shingles()
        if any(alike(hashes, other) for other in seen):
            continue
        kept.append(split)
        seen.append(hashes)
    return kept
