"""A quote as people read it: pages reach the pipeline as markdown and models quote them so,
links and all. What people read (the changes line, the report, the alert, the run's table)
shows a link as its text; what is stored and exported stays the verbatim quote the evidence
check matched. The quote below is a line of a real page (benchmarks/corpus/cohere.json)."""

from __future__ import annotations

import re

from domain.alerts import top_signal
from domain.changes import diff
from domain.passages import readable
from territory.report import render_signals

QUOTE = (
    "This package provides functionality developed to simplify interfacing with the "
    "[Cohere API](https://docs.cohere.ai/) in Python 3."
)
READ = "This package provides functionality developed to simplify interfacing with the Cohere API in Python 3."  # noqa: E501
SIGNAL = {"kind": "inference", "url": "https://pypi.org/project/cohere/", "excerpt": QUOTE}


def test_a_link_reads_as_its_text_and_the_rest_is_untouched() -> None:
    assert readable(QUOTE) == READ
    assert readable("per [Acme](https://en.wikipedia.org/wiki/Acme_(company)) today") == (
        "per Acme today"
    )
    assert readable("![H100 board](https://x.example/h100.png)\n runs  here") == (
        "H100 board runs here"
    )
    # Brackets and parentheses that are no link stay as the page has them.
    assert readable("GPUs (H100) [sic] at [scale]") == "GPUs (H100) [sic] at [scale]"
    assert readable(None) == ""


def test_the_changes_line_shows_the_quote_as_read() -> None:
    before = {"company": "Cohere", "tier": "WARM", "score": 55, "signals": []}
    after = {"company": "Cohere", "tier": "HOT", "score": 90, "signals": [SIGNAL]}
    change = diff(after, before)
    assert change is not None and change.appeared == [SIGNAL]  # the stored quote, verbatim
    line = change.describe()
    assert "interfacing with the Cohere API" in line and "](" not in line
    assert "pypi.org" in line  # where it was quoted from


def test_the_alert_carries_the_quote_as_read() -> None:
    chosen = top_signal({"signals": [SIGNAL]}, {"signals": []})
    assert chosen is not None and chosen["excerpt"] == READ
    assert chosen["url"] == SIGNAL["url"]


def test_the_report_links_the_quote_as_read_to_its_page() -> None:
    html = render_signals([SIGNAL])
    (anchor,) = re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', html)
    assert anchor == (SIGNAL["url"], READ)  # the page it came from, not the link inside it
