"""Each page is split into words once: the words of its paragraphs are the page's words, for the
near-duplicate check and for the keyword look-up, on real page text and on text that is not
ASCII (where case folding and lower case differ)."""

from benchmarks.real_pages import as_text_shape, load_corpus
from domain.blocks import split_paragraphs
from domain.context import Focus, build_sources
from domain.models import SearchPage
from domain.near_duplicates import SplitPage, distinct, page_text, shingles
from domain.passages import lower_words, reader_for
from domain.rubric import load_rubric

KEYWORDS = load_rubric().keywords
NOT_ASCII = (
    "# Straße der GPU-Rechenzentren\n\nDie STRASSE: 512 H100s, İstanbul'da ve Köln.\n"
    "wrapped onto a second line\n\nΣίσυφος ΣΊΣΥΦΟΣ ﬁne-tuning on A100s."
)


def corpus_pages() -> list[SearchPage]:
    """Every page of benchmarks/corpus, as Tavily's markdown and as its text raw content."""
    pages = []
    for company in load_corpus():
        for page in company.pages:
            for text in (page["text"], as_text_shape(page["text"])):
                pages.append(SearchPage(url=page["url"], title=page["title"], raw_content=text))
    return pages


def test_a_pages_split_words_give_the_hashes_of_its_whole_text():
    pages = [*corpus_pages(), SearchPage(url="https://a.example/", raw_content=NOT_ASCII)]
    assert len(pages) > 200
    for page in pages:
        split = SplitPage.of(page)
        assert split.paras == split_paragraphs(page_text(page))
        assert split.shingles() == shingles(page_text(page)), page.url


def test_the_keyword_look_up_with_the_split_words_answers_as_without_them():
    texts = [p for page in corpus_pages() for p in split_paragraphs(page_text(page))]
    texts += split_paragraphs(NOT_ASCII) + ["See [GPU pricing](https://x.example/h100) here."]
    answers = set()
    for company in ("CoreWeave", "Market Basket"):
        given, found = reader_for(company, KEYWORDS), reader_for(company, KEYWORDS)
        for text in texts:
            answer = given.has_keyword(text, lower_words(text))
            assert answer == found.has_keyword(text), text
            answers.add(answer)
    assert answers == {True, False}


def test_a_near_copy_of_a_better_page_goes_and_the_rest_keep_their_split():
    story = " ".join(f"Acme rents {n} GPUs to the lab number {n} this year." for n in range(40))
    pages = [
        SearchPage(url="https://news.example/a", raw_content=story, score=0.9),
        SearchPage(url="https://mirror.example/a", raw_content=story + " Shared.", score=0.8),
        SearchPage(url="https://empty.example/", raw_content="  ", score=0.7),
        SearchPage(url="https://other.example/", raw_content=NOT_ASCII, score=0.6),
    ]
    kept = distinct(pages)
    assert [s.page.url for s in kept] == ["https://news.example/a", "https://other.example/"]
    assert kept[1].lowered == [lower_words(p) for p in split_paragraphs(NOT_ASCII)]
    trimmed = build_sources(pages, 60_000, Focus("Acme", KEYWORDS))
    assert [b.url for b in trimmed] == ["https://news.example/a", "https://other.example/"]
