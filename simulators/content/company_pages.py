"""All pages about one company: high, mid and off-topic ones, plus its news at a later epoch."""

from __future__ import annotations

import functools
import random
from datetime import UTC, datetime
from email.utils import format_datetime

from simulators.content.high_pages import high_pages
from simulators.content.low_pages import low_pages
from simulators.content.mid_pages import mid_pages
from simulators.content.page import Page, slugify
from simulators.content.relevant_page import relevant_page
from simulators.profiles import CompanyProfile, changes_at_epoch, company_profile, stable_hash

# The news that moves a changed company to HOT at epoch >= 1 (see `changes_at_epoch`).
EPOCH_NEWS_PUBLISHED = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
EPOCH_NEWS_SCORE = 0.97


def _epoch_news_page(profile: CompanyProfile) -> Page:
    """The news a changed company gets at epoch >= 1: new money and a GPU cluster of its own,
    enough evidence on its own page for the grader to call it HOT."""
    n = profile.name
    title = f"{n} raises $40M to expand its GPU cluster"
    paragraphs = [
        f"{n} raised $40 million to expand its GPU cluster. {n} now operates a 1,024-GPU H100 "
        "training cluster for its own models.",
        f"{n} is hiring ML infrastructure engineers to run the new cluster.",
        f'"Renting capacity no longer kept up with us," said {profile.founder}, chief '
        f"executive of {n}.",
    ]
    return relevant_page(
        random.Random(profile.seed ^ stable_hash("epoch-news")),
        profile,
        f"https://techwire-daily.example/2026/{slugify(title)}",
        title,
        paragraphs,
        EPOCH_NEWS_SCORE,
        "high",
        published=format_datetime(EPOCH_NEWS_PUBLISHED, usegmt=True),
    )


@functools.lru_cache(maxsize=512)
def pages_for(company: str, domain: str | None = None, epoch: int = 0) -> tuple[Page, ...]:
    """All pages about a company, best first (deterministic per name, domain and epoch).

    20 pages, plus one news page at epoch >= 1 for a company that `changes_at_epoch`. For a
    name shared by several organisations, the pages of the one registered under `domain`
    (the first one without a registered domain); `search_pages` mixes them.
    """
    profile = company_profile(company, domain)
    rng = random.Random(profile.seed ^ stable_hash(profile.domain))
    pages = high_pages(profile, rng) + mid_pages(profile, rng) + low_pages(profile, rng)
    if changes_at_epoch(company, epoch):
        pages.append(_epoch_news_page(profile))
    return tuple(sorted(pages, key=lambda page: -page.score))
