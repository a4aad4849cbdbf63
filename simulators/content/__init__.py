"""Deterministic synthetic web pages per company, as the Tavily simulator returns them.

Every company gets 20 pages: 4 highly relevant (own site, funding news, job board, company
database; score 0.85-0.99), 6 mid-relevance (blog, talk, roundup, partner story, podcast,
local press; 0.42-0.79) and 10 off-topic pages (< 0.39). Signal sentences name the company
in plain words, so a reader (or the LLM simulator) can grade its GPU-compute need.

Every relevant page opens with a dateline ("Published 2026-03-14.", the date of its
`published` field), and every relevant page off the company's own domain links the company's
name to its site once, in the first paragraph naming it: "[Acme Robotics](https://acme...)".
That is how a reader tells apart organisations sharing a name (namesakes.py), whose pages a
search for the bare name mixes. With the Tavily simulator's `epoch` setting >= 1, some WARM
companies have a new news page that makes them HOT (see `changes_at_epoch`).

Test markers: every relevant page's raw content holds RAW-PAGE-CONTENT after its first 500
characters (never inside the `content` snippet); every off-topic page holds
LOW-RELEVANCE-PAGE and the word "unrelated".
"""

from __future__ import annotations

from simulators.content.company_pages import EPOCH_NEWS_PUBLISHED, EPOCH_NEWS_SCORE, pages_for
from simulators.content.injection import PLANTED_CLAIM, UNSEEN_URL, injection_page
from simulators.content.page import (
    LOW_MARKER,
    MAX_CHUNK_CHARS,
    RAW_MARKER,
    SNIPPET_CHARS,
    Page,
    dateline,
)
from simulators.content.search import answer_for, search_pages
from simulators.namesakes import NAMESAKES, Namesake, namesake_for, namesakes_of
from simulators.profiles import (
    DEFAULT_QUERY_TAIL,
    TIERS,
    changes_at_epoch,
    company_from_query,
    company_profile,
    expected_tier,
    expected_tier_at,
)

__all__ = [
    "DEFAULT_QUERY_TAIL",
    "EPOCH_NEWS_PUBLISHED",
    "EPOCH_NEWS_SCORE",
    "LOW_MARKER",
    "MAX_CHUNK_CHARS",
    "NAMESAKES",
    "PLANTED_CLAIM",
    "RAW_MARKER",
    "SNIPPET_CHARS",
    "TIERS",
    "UNSEEN_URL",
    "Namesake",
    "Page",
    "answer_for",
    "changes_at_epoch",
    "company_from_query",
    "company_profile",
    "dateline",
    "expected_tier",
    "expected_tier_at",
    "injection_page",
    "namesake_for",
    "namesakes_of",
    "pages_for",
    "search_pages",
]
