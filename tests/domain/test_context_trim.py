"""Trimming pages to the passages the rubric looks for (CONTEXT_TRIM): boilerplate, near-
duplicates, keyword passages, verbatim text, the budget, and the signals of the sample pages."""

import csv
import re
import statistics
from pathlib import Path

from domain.blocks import MAX_BLOCK_CHARS, OMISSION, split_paragraphs
from domain.context import Focus, build_sources, select_pages
from domain.models import SearchPage
from domain.prompt import build_messages
from domain.rubric import load_rubric
from simulators.classifier import classify, parse_prompt
from simulators.content import DEFAULT_QUERY_TAIL, expected_tier, search_pages

RUBRIC = load_rubric()
FOCUS = Focus("Acme Robotics", RUBRIC.keywords)
COMPANIES = Path(__file__).resolve().parents[2] / "examples" / "companies.csv"

NAV = "Home | Products | Pricing | Blog | Contact"
FOOTER_WITH_KEYWORD = "We are hiring: see our careers page."
FILLER = "The weather in the harbour town was mild for most of the spring, locals said."


def page(url, *paras, score=0.9, title=None):
    return SearchPage(
        url=url,
        title=url if title is None else title,
        score=score,
        content="snippet",
        raw_content="\n\n".join(paras),
    )


def kept(pages, focus=FOCUS, max_chars=60_000):
    return {b.url: b.text for b in build_sources(pages, max_chars, focus)}


def test_paragraphs_split_on_lines_blank_lines_and_headings():
    text = "# Title\nIntro line one\nline two\n\n\n## Section\nBody.\n  \nLast.\nNext line."
    assert split_paragraphs(text) == [
        "# Title",
        "Intro line one\nline two",  # wrapped mid-sentence: one block
        "## Section",
        "Body.",
        "Last.",
        "Next line.",  # crawlers' text shape: one newline between blocks
    ]


def test_a_page_without_line_breaks_is_cut_at_sentence_ends():
    text = " ".join(f"Sentence number {n} of a page that never breaks a line." for n in range(80))
    blocks = split_paragraphs(text)
    assert len(blocks) > 3 and all(len(b) <= MAX_BLOCK_CHARS for b in blocks)
    assert " ".join(blocks) == text and all(b.endswith("line.") for b in blocks)


def test_boilerplate_is_sent_once_if_it_holds_a_keyword_and_never_otherwise():
    pages = [
        page(f"https://news.example/{i}", f"# Story {i}", NAV, f"Acme Robotics raised ${i}M.")
        for i in range(3)
    ]
    for p in pages:
        p.raw_content += f"\n\n{FOOTER_WITH_KEYWORD}"
    texts = kept(pages)
    assert len(texts) == 3
    assert not any(NAV in t for t in texts.values())
    assert [FOOTER_WITH_KEYWORD in t for t in texts.values()] == [True, False, False]
    assert all(
        f"Acme Robotics raised ${i}M." in texts[f"https://news.example/{i}"] for i in range(3)
    )


def test_a_story_syndicated_on_two_sites_is_sent_once_not_dropped():
    story = (
        "The new firm will have about 550 attorneys and 23 offices, Acme Robotics said in a "
        "statement on its merger with Beta Legal."
    )
    pages = [
        page("https://wire.example/a", "# Acme merges", "Published 2026-03-14.", story, FILLER),
        page("https://paper.example/b", "# Acme and Beta", "Published 2026-03-15.", story, NAV),
    ]
    texts = kept(pages)
    assert story in texts["https://wire.example/a"]
    assert story not in texts.get("https://paper.example/b", "")
    assert "Published 2026-03-15." in texts["https://paper.example/b"]  # its lead stays


def test_boilerplate_match_ignores_case_and_whitespace():
    pages = [
        page("https://a.example/1", "# A", "Acme Robotics trains models.", "Share  this\n\nPAGE."),
        page("https://a.example/2", "# B", "Acme Robotics serves models.", "share this\n\npage."),
    ]
    assert not any("share" in t.lower() for t in kept(pages).values())


def test_furniture_is_a_sites_own_a_line_on_one_page_of_another_site_is_text():
    header = "Acme Robotics newsroom"
    pages = [
        page("https://a.example/1", "# A1", header, "Acme Robotics trains models.", score=0.9),
        page("https://a.example/2", "# A2", header, "Acme Robotics serves models.", score=0.8),
        page("https://b.example/1", "# B", header, FILLER, score=0.7),
    ]
    texts = kept(pages)
    assert header not in texts["https://a.example/1"] + texts["https://a.example/2"]
    assert texts["https://b.example/1"] == header  # b's one page names the company there


def test_near_duplicate_pages_keep_only_the_better_one():
    story = " ".join(
        f"Acme Robotics opened warehouse number {n} with GPU racks." for n in range(30)
    )
    best = page("https://wire.example/story", "# Acme news", story, score=0.9)
    copy = page("https://mirror.example/story", "# Acme news", story + " Updated.", score=0.8)
    other = page("https://other.example/x", "# Other", "Acme Robotics raised $5M.", score=0.7)
    assert list(kept([best, copy, other])) == [
        "https://wire.example/story",
        "https://other.example/x",
    ]
    # Whole pages (no focus) are sent as they are, duplicates and all.
    assert len(build_sources([best, copy, other], 60_000)) == 3


def test_a_page_is_a_near_duplicate_exactly_when_its_word_5grams_are_80_percent_alike():
    """Pages are compared by hashes of their 5-grams: the decision is the one the 5-grams
    themselves give, on either side of the threshold. Each sentence is a short paragraph,
    which later pages may send again: only the near-duplicate check can drop the copy."""
    story = [f"Acme Robotics plant{n} ships GPU racks" for n in range(20)]

    def grams(text):
        found = text.casefold().split()
        return set(zip(*(found[i:] for i in range(5)), strict=False))

    decisions = []
    for changed in range(0, 20, 2):  # the copy rewrites the last sentences of the story
        copy = story[: 20 - changed] + [f"Other{n} words here today now" for n in range(changed)]
        a, b = grams(" ".join(story)), grams(" ".join(copy))
        alike = len(a & b) / len(a | b) >= 0.8
        pages = [
            page("https://wire.example/story", *story, score=0.9),
            page("https://mirror.example/story", *copy, score=0.8),
        ]
        assert ("https://mirror.example/story" not in kept(pages)) == alike, changed
        decisions.append(alike)
    assert True in decisions and False in decisions  # both sides of the threshold were tried


def test_keywords_match_whole_words_case_insensitively():
    focus = Focus("Acme Robotics", ("AI", "model", "machine learning"))
    p = page(
        "https://a.example",
        "# Title",
        "Published 2026-03-14.",
        "Acme Robotics opened a cafe.",  # paragraphs naming the company: kept
        FILLER,
        "The firm said nothing new about its Shanghai office.",  # "AI" inside words
        FILLER.replace("harbour", "river"),
        "The firm builds models for warehouses.",  # "models" is not listed
        FILLER.replace("harbour", "lake"),
        "The firm relies on ai for routing.",
        FILLER.replace("harbour", "valley"),
        "The MACHINE\nlearning team of the firm is small.",
        FILLER.replace("harbour", "forest"),
        "The firm is a model of good service.",
        " ".join([FILLER.replace("harbour", "desert")] * 9),  # too long to come as context
    )
    text = kept([p], focus)["https://a.example"]
    for unwanted in ("said nothing", "builds models", "desert"):
        assert unwanted not in text
    for wanted in ("ai for routing", "MACHINE\nlearning", "a model of good", "opened a cafe"):
        assert wanted in text


def test_every_paragraph_naming_the_company_in_any_spelling_is_kept():
    focus = Focus("Sierra Nevada Brewing Co.", ("GPU",))
    p = page(
        "https://news.example/a",
        "# Local news",
        "Published 2026-03-14.",
        "Sierra Nevada Brewing Company is a brewery in Chico, California, founded by two "
        "homebrewers in 1980 and still owned by one of their families.",
        FILLER,
        "Sierra Nevada brews about a million barrels a year.",
        FILLER.replace("harbour", "river"),
        "The sierra-nevada brewing co. taproom opened in 1989.",
        FILLER.replace("harbour", "lake"),
    )
    text = kept([p], focus)["https://news.example/a"]
    for wanted in ("is a brewery", "million barrels", "taproom opened"):
        assert wanted in text
    assert "harbour" not in text and "river" not in text


def test_the_name_prefilter_passes_every_text_the_name_pattern_finds_the_company_in():
    from domain.names import name_needles, name_pattern
    from domain.passages import Reader, reader_for

    names = [
        ("Sierra Nevada Brewing Co.", None),
        ("Semifreddi's", None),
        ("The Boring Company", None),
        ("Mistral AI", "mistral.ai"),
        ("John Deere", "deere.com"),
        ("Cravath, Swaine & Moore", None),
        ("'t Hooft Bakery", None),
        ("Café Roma", None),  # starts in ASCII, goes on outside it
        ("Ĳssel Works", None),  # "IJssel" once normalized
        ("Øresund Energy", None),  # starts outside ASCII: no prefilter
    ]
    texts = [
        "SIERRA-NEVADA brewing, co. opened",
        "Sierra Nevada brews beer",
        "semifreddi’s bread; Semifreddis bread",
        "the boring company digs",
        "Mistral's model; MISTRAL AI raised",
        "Deere tractors; john deere",
        "cravath advised; Cravath, Swaine & Moore LLP",
        "t hooft; 'T Hooft bakery",
        "café roma; CAFÉ ROMA",
        "ĳssel works; IJssel Works",
        "øresund energy; ØRESUND ENERGY",
        "Nothing about any of them here.",
    ]
    for name, domain in names:
        pattern, needles = name_pattern(name, domain), name_needles(name, domain)
        assert pattern is not None
        reader = reader_for(name, ("GPU",), domain)
        # The same reader without the prefilter (and with answers of its own to keep).
        plain = Reader(reader.keywords, reader.company, reader.term_words, reader.single_words)
        for text in texts + [t.upper() for t in texts] + [t.lower() for t in texts]:
            if pattern.search(text) and text.isascii():
                assert needles is not None and any(n in text.lower() for n in needles), (name, text)
            assert reader.names(text) == plain.names(text), (name, text)
            assert reader.has_keyword(text + " GPU") == plain.has_keyword(text + " GPU")
    assert name_needles("Øresund Energy") is None
    assert set(name_needles("Sierra Nevada Brewing Co.") or ()) == {"sierra"}


def test_a_long_paragraph_is_cut_to_the_sentences_that_matter():
    filler = " ".join(FILLER.replace("harbour", f"town {n}") for n in range(4))
    para = (
        f"{filler} Acme Robotics trains its vision models on H100 GPUs. It runs them around "
        f"the clock. {filler} Acme Robotics was founded in 2019."
    )
    lead = (
        "Acme Robotics builds warehouse robots for grocers and parcel carriers across Europe, "
        "from a plant near Lyon that opened in the spring of 2021."
    )
    text = kept([page("https://a.example/x", "# T", "Published 2026-03-14.", lead, para)])
    sent = text["https://a.example/x"]
    assert "trains its vision models on H100 GPUs. It runs them around the clock." in sent
    assert "founded in 2019" in sent and "town 1" not in sent
    assert sent.count(OMISSION) >= 2


def test_lead_dateline_and_passages_stay_verbatim_with_omission_marks():
    paras = [
        "# Acme Robotics raises $40M",
        "By Jane Doe, staff writer",
        "Published 2026-03-14.",
        "[Acme Robotics](https://acme.example) raised $40 million  in a Series B.\nMore text.",
        FILLER,
        FILLER.replace("harbour", "river"),
        "Acme Robotics operates a 512-GPU H100 cluster.",
        FILLER.replace("harbour", "mountain"),
    ]
    text = kept([page("https://wire.example/a", *paras)])["https://wire.example/a"]
    parts = text.split("\n\n")
    series_b, _more = paras[3].split("\n")
    # The byline and the short line after the signal say nothing: only the title, the date
    # and the passages are sent, with a mark wherever something was left out.
    assert parts == [paras[0], OMISSION, paras[2], series_b, OMISSION, paras[6]]


def test_a_passage_not_naming_the_company_brings_its_neighbours_and_heading():
    long_neighbour = "Long paragraph. " * 60
    p = page(
        "https://blog.example/a",
        "# Engineering at Acme Robotics",
        "Published 2026-03-14.",
        "Acme Robotics builds robots.",
        "## Our infrastructure",
        "Last year we moved to the north building.",
        "The team now trains its vision models on rented GPUs.",
        "Next year we plan to double it.",
        FILLER,
        long_neighbour,
        "We are hiring engineers.",
        FILLER.replace("harbour", "river"),
        "Acme Robotics raised $5 million.",
        FILLER.replace("harbour", "mountain"),
    )
    text = kept([p])["https://blog.example/a"]
    for wanted in (
        "## Our infrastructure",
        "north building",
        "double it",
        "We are hiring",
        "river town",  # short neighbour of "We are hiring"
        "raised $5 million",
    ):
        assert wanted in text, wanted
    # A long neighbour costs more than it tells; a passage naming the company needs no context.
    assert long_neighbour.strip() not in text
    assert "mountain" not in text


def test_pages_with_nothing_relevant_are_left_out():
    pages = [
        page("https://a.example", "# Acme Robotics", "Acme Robotics trains models.", score=0.9),
        page("https://b.example", "# Sourdough tips", FILLER, "Feed the starter daily.", score=0.5),
    ]
    assert list(kept(pages)) == ["https://a.example"]


def test_a_rubric_without_keywords_keeps_whole_pages_minus_boilerplate():
    focus = Focus("Acme Robotics", ())
    pages = [
        page("https://a.example/1", "# A", "Acme Robotics opened.", FILLER, NAV),
        page("https://a.example/2", "# B", "Unrelated words here.", NAV),
    ]
    texts = kept(pages, focus)
    assert texts["https://a.example/1"] == "\n\n".join(
        ["# A", "Acme Robotics opened.", FILLER, NAV]
    )
    assert NAV not in texts["https://a.example/2"]


def test_the_character_budget_still_caps_trimmed_context():
    pages = [
        page(
            f"https://p{i}.example",
            f"# Acme Robotics {i}",
            " ".join(f"GPU cluster {i} news {n}." for n in range(150)),
        )
        for i in range(5)
    ]
    blocks = build_sources(pages, 5_000, FOCUS)
    assert sum(len(b.text) for b in blocks) == 5_000
    assert [b.url for b in blocks] == ["https://p0.example", "https://p1.example"]


def test_without_focus_whole_pages_are_sent_unchanged():
    raw = "\n\n".join(["# T", NAV, FILLER, "Acme Robotics trains models.", FILLER])
    pages = [page("https://a.example", raw), page("https://b.example", raw)]
    assert [b.text for b in build_sources(pages, 60_000)] == [raw, raw]
    assert [b.text for b in build_sources(pages, 60_000, None)] == [raw, raw]


# --- the sample pages of the simulated web ---------------------------------------------------


def _sample_companies(per_tier: int = 10) -> list[tuple[str, str]]:
    """The first `per_tier` sample companies of each tier."""
    with COMPANIES.open(newline="") as f:
        rows = list(csv.DictReader(f))
    picked: dict[str, list[tuple[str, str]]] = {"HOT": [], "WARM": [], "COLD": []}
    for row in rows:
        tier = expected_tier(row["name"], row["domain"])
        if tier in picked and len(picked[tier]) < per_tier:
            picked[tier].append((row["name"], row["domain"]))
    return [c for tier in picked.values() for c in tier]


def _prompt(name, domain, pages, focus):
    sources = build_sources(select_pages(pages, 0.4), 60_000, focus)
    return build_messages(RUBRIC, name, domain, sources, include_schema=False)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_signal_passages_of_the_sample_pages_survive_trimming():
    companies = _sample_companies()
    assert len(companies) == 30
    ratios = []
    for name, domain in companies:
        pages = [
            SearchPage(
                url=p.url, title=p.title, score=p.score, content="", raw_content=p.raw_content()
            )
            for p in search_pages(f"{name} {DEFAULT_QUERY_TAIL}", 20)
        ]
        whole = _prompt(name, domain, pages, None)
        trimmed = _prompt(name, domain, pages, Focus(name, RUBRIC.keywords))
        before, after = classify(parse_prompt(whole)), classify(parse_prompt(trimmed))
        text = trimmed[1]["content"]
        for signal in before["signals"]:
            assert signal["excerpt"] in text, (name, signal)
        assert (after["tier"], after["score"]) == (before["tier"], before["score"]), name
        assert before["signals"], name  # every sample company has something to cite
        # What is sent is still the pages' own text: each passage is in its cached page.
        raw = {p.url: _squash(p.raw_content) for p in pages}
        for source in parse_prompt(trimmed).sources:
            for passage in re.split(r"\n\n|\s*\[…\]\s*", source.text):
                if passage:
                    assert _squash(passage) in raw[source.url], (name, passage)
        ratios.append(len(text) / len(whole[1]["content"]))
    reduction = 1 - statistics.mean(ratios)
    print(f"trimmed prompts are {reduction:.0%} shorter on average ({len(ratios)} companies)")
    assert reduction >= 0.4


def test_the_word_prefilter_finds_every_keyword_the_alternation_finds():
    from domain.passages import Reader, single_words, term_words, terms_pattern

    terms = ("GPU-hours", "machine learning", "AI", "H100", "Nvidia", "in production")
    texts = [
        "We bought GPU-hours in bulk.",
        "Our MACHINE\nlearning team grew.",
        "ai-first bakery",  # a keyword at the start, in lower case
        "They said nothing of note.",  # 'AI' only inside a word
        "(H100s) are not H100",
        "Baking bread since 1900.",
        "NVIDIA's chips",
        "Machines for learning in the production hall.",  # the words, never the term
        "Running in  production since May.",
        "A\u0130 at scale",  # 'İ' matches 'i' case-insensitively: searched in full
    ]
    plain = Reader(terms_pattern(terms), None, None)
    quick = Reader(terms_pattern(terms), None, term_words(terms), single_words(terms))
    assert term_words(terms) == {
        "gpu": (("hours",),),
        "machine": (("learning",),),
        "ai": ((),),
        "h100": ((),),
        "nvidia": ((),),
        "in": (("production",),),
    }
    expected = [True, True, True, False, True, False, True, False, True, True]
    assert [plain.has_keyword(t) for t in texts] == expected
    assert [quick.has_keyword(t) for t in texts] == expected
    # A one-word term found as a word is found: no search. Terms with more than their word in
    # them ("GPU-hours", "$100M") are searched for.
    assert single_words(terms + ("$100M",)) == {"ai", "h100", "nvidia"}
    assert [quick._term_hint(t) for t in texts[:3]] == [None, None, True]
    # A term the word sets cannot stand for turns the prefilter off (every passage searched).
    assert term_words(("$100M round",)) is not None  # "100m", "round": words all the same
    assert term_words(("$$",)) is None
    assert term_words(("Künstliche Intelligenz",)) is None


def test_words_are_the_regex_words_for_every_character():
    from domain.passages import WORD, lower_words, words

    every_ascii = "".join(map(chr, range(128)))
    texts = [
        every_ascii,
        every_ascii[::-1] + " tail_word x1 _ __init__",
        "GPU-hours (H100s), 2,000 GPUs; e-mail: a.b@c.io\t\x1c\x1fend",
        "Semifreddi\u2019s caf\u00e9 \u00dcber\u00a0GPUs \u0130stanbul \u4e2d\u6587",  # not ASCII
        "",
    ]
    for text in texts:
        assert words(text) == WORD.findall(text), repr(text)
        assert lower_words(text) == WORD.findall(text.lower()), repr(text)


def test_the_company_name_is_no_keyword_but_a_keyword_beside_it_is():
    from domain.names import name_pattern
    from domain.passages import Reader, term_words, terms_pattern

    terms = ("AI", "GPU")
    reader = Reader(terms_pattern(terms), name_pattern("Helix AI"), term_words(terms))
    assert not reader.has_keyword("Helix AI opened a bakery.")
    assert reader.has_keyword("Helix AI rents GPU clusters.")
    assert reader.has_keyword("Bakeries use AI now.")  # no company named: no rewrite needed
    assert reader.names("Helix AI opened a bakery.") and not reader.names("Bakeries use AI.")
