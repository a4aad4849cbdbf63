"""The rules that turn evidence into a verdict, each on its own: page dates, confidence from
independent and recent sources, COLD as evidence of absence, namesakes, changes, eval metrics."""

from datetime import date

from domain.changes import Change, changes_in, diff
from domain.entities import sort_out
from domain.evidence import check_signals, judge, page_date
from domain.metrics import UNSCORED, Item, evaluate, render
from domain.models import Classification, SearchPage, Signal
from domain.rubric import load_rubric

RUBRIC = load_rubric()
TODAY = date(2026, 11, 30)


def page(url, text, title="t"):
    return SearchPage(url=url, title=title, score=0.9, content="", raw_content=text)


def test_a_page_date_comes_from_its_dateline_not_from_later_text():
    assert page_date(page("u", "Published 2026-03-14.\n\nAcme...")) == date(2026, 3, 14)
    assert page_date(page("u", "By Jo Smith | March 4, 2025\n\nAcme")) == date(2025, 3, 4)
    assert page_date(page("u", "Updated 4 Mar 2024 - Acme")) == date(2024, 3, 4)
    assert page_date(page("u", "Acme. " + "x" * 700 + " 2019-01-01")) is None  # not a dateline
    assert page_date(page("u", "Published 2026-02-31.")) is None  # not a real day


def verdict(tier, score, confidence, signals, reasoning="r"):
    return Classification(
        tier=tier, score=score, confidence=confidence, reasoning=reasoning, signals=signals
    )


def test_confidence_follows_independent_recent_sources_not_the_models_word():
    pages = [
        page("https://acme.example/about", "Published 2026-10-01. Acme trains models on H100s."),
        page("https://news.example/a", "Published 2026-09-01. Acme raised $90M for GPUs."),
        page("https://jobs.example/acme", "Published 2026-08-01. Acme is hiring ML engineers."),
        page("https://old.example/x", "Published 2019-01-01. Acme tested a GPU cluster once."),
    ]
    shown = {p.url for p in pages}

    def signals(*pairs):
        return [Signal(kind=k, url=u, excerpt=e) for k, u, e in pairs]

    own = ("ml_training", pages[0].url, "Acme trains models on H100s.")
    news = ("gpu_infrastructure", pages[1].url, "Acme raised $90M for GPUs.")
    jobs = ("hiring", pages[2].url, "Acme is hiring ML engineers.")
    old = ("gpu_infrastructure", pages[3].url, "Acme tested a GPU cluster once.")
    cases = [
        (signals(own, news, jobs), "high", "high"),  # three independent domains
        (signals(own, news), "high", "medium"),  # two
        (signals(own), "high", "low"),  # one domain: the model's "high" is not enough
        (signals(own, news, jobs), "low", "medium"),  # the model's doubt costs one step
        (signals(old, own), "high", "low"),  # two sources, but half of the dated ones stale
    ]
    for found, said, expected in cases:
        checked = check_signals(found, pages, shown)
        judged, summary = judge(verdict("HOT", 90, said, found), checked, pages, RUBRIC, TODAY)
        assert judged.confidence == expected, (found, said, summary)
    checked = check_signals(signals(own, old), pages, shown)
    assert [s.published for s in checked.kept] == ["2026-10-01", "2019-01-01"]


def test_a_cold_verdict_says_what_was_searched_and_how_sure_that_makes_it():
    many = [page(f"https://site{i}.example/p", "Acme sells bread.") for i in range(9)]
    shown = {p.url for p in many}
    what = Signal(kind="business", url=many[0].url, excerpt="Acme sells bread.")
    judged, summary = judge(
        verdict("COLD", 5, "high", [what]),
        check_signals([what], many, shown),
        many,
        RUBRIC,
        TODAY,
    )
    assert judged.confidence == "high"  # a wide search, and what the business is, checked
    assert "[searched 9 pages from 9 domains: no GPU or ML signal]" in judged.reasoning
    # Quoting nothing, the same verdict is not sure; quoting only what no page says, it is
    # as unsure as it gets, and says that it rests on no checked evidence.
    invented = Signal(kind="business", url=many[0].url, excerpt="Acme never uses computers.")
    for cited, expected in (([], "medium"), ([invented], "low")):
        judged, unchecked = judge(
            verdict("COLD", 5, "high", cited),
            check_signals(cited, many, shown),
            many,
            RUBRIC,
            TODAY,
        )
        assert judged.confidence == expected, cited
        assert "rests on no checked evidence" in judged.reasoning and unchecked["unchecked"]
    few = many[:2]
    judged, _ = judge(
        verdict("COLD", 5, "high", []), check_signals([], few, set()), few, RUBRIC, TODAY
    )
    assert judged.confidence == "low" and "searched 2 pages from 2 domains" in judged.reasoning
    assert summary == {
        "pages_read": 9,
        "domains_read": 9,
        "sources": 0,
        "stale_signals": 0,
        "set_aside": 0,
        "model_tier": "COLD",
        "model_confidence": "high",
        "checked_signals": 1,
        "unchecked": False,
    }


def test_the_rubric_not_the_model_decides_the_tier_from_the_score():
    judged, summary = judge(
        verdict("HOT", 55, "low", []), check_signals([], [], set()), [], RUBRIC, TODAY
    )
    assert judged.tier == "WARM" and summary["model_tier"] == "HOT"


NAMESAKE_AI = [
    page("https://mercurylabs-ai.example/about", "Mercury Labs trains models."),
    page("https://news.example/1", "[Mercury Labs](https://mercurylabs-ai.example) raised $50M."),
    page("https://jobs.example/2", "Mercury Labs (mercurylabs-ai.example) is hiring."),
]
NAMESAKE_DENTAL = [
    page("https://mercurylabs-dental.example/", "Mercury Labs makes crowns and bridges."),
    page(
        "https://local.example/3", "Visit [Mercury Labs](https://www.mercurylabs-dental.example)."
    ),
]
NEUTRAL = [page("https://blog.example/4", "Mercury Labs was mentioned at a conference.")]


def test_namesakes_are_set_aside_with_a_domain_and_flagged_without_one():
    pages = NAMESAKE_AI + NAMESAKE_DENTAL + NEUTRAL
    chosen = sort_out("Mercury Labs", "mercurylabs-ai.example", pages)
    assert [p.url for p in chosen.kept] == [p.url for p in NAMESAKE_AI + NEUTRAL]
    assert chosen.set_aside == 2 and chosen.rivals == []
    unsure = sort_out("Mercury Labs", None, pages)
    assert unsure.rivals == [("mercurylabs-ai.example", 3), ("mercurylabs-dental.example", 2)]
    # One organisation with two domains named together is still one organisation.
    both = [*NAMESAKE_AI, page("https://mercurylabs-ai.example/io", "Also at mercurylabs.io.")]
    both.append(page("https://news.example/5", "[Mercury Labs](https://mercurylabs.io) ships."))
    assert sort_out("Mercury Labs", None, both).rivals == []
    # A domain no result mentions cannot sort anything out: nothing is set aside.
    assert sort_out("Mercury Labs", "mercury.example", pages).set_aside == 0


def result(tier, score, *excerpts, run="r2"):
    signals = [
        {
            "kind": "funding",
            "url": "https://techcrunch.example/a",
            "excerpt": e,
            "published": "2026-11-02",
        }
        for e in excerpts
    ]
    return {"company": "Acme", "tier": tier, "score": score, "signals": signals, "run_id": run}


def test_a_change_is_described_with_its_new_evidence_and_ranked_by_importance():
    up = diff(
        result("HOT", 81, "Acme raised $40M to expand its GPU cluster.", "Acme has 90 staff."),
        result("WARM", 55, "Acme has 90 staff."),
    )
    assert up.describe() == (
        "WARM -> HOT (55 -> 81): new signal 'Acme raised $40M to expand its GPU cluster.', "
        "techcrunch.example, 2026-11-02"
    )
    same = result("WARM", 55, "Acme has 90 staff.")
    assert diff(same, result("WARM", 55, "Acme  has 90 staff.")) is None  # only white space
    pairs = [
        (result("COLD", 20) | {"company": "Down"}, result("WARM", 50)),
        (result("HOT", 90) | {"company": "Jump"}, result("COLD", 10)),
        (result("WARM", 60) | {"company": "Nudge"}, result("WARM", 50)),
        (result("HOT", 75) | {"company": "Fresh"}, None),
        (result("WARM", 60, run="r1") | {"company": "Old"}, result("COLD", 10)),
    ]
    ranked = changes_in(pairs, run_id="r2")
    assert [c.company for c in ranked] == ["Jump", "Down", "Nudge", "Fresh"]
    # Verdicts that quote nothing checked say so in the change list.
    assert isinstance(ranked[0], Change) and ranked[0].describe().startswith(
        "COLD -> HOT (10 -> 90) [no checked evidence]"
    )
    assert ranked[-1].describe() == "new: HOT (75) [no checked evidence]"
    assert "no checked evidence" not in up.describe()


def test_eval_metrics_count_agreement_per_tier_and_per_confidence():
    items = [
        Item("a", "A", "HOT", "HOT", "high", "ok"),
        Item("b", "B", "HOT", "WARM", "medium", "ok"),
        Item("c", "C", "WARM", "WARM", "high", "ok"),
        Item("d", "D", "COLD", "COLD", "low", "ok"),
        Item("e", "E", "COLD", "HOT", "low", "ok"),
        Item("f", "F", "WARM", UNSCORED, None, "ambiguous"),
    ]
    m = evaluate(items)
    assert (m["n"], m["n_scored"], m["agreement"], m["agreement_scored"]) == (6, 5, 0.5, 0.6)
    assert m["confusion"]["HOT"] == {"HOT": 1, "WARM": 1, "COLD": 0, "none": 0}
    assert m["confusion"]["WARM"]["none"] == 1
    assert m["per_tier"]["HOT"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert m["per_tier"]["WARM"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert m["by_confidence"]["high"] == {"n": 2, "accuracy": 1.0}
    assert m["by_confidence"]["low"] == {"n": 2, "accuracy": 0.5}
    text = render(m, "eval x")
    assert "agreement: 50.0% of 6 companies (5 classified; 60.0% of those)" in text
    assert "  HOT           1      1      0      0" in text


def test_domains_are_looked_for_only_around_dots_and_found_as_the_whole_text_search_finds():
    import random

    from domain.entities import _DOMAIN, _FILE_SUFFIXES, _domains_in

    def everywhere(text: str) -> list[str]:
        """The pattern over the whole text, as before the dots led the search."""
        found = []
        for match in _DOMAIN.finditer(text):
            at = match.start()
            if at and text[at - 1] == "/" and text[max(0, at - 2) : at] != "//":
                continue
            if match.group(1).rsplit(".", 1)[1].lower() not in _FILE_SUFFIXES:
                found.append(match.group(1))
        return found

    rng = random.Random(7)
    alphabet = "abcXYZ019.-/@_ é:\n\u212a\u017f\u0130\u0131"  # the four odd-case letters too
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(3000)]
    texts += [
        "See coreweave.com, www.Lambda.ai/x/y-debt-financing.html and mail@foo.com.",
        "U.S. and e.g. x.io; bar-baz.co.uk. 1.5B",
    ]
    for text in texts:
        assert _domains_in(text) == everywhere(text), text
    assert _domains_in("See coreweave.com and www.Lambda.ai/x.") == [
        "coreweave.com",
        "www.Lambda.ai",
    ]
