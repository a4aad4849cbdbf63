"""`territory report`, the page from plain data: self-contained (nothing loaded from anywhere),
hostile names and excerpts escaped, only web addresses linked, and counts, charts, changes and
costs that add up. (The command: test_report_command.py; a real browser: test_report.py.)"""

import re
import time
from html.parser import HTMLParser

import pytest

from domain.changes import Change
from territory.report import PAGE_ROWS, render_report, safe_url
from tests.cli.report_samples import (
    HOSTILE_EXCERPT,
    HOSTILE_NAME,
    NOW,
    RUN,
    big_territory,
    row,
    sample,
    signal,
)


class Tags(HTMLParser):
    """Every start tag with its attributes, as the browser's tokenizer would see them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page):
    parser = Tags()
    parser.feed(page)
    return parser.tags


def test_the_page_loads_nothing_from_anywhere():
    results, changes = sample()
    page = render_report("emea", results, RUN, changes, generated_at=NOW)
    lowered = page.lower()
    for needle in ("<script src", "<link", "@import", "url(http", 'src="http', "src='http"):
        assert needle not in lowered
    found = tags(page)
    assert [t for t, _ in found if t in ("img", "iframe", "object", "embed", "link")] == []
    assert [t for t, _ in found].count("script") == 1
    assert all("src" not in attrs for _, attrs in found)
    # The only addresses in the file are evidence links the reader can click.
    addresses = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert addresses == {"https://news.example/a"}
    hrefs = {attrs["href"] for t, attrs in found if t == "a"}
    assert hrefs == addresses
    policy = next(
        a["content"] for t, a in found if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy


def test_hostile_names_and_excerpts_are_text():
    hostile = row(
        HOSTILE_NAME,
        "HOT",
        90,
        domain='x" onmouseover="alert(4)',
        signals=[signal(HOSTILE_EXCERPT, kind="<b>kind</b>", published="<i>2026</i>")],
        metadata={"<th>owner</th>": "<img src=x onerror=alert(5)>", "crm_id": "CRM-'1'"},
    )
    failed = row("Broken", status="failed", error="<script>alert(6)</script>")
    change = Change(HOSTILE_NAME, "WARM", "HOT", 40, 90, [signal(HOSTILE_EXCERPT)])
    page = render_report(HOSTILE_NAME, [hostile, failed], RUN, [change], generated_at=NOW)

    for raw in (HOSTILE_NAME, "<img", "<script>alert", 'onmouseover="', "<th>owner", "<b>kind"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "“quoted” 🚀" in page  # any script and emoji stay as they are
    found = tags(page)
    assert [t for t, _ in found].count("script") == 1
    assert not [t for t, _ in found if t == "img"]
    assert not [(t, k) for t, attrs in found for k in attrs if k.startswith("on")]
    # The hostile name reaches the title, the changes and the table, escaped every time.
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "https:///no-host",
        "https://exa mple.com/",
        "https://[::1/",
        "file:///etc/passwd",
        "",
        None,
        42,
    ],
)
def test_only_web_addresses_are_linked(url):
    assert safe_url(url) is None
    page = render_report("emea", [row("Acme", "HOT", 80, signals=[signal("Acme buys GPUs", url)])],
                         RUN, [], generated_at=NOW)  # fmt: skip
    assert [a for t, a in tags(page) if t == "a"] == []
    assert "Acme buys GPUs" in page  # the evidence is still shown, as text


def test_web_addresses_are_linked_with_their_source():
    assert safe_url("https://news.example/a?b=1&c=2") == "https://news.example/a?b=1&c=2"
    assert safe_url("HTTP://Example.com") == "HTTP://Example.com"
    page = render_report(
        "emea",
        [
            row(
                "Acme",
                "HOT",
                80,
                signals=[
                    signal("one", "https://www.news.example/a?b=1&c=2", published="2026-10-01"),
                    signal("two", "http://blog.example/b"),
                    signal("three", "https://c.example/"),
                    signal("four", "https://d.example/"),
                ],
            )
        ],
        RUN,
        [],
        generated_at=NOW,
    )
    links = [a for t, a in tags(page) if t == "a"]
    assert [a["href"] for a in links] == [
        "https://www.news.example/a?b=1&c=2",
        "http://blog.example/b",
        "https://c.example/",
    ]
    assert all(a["rel"] == "noopener noreferrer nofollow" for a in links)
    assert "news.example, 2026-10-01" in page
    assert "+1 more" in page


def test_counts_charts_and_filters_add_up():
    results, changes = sample()
    page = render_report("emea", results, RUN, changes, generated_at=NOW)
    assert page.count("<tr data-t=") == 8
    assert page.count('<tr data-t="HOT">') == 3
    assert "8 of 8 companies" in page
    for label, n in (("Companies", 8), ("HOT", 3), ("WARM", 2), ("COLD", 1)):
        assert f'<span class="n">{n}</span><span>{label}</span>' in page
    assert '<span class="n">1</span><span>Failed</span>' in page
    assert '<span class="n">1</span><span>Ambiguous</span>' in page
    assert "<title>HOT: 3 (38%)</title>" in page
    assert "<title>Failed: 1 (12%)</title>" in page
    assert "<title>score 80-89: 2 HOT</title>" in page
    assert "<title>score 90-100: 1 HOT</title>" in page
    assert "<title>score 0-9: 1 COLD</title>" in page
    assert 'data-f="-" aria-pressed="false">Not scored <span class="muted">2</span>' in page
    # Header: the run, its rubric and model, tokens.
    assert "<code>0f3c9a71</code>" in page and "completed" in page
    assert "took 1m 30s" in page and "2026-11-05 14:30 UTC" in page
    assert "<code>gpu@1</code>" in page and "<code>gpt-test</code>" in page
    assert "12,000 prompt + 900 completion tokens" in page
    # CRM columns: the union across rows, in order of appearance.
    heads = [a for t, a in tags(page) if t == "th"]
    assert len(heads) == 7 + 3  # rank, ...; owner, crm_id, region
    assert '<button type="button">region<i></i>' in page
    assert "search failed: Tavily HTTP 500" in page


def test_cost_columns_are_shown_when_present_and_never_required():
    results, changes = sample()
    page = render_report("emea", results, RUN, changes, generated_at=NOW)
    assert "cost $" not in page
    priced = RUN | {"cost_usd": 1.5, "tavily_cost_usd": 1.2, "llm_cost_usd": 0.3}
    page = render_report("emea", results, priced, changes, generated_at=NOW)
    assert "cost $1.50 (Tavily $1.20, LLM $0.30)" in page


def test_changes_list_tier_moves_first():
    results, changes = sample()
    page = render_report("emea", results, RUN, changes, generated_at=NOW)
    section = page.split('<section id="changes">', 1)[1].split("</section>", 1)[0]
    assert "What changed since the last run" in section
    moves, shifts, new = (section.index(h) for h in ("Tier moves", "Score and", "New to the"))
    assert moves < shifts < new
    assert "WARM -&gt; HOT (55 -&gt; 91): new signal" in section
    assert "WARM (50 -&gt; 55)" in section
    assert "new: HOT (80)" in section


def test_no_changes_and_no_run_are_said_plainly():
    results, _ = sample()
    page = render_report("emea", results, RUN, [], generated_at=NOW)
    assert "Nothing changed in this run." in page
    page = render_report("emea", results, None, [], generated_at=NOW)
    assert "No run of this territory is recorded." in page


def test_many_new_companies_are_summed_up():
    changes = [Change(f"Co {i}", None, "COLD" if i % 3 else "HOT", None, 10) for i in range(900)]
    page = render_report("emea", [row("Co 1", "COLD", 10)], RUN, changes, generated_at=NOW)
    assert "300 HOT, 600 COLD" in page
    assert "Only the first 500 of 900 changes are listed" in page
    assert page.count("new: ") == 500


def test_ten_thousand_companies_stay_a_usable_file():
    results = big_territory(10_000)
    started = time.perf_counter()
    page = render_report("big", results, RUN, [], generated_at=NOW)
    assert time.perf_counter() - started < 10
    assert page.count("<tr data-t=") == 10_000
    assert len(page.encode()) < 15_000_000  # under 1 KB a company, signals included
    # Only the first rows are laid out when it opens; the rest wait behind "Show more".
    assert page.count(' hidden><td class="num rk">') == 10_000 - PAGE_ROWS
    assert f"Showing the first {PAGE_ROWS}; {10_000 - PAGE_ROWS:,} more." in page
