"""Fixtures for the simulator tests: one pair of servers per session, reset before each test."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import openai
import pytest

# pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored in the processes
# they start: a CLI under test would shrug off Ctrl-C. Give it back its default meaning.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
import tavily
from sim_helpers import LLM_KEY, TAVILY_KEY, wait_until

from simulators.server import Simulators, start_simulators


@pytest.fixture(scope="session")
def sim_servers() -> Iterator[Simulators]:
    with start_simulators(tavily_keys={TAVILY_KEY}, llm_keys={LLM_KEY}, latency="none") as sims:
        yield sims


@pytest.fixture
def sims(sim_servers: Simulators) -> Simulators:
    """The running simulators with clean stats, no faults and the default config."""
    wait_until(lambda: sim_servers.tavily.stats()["in_flight"] == 0)
    wait_until(lambda: sim_servers.llm.stats()["in_flight"] == 0)
    sim_servers.reset()
    return sim_servers


@pytest.fixture
def tavily_client(sims: Simulators) -> Iterator[tavily.TavilyClient]:
    with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
        yield client


@pytest.fixture
def llm_client(sims: Simulators) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key=LLM_KEY, base_url=sims.llm_url, max_retries=0)
    yield client
    client.close()
