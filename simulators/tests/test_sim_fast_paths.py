"""The simulators' fast paths give exactly what the plain code they replace gave.

Each reference below is the code as it was before it was made faster; the simulators'
answers (pages, snippets, verdicts) must not change by a byte.
"""

from __future__ import annotations

import random
import re

import pytest

from simulators.classifier import parse_prompt
from simulators.classifier import prompt as prompt_module
from simulators.classifier.evidence import _kept_points, collect_evidence
from simulators.content import Page, pages_for
from simulators.prose import BOILERPLATE, FILLER_SLOTS, FILLER_TEMPLATES, filler_sentence

_WORD = re.compile(r"[a-z0-9]+")


def _reference_sentence(rng: random.Random, name: str, city: str) -> str:
    if rng.random() < 0.12:
        return rng.choice(BOILERPLATE)
    template = rng.choice(FILLER_TEMPLATES)
    slots = {slot: rng.choice(options) for slot, options in FILLER_SLOTS.items()}
    return template.format(name=name, city=city, year=rng.randrange(2015, 2026), **slots)


@pytest.mark.parametrize("seed", [0, 1, 2026, 2**63 + 7])
def test_filler_sentences_draw_what_random_choice_draws(seed: int) -> None:
    fast, reference = random.Random(seed), random.Random(seed)
    for _ in range(3000):
        assert filler_sentence(fast, "Acme", "Leeds") == _reference_sentence(
            reference, "Acme", "Leeds"
        )
    assert fast.getstate() == reference.getstate()  # the draws after it are the same too


def _reference_ranked(page: Page, query: str) -> list[tuple[int, str]]:
    terms = set(_WORD.findall(query.lower()))
    candidates = [
        (i, p)
        for i, p in enumerate(page.paragraphs)
        if i != page.marker_index and not (page.dated and i == 0)
    ]
    return sorted(
        candidates,
        key=lambda item: (-len(terms & set(_WORD.findall(item[1].lower()))), item[0]),
    )


_TRICKY_PARAGRAPHS = (
    "Published 2026-03-14.",
    "GPU-GPU gpus gpu_cluster gpu2 2gpu (GPU) GPU.",
    "Café Müller's İstanbul ſtore: KELVIN \u212a and AI/ML, a.i., ai-first, said.",
    "training trainings pre-training TRAINING inference,funding;employees",
    "",
    "nothing in common at all",
    "ai ai ai ai ai",
)
_QUERIES = (
    "Acme GPU compute infrastructure machine learning training inference funding employees",
    "gpu gpu GPU",
    "café müller ai",
    "???",
    "",
    "a.i. 2gpu gpu2 k s",
)


@pytest.mark.parametrize("query", _QUERIES)
def test_paragraphs_rank_as_by_their_word_sets(query: str) -> None:
    pages = [
        *pages_for("Quorvex AI")[:6],
        Page("https://x.example/a", "T", _TRICKY_PARAGRAPHS, 0.5, "mid", "", None, True),
        Page("https://x.example/b", "T", _TRICKY_PARAGRAPHS[::-1], 0.5, "mid", "", 2, False),
    ]
    for page in pages:
        expected = _reference_ranked(page, query)
        assert list(page._ranked(query)) == expected
        assert list(page._ranked(query)) == expected  # and again, from the page's memory
        assert page.chunks(query, 3) == " [...] ".join(
            p if len(p) <= 500 else p[:497].rsplit(" ", 1)[0] + "..."
            for _, p in sorted(expected[:3])
        )


_SOURCE_TEXTS = (
    'Company: A\n<source id="1" url="u">one</source>\n<source id="2">two</source> tail',
    "<source>no attributes</source> <source a='1'>x</source>",
    '<source id="1">never closed <source id="2">closed</source> after',
    '<source id="1">a</source><source\nid="2" title="t">b\n</source',
    '<source id="1">first <source id="2">nested</source> outer</source>',
    "</source> <source id=1 >body</source></source>",
    "<source id='x'",
    "",
)


@pytest.mark.parametrize("text", _SOURCE_TEXTS)
def test_source_blocks_are_those_the_pattern_finds(text: str) -> None:
    pattern = prompt_module._SOURCE_BLOCK
    found = [
        (opening.group(1), text[opening.end() : end])
        for opening, end in prompt_module._source_blocks(text)
    ]
    assert found == [(m.group(1), m.group(2)) for m in pattern.finditer(text)]
    assert prompt_module._without_sources(text) == pattern.sub("", text)


def test_a_long_sentence_is_judged_but_not_kept() -> None:
    sentence = "Acme operates a 1,024-GPU H100 training cluster" + " and more" * 150 + "."
    text = f'Company: Acme\n<source id="1" url="https://a.example/x">\n{sentence}\n</source>'
    kept = _kept_points.cache_info().currsize
    evidence = collect_evidence(parse_prompt([{"role": "user", "content": text}]))
    assert [(e.points, e.excerpt) for e in evidence["gpu_infrastructure"]] == [(35, sentence)]
    assert _kept_points.cache_info().currsize == kept
