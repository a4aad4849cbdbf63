"""`territory report` in a real headless Chromium: the page renders its table and charts,
sorts and filters, and nothing that hostile data carried runs or loads. (The page from plain
data: test_report_page.py; the command on a database: test_report_command.py.)"""

import os
import time
from pathlib import Path

import pytest

from territory.cli import main
from territory.report import PAGE_ROWS, render_report
from tests.cli.report_samples import HOSTILE_NAME, NOW, RUN, big_territory, seed_two_runs

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

    keep_a_screenshot(page)
    check_the_charts(page)
    check_sorting_by_rank_and_score(page)
    check_sorting_by_tier_and_company(page, rows)
    check_filtering_by_text(page)
    check_filtering_by_tier(page)

    # Hostile data stayed text: nothing it carried ran or loaded.
    assert page.locator("img").count() == 0
    assert page.locator("#companies a").first.get_attribute("href").startswith("https://")
    assert page.problems == []
    assert page.requests == [out.resolve().as_uri()]

    page.close()


def keep_a_screenshot(page):
    """Kept for CI: the page as a reader sees it, top to bottom."""
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 30_000


def check_the_charts(page):
    """The charts: bars with an area on screen, in both figures."""
    assert page.locator("svg.chart").count() == 2
    boxes = [b.bounding_box() for b in page.locator("svg.chart rect.bar").all()]
    drawn = [b for b in boxes if b and b["width"] > 0 and b["height"] > 0]
    assert len(drawn) >= 3 + 3  # the three tiers in each chart
    hot = page.locator('svg.chart rect.bar[data-key="HOT"]').first.bounding_box()
    assert hot["width"] > 20 and hot["height"] > 10


def check_sorting_by_rank_and_score(page):
    """The page opens in rank order, the unranked (failed) last; the score header sorts best
    first, flips it, then back."""
    rank_head = page.locator("th", has_text="Rank")
    assert rank_head.get_attribute("aria-sort") == "ascending"
    ranks = page.eval_on_selector_all(
        "#companies tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    assert ranks == [str(i) for i in range(1, 40)] + ["—"]
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


def check_sorting_by_tier_and_company(page, rows):
    """Tier sorts HOT > WARM > COLD, with the unscored last either way; then by company."""
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


def check_filtering_by_text(page):
    """Filtering by text: company, domain and signal text; the count follows."""
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


def check_filtering_by_tier(page):
    """Filtering by tier, alone and with text."""
    shown = page.locator("#companies tbody tr:not([hidden])")
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
