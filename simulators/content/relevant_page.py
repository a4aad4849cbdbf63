"""Assembling a relevant page from a company's signal paragraphs.

Dateline, signal paragraphs (the first mention of the company linked to its site), the raw
marker, then filler up to a realistic length.
"""

from __future__ import annotations

import random

from simulators.content.page import RAW_MARKER, Page, dateline, random_published, slugify
from simulators.namesakes import namesakes_of
from simulators.profiles import CompanyProfile
from simulators.prose import filler_paragraphs

# The marker paragraph goes after this many characters of raw content.
_MARKER_AFTER_CHARS = 520


def company_slug(profile: CompanyProfile) -> str:
    """The company's path segment on third-party sites; namesakes get their own by domain,
    as real directories do, so two organisations never share a URL."""
    if namesakes_of(profile.name):
        return slugify(profile.domain.split(".")[0])
    return slugify(profile.name)


def _link_company(profile: CompanyProfile, url: str, paragraphs: list[str]) -> list[str]:
    """Link the first plain mention of the company (in the first paragraph naming it) to its
    site, unless the page is on that site; the sentence still reads "<name> ...".
    """
    if url.split("/")[2].lower() == profile.domain:
        return paragraphs
    link = f"[{profile.name}](https://{profile.domain})"
    for index, paragraph in enumerate(paragraphs):
        if profile.name in paragraph:
            linked = paragraph.replace(profile.name, link, 1)
            return paragraphs[:index] + [linked] + paragraphs[index + 1 :]
    return paragraphs


def _insert_marker(title: str, paragraphs: list[str], sentence: str) -> tuple[list[str], int]:
    """Put the RAW-PAGE-CONTENT paragraph after the first ~500 characters of raw content."""
    length = len(title) + 4
    for index, paragraph in enumerate(paragraphs):
        length += len(paragraph) + 2
        if length >= _MARKER_AFTER_CHARS:
            return paragraphs[: index + 1] + [sentence] + paragraphs[index + 1 :], index + 1
    return paragraphs + [sentence], len(paragraphs)


def relevant_page(
    rng: random.Random,
    profile: CompanyProfile,
    url: str,
    title: str,
    signal_paragraphs: list[str],
    score: float,
    relevance: str,
    published: str | None = None,
) -> Page:
    """Assemble a relevant page: dateline, signal paragraphs, the raw marker, then filler."""
    target = rng.choice((2200, 3000, 4000, 5000, 6500, 8500)) + rng.randrange(0, 800)
    body_len = sum(len(p) for p in signal_paragraphs)
    filler = filler_paragraphs(
        rng, profile.name, profile.hq, profile.industry.business, max(target - body_len, 800)
    )
    # Drawn after the filler (and the link added after measuring the body) so every page keeps
    # the text and date it had before datelines and links existed.
    if published is None:
        published = random_published(rng)
    marker = (
        f"The rest of this page ({RAW_MARKER}) is the full text as captured by the crawler "
        f"on its last visit to {url}."
    )
    body = [dateline(published), *_link_company(profile, url, signal_paragraphs), *filler]
    paragraphs, marker_index = _insert_marker(title, body, marker)
    # Keep the page within the 10,000-character budget of a realistic article.
    while sum(len(p) + 2 for p in paragraphs) + len(title) > 9800 and len(paragraphs) > max(
        6, marker_index + 2
    ):
        paragraphs.pop()
    return Page(
        url=url,
        title=title,
        paragraphs=tuple(paragraphs),
        score=round(score, 8),
        relevance=relevance,
        published=published,
        marker_index=marker_index,
        dated=True,
    )
