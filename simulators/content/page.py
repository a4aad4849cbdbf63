"""A simulated web page, and the helpers every page builder uses: slugs and publication dates."""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

RAW_MARKER = "RAW-PAGE-CONTENT"
LOW_MARKER = "LOW-RELEVANCE-PAGE"
MAX_CHUNK_CHARS = 500
SNIPPET_CHARS = 300
_WORD = re.compile(r"[a-z0-9]+")
# How many queries' rankings a page keeps (a search mostly asks with the same query).
_RANKINGS_KEPT = 8


@dataclass(frozen=True)
class Page:
    """One simulated web page and its search relevance score."""

    url: str
    title: str
    paragraphs: tuple[str, ...]
    score: float
    relevance: str  # "high", "mid" or "low"
    published: str
    marker_index: int | None = None
    # True when paragraphs[0] is the "Published YYYY-MM-DD." dateline.
    dated: bool = False

    @property
    def published_on(self) -> str:
        """The publication date as YYYY-MM-DD (the date of `published`, as the dateline says)."""
        return parsedate_to_datetime(self.published).date().isoformat()

    def raw_content(self, fmt: str = "markdown") -> str:
        """The whole page, as Tavily's raw_content ("markdown" or "text")."""
        body = "\n\n".join(self.paragraphs)
        if fmt == "text":
            return f"{self.title}\n\n{body}"
        return f"# {self.title}\n\n{body}"

    def _candidate_paragraphs(self) -> list[tuple[int, str]]:
        # Neither the raw-content marker nor the dateline is ever used for snippets or chunks
        # (a dateline shares no words with a query, so it would win every tie by position).
        return [
            (i, p)
            for i, p in enumerate(self.paragraphs)
            if i != self.marker_index and not (self.dated and i == 0)
        ]

    @functools.cached_property
    def _rankings(self) -> dict[str, tuple[tuple[int, str], ...]]:
        # The page's ranking for the queries it was last searched with: pages are cached and
        # searched again and again (every test searches the sample companies).
        return {}

    def _ranked(self, query: str) -> tuple[tuple[int, str], ...]:
        rankings = self._rankings
        ranked = rankings.get(query)
        if ranked is None:
            if len(rankings) >= _RANKINGS_KEPT:
                rankings.clear()
            ranked = rankings[query] = _ranking(self._candidate_paragraphs(), query)
        return ranked

    def snippet(self, query: str) -> str:
        """A single ~300-character summary (search_depth basic / ultra-fast)."""
        _, best = self._ranked(query)[0]
        return _truncate(best, SNIPPET_CHARS)

    def chunks(self, query: str, count: int) -> str:
        """Up to `count` chunks of <=500 characters joined by " [...] " (advanced / fast)."""
        chosen = sorted(self._ranked(query)[:count])
        return " [...] ".join(_truncate(p, MAX_CHUNK_CHARS) for _, p in chosen)


@functools.lru_cache(maxsize=256)
def _query_words(query: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The query's words (runs of [a-z0-9] in its lower case), each with the pattern that finds
    it standing whole in a lower-cased text."""
    return tuple((word, _whole_word(word)) for word in sorted(set(_WORD.findall(query.lower()))))


@functools.lru_cache(maxsize=1024)
def _whole_word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){word}(?![a-z0-9])")


def _ranking(candidates: list[tuple[int, str]], query: str) -> tuple[tuple[int, str], ...]:
    """Candidate paragraphs, those holding most of the query's words first (ties in page
    order): how many of the query's words are among their words."""
    words = _query_words(query)

    def shared(text: str) -> int:
        lowered = text.lower()
        # A plain substring test first: most words are not in most paragraphs at all.
        return sum(1 for word, whole in words if word in lowered and whole.search(lowered))

    return tuple(sorted(candidates, key=lambda item: (-shared(item[1]), item[0])))


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut + "..."


def random_published(rng: random.Random) -> str:
    """A publication date (RFC 2822) within the 400 days before 2026-11-20, drawn from `rng`."""
    moment = datetime(2026, 11, 20, tzinfo=UTC) - timedelta(
        days=rng.randrange(0, 400), seconds=rng.randrange(0, 86400)
    )
    return format_datetime(moment, usegmt=True)


def slugify(text: str) -> str:
    """Lower-case words joined by hyphens, for URL paths."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def dateline(published: str) -> str:
    """The first paragraph of a relevant page: "Published YYYY-MM-DD." for an RFC 2822 date."""
    return f"Published {parsedate_to_datetime(published).date().isoformat()}."
