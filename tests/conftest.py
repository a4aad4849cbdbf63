"""Shared fixtures: an isolated Prefect home and server, the simulators, and a clean env."""

import os
import signal
import tempfile
from pathlib import Path

# Before Prefect is imported anywhere: a private home, so tests never touch ~/.prefect.
_HOME = tempfile.mkdtemp(prefix="territory-tests-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILES_PATH", None)

import pytest  # noqa: E402

# pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored in the processes
# they start: a CLI under test would shrug off Ctrl-C. Give it back its default meaning.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from tests.helpers import (  # noqa: E402
    CRM_TOKENS,
    LLM_KEY,
    MIGRATED_PREFECT_DB,
    SETTING_NAMES,
    TAVILY_KEY,
    files_holding,
    simulator_env,
    snapshot_database,
)


@pytest.fixture(scope="session", autouse=True)
def no_key_left_behind(tmp_path_factory):
    """After the whole suite has run with these recognisable keys, none of them is anywhere the
    runs wrote: DuckDB files, Prefect homes and result storage, logs, servers' databases."""
    yield
    leaks = files_holding([TAVILY_KEY, LLM_KEY, *CRM_TOKENS], tmp_path_factory.getbasetemp(), _HOME)
    assert not leaks, f"a key was written to disk: {leaks[:10]}"


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server (temporary database) for the whole session."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_DATABASE_CONNECTION_URL,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Prefect's console handler keeps the stream it finds first: let that be the real stderr,
    # not a test's capsys buffer that is closed when the test ends.
    ensure_logging_setup()
    # Flow runs in this process send no liveness heartbeats: at its end a run waits for the
    # heartbeat thread's one-second sleep (0.8 s a run measured, for a few hundred runs).
    # Heartbeats only serve the server's detection of runs that died; the runs the e2e tests
    # start in processes of their own keep Prefect's default (every 180 s).
    no_heartbeats = temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    with prefect_test_harness(server_startup_timeout=60), no_heartbeats:
        database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
        snapshot_database(database, MIGRATED_PREFECT_DB)  # empty, migrated: see helpers
        try:
            yield
        finally:
            MIGRATED_PREFECT_DB.unlink(missing_ok=True)
    # The server is stopped and its logs drained; its database (flow runs, parameters, logs,
    # artifacts of every test) must not hold a key either.
    leaks = files_holding(
        [TAVILY_KEY, LLM_KEY, *CRM_TOKENS], *database.parent.glob(database.name + "*")
    )
    assert not leaks, f"a key reached the Prefect test server's database: {leaks}"


@pytest.fixture(scope="session")
def simulators():
    """The bundled Tavily and LLM simulators on loopback, shared by the session."""
    from simulators.server import start_simulators

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
