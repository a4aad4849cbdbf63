"""Helpers shared by the simulator tests: the project's classification model and prompts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simulators.content import DEFAULT_QUERY_TAIL

TAVILY_KEY = "tvly-sim-key"
LLM_KEY = "sk-sim-key"


class Signal(BaseModel):
    """Mirror of the project's classification signal (kept local so these tests stand alone)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal[
        "funding", "headcount", "ml_training", "inference", "gpu_infrastructure", "hiring", "other"
    ]
    url: str
    excerpt: str


class Classification(BaseModel):
    """Mirror of the project's classification model."""

    model_config = ConfigDict(extra="forbid")
    tier: Literal["HOT", "WARM", "COLD"]
    score: int = Field(ge=0, le=100)
    confidence: Literal["high", "medium", "low"]
    reasoning: str
    signals: list[Signal]


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll until `predicate()` is true (server-side bookkeeping runs on another thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def default_query(company: str) -> str:
    """The project's default research query for a company."""
    return f"{company} {DEFAULT_QUERY_TAIL}"


def build_prompt(company: str, results: list[dict[str, Any]], min_score: float = 0.4) -> str:
    """A user message in the project's format: Company line plus <source> blocks."""
    blocks = []
    for index, result in enumerate(r for r in results if r["score"] >= min_score):
        text = result.get("raw_content") or result["content"]
        blocks.append(
            f'<source id="{index + 1}" url="{result["url"]}" title="{result["title"]}" '
            f'score="{result["score"]:.2f}">\n{text}\n</source>'
        )
    return f"Company: {company}\n\nClassify this company's need for GPU compute.\n\n" + "\n".join(
        blocks
    )


def schema_format() -> dict[str, Any]:
    """The response_format the project sends: a strict json_schema of Classification."""
    from openai.lib._pydantic import to_strict_json_schema

    return {
        "type": "json_schema",
        "json_schema": {
            "name": "Classification",
            "schema": to_strict_json_schema(Classification),
            "strict": True,
        },
    }
