"""How fast this machine runs the flow's own CPU work today: busy, and woken from idle.

    uv run python -m benchmarks.machine_pace

The same code's CPU per company moved by up to 2x from one night to the next on the 2-core
machine the README's figures come from (a virtual machine sharing its host). And work woken
from a long wait runs slower than work done back to back: the caches went cold while the
CPU slept. A provider-bound run (time scale 0.3) wakes its threads from waits all run long, a
CPU-bound one (0.05) hardly sleeps. So a CPU figure is read beside the pace of the day it was
measured: `benchmarks.throughput` prints it under its tables.

The work is trimming (the largest phase of the flow's CPU, pure Python): the Tavily
simulator's 20 pages for each of COMPANIES companies, as a run trims them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks.db_size import simulated_outcome
from domain.context import Focus, build_sources, select_pages
from domain.entities import sort_out
from domain.models import SearchPage
from domain.rubric import Rubric, load_rubric
from flows.settings import Settings

COMPANIES = 300
ROUNDS = 3  # back to back: the best of these rounds
WOKEN = 30  # companies trimmed one at a time after IDLE_SECONDS asleep
IDLE_SECONDS = 0.6  # about an LLM answer's wait at time scale 0.03-0.1
CONTEXT_CHARS: int = Settings.model_fields["context_max_chars"].default  # a run's default

Company = tuple[str, str, list[SearchPage]]


@dataclass(frozen=True)
class Pace:
    """Thread CPU milliseconds per company of trimming, back to back and woken from idle."""

    busy_ms: float
    woken_ms: float

    def describe(self) -> str:
        return (
            f"Machine pace: trimming the simulator's pages took {self.busy_ms:.2f} ms a company "
            f"back to back, {self.woken_ms:.2f} ms woken from {IDLE_SECONDS:g} s idle "
            "(`python -m benchmarks.machine_pace`; compare CPU figures beside it)."
        )


def sample_companies(count: int = COMPANIES) -> list[Company]:
    """The pages the Tavily simulator gives the benchmark's companies, as a run holds them
    (the flow's own request and reading of the answer: `db_size.simulated_outcome`)."""
    companies = []
    for i in range(count):
        name, domain = f"Benchmark Account {i:05d}", f"bench{i:05d}.example"
        companies.append((name, domain, simulated_outcome(name, domain, f"bench-{i}").pages))
    return companies


def trim(rubric: Rubric, company: Company) -> int:
    """One company's trimming, as `tasks.classify` does it; the characters it keeps."""
    name, domain, pages = company
    entities = sort_out(name, domain, select_pages(pages, rubric.search.min_relevance))
    if entities.rivals:
        return 0
    blocks = build_sources(entities.kept, CONTEXT_CHARS, Focus(name, rubric.keywords, domain))
    return sum(len(b.text) for b in blocks)


def measure(
    rounds: int = ROUNDS,
    woken: int = WOKEN,
    idle: float = IDLE_SECONDS,
    count: int = COMPANIES,
) -> Pace:
    """The pace now: best of `rounds` over `count` companies back to back, and the mean of
    `woken` single companies (spread over them) each trimmed after `idle` seconds asleep."""
    rubric = load_rubric()
    companies = sample_companies(count)
    for company in companies:  # once first: imports, compiled patterns, caches
        trim(rubric, company)
    busy = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        for company in companies:
            trim(rubric, company)
        busy = min(busy, time.thread_time() - start)
    spent = 0.0
    for company in companies[:: max(1, len(companies) // max(1, woken))][:woken]:
        time.sleep(idle)
        start = time.thread_time()
        trim(rubric, company)
        spent += time.thread_time() - start
    return Pace(busy / len(companies) * 1000, spent / max(1, woken) * 1000)


if __name__ == "__main__":
    print(measure().describe())
