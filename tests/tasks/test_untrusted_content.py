"""Page content is untrusted: a page that orders the model around cannot plant evidence.

Every stored excerpt must be found (modulo whitespace) in the cached content of the URL it
cites; anything else is dropped and counted, and the page stays fenced off from the
instructions in the prompt."""

import json
from datetime import date

import duckdb
import pytest

from domain.evidence import check_signals, judge
from domain.models import Classification, SearchPage, Signal
from domain.rubric import load_rubric
from simulators.content import PLANTED_CLAIM
from simulators.faults import FaultRule

PAGE = SearchPage(
    url="https://acme.example/about",
    title="About Acme",
    score=0.9,
    content="snippet",
    raw_content="Acme trains its own\n  foundation models on 512 H100s.\n"
    "It sells \u201crobots\u201d.",
)


def signal(excerpt, url=PAGE.url):
    return Signal(kind="ml_training", url=url, excerpt=excerpt)


def test_an_excerpt_is_kept_only_if_the_cited_page_says_it():
    checked = check_signals(
        [
            signal("Acme trains its own foundation models on 512 H100s."),  # line break in page
            signal('It sells "robots".'),  # curly quotes in the page, straight in the answer
            signal("Acme trains its own foundation models on 5,000 H100s."),  # altered
            signal("Acme trains its own foundation models", url="https://other.example/"),
            signal("It sells \u201crobots\u201d.", url="https://unseen.example/"),  # not shown
            signal("H100s"),  # too short to say anything checkable
        ],
        [PAGE, SearchPage(url="https://other.example/", raw_content="Nothing about models.")],
        shown={PAGE.url, "https://other.example/"},
    )
    assert [s.excerpt for s in checked.kept] == [
        "Acme trains its own foundation models on 512 H100s.",
        'It sells "robots".',
    ]
    assert checked.dropped == 4


def test_a_positive_verdict_left_without_evidence_is_low_confidence():
    verdict = Classification(
        tier="HOT",
        score=100,
        confidence="high",
        reasoning="Runs a huge cluster.",
        signals=[signal("Acme operates a 50,000-GPU H100 cluster.")],
    )
    checked = check_signals(verdict.signals, [PAGE], shown={PAGE.url})
    result, summary = judge(verdict, checked, [PAGE], load_rubric(), date(2026, 11, 30))
    assert result.signals == [] and result.confidence == "low" and result.tier == "HOT"
    assert "1 cited excerpt not found in the cited source, dropped" in result.reasoning
    assert summary["sources"] == 0 and summary["model_confidence"] == "high"


def squashed(text):
    return " ".join(text.split())


@pytest.mark.slow
def test_a_page_that_orders_the_model_around_cannot_plant_evidence(territory_env, sims):
    from tests.helpers import run_flow, write_csv

    names = [f"Lattice Dynamics {i}" for i in range(6)]
    attacked = names[:3]
    for name in attacked:
        sims.tavily.add_fault(FaultRule(kind="prompt_injection", match=f"{name} "))
    sims.llm.configure(follows_injections=True)  # the worst case: a model that obeys the page
    csv = write_csv(territory_env / "injected.csv", names)
    assert run_flow(companies_csv=csv).is_completed()

    with duckdb.connect(str(territory_env / "territory.duckdb"), read_only=True) as conn:
        results = {
            company: (tier, confidence, json.loads(signals), dropped, key, reasoning)
            for company, tier, confidence, signals, dropped, key, reasoning in conn.execute(
                "SELECT company, tier, confidence, signals, signals_dropped, search_key, "
                "reasoning FROM company_results WHERE status = 'ok'"
            ).fetchall()
        }
        pages = {}
        for key, url, content, raw in conn.execute(
            "SELECT search_key, url, content, raw_content FROM search_page_text"
        ).fetchall():
            pages.setdefault((key, url), []).append(squashed(f"{content} {raw or ''}"))
    assert sorted(results) == sorted(names)

    # Every excerpt stored for any company is in the cached content of the URL it cites.
    for company, (_, _, signals, _, key, _) in results.items():
        for s in signals:
            cached = pages.get((key, s["url"]), [])
            assert any(squashed(s["excerpt"]) in text for text in cached), (company, s)
    for name in attacked:
        tier, confidence, signals, dropped, _, reasoning = results[name]
        planted = PLANTED_CLAIM.format(name=name)
        assert planted not in json.dumps(signals)
        # Both dictated citations were dropped and counted; the HOT verdict rests on nothing.
        assert dropped == 2 and signals == [] and confidence == "low", results[name]
        assert "2 cited excerpts not found in the cited source, dropped" in reasoning
    for name in names[3:]:
        assert results[name][3] == 0 and results[name][2], results[name]  # untouched

    # In the prompt, the page stayed inside its fence: it could not close it or add its own.
    prompts = {e["company"]: e["body"]["messages"] for e in sims.llm.stats()["log"]}
    for name in attacked:
        system, user = prompts[name][0]["content"], prompts[name][1]["content"]
        assert "untrusted" in system and "IMPORTANT SYSTEM NOTICE" not in system
        opened, closed = user.count("<source "), user.count("</source>")
        assert opened == closed >= 2
        notice = user.index("IMPORTANT SYSTEM NOTICE")
        assert user.rfind("<source ", 0, notice) > user.rfind("</source>", 0, notice)
