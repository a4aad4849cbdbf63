"""Prompt size per company with whole pages (CONTEXT_TRIM=false) and trimmed pages (true).

Builds each sample company's classification prompt both ways from the Tavily simulator's
pages (no network, no Prefect), grades both with the simulated LLM, and prints the size of
what would be sent and what the grader made of it.

    uv run python -m benchmarks.tokens [--companies N]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from domain.context import Focus, build_sources, select_pages
from domain.models import SearchPage
from domain.prompt import build_messages
from domain.rubric import load_rubric
from simulators.classifier import classify, parse_prompt
from simulators.content import DEFAULT_QUERY_TAIL, search_pages
from simulators.llm_wire import estimate_tokens

COMPANIES = Path(__file__).resolve().parents[1] / "examples" / "companies.csv"
MIN_SCORE = 0.4  # the rubric's min_relevance
MAX_CHARS = 60_000  # CONTEXT_MAX_CHARS default
MAX_RESULTS = 20  # SEARCH_MAX_RESULTS default
USD_PER_M_INPUT = 0.40  # gpt-4.1-mini, per million input tokens


@dataclass
class Compared:
    """One company's prompt both ways and the grader's verdicts on them."""

    chars_before: int
    chars_after: int
    tokens_before: int
    tokens_after: int
    excerpts: int  # signal excerpts the grader cites from the whole pages
    excerpts_kept: int  # ...that are still in the trimmed prompt
    tier_same: bool


def compare(name: str, domain: str | None) -> Compared:
    """Build and grade one company's prompt with whole and with trimmed pages."""
    rubric = load_rubric()
    pages = [
        SearchPage(url=p.url, title=p.title, score=p.score, content="", raw_content=p.raw_content())
        for p in search_pages(f"{name} {DEFAULT_QUERY_TAIL}", MAX_RESULTS)
    ]
    relevant = select_pages(pages, MIN_SCORE)
    prompts = [
        build_messages(
            rubric, name, domain, build_sources(relevant, MAX_CHARS, focus), include_schema=False
        )
        for focus in (None, Focus(name, rubric.keywords, domain))
    ]
    texts = ["\n".join(m["content"] for m in messages) for messages in prompts]
    before, after = (classify(parse_prompt(messages)) for messages in prompts)
    cited = [s["excerpt"] for s in before["signals"]]
    return Compared(
        chars_before=len(texts[0]),
        chars_after=len(texts[1]),
        tokens_before=sum(estimate_tokens(m["content"]) for m in prompts[0]),
        tokens_after=sum(estimate_tokens(m["content"]) for m in prompts[1]),
        excerpts=len(cited),
        excerpts_kept=sum(excerpt in texts[1] for excerpt in cited),
        tier_same=before["tier"] == after["tier"],
    )


def report(results: list[Compared]) -> str:
    """The comparison table and the grader's agreement, as printed."""
    n = len(results)

    def row(label: str, before: list[int], after: list[int]) -> str:
        mean_b, mean_a = statistics.mean(before), statistics.mean(after)
        med_b, med_a = statistics.median(before), statistics.median(after)
        cut = 1 - mean_a / mean_b if mean_b else 0.0
        return (
            f"{label:<22}{mean_b:>10,.0f}{med_b:>10,.0f}{mean_a:>10,.0f}{med_a:>10,.0f}{cut:>11.1%}"
        )

    tokens_b = [r.tokens_before for r in results]
    tokens_a = [r.tokens_after for r in results]
    cost_b = statistics.mean(tokens_b) * 1000 * USD_PER_M_INPUT / 1e6
    cost_a = statistics.mean(tokens_a) * 1000 * USD_PER_M_INPUT / 1e6
    lines = [
        f"companies: {n}   prompt = system + user message, tokens estimated at ~4 chars/token "
        "(simulators.llm_wire.estimate_tokens)",
        "",
        f"{'per company':<22}{'before':>10}{'':>10}{'after':>10}{'':>10}{'reduction':>11}",
        f"{'':<22}{'mean':>10}{'median':>10}{'mean':>10}{'median':>10}{'(mean)':>11}",
        row("characters", [r.chars_before for r in results], [r.chars_after for r in results]),
        row("tokens (est.)", tokens_b, tokens_a),
        "",
        "before = whole pages (CONTEXT_TRIM=false), after = trimmed (CONTEXT_TRIM=true)",
        f"signal excerpts kept: {sum(r.excerpts_kept for r in results)} of "
        f"{sum(r.excerpts for r in results)}",
        f"tier unchanged: {sum(r.tier_same for r in results)} of {n}",
        f"LLM input cost per 1,000 companies at ${USD_PER_M_INPUT:.2f}/M tokens (gpt-4.1-mini): "
        f"${cost_b:.2f} before, ${cost_a:.2f} after",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Compare prompt sizes for the first N sample companies and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tokens", description=__doc__)
    parser.add_argument("--companies", type=int, default=None, help="default: all of them")
    args = parser.parse_args(argv)
    with COMPANIES.open(newline="") as f:
        rows = list(csv.DictReader(f))[: args.companies]
    if not rows:
        parser.error("no companies to compare")
    print(report([compare(r["name"], r.get("domain") or None) for r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
