"""The LLM simulator's settings and state: provider mode, models, quota, injection gullibility."""

from __future__ import annotations

import dataclasses
from typing import Any

from simulators.faults import LLM_FAULT_KINDS
from simulators.limits import CreditLedger
from simulators.llm_wire import LLM_MODES
from simulators.state import BaseConfig, SimulatorState

DEFAULT_LLM_KEY = "sk-sim-key"


@dataclasses.dataclass(frozen=True)
class LLMConfig(BaseConfig):
    """LLM settings: provider mode, json_schema support, model allowlist, how the model writes."""

    keys: frozenset[str] = frozenset({DEFAULT_LLM_KEY})
    mode: str = "openai"
    json_schema_supported: bool = True
    models: frozenset[str] | None = None
    # Completions each key may make before the account is out of quota (429
    # insufficient_quota until reset); None = unlimited.
    credits: int | None = None
    # A gullible model: it obeys instructions planted in the pages it reads.
    follows_injections: bool = False
    # OpenAI's x-ratelimit-* headers on every response (openai mode); off, none are sent, as
    # by vLLM and by gateways that enforce limits without stating them.
    limit_headers: bool = True
    # llama.cpp and Ollama know only max_tokens; without it the model writes until its
    # context (this many tokens, prompt included) is full, at this many tokens a second.
    context_tokens: int = 4096
    tokens_per_second: float = 40.0
    # A model too small to fill the schema: every answer is JSON of a shape of its own.
    cannot_fill_schema: bool = False

    def validate(self, service: str) -> None:
        """Also check the provider mode and the generation settings."""
        super().validate(service)
        if self.mode not in LLM_MODES:
            raise ValueError(f"mode must be one of {LLM_MODES}")
        if self.context_tokens < 1:
            raise ValueError("context_tokens must be >= 1")
        if self.tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be > 0")


class LLMSimulator(SimulatorState):
    """State of the chat-completions simulator (config, faults, RPM windows, stats)."""

    service = "llm"

    def __init__(self, config: LLMConfig | None = None) -> None:
        super().__init__(config or LLMConfig(), LLM_FAULT_KINDS)
        self._ledger = CreditLedger()

    def try_spend(self, key: str) -> bool:
        """Use one completion of the key's quota, or return False once it is exhausted."""
        budget = self.config.credits  # type: ignore[attr-defined]
        with self._lock:
            if not self._ledger.can_spend(key, 1, budget):
                return False
            self._ledger.spend(key, 1)
            return True

    def refund(self, key: str) -> None:
        """Return the quota reserved by a request that a fault turned into an error."""
        with self._lock:
            self._ledger.refund(key, 1)

    def _extra_stats(self) -> dict[str, Any]:
        with self._lock:
            return {"credits_used": self._ledger.total_used()}

    def _reset_extra(self) -> None:
        self._ledger.clear()

    @property
    def mode(self) -> str:
        """The provider whose error shapes are imitated."""
        return self.config.mode  # type: ignore[attr-defined]
