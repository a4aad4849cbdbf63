"""Relevant pages carry a dateline and link the company's site, without moving the markers."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest
import tavily
from sim_helpers import build_prompt, default_query

from simulators.classifier import classify, parse_prompt
from simulators.content import (
    LOW_MARKER,
    NAMESAKES,
    RAW_MARKER,
    Page,
    changes_at_epoch,
    company_profile,
    expected_tier_at,
    pages_for,
    search_pages,
)
from simulators.sample_companies import sample_companies

_DATELINE = re.compile(r"^Published (\d{4}-\d{2}-\d{2})\.$")
_LINK = re.compile(r"\[([^\]]+)\]\((https://[^)\s]+)\)")
CHANGED = next(c.name for c in sample_companies() if changes_at_epoch(c.name, 1))
# Sample companies of every tier, names outside the table, every namesake organisation, and
# the pages a changed company gains at epoch 1.
CASES = (
    [(c.name, None, 0) for c in sample_companies()[:24]]
    + [(f"Random Venture {i}", None, 0) for i in range(4)]
    + [("Helix Robotics", "helix.example", 0)]
    + [(org.name, org.domain, 0) for orgs in NAMESAKES.values() for org in orgs]
    + [(CHANGED, None, 1)]
)


def _pages(name: str, domain: str | None, epoch: int) -> tuple[Page, ...]:
    return pages_for(name, domain, epoch)


def _host(url: str) -> str:
    return url.split("/")[2]


@pytest.mark.parametrize(("name", "domain", "epoch"), CASES)
def test_relevant_pages_open_with_a_dateline_matching_published(
    name: str, domain: str | None, epoch: int
) -> None:
    for page in _pages(name, domain, epoch):
        published = parsedate_to_datetime(page.published).date().isoformat()
        if page.relevance == "low":
            assert not page.dated and not _DATELINE.match(page.paragraphs[0])
            continue
        assert page.dated and page.published_on == published
        assert _DATELINE.match(page.paragraphs[0]).group(1) == published
        assert page.raw_content().startswith(f"# {page.title}\n\nPublished {published}.\n\n")
        assert page.raw_content("text").startswith(f"{page.title}\n\nPublished {published}.\n\n")
        # One dateline per page.
        assert page.raw_content().count("Published 20") == 1


@pytest.mark.parametrize(("name", "domain", "epoch"), CASES)
def test_markers_stay_after_500_characters_and_out_of_snippets(
    name: str, domain: str | None, epoch: int
) -> None:
    queries = (default_query(name), "q", "", "published")
    for page in _pages(name, domain, epoch):
        raw, text = page.raw_content(), page.raw_content("text")
        assert 2000 <= len(raw) <= 10000
        if page.relevance == "low":
            assert LOW_MARKER in raw and RAW_MARKER not in raw
            continue
        for content in (raw, text):
            assert RAW_MARKER in content[500:] and RAW_MARKER not in content[:500]
        for query in queries:
            for content in (page.snippet(query), page.chunks(query, 3)):
                assert RAW_MARKER not in content
                # The dateline is page furniture: never chosen as a snippet or chunk.
                assert not content.startswith("Published 20")
            assert all(len(c) <= 500 for c in page.chunks(query, 3).split(" [...] "))


@pytest.mark.parametrize(("name", "domain", "epoch"), CASES)
def test_off_site_relevant_pages_link_the_company_once(
    name: str, domain: str | None, epoch: int
) -> None:
    profile = company_profile(name, domain)
    link = f"[{profile.name}](https://{profile.domain})"
    for page in _pages(name, domain, epoch):
        raw = page.raw_content()
        if page.relevance == "low":
            assert not _LINK.search(raw)
            continue
        if _host(page.url) == profile.domain:
            assert not _LINK.search(raw)
            continue
        assert raw.count(link) == 1 and len(_LINK.findall(raw)) == 1
        # In the first paragraph that names the company, in place of its first mention, so
        # the sentence still reads "<name> ...".
        first = next(i for i, p in enumerate(page.paragraphs) if profile.name in p)
        paragraph = page.paragraphs[first]
        assert profile.name not in paragraph[: paragraph.index(link)]


@pytest.mark.parametrize("off_site_only", [False, True])
def test_grader_excerpts_stay_verbatim_and_linked_sentences_still_count(
    off_site_only: bool,
) -> None:
    linked_excerpts = 0
    for name, domain, epoch in CASES:
        profile = company_profile(name, domain)
        query = default_query(f"{name} ({domain})" if domain else name)
        # Without the company's own pages, the grader has to quote the linked sentences.
        exclude = [profile.domain] if off_site_only else None
        pages = search_pages(query, 20, exclude_domains=exclude, epoch=epoch)
        results = [
            {"url": p.url, "title": p.title, "score": p.score, "raw_content": p.raw_content()}
            for p in pages
            # Set aside a namesake's pages, as the project will (they link another domain).
            if p.relevance == "low"
            or _host(p.url) == profile.domain
            or f"(https://{profile.domain})" in p.raw_content()
        ]
        raw_by_url = {p.url: p.raw_content() for p in pages}
        prompt = build_prompt(name, results)
        result = classify(parse_prompt([{"role": "user", "content": prompt}]))
        if not off_site_only:
            assert result["tier"] == expected_tier_at(name, epoch, domain)
        for signal in result["signals"]:
            assert signal["excerpt"] in raw_by_url[signal["url"]]
            assert name.casefold() in signal["excerpt"].casefold()
            linked_excerpts += "](https://" in signal["excerpt"]
    assert linked_excerpts >= (20 if off_site_only else 1)


def test_linked_sentences_score_like_plain_ones() -> None:
    # The link target is an address, not a claim: "-ai.example" must not read as AI use.
    plain = "Mercury Labs has 40 employees across 2 offices."
    linked = "[Mercury Labs](https://mercurylabs-ai.example) has 40 employees across 2 offices."
    for sentence in (plain, linked):
        source = f'<source id="1" url="https://x.example/a" title="t" score="0.9">\n{sentence}\n'
        result = classify(
            parse_prompt([{"role": "user", "content": f"Company: Mercury Labs\n{source}</source>"}])
        )
        assert [s["kind"] for s in result["signals"]] == ["headcount"]
        assert result["signals"][0]["excerpt"] == sentence


def test_search_endpoint_serves_datelines_and_links(tavily_client: tavily.TavilyClient) -> None:
    company = sample_companies()[0].name
    domain = company_profile(company).domain
    response = tavily_client.search(
        default_query(company), topic="news", max_results=20, include_raw_content=True
    )
    relevant = [r for r in response["results"] if r["score"] >= 0.4]
    assert relevant
    for result in relevant:
        date = parsedate_to_datetime(result["published_date"]).date().isoformat()
        assert f"\n\nPublished {date}.\n\n" in result["raw_content"][:300]
        assert not result["content"].startswith("Published")
        on_site = _host(result["url"]) == domain
        assert (f"[{company}](https://{domain})" in result["raw_content"]) != on_site
