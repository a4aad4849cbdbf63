"""The data that moves between tasks: search requests and outcomes, classifications, results."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# The vocabularies, defined here only; everything else imports them.
Tier = Literal["HOT", "WARM", "COLD"]
TIERS: tuple[Tier, ...] = get_args(Tier)  # hottest first
Confidence = Literal["high", "medium", "low"]
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)  # surest first
Status = Literal["ok", "failed", "ambiguous", "skipped"]
UNTIERED: tuple[Status, ...] = ("failed", "ambiguous")  # researched, but given no tier
Mode = Literal["full", "rerun-failed", "rescore"]  # where a run's companies come from
# The kinds of the default rubric; a rubric file can name its own (tasks/rubric.py).
SignalKind = Literal[
    "funding", "headcount", "ml_training", "inference", "gpu_infrastructure", "hiring", "other"
]


class SearchRequest(BaseModel):
    """One company's Tavily search, fully specified; its cache key covers every input."""

    model_config = ConfigDict(frozen=True)

    company_key: str
    name: str
    domain: str | None = None
    # Which Tavily-compatible service answered: a simulator's pages must never be reused
    # as a real search (or the other way round).
    endpoint: str = "https://api.tavily.com"
    query: str
    search_depth: str = "advanced"
    max_results: int = 20
    include_raw_content: bool = True

    @property
    def cache_key(self) -> str:
        """Stable key on the normalised company and the search parameters (never the run)."""
        payload = self.model_dump(exclude={"name"})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return f"tavily-{digest[:32]}"


class SearchPage(BaseModel):
    """One Tavily result: the page, its relevance score and its raw content."""

    url: str
    title: str = ""
    score: float = 0.0
    content: str = ""
    raw_content: str | None = None


class SearchOutcome(BaseModel):
    """What one search returned, as cached and stored for later re-scoring."""

    request: SearchRequest
    fetched_at: datetime
    pages: list[SearchPage]
    response_time: float | None = None
    request_id: str | None = None
    credits: float | None = None  # what Tavily said the search cost (None: it did not say)


class Signal(BaseModel):
    """One piece of evidence, tied to the page it came from."""

    kind: str = Field(description="What the evidence is about (a kind of the rubric).")
    url: str = Field(description="URL of the source the excerpt was copied from.")
    excerpt: str = Field(description="A sentence copied verbatim from that source.")
    # When the cited page says it was published (YYYY-MM-DD), if it says so.
    published: str | None = None


class Classification(BaseModel):
    """The LLM's judgement of one company's need for GPU compute infrastructure."""

    tier: Tier = Field(description="HOT, WARM or COLD need for GPU compute infrastructure.")
    score: int = Field(ge=0, le=100, description="0 (no need) to 100 (urgent, large need).")
    confidence: Confidence = Field(description="How well the sources support the judgement.")
    reasoning: str = Field(description="Two or three sentences explaining the tier.")
    signals: list[Signal] = Field(description="The evidence, each with URL and verbatim excerpt.")


class Usage(BaseModel):
    """Tokens one LLM call used, as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class CompanyResult(BaseModel):
    """One company's outcome in one run: a classification, or a failure with its reason."""

    company_key: str
    name: str
    domain: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    # ok: classified; failed: could not be (see error); ambiguous: the results are about
    # several organisations of that name, so it was not guessed (see error; give a domain);
    # skipped: not researched because the run's cost cap would have been exceeded.
    status: Status
    classification: Classification | None = None
    error: str | None = None
    search_key: str | None = None
    search_fetched_at: datetime | None = None
    search_cached: bool = False
    model: str | None = None
    usage: Usage | None = None
    signals_dropped: int = 0
    tokens_estimated: bool = False  # the provider reported no usage for some call: estimated
    tavily_credits: float = 0.0  # credits this run paid for the company's search (0 if cached)
    llm_cost_usd: float | None = None  # None: no price for the model in the price table
    cost_usd: float | None = None  # search + LLM, this run
    rubric: str | None = None  # name@version of the rubric it was judged by
    # What the verdict rests on: pages read, domains, independent sources, stale evidence,
    # pages set aside as another organisation's, and the model's own confidence.
    evidence: dict[str, object] | None = None
