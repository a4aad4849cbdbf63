"""What a run costs: Tavily credits and LLM tokens turned into money by a price table in config.

The table is `domain/prices.toml` unless PRICES_FILE names another. Tokens come from the
provider's `usage` when it reports one and are estimated (and marked so) when it does not.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.errors import ConfigError, first_problem

DEFAULT_PRICES_FILE = Path(str(resources.files("domain") / "prices.toml"))
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text, when a provider reports none


class PricesError(ConfigError):
    """A price table that cannot be used, in one line."""


class ModelPrice(BaseModel):
    """USD per million input and output tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class TavilyPrice(BaseModel):
    """USD per credit, and credits per search by depth."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    usd_per_credit: float = Field(ge=0)
    credits: dict[str, float] = Field(default_factory=lambda: {"basic": 1.0, "advanced": 2.0})


class Prices(BaseModel):
    """The whole price table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tavily: TavilyPrice
    llm: dict[str, ModelPrice] = Field(default_factory=dict)

    def search_credits(self, depth: str) -> float:
        """Credits one search of this depth costs (advanced when unknown: the dearer guess)."""
        return self.tavily.credits.get(depth, self.tavily.credits.get("advanced", 2))

    def tavily_usd(self, credits: float) -> float:
        """Money for Tavily credits."""
        return credits * self.tavily.usd_per_credit

    def llm_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Money for tokens of `model`, or None when the table has no price for it."""
        price = self.llm.get(model)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def load_prices(path: Path | str | None = None) -> Prices:
    """Read and check a price table (the bundled one when `path` is None)."""
    path = Path(path) if path else DEFAULT_PRICES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PricesError(f"{path}: price table not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PricesError(f"{path}: cannot read the price table ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PricesError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Prices.model_validate(data)
    except ValidationError as exc:
        where, what = first_problem(exc, "prices")
        raise PricesError(f"{path}: {where}: {what}") from None


def estimate_tokens(text: str) -> int:
    """Tokens a text is likely to be, for providers that report no usage."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


@dataclass
class Spend:
    """Tokens one company's LLM calls used, failed attempts included (they are billed too)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False  # some call reported no usage, so part of this is an estimate
    calls: int = 0

    def add(self, usage: object | None, prompt_text: str, answer_text: str) -> None:
        """Count one answered call; without a reported usage, estimate it from the text."""
        self.calls += 1
        if usage is None:
            self.prompt_tokens += estimate_tokens(prompt_text)
            self.completion_tokens += estimate_tokens(answer_text) if answer_text else 0
            self.estimated = True
            return
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)


def cost_line(run: dict[str, Any]) -> str:
    """`$1.23 (Tavily $0.80 for 100 credits, LLM $0.43), $12.30 per 1,000 companies`."""
    done = sum(run.get(k) or 0 for k in ("n_ok", "n_failed", "n_ambiguous"))
    cost = run.get("cost_usd") or 0.0
    text = (
        f"${cost:.2f} (Tavily ${run.get('tavily_cost_usd') or 0:.2f} for "
        f"{run.get('tavily_credits') or 0:g} credits, LLM ${run.get('llm_cost_usd') or 0:.2f}"
        + (", tokens partly estimated" if run.get("tokens_estimated") else "")
        + ")"
    )
    if done:
        text += f", ${1000 * cost / done:.2f} per 1,000 companies"
    if run.get("cost_complete") is False:
        text += "; the LLM model has no price in PRICES_FILE, so its cost is not counted"
    return text


def per_thousand(run: dict[str, Any]) -> float | None:
    """The run's cost per 1,000 companies researched (None when it researched none)."""
    done = sum(run.get(k) or 0 for k in ("n_ok", "n_failed", "n_ambiguous"))
    return round(1000 * (run.get("cost_usd") or 0.0) / done, 2) if done else None
