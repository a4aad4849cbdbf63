"""The search's title and a page's lead: the title is sent in the source tag, so a line saying
it again is not sent twice, and a titled page's lead is only its dateline."""

from domain.blocks import OMISSION
from domain.context import Focus, _title_lines, build_sources, render_sources
from domain.models import SearchPage
from domain.rubric import load_rubric

FOCUS = Focus("Acme Bakery", load_rubric().keywords)
OPENING = (
    "Visitors to the valley rarely stop at the old mill on the river road. "
    "The mill has stood there since the town was built by settlers from the coast. "
    "On summer weekends the wheel still turns for the tourists who come by bus."
)


def page(*paras, title, url="https://paper.example/a"):
    return SearchPage(url=url, title=title, score=0.9, content="", raw_content="\n\n".join(paras))


def sent(*pages):
    return {b.url: b for b in build_sources(list(pages), 60_000, FOCUS)}


def test_an_untitled_page_keeps_its_first_line_and_first_sentence_as_its_lead():
    block = sent(page("# A mill", OPENING, "Acme Bakery bakes.", title=""))
    text = block["https://paper.example/a"].text
    first = OPENING.split(". ")[0] + "."
    assert text.split("\n\n")[:2] == ["# A mill", f"{first} {OMISSION}"]
    assert "wheel" not in text and "Acme Bakery bakes." in text


def test_a_line_repeating_the_title_is_sent_only_in_the_source_tag():
    title = "Acme Bakery opens a second plant in Fresno"
    block = sent(
        page(
            "Local news",  # a crumb above the headline
            f"# {title} | The Valley Paper",
            "Published 2026-03-14.",
            OPENING,
            "Acme Bakery bakes 9,000 loaves a day and sells them in 40 towns.",
            title=title,
        )
    )["https://paper.example/a"]
    # The headline (with the site's name) is in the tag only; the crumb and the first
    # sentence go (the title says what the page is); the dateline and the passage stay.
    assert block.text.split("\n\n") == [
        "Published 2026-03-14.",
        OMISSION,
        "Acme Bakery bakes 9,000 loaves a day and sells them in 40 towns.",
    ]
    assert f'title="{title}"' in render_sources([block])


def test_a_page_its_title_alone_names_keeps_its_lead():
    # The text calls it "the bakery": without its lead the page (and its title) would go.
    block = sent(
        page(
            "# Acme Bakery wins a state contract",
            "The bakery will supply 30 school districts from September, its owner said.",
            "The weather in the harbour town was mild for most of the spring, locals said.",
            title="Acme Bakery wins a state contract",
        )
    )["https://paper.example/a"]
    assert block.text.startswith("The bakery will supply 30 school districts")
    assert "Acme Bakery wins" not in block.text and "harbour" not in block.text


def _is_title(line, title):
    return _title_lines([line], title) == {0}


def test_a_title_is_told_by_its_words_with_or_without_the_sites_name():
    title = "Acme Bakery opens a second plant"
    for line in (
        f"# {title}",
        f"{title}:",
        f"{title.upper()} - The Valley Paper",
        "= Acme Bakery opens a second plant =",
    ):
        assert _is_title(line, title), line
    for line in (
        "Acme Bakery opens a second plant, and will hire 200 bakers there by the spring",
        "Acme Bakery opens a second plant in Fresno",  # it says more than the title
        "Acme Bakery",  # the name alone is not the title
        "Acme Bakery opens",
    ):
        assert not _is_title(line, title), line
    # The title may carry the site's name and the line not, or the other way round.
    assert _is_title("Acme Bakery opens a second plant", f"{title} – The Valley Paper")
    assert not _is_title("Acme Bakery - Home", "Acme Bakery - About")
    # Case is folded as str.casefold folds it ("ß" is "ss").
    assert _is_title("STRASSE baut eine zweite Halle", "Straße baut eine zweite Halle")
    assert _is_title("Straße baut eine zweite Halle | Zeitung", "strasse BAUT eine zweite Halle")
    # A short title is told only when the line is just it.
    assert _is_title("## About Us", "About us") and not _is_title("About us - Acme", "About us")
