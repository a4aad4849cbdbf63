"""The Tavily simulator's `epoch` setting: at epoch >= 1 some WARM companies turn HOT."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import openai
import pytest
import tavily
from sim_helpers import Classification, build_prompt, default_query

from simulators.content import (
    NAMESAKES,
    changes_at_epoch,
    company_profile,
    expected_tier,
    expected_tier_at,
)
from simulators.sample_companies import sample_companies
from simulators.server import Simulators

WARM = [c.name for c in sample_companies() if c.tier == "WARM"]
CHANGED = next(name for name in WARM if changes_at_epoch(name, 1))
UNCHANGED = next(name for name in WARM if not changes_at_epoch(name, 1))
NEWS_TITLE = "raises $40M to expand its GPU cluster"


def _search(client: tavily.TavilyClient, company: str, max_results: int = 20) -> list[dict]:
    response = client.search(
        default_query(company),
        search_depth="advanced",
        topic="news",
        max_results=max_results,
        include_raw_content=True,
    )
    return response["results"]


def test_about_a_quarter_of_warm_companies_change_and_nothing_else() -> None:
    names = [c.name for c in sample_companies()] + [f"Random Venture {i}" for i in range(200)]
    changed = [n for n in names if changes_at_epoch(n, 1)]
    assert all(expected_tier(n) == "WARM" for n in changed)
    warm = [n for n in names if expected_tier(n) == "WARM"]
    assert 0.15 <= len(changed) / len(warm) <= 0.4
    for name in names:
        assert not changes_at_epoch(name, 0)
        assert changes_at_epoch(name, 2) == changes_at_epoch(name, 1)
        assert changes_at_epoch(name.upper() + "  ", 1) == changes_at_epoch(name, 1)
        assert expected_tier_at(name, 0) == expected_tier(name)
        assert expected_tier_at(name, 1) == ("HOT" if name in changed else expected_tier(name))
    for name, orgs in NAMESAKES.items():
        assert not changes_at_epoch(name, 1)
        assert expected_tier_at(name, 1) == "AMBIGUOUS"
        for org in orgs:
            assert expected_tier_at(name, 3, org.domain) == org.tier


def test_epoch_is_config_that_reset_restores(sims: Simulators) -> None:
    admin = f"{sims.tavily_url}/_sim/config"
    assert sims.tavily.config.epoch == 0 and httpx.get(admin).json()["epoch"] == 0
    assert sims.tavily.configure(epoch=1).epoch == 1
    assert httpx.get(admin).json()["epoch"] == 1
    assert httpx.post(admin, json={"epoch": 2}).json()["epoch"] == 2
    for bad in (-1, "1", True, 1.5):
        assert httpx.post(admin, json={"epoch": bad}).status_code == 400
        with pytest.raises(ValueError, match="epoch"):
            sims.tavily.configure(epoch=bad)
    sims.reset()
    assert sims.tavily.config.epoch == 0


def test_changed_company_gets_dated_gpu_news_at_epoch_1(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    before = _search(tavily_client, CHANGED)
    assert not any(NEWS_TITLE in r["title"] for r in before)

    sims.tavily.configure(epoch=1)
    after = _search(tavily_client, CHANGED)
    assert len(after) == 20
    news = [r for r in after if NEWS_TITLE in r["title"]]
    assert len(news) == 1
    page = news[0]
    assert page["score"] == 0.97 and after[0] == page
    assert page["url"].startswith("https://techwire-daily.example/2026/")
    assert parsedate_to_datetime(page["published_date"]).date().isoformat() == "2026-11-02"
    domain = company_profile(CHANGED).domain
    raw = page["raw_content"]
    assert raw.startswith(f"# {page['title']}\n\nPublished 2026-11-02.\n\n")
    assert f"[{CHANGED}](https://{domain}) raised $40 million to expand its GPU cluster." in raw
    assert f"{CHANGED} now operates a 1,024-GPU H100 training cluster for its own models." in raw
    assert "RAW-PAGE-CONTENT" in raw[500:] and "RAW-PAGE-CONTENT" not in page["content"]
    # Everything that was there before is still there.
    assert {r["url"] for r in before} - {r["url"] for r in after} <= {
        r["url"] for r in before if r["score"] < 0.4
    }

    sims.reset()
    assert _search(tavily_client, CHANGED) == before


def test_unchanged_company_reads_the_same_at_every_epoch(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    before = _search(tavily_client, UNCHANGED)
    sims.tavily.configure(epoch=1)
    assert _search(tavily_client, UNCHANGED) == before


@pytest.mark.parametrize("max_results", [5, 10, 20])
def test_grader_moves_the_changed_company_to_hot(
    tavily_client: tavily.TavilyClient,
    llm_client: openai.OpenAI,
    sims: Simulators,
    max_results: int,
) -> None:
    def grade(company: str) -> Classification:
        prompt = build_prompt(company, _search(tavily_client, company, max_results))
        completion = llm_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt}],
            response_format={"type": "json_object"},
        )
        result = Classification.model_validate_json(completion.choices[0].message.content)
        for signal in result.signals:
            assert signal.excerpt in prompt
        return result

    assert grade(CHANGED).tier == "WARM" and grade(UNCHANGED).tier == "WARM"
    sims.tavily.configure(epoch=1)
    changed = grade(CHANGED)
    assert changed.tier == expected_tier_at(CHANGED, 1) == "HOT" and changed.score >= 70
    assert any(s.url.startswith("https://techwire-daily.example/") for s in changed.signals)
    assert grade(UNCHANGED).tier == expected_tier_at(UNCHANGED, 1) == "WARM"
