"""The near-duplicate check's numbers stand for the word 5-grams themselves: on real pages
(benchmarks/corpus, most of them with text outside ASCII) each distinct 5-gram gets its own
number, and two pages come out alike exactly when their 5-grams' Jaccard says so."""

import re

from benchmarks.real_pages import load_corpus
from domain.near_duplicates import NEAR_DUPLICATE, alike, distinct, page_shingles, shingles


def _grams(text: str) -> set[tuple[str, ...]]:
    found = re.findall(r"\w+", text.casefold())
    return set(zip(*(found[i:] for i in range(5)), strict=False))


def _pages() -> list[str]:
    return [page["text"] for company in load_corpus() for page in company.pages]


def test_each_distinct_5gram_of_a_real_page_gets_one_number():
    texts = _pages()
    assert any(not t.isascii() for t in texts)  # split into words the other way: both tried
    for text in texts:
        numbers = page_shingles(text)
        assert len(numbers) == len(_grams(text)) == len(shingles(text))
        assert (numbers[1:] > numbers[:-1]).all()  # sorted, each once


def test_two_pages_are_alike_exactly_when_their_5grams_are():
    texts = _pages()
    # Each page against itself cut short, with the first 40 words of the page before it
    # added: pairs on both sides of the threshold, the Jaccard of the 5-grams the judge.
    decisions = []
    for a, b in zip(texts, texts[1:], strict=False):
        for cut in (0.5, 0.9, 0.95):
            words = b.split()
            spliced = " ".join(words[: int(len(words) * cut)] + a.split()[:40])
            ga, gb = _grams(b), _grams(spliced)
            expected = bool(ga) and len(ga & gb) / len(ga | gb) >= NEAR_DUPLICATE
            assert alike(page_shingles(b), page_shingles(spliced)) == expected
            decisions.append(expected)
    assert True in decisions and False in decisions


def test_distinct_keeps_the_first_of_alike_pages_and_every_other():
    story = " ".join(f"Acme opened plant {n} with GPU racks today." for n in range(40))
    pages = ["", story, story + " Updated at noon.", "Acme raised five million dollars."]
    assert distinct(pages, str) == [story, "Acme raised five million dollars."]
