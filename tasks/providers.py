"""The two outside services, as one picklable description that builds their clients.

Tasks receive a `Providers` rather than client objects: it pickles (so the same tasks run on
Dask workers), and each process builds its clients and pacers from it once per run, shared
by all of that process's threads. Keys stay `SecretStr`, so a repr or a log line never shows
them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pydantic import SecretStr

from tasks.fakes import Fakes
from tasks.llm_client import DEFAULT_KINDS, Classifier, OpenAICompatibleClassifier
from tasks.logs import say
from tasks.pacing import Pacer
from tasks.retry import RetryPolicy
from tasks.tavily_client import SearchClient, TavilySearchClient

_RUNS_KEPT = 4  # clients of this many recent runs stay cached per process


@dataclass(frozen=True)
class Providers:
    """How one run reaches Tavily and the LLM."""

    run_id: str  # clients and pacers are per run: a new run starts with a fresh pace
    tavily_key: SecretStr
    tavily_url: str
    tavily_timeout: float
    tavily_pool: int
    llm_key: SecretStr
    llm_url: str | None
    llm_model: str
    llm_timeout: float
    structured_output: str
    max_output_tokens: int
    policy: RetryPolicy
    rate_limit_window: float = 60.0
    outage_patience: float = 600.0  # how long a provider failing everything is waited for
    signal_kinds: tuple[str, ...] = DEFAULT_KINDS  # the rubric's: the LLM's answer schema
    fakes: Fakes | None = None  # in-process clients instead of the live ones (tests)

    def search_client(self) -> SearchClient:
        """This process's Tavily client for the run."""
        return _built(self).search

    def classifier(self) -> Classifier:
        """This process's LLM client for the run."""
        return _built(self).classify

    def search_pace(self) -> Pacer:
        """This process's pacer for Tavily requests."""
        return _built(self).search_pace

    def llm_pace(self) -> Pacer:
        """This process's pacer for LLM requests."""
        return _built(self).llm_pace

    def abort(self) -> None:
        """Cut this process's LLM requests in flight for the run (it is stopping)."""
        with _cache_lock:
            built = _cache.get(self)
        if built is not None:
            built.classify.abort()


@dataclass
class _Built:
    search: SearchClient
    classify: Classifier
    search_pace: Pacer
    llm_pace: Pacer


_cache: dict[Providers, _Built] = {}
_cache_lock = threading.Lock()


def _built(p: Providers) -> _Built:
    with _cache_lock:
        built = _cache.get(p)
        if built is None:
            search, classify = (
                (p.fakes.search, p.fakes.classifier) if p.fakes is not None else _live(p)
            )
            built = _cache[p] = _Built(
                search,
                classify,
                Pacer("Tavily", p.rate_limit_window, p.outage_patience, say=say),
                Pacer("The LLM", p.rate_limit_window, p.outage_patience, say=say),
            )
            while len(_cache) > _RUNS_KEPT:
                del _cache[next(iter(_cache))]
        return built


def _live(p: Providers) -> tuple[SearchClient, Classifier]:
    """The real clients: tavily-python and openai."""
    return (
        TavilySearchClient(
            p.tavily_key.get_secret_value(), p.tavily_url, p.tavily_timeout, p.tavily_pool
        ),
        OpenAICompatibleClassifier(
            p.llm_key.get_secret_value(),
            p.llm_url,
            p.llm_model,
            p.llm_timeout,
            p.structured_output,
            p.max_output_tokens,
            p.signal_kinds,
        ),
    )
