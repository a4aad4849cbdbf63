"""Trimming and the evidence check on real page text (benchmarks/corpus: 20 companies, 127
pages nobody on the project wrote, evidence sentences and model-style quotes labelled by hand).

Prints, per tier and per raw-content shape, the characters before and after trimming; the
share of labelled evidence sentences still in the trimmed prompt; and how many quotes the
evidence check accepts, per kind of alteration (faithful ones should pass, invented,
number-changed and misattributed ones must not). No network, no Prefect.

    uv run python -m benchmarks.real_pages
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpus.check_corpus import ACCEPT, REJECT
from domain.context import Focus, build_sources
from domain.evidence import check_signals, plain
from domain.models import TIERS, SearchPage, Signal
from domain.rubric import load_rubric

CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_CHARS = 60_000  # CONTEXT_MAX_CHARS default
SHAPES = ("as stored", "text")  # Tavily's raw content as markdown, or as text (one newline)
ACCEPT_KINDS = tuple(ACCEPT)  # the kinds of quote the corpus labels, as its checker defines them
REJECT_KINDS = tuple(REJECT)


@dataclass(frozen=True)
class Company:
    """One company of the corpus: its pages as crawled and what a reader labelled in them."""

    name: str
    domain: str | None
    tier: str
    pages: list[dict]
    evidence: list[dict]
    quotes: list[dict]


def load_corpus(folder: Path = CORPUS) -> list[Company]:
    """Every company file of the corpus, in name order."""
    companies = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        companies.append(
            Company(
                data["company"],
                data.get("domain"),
                data["tier"],
                data["pages"],
                data["evidence"],
                data["quotes"],
            )
        )
    return companies


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(\*\*|__|`)")
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.M)
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def as_text_shape(text: str) -> str:
    """The page as Tavily's `text` raw content gives it: no markdown, one newline between
    blocks (no blank lines)."""
    text = _MD_HEADING.sub("", _MD_MARKS.sub("", _MD_LINK.sub(r"\1", text)))
    return _BLANK_LINES.sub("\n", text)


def search_pages(company: Company, shape: str) -> list[SearchPage]:
    """The company's pages as the search returned them (best first), in one shape."""
    pages = []
    for rank, page in enumerate(company.pages):
        text = page["text"] if shape == "as stored" else as_text_shape(page["text"])
        score = round(0.95 - 0.03 * rank, 2)
        pages.append(
            SearchPage(
                url=page["url"], title=page["title"], score=score, content="", raw_content=text
            )
        )
    return pages


@dataclass
class Tally:
    """Counts to report: characters, evidence kept, quotes accepted."""

    chars: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    recall: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    quotes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # evidence trimmed away
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # quotes judged wrongly


def measure(companies: list[Company]) -> Tally:
    """Trim every company's pages in both shapes and check every labelled quote."""
    rubric = load_rubric()
    tally = Tally()
    for company in companies:
        for shape in SHAPES:
            pages = search_pages(company, shape)
            sent = build_sources(
                pages, MAX_CHARS, Focus(company.name, rubric.keywords, company.domain)
            )
            before = sum(len(p.raw_content or "") for p in pages)
            after = sum(len(b.text) for b in sent)
            for key in ((company.tier, shape), ("all", shape)):
                tally.chars[key][0] += before
                tally.chars[key][1] += after
            # In the prompt at all: a story sent once, with the first page that carries it.
            prompt = " ".join(plain(block.text) for block in sent)
            for item in company.evidence:
                found = plain(item["sentence"]) in prompt
                for key in ((company.tier, shape), ("all", shape)):
                    tally.recall[key][0] += found
                    tally.recall[key][1] += 1
                if not found:
                    tally.missed.append((company.name, shape, item["sentence"]))
        _check_quotes(company, tally)
    return tally


def _check_quotes(company: Company, tally: Tally) -> None:
    pages = search_pages(company, "as stored")
    shown = {p.url for p in pages}
    for quote in company.quotes:
        signal = Signal(kind="other", url=quote["url"], excerpt=quote["quote"])
        accepted = bool(check_signals([signal], pages, shown).kept)
        tally.quotes[quote["kind"]][0] += accepted
        tally.quotes[quote["kind"]][1] += 1
        if accepted != (quote["expect"] == "accept"):
            tally.wrong.append((company.name, quote["kind"], quote["quote"]))


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def report(tally: Tally) -> str:
    """The benchmark's tables, as markdown."""
    lines = [
        "| tier | shape | characters before | after | cut | evidence kept |",
        "|---|---|---|---|---|---|",
    ]
    for tier in (*TIERS, "all"):
        for shape in SHAPES:
            before, after = tally.chars[(tier, shape)]
            found, total = tally.recall[(tier, shape)]
            lines.append(
                f"| {tier} | {shape} | {before:,} | {after:,} | "
                f"{1 - after / before:.1%} | {found}/{total} ({_pct(found, total)}) |"
            )
    lines += ["", "| quote kind | expected | accepted |", "|---|---|---|"]
    for kind in (*ACCEPT_KINDS, *REJECT_KINDS):
        accepted, total = tally.quotes[kind]
        expect = "accept" if kind in ACCEPT_KINDS else "reject"
        lines.append(f"| {kind} | {expect} | {accepted}/{total} ({_pct(accepted, total)}) |")
    faithful = [tally.quotes[k] for k in ACCEPT_KINDS]
    bad = [tally.quotes[k] for k in REJECT_KINDS]
    lines += [
        "",
        f"faithful quotes accepted: {sum(a for a, _ in faithful)}/{sum(t for _, t in faithful)}; "
        f"altered or misattributed quotes rejected: {sum(t - a for a, t in bad)}/"
        f"{sum(t for _, t in bad)}",
    ]
    return "\n".join(lines)


def main() -> None:
    tally = measure(load_corpus())
    print(report(tally))
    for name, shape, sentence in tally.missed:
        print(f"evidence trimmed away ({name}, {shape}): {sentence[:110]}")
    for name, kind, quote in tally.wrong:
        print(f"quote judged wrongly ({name}, {kind}): {quote[:110]}")


if __name__ == "__main__":
    main()
