"""Names shared by several organisations: registry, expected tiers and mixed search results."""

from __future__ import annotations

from collections import Counter

import pytest
import tavily
from sim_helpers import build_prompt, default_query

from simulators.classifier import classify, parse_prompt
from simulators.content import (
    NAMESAKES,
    Namesake,
    company_profile,
    expected_tier,
    namesake_for,
    namesakes_of,
)
from simulators.industries import INDUSTRY_BY_KEY
from simulators.namesakes import AMBIGUOUS
from simulators.sample_companies import sample_companies

ORGS = [org for orgs in NAMESAKES.values() for org in orgs]


def _search(client: tavily.TavilyClient, query: str, max_results: int = 20) -> list[dict]:
    return client.search(
        query, search_depth="advanced", max_results=max_results, include_raw_content=True
    )["results"]


def _about(result: dict, orgs: tuple[Namesake, ...]) -> set[str]:
    """The organisations a result is about, by the domain it lives on or links to."""
    host = result["url"].split("/")[2]
    return {
        org.domain
        for org in orgs
        if host == org.domain or f"(https://{org.domain})" in result["raw_content"]
    }


def test_registry_shape() -> None:
    assert len(NAMESAKES) >= 3
    assert len({frozenset(o.tier for o in orgs) for orgs in NAMESAKES.values()}) >= 3
    domains = [org.domain for org in ORGS]
    assert len(domains) == len(set(domains))
    for name, orgs in NAMESAKES.items():
        assert 2 <= len(orgs) <= 3 and all(org.name == name for org in orgs)
        assert len({org.tier for org in orgs}) == len(orgs)
        for org in orgs:
            # Pages read naturally only when the industry's phrases suit the tier.
            assert INDUSTRY_BY_KEY[org.industry].tier == org.tier
        # Names must not collide with the sample territory.
        assert name.casefold() not in {c.name.casefold() for c in sample_companies()}


@pytest.mark.parametrize("org", ORGS, ids=lambda o: o.domain)
def test_expected_tier_and_profile_follow_the_domain(org: Namesake) -> None:
    assert expected_tier(org.name, org.domain) == org.tier
    assert expected_tier("  " + org.name.upper(), org.domain.upper()) == org.tier
    assert namesake_for(org.name.lower(), org.domain) == org
    profile = company_profile(org.name, org.domain)
    assert (profile.tier, profile.industry.key, profile.domain) == (
        org.tier,
        org.industry,
        org.domain,
    )


def test_namesake_without_a_registered_domain_is_ambiguous() -> None:
    for name in NAMESAKES:
        assert expected_tier(name) == AMBIGUOUS == "AMBIGUOUS"
        assert expected_tier(name.lower(), "unknown-org.example") == AMBIGUOUS
        assert namesakes_of(f" {name.upper()} ") == NAMESAKES[name]
        # The profile (used e.g. for Tavily's answer) falls back to the first organisation.
        assert company_profile(name).domain == NAMESAKES[name][0].domain


def test_domain_changes_nothing_for_other_names() -> None:
    names = [c.name for c in sample_companies()[:30]] + [f"Random Venture {i}" for i in range(20)]
    for name in names:
        assert expected_tier(name, "whatever.example") == expected_tier(name)
        assert expected_tier(name, None) == expected_tier(name)
        assert namesakes_of(name) == ()


@pytest.mark.parametrize("name", list(NAMESAKES))
def test_bare_name_search_mixes_the_organisations(
    tavily_client: tavily.TavilyClient, name: str
) -> None:
    orgs = NAMESAKES[name]
    results = _search(tavily_client, default_query(name))
    assert len(results) == 20
    assert len({r["url"] for r in results}) == 20
    relevant = [r for r in results if r["score"] >= 0.4]
    assert len(results) - len(relevant) >= 5  # off-topic pages still mixed in
    per_org: Counter[str] = Counter()
    for result in relevant:
        about = _about(result, orgs)
        assert len(about) == 1, result["url"]  # every relevant page can be told apart
        per_org.update(about)
        assert name in result["raw_content"]
    assert set(per_org) == {org.domain for org in orgs}
    assert all(count >= 4 for count in per_org.values()), per_org
    assert max(per_org.values()) - min(per_org.values()) <= 1
    for result in results:
        if result["score"] < 0.4:
            assert not _about(result, orgs) and name not in result["raw_content"]


@pytest.mark.parametrize("org", ORGS, ids=lambda o: o.domain)
@pytest.mark.parametrize(("max_results", "intruders"), [(20, 3), (10, 2)])
def test_search_with_a_domain_is_mostly_that_organisation(
    tavily_client: tavily.TavilyClient, org: Namesake, max_results: int, intruders: int
) -> None:
    orgs = NAMESAKES[org.name]
    results = _search(tavily_client, default_query(f"{org.name} ({org.domain})"), max_results)
    assert len(results) == max_results and len({r["url"] for r in results}) == max_results
    relevant = [r for r in results if r["score"] >= 0.4]
    own = [r for r in relevant if _about(r, orgs) == {org.domain}]
    others = [r for r in relevant if r not in own]
    assert len(others) == intruders and len(own) > 2 * len(others)
    assert all(len(_about(r, orgs)) == 1 for r in others)
    assert results[0] in own and results[0]["url"] == f"https://{org.domain}/about"
    top_own = max(r["score"] for r in own)
    # Below the organisation's best pages, but above the usual 0.4 relevance cut.
    assert all(0.4 < r["score"] < top_own for r in others)


@pytest.mark.parametrize("org", ORGS, ids=lambda o: o.domain)
def test_grader_needs_the_namesakes_set_aside(
    tavily_client: tavily.TavilyClient, org: Namesake
) -> None:
    orgs = NAMESAKES[org.name]
    results = _search(tavily_client, default_query(f"{org.name} ({org.domain})"))
    kept = [r for r in results if r["score"] < 0.4 or _about(r, orgs) == {org.domain}]

    def grade(chosen: list[dict]) -> dict:
        prompt = build_prompt(org.name, chosen)
        return classify(parse_prompt([{"role": "user", "content": prompt}]))

    assert grade(kept)["tier"] == org.tier
    if org.tier != "HOT":
        # A hotter namesake's pages reach the grader unless the client sets them aside.
        hotter = {"COLD": ("WARM", "HOT"), "WARM": ("HOT",)}[org.tier]
        if any(other.tier in hotter for other in orgs):
            assert grade(results)["tier"] in hotter
