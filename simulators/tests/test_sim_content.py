"""The synthetic web content and the LLM simulator's grader, without any server."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sim_helpers import build_prompt, default_query

from simulators import make_sample_territory
from simulators.classifier import classify, parse_prompt
from simulators.content import (
    LOW_MARKER,
    RAW_MARKER,
    company_from_query,
    expected_tier,
    pages_for,
    search_pages,
)
from simulators.sample_companies import sample_companies

EXAMPLES_CSV = Path(__file__).resolve().parents[2] / "examples" / "companies.csv"


def _results(company: str, max_results: int) -> list[dict]:
    """Search results shaped like the API's, straight from the content generator."""
    return [
        {
            "url": p.url,
            "title": p.title,
            "score": p.score,
            "content": p.chunks(default_query(company), 3),
            "raw_content": p.raw_content(),
        }
        for p in search_pages(default_query(company), max_results)
    ]


def _classify(company: str, results: list[dict], min_score: float = 0.4) -> dict:
    prompt = build_prompt(company, results, min_score)
    return classify(parse_prompt([{"role": "user", "content": prompt}]))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (default_query("Helix Robotics"), ("Helix Robotics", None)),
        (
            "Helix Robotics (helixrobotics.example) " + default_query("")[1:],
            ("Helix Robotics", "helixrobotics.example"),
        ),
        ("  Acme   Bakery  ", ("Acme Bakery", None)),
        ("who makes the best sourdough", ("who makes the best sourdough", None)),
    ],
)
def test_company_is_recovered_from_the_query(query: str, expected: tuple) -> None:
    assert company_from_query(query) == expected


def test_expected_tier_is_stable_and_case_insensitive() -> None:
    for company in sample_companies()[:20]:
        assert expected_tier(company.name) == company.tier
        assert expected_tier("  " + company.name.upper() + " ") == company.tier
    assert expected_tier("Totally Unknown Widgets") in ("HOT", "WARM", "COLD")
    assert expected_tier("Totally Unknown Widgets") == expected_tier("totally unknown widgets")


def test_sample_table_mix_is_roughly_25_35_40() -> None:
    tiers = Counter(c.tier for c in sample_companies())
    assert tiers == {"HOT": 75, "WARM": 105, "COLD": 120}


def test_pages_are_deterministic_and_well_formed() -> None:
    name = sample_companies()[0].name
    pages = pages_for(name)
    assert pages == pages_for(name)
    assert len(pages) == 20
    assert [p.score for p in pages] == sorted((p.score for p in pages), reverse=True)
    levels = Counter(p.relevance for p in pages)
    assert levels == {"high": 4, "mid": 6, "low": 10}
    for page in pages:
        raw = page.raw_content()
        assert 2000 <= len(raw) <= 10000
        if page.relevance == "low":
            assert page.score < 0.4
            assert LOW_MARKER in raw and "unrelated" in raw
            assert name not in raw
        else:
            assert page.score >= 0.4
            assert RAW_MARKER in raw[500:] and RAW_MARKER not in raw[:500]
            assert RAW_MARKER not in page.chunks(default_query(name), 3)
            assert RAW_MARKER not in page.snippet(default_query(name))
            assert all(len(c) <= 500 for c in page.chunks("q", 3).split(" [...] "))


@pytest.mark.parametrize("max_results", [1, 2, 3, 5, 10, 20])
def test_small_searches_still_mix_relevance(max_results: int) -> None:
    pages = search_pages(default_query("Quorvex AI"), max_results)
    assert len(pages) == max_results
    assert pages[0].url == "https://quorvexai.example/about"
    if max_results >= 3:
        assert any(p.score < 0.4 for p in pages)
        assert any(p.score >= 0.85 for p in pages)


def test_domain_filters_apply() -> None:
    pages = search_pages(default_query("Quorvex AI"), 20, include_domains=["quorvexai.example"])
    assert pages and all("quorvexai.example" in p.url for p in pages)
    pages = search_pages(default_query("Quorvex AI"), 20, exclude_domains=["*.example"])
    assert pages == []


def test_grader_agrees_with_expected_tier_across_the_sample_territory() -> None:
    companies = list(sample_companies()[::6]) + [
        type(sample_companies()[0])(f"Random Venture {i}", "", "", "") for i in range(12)
    ]
    for company in companies:
        for max_results, min_score in ((5, 0.0), (10, 0.4), (20, 0.0)):
            result = _classify(company.name, _results(company.name, max_results), min_score)
            assert result["tier"] == expected_tier(company.name), (company.name, max_results)


def test_grader_output_shape_and_verbatim_excerpts() -> None:
    hot = next(c.name for c in sample_companies() if c.tier == "HOT")
    results = _results(hot, 10)
    prompt = build_prompt(hot, results)
    result = classify(parse_prompt([{"role": "user", "content": prompt}]))
    assert set(result) == {"tier", "score", "confidence", "reasoning", "signals"}
    assert result["tier"] == "HOT" and 70 <= result["score"] <= 100
    assert result["confidence"] == "high"
    assert 1 <= len(result["signals"]) <= 10  # 6 kinds, then corroboration
    urls = {r["url"] for r in results}
    for signal in result["signals"]:
        assert signal["excerpt"] in prompt
        assert signal["url"] in urls
    assert {s["kind"] for s in result["signals"]} >= {"gpu_infrastructure", "ml_training"}
    # Same prompt, same answer.
    assert classify(parse_prompt([{"role": "user", "content": prompt}])) == result


def test_grader_without_sources_is_cold_and_unsure() -> None:
    result = classify(parse_prompt([{"role": "user", "content": "Company: Nobody Ltd\n"}]))
    assert result == {**result, "tier": "COLD", "confidence": "low", "signals": []}


def test_off_topic_pages_cannot_sway_the_grader() -> None:
    cold = next(c.name for c in sample_companies() if c.tier == "COLD")
    only_low = [r for r in _results(cold, 20) if r["score"] < 0.4]
    result = _classify(cold, only_low, min_score=0.0)
    assert result["tier"] == "COLD" and result["signals"] == []


def test_examples_csv_is_generated_from_the_table_and_has_its_warts() -> None:
    assert make_sample_territory.render_csv() == EXAMPLES_CSV.read_text(encoding="utf-8")
    lines = EXAMPLES_CSV.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name,domain,owner,region,crm_id"
    assert "" in lines  # one blank line
    rows = [r for r in csv.DictReader(lines) if any(r.values())]
    assert 295 <= len(rows) <= 310
    names = [" ".join(r["name"].split()).casefold() for r in rows]
    assert len(names) - len(set(names)) == 3  # case, whitespace and exact duplicates
    domains = [r["domain"] for r in rows if r["domain"]]
    assert len(domains) - len(set(domains)) == 4  # the three above plus a shared domain
    assert sum(1 for r in rows if not r["domain"]) == 2
    assert all(d.endswith(".example") for d in domains)
