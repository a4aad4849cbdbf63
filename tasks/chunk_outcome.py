"""What a classify chunk gives back: its results, and where each goes as it is known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from domain.models import CompanyResult


class ResultFeed(Protocol):
    """Where a company's result goes the moment it is known (the flow's writer drains it)."""

    def put(self, item: CompanyResult) -> None:
        """Hand over one result."""


@dataclass
class ChunkOutcome:
    """Results of a chunk; `fatal` is set when a provider error means the run must stop."""

    index: int
    results: list[CompanyResult]
    unprocessed: list[str] = field(default_factory=list)
    fatal: str | None = None
    # Thread CPU seconds of the chunk's trim, classify and evidence phases (a plain dict: it
    # comes back from a Dask worker as it does from a thread).
    phase_seconds: dict[str, float] = field(default_factory=dict)
    # The companies whose results went on the feed as each finished, with their status: the
    # results are not carried twice. An ended chunk can wait in the flow's queue a while (at
    # 10,000 companies on a busy flow thread, most did till the run's end, our simulators),
    # holding its 50 results, signals and reasoning included, long after they were stored.
    handed_over: dict[str, str] = field(default_factory=dict)

    def statuses(self) -> dict[str, str]:
        """Each company's status, whether its result came on the feed or with the chunk."""
        return self.handed_over | {r.company_key: r.status for r in self.results}
