"""`territory report`: the HTML is self-contained and escaped, the CLI writes it from the
database, and a real headless Chromium renders, sorts and filters it."""

import os
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from domain.changes import Change
from territory.cli import main
from territory.report import PAGE_ROWS, render_report, safe_url

HOSTILE_NAME = '<script>alert(1)</script> & "Co"'
HOSTILE_EXCERPT = '"><img src=x onerror=alert(2)></a><script>alert(3)</script> “quoted” 🚀'
NOW = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# One group: the browser (a module fixture) is started once, on one worker.
pytestmark = pytest.mark.xdist_group("report-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def row(company, tier=None, score=None, status="ok", signals=(), metadata=None, **extra):
    """A result row as `latest_results` returns it."""
    return {
        "territory": "emea",
        "company_key": company.lower(),
        "company": company,
        "domain": extra.pop("domain", None),
        "metadata": metadata if metadata is not None else {"owner": "Dana", "crm_id": "1"},
        "status": status,
        "tier": tier,
        "score": score,
        "confidence": "high" if tier else None,
        "reasoning": "r",
        "signals": list(signals),
        "signals_dropped": 0,
        "error": extra.pop("error", None),
        "run_id": "run-2",
        "model": "gpt-test",
        "rubric": "gpu@1",
        "updated_at": NOW,
        **extra,
    }


def signal(excerpt, url="https://news.example/a", kind="funding", published=None):
    return {"kind": kind, "url": url, "excerpt": excerpt, "published": published}


RUN = {
    "run_id": "0f3c9a71-1111-2222-3333-444455556666",
    "territory": "emea",
    "mode": "full",
    "status": "completed",
    "started_at": NOW - timedelta(minutes=3),
    "finished_at": NOW - timedelta(minutes=1, seconds=30),
    "n_companies": 8,
    "n_failed": 1,
    "n_ambiguous": 1,
    "prompt_tokens": 12000,
    "completion_tokens": 900,
    "rubric": "gpu@1",
}


def sample():
    results = [
        row("Helix AI", "HOT", 91, signals=[signal("Helix trains LLMs on 2,000 H100s.")]),
        row("Nimbus Labs", "HOT", 88, domain="nimbus.example"),
        row("Vector Forge", "HOT", 80),
        row("Quarry Data", "WARM", 55),
        row("Lumen Retail", "WARM", 41),
        row("Crumb Bakery", "COLD", 5, metadata={"owner": "Lee", "region": "EMEA"}),
        row("Initech", status="failed", error="search failed: Tavily HTTP 500"),
        row("Mercury", status="ambiguous", error="results are about 3 organisations"),
    ]
    changes = [
        Change("Helix AI", "WARM", "HOT", 55, 91, [signal("Helix trains LLMs on 2,000 H100s.")]),
        Change("Quarry Data", "WARM", "WARM", 50, 55),
        Change("Vector Forge", None, "HOT", None, 80),
    ]
    return results, changes


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


# -- the page, from plain data ------------------------------------------------------------------


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


def big_territory(n):
    tiers = ["HOT", "WARM", "COLD"]
    rows = []
    for i in range(n):
        if i % 50 == 49:
            rows.append(row(f"Company {i:05d}", status="failed", error="search failed"))
            continue
        tier = tiers[i % 3]
        score = {"HOT": 70, "WARM": 40, "COLD": 0}[tier] + i % 30
        excerpt = f"Company {i:05d} raised a Series B and runs {i % 97} GPU clusters for training."
        rows.append(
            row(
                f"Company {i:05d}",
                tier,
                score,
                domain=f"company{i}.example",
                signals=[signal(excerpt, f"https://news{i % 7}.example/{i}")] * 2,
                metadata={"owner": f"Rep {i % 12}", "crm_id": f"CRM-{i}", "region": "EMEA"},
            )
        )
    return sorted(rows, key=lambda r: -(r["score"] if r["score"] is not None else -1))


# -- the command, on a database --------------------------------------------------------------


def seed_two_runs(db, extra=0):
    """Two runs of `emea`: Helix moves WARM -> HOT in the second, Nova is new in it, and
    `extra` more companies (some with hostile names) fill the table."""
    from domain.models import Classification, CompanyResult, Signal
    from storage.duckdb_store import TerritoryStore

    def ok(key, name, tier, score, signals=(), owner="Lee", domain=None):
        verdict = Classification(
            tier=tier,
            score=score,
            confidence="high" if score > 60 else "medium",
            reasoning="r",
            signals=[Signal(kind=k, url=u, excerpt=e) for k, u, e in signals],
        )
        return CompanyResult(
            company_key=key,
            name=name,
            domain=domain,
            status="ok",
            classification=verdict,
            model="gpt-test",
            metadata={"owner": owner, "crm_id": key.upper()},
        )

    helix_signal = ("ml_training", "https://h.example/a", "Helix trains LLMs on 2,000 H100s.")
    crumb = ok("crumb", "Crumb Bakery", "COLD", 5)
    failed = CompanyResult(
        company_key="initech",
        name="Initech",
        status="failed",
        error="search failed: Tavily HTTP 500",
        metadata={"owner": "Lee", "crm_id": "9"},
    )
    filler = []
    for i in range(extra):
        tier = ("HOT", "WARM", "COLD")[i % 3]
        score = {"HOT": 70, "WARM": 40, "COLD": 5}[tier] + (i * 7) % 25
        name = HOSTILE_NAME if i == 0 else f"Filler {i:03d}"
        excerpt = HOSTILE_EXCERPT if i == 0 else f"Filler {i} rents {i * 8} GPUs for inference."
        filler.append(
            ok(
                f"filler{i}",
                name,
                tier,
                score,
                [("inference", f"https://filler{i}.example/news", excerpt)],
                owner=("Dana", "Lee", "Priya", "Sam")[i % 4],
                domain=f"filler{i}.example",
            )
        )
    with TerritoryStore.open(db) as store:
        first = store.start_run("emea", "full", {}, None, 3 + extra, 0, 3 + extra)
        helix = ok("helix", "Helix AI", "WARM", 55, [], "Dana", "h.example")
        store.save_results(first, "emea", [helix, crumb, failed, *filler])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, 4 + extra, 0, 4 + extra)
        helix = ok("helix", "Helix AI", "HOT", 91, [helix_signal], "Dana", "h.example")
        nova = ok("nova", "Nova Robotics", "WARM", 62, [], "Priya")
        store.save_results(second, "emea", [helix, nova, crumb, failed, *filler])
        store.finish_run(second, "completed")
    return second


def test_report_command_writes_the_territory(tmp_path, monkeypatch, capsys):
    db = tmp_path / "t.duckdb"
    second = seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    out = tmp_path / "emea.html"
    assert main(["report", str(out), "--territory", "emea"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"report: 4 companies -> {out}\n"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert f"<code>{second[:8]}</code>" in page
    assert "<code>gpt-test</code>" in page
    assert "4 of 4 companies" in page
    assert "WARM -&gt; HOT (55 -&gt; 91): new signal" in page
    assert "new: WARM (62)" in page
    assert '<a href="https://h.example/a"' in page
    assert "search failed: Tavily HTTP 500" in page
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file written, not 0600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_territory_is_one_line(tmp_path, monkeypatch, capsys):
    db = tmp_path / "t.duckdb"
    seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    out = tmp_path / "x.html"
    assert main(["report", str(out), "--territory", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err == "territory: no results for territory 'nowhere' (territories with runs: emea)\n"
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing-dir/x.html", "a-directory"])
def test_a_path_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys, where):
    db = tmp_path / "t.duckdb"
    seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-directory" / "keep").write_text("not empty")
    out = tmp_path / where
    assert main(["report", str(out), "--territory", "emea"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"territory: cannot write {out}: ") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, path, viewport=None):
    """A page on the file, with every console error, page error and request recorded."""
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1000})
    page.problems = []
    page.requests = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.resolve().as_uri())
    return page


def visible_scores(page):
    return page.eval_on_selector_all(
        "#companies tbody tr:not([hidden]) td:nth-child(4)",
        "cells => cells.map(c => c.textContent)",
    )


def count_text(page):
    return page.inner_text("#count")


def filter_to(page, text, n, total=40):
    """Type into the filter box and wait for the count to say `n of total`."""
    page.locator("#q").fill(text)
    want = f"{n:,} of {total:,} companies"
    # A function, not an expression: the page's CSP forbids eval, which expressions need.
    page.wait_for_function("w => document.getElementById('count').textContent === w", arg=want)


@pytest.mark.slow
def test_the_report_in_headless_chromium(browser, tmp_path, monkeypatch):
    db = tmp_path / "t.duckdb"
    seed_two_runs(db, extra=36)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    out = tmp_path / "emea.html"
    assert main(["report", str(out), "--territory", "emea"]) == 0
    page = open_page(browser, out)
    rows = page.locator("#companies tbody tr")
    assert rows.count() == 40
    assert rows.first.is_visible() and rows.last.is_visible()
    assert count_text(page) == "40 of 40 companies"

    # Kept for CI: the page as a reader sees it, top to bottom.
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 30_000

    # The charts: bars with an area on screen, in both figures.
    assert page.locator("svg.chart").count() == 2
    boxes = [b.bounding_box() for b in page.locator("svg.chart rect.bar").all()]
    drawn = [b for b in boxes if b and b["width"] > 0 and b["height"] > 0]
    assert len(drawn) >= 3 + 3  # the three tiers in each chart
    hot = page.locator('svg.chart rect.bar[data-key="HOT"]').first.bounding_box()
    assert hot["width"] > 20 and hot["height"] > 10

    # The page opens in rank order, the unranked (failed) last.
    rank_head = page.locator("th", has_text="Rank")
    assert rank_head.get_attribute("aria-sort") == "ascending"
    ranks = page.eval_on_selector_all(
        "#companies tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    assert ranks == [str(i) for i in range(1, 40)] + ["—"]
    # Sorting by score: the header sorts best first, flips it, then back.
    scores = [int(s) for s in visible_scores(page) if s != "—"]
    score_head = page.locator("th", has_text="Score")
    score_head.locator("button").click()
    assert score_head.get_attribute("aria-sort") == "descending"
    assert [int(s) for s in visible_scores(page) if s != "—"] == sorted(scores, reverse=True)
    top = max(scores)
    score_head.locator("button").click()
    assert score_head.get_attribute("aria-sort") == "ascending"
    after = visible_scores(page)
    assert int(after[0]) == min(scores) and after[-1] == "—"  # unscored stay last
    assert [int(s) for s in after if s != "—"] == sorted(scores)
    score_head.locator("button").click()
    assert int(visible_scores(page)[0]) == top
    # Tier sorts HOT > WARM > COLD, with the unscored last either way.
    tier_head = page.locator("th", has_text="Tier").locator("button")
    tier_head.click()
    tiers = rows.evaluate_all("rs => rs.map(r => r.dataset.t)")
    assert tiers[0] == "HOT" and tiers.index("COLD") > tiers.index("WARM") > tiers.index("HOT")
    assert tiers[-1] == "failed"
    tier_head.click()
    assert rows.first.get_attribute("data-t") == "COLD"
    company_head = page.locator("th", has_text="Company").locator("button")
    company_head.click()
    names = page.eval_on_selector_all("#companies tbody tr .co", "e => e.map(x => x.textContent)")
    assert names[0] == HOSTILE_NAME and names[1:4] == ["Crumb Bakery", "Filler 001", "Filler 002"]

    # Filtering by text: company, domain and signal text; the count follows.
    shown = page.locator("#companies tbody tr:not([hidden])")
    for text, n in [
        ("helix", 1),
        ("", 40),
        ("H100S", 1),  # only in Helix's signal, any case
        ("filler1 example", 11),  # every word: filler1.example, filler10..19.example
        ("nowhere-at-all", 0),
        ("", 40),
    ]:
        filter_to(page, text, n)
        assert shown.count() == n
        if n == 1:
            assert shown.locator(".co").all_inner_texts() == ["Helix AI"]

    # Filtering by tier, alone and with text.
    page.locator('.seg button[data-f="HOT"]').click()
    assert shown.count() == page.locator('tbody tr[data-t="HOT"]').count() == 13  # Helix + 12
    assert set(shown.evaluate_all("rs => rs.map(r => r.dataset.t)")) == {"HOT"}
    assert count_text(page) == "13 of 40 companies"
    filter_to(page, "priya", 3)  # the HOT fillers 6, 18 and 30
    assert set(shown.evaluate_all("rs => rs.map(r => r.dataset.t)")) == {"HOT"}
    filter_to(page, "", 13)
    page.locator('.seg button[data-f="-"]').click()
    assert count_text(page) == "1 of 40 companies"
    assert shown.first.get_attribute("data-t") == "failed"
    page.locator('.seg button[data-f="WARM"]').click()
    assert set(shown.evaluate_all("rs => rs.map(r => r.dataset.t)")) == {"WARM"}
    page.locator('.seg button[data-f=""]').click()
    assert count_text(page) == "40 of 40 companies"

    # Hostile data stayed text: nothing it carried ran or loaded.
    assert page.locator("img").count() == 0
    assert page.locator("#companies a").first.get_attribute("href").startswith("https://")
    assert page.problems == []
    assert page.requests == [out.resolve().as_uri()]

    page.close()


@pytest.mark.slow
def test_ten_thousand_companies_open_sort_and_filter(browser, tmp_path):
    out = tmp_path / "big.html"
    results = big_territory(10_000)
    out.write_text(render_report("big", results, RUN, [], generated_at=NOW), encoding="utf-8")
    started = time.perf_counter()
    page = open_page(browser, out)
    shown = page.locator("#companies tbody tr:not([hidden])")
    assert page.locator("#companies tbody tr").count() == 10_000
    assert shown.count() == PAGE_ROWS and count_text(page) == "10,000 of 10,000 companies"
    score_button = page.locator("th", has_text="Score").locator("button")
    score_button.click()  # best first
    assert int(visible_scores(page)[0]) == max(r["score"] or 0 for r in results)
    score_button.click()  # then lowest first
    lowest = min(r["score"] for r in results if r["score"] is not None)
    scores = [int(s) for s in visible_scores(page)]
    assert len(scores) == PAGE_ROWS and scores[0] == lowest and scores == sorted(scores)
    page.locator('#more button[data-more="500"]').click()
    assert shown.count() == 2 * PAGE_ROWS
    filter_to(page, "company 01234", 1, total=10_000)
    assert page.locator("#more").is_hidden()
    page.locator('.seg button[data-f="-"]').click()
    assert count_text(page) == "0 of 10,000 companies"  # 01234 is not a failed one
    page.locator('.seg button[data-f=""]').click()
    crm_1 = sum(r["metadata"]["crm_id"].startswith("CRM-1") for r in results)  # CRM-1, 1x, 1xx..
    filter_to(page, "crm-1", crm_1, total=10_000)
    assert shown.count() == PAGE_ROWS and page.locator("#more").is_visible()
    page.locator('#more button[data-more="all"]').click()
    assert shown.count() == crm_1 > PAGE_ROWS
    assert time.perf_counter() - started < 60
    assert page.problems == [] and len(page.requests) == 1
    page.close()
