"""The run's cost cap: before a chunk starts, what was spent plus what is in flight plus what the
chunk is expected to cost must fit under `--max-cost`.

Expected costs: a search costs its depth's credits (a cached one costs nothing); an LLM
classification costs what the run's classifications have cost on average so far, or, before
the first one is stored, a deliberately high guess (a full context of input tokens). A chunk
already running finishes, so the cap can be overshot by at most the error of that estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.costs import CHARS_PER_TOKEN, Prices
from domain.models import CompanyResult, SearchOutcome

# Tokens the instructions and the answer take besides the page text, for the first guess.
PROMPT_OVERHEAD_TOKENS = 1_500
ANSWER_TOKENS = 800


@dataclass
class Budget:
    """Spend so far and expected spend of the chunks in flight, against a cap in USD."""

    cap: float | None
    search_usd: float  # one uncached search
    first_guess_usd: float | None  # one classification before any is measured (None: unpriced)
    spent: float = 0.0
    in_flight: dict[int, float] = field(default_factory=dict)
    classified: int = 0
    classified_usd: float = 0.0

    @classmethod
    def for_run(
        cls, cap: float | None, prices: Prices, model: str, depth: str, context_chars: int
    ) -> Budget:
        """The budget of a run with these prices, model, search depth and context cap."""
        guess = prices.llm_usd(
            model, context_chars // CHARS_PER_TOKEN + PROMPT_OVERHEAD_TOKENS, ANSWER_TOKENS
        )
        search = prices.tavily_usd(prices.search_credits(depth))
        return cls(cap, search, guess)

    @property
    def capped(self) -> bool:
        """Whether a cap is set (without one every chunk is admitted)."""
        return self.cap is not None

    @property
    def llm_usd(self) -> float:
        """Expected cost of one classification: the run's average so far, else the guess."""
        if self.classified:
            return self.classified_usd / self.classified
        return self.first_guess_usd or 0.0

    def expected(self, companies: int, searches: int) -> float:
        """What a chunk of `companies`, `searches` of them not cached, should cost."""
        return searches * self.search_usd + companies * self.llm_usd

    def admit(self, index: int, companies: int, searches: int) -> bool:
        """Start chunk `index` if it fits under the cap (always, without a cap)."""
        cost = self.expected(companies, searches)
        committed = self.spent + sum(self.in_flight.values())
        if self.cap is not None and committed + cost > self.cap:
            return False
        self.in_flight[index] = cost
        return True

    def done(self, index: int) -> None:
        """Chunk `index` ended: its spend is counted, no longer its expectation."""
        self.in_flight.pop(index, None)

    def searched(self, outcomes: list[SearchOutcome], prices: Prices) -> None:
        """Count searches paid for."""
        self.spent += sum(prices.tavily_usd(o.credits or 0) for o in outcomes)

    def stored(self, results: list[CompanyResult]) -> None:
        """Count classifications paid for, and learn what one costs."""
        for result in results:
            if result.llm_cost_usd is not None and result.usage is not None:
                self.spent += result.llm_cost_usd
                self.classified += 1
                self.classified_usd += result.llm_cost_usd

    def describe(self) -> str:
        """One line for the run log when the cap stops it."""
        return f"cost cap of ${self.cap:.2f} reached (spent ${self.spent:.2f})"
