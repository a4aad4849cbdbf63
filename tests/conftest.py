"""Shared fixtures: an isolated Prefect home and server, the simulators, and a clean env."""

import os
import tempfile

# Before Prefect is imported anywhere: a private home, so tests never touch ~/.prefect.
_HOME = tempfile.mkdtemp(prefix="territory-tests-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILES_PATH", None)

import pytest  # noqa: E402

TAVILY_KEY = "tvly-test-KEY-7f3a9c"
LLM_KEY = "sk-test-KEY-51e2b8"
SETTING_NAMES = [
    "TAVILY_API_KEY",
    "TAVILY_BASE_URL",
    "LLM_API_KEY",
    "OPENAI_API_KEY",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "TERRITORY_DB",
    "TAVILY_CONCURRENCY",
    "BATCH_SIZE",
    "LLM_CONCURRENCY",
    "ENABLE_BATCH_PROCESSING",
    "SEARCH_CACHE_TTL",
    "SEARCH_MIN_SCORE",
    "MAX_ATTEMPTS",
    "RETRY_BASE_DELAY",
    "RETRY_MAX_DELAY",
    "TAVILY_TIMEOUT",
    "LLM_TIMEOUT",
    "LLM_STRUCTURED_OUTPUT",
    "CONTEXT_MAX_CHARS",
    "RATE_LIMIT_WINDOW",
    "TASK_RUNNER",
    "DASK_ADDRESS",
    "DASK_WORKERS",
]


def simulator_env(sims, db) -> dict[str, str]:
    """Settings that point a run (in this process or another) at the simulators and `db`."""
    return {
        "TAVILY_API_KEY": TAVILY_KEY,
        "TAVILY_BASE_URL": sims.tavily_url,
        "LLM_API_KEY": LLM_KEY,
        "LLM_BASE_URL": sims.llm_url,
        "LLM_MODEL": "sim-model",
        "TERRITORY_DB": str(db),
        "RETRY_BASE_DELAY": "0.05",
        "RETRY_MAX_DELAY": "0.2",
    }


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server (temporary database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def simulators():
    """The bundled Tavily and LLM simulators on loopback, shared by the session."""
    from territory.simulators.server import start_simulators

    with start_simulators(tavily_keys={TAVILY_KEY}, llm_keys={LLM_KEY}, latency="none") as sims:
        yield sims


@pytest.fixture
def sims(simulators):
    """The simulators, reset to a clean state (no faults, no stats) for each test."""
    simulators.reset()
    yield simulators
    simulators.reset()


@pytest.fixture
def territory_env(monkeypatch, tmp_path, sims, prefect_server):
    """Settings pointing at the simulators, a fresh database and a fresh search cache."""
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    env = simulator_env(sims, tmp_path / "territory.duckdb") | {
        "TAVILY_TIMEOUT": "5",
        "LLM_TIMEOUT": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "prefect-results"}):
        yield tmp_path
