"""Shared fixtures: an isolated Prefect home and server, the simulators, and a clean env."""

import os
import signal
import tempfile
import time
from contextlib import ExitStack
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


# One migration of Prefect's database for the session: the first worker to start a Prefect test
# server migrates its database (14-15 s of CPU, 9 of them the migrations, on this project's
# 2-core machine) and leaves a copy; the others start on copies of that (5-6 s).
_MIGRATED = "migrated_prefect_db"


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent when xdist is not loaded
def pytest_configure_node(node) -> None:
    node.workerinput[_MIGRATED] = str(_shared_template())


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        template = _shared_template()
        for path in template.parent.glob(template.name + "*"):
            path.unlink(missing_ok=True)


def _shared_template() -> Path:
    """Where the session's migrated database goes (named by the controller's pid)."""
    return Path(tempfile.gettempdir()) / f"territory-tests-prefect-migrated-{os.getpid()}.db"


def _first_to_migrate(template: Path) -> bool:
    """Whether this worker is the one to migrate the session's database (the others wait)."""
    try:
        os.close(os.open(f"{template}.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _await_template(template: Path) -> None:
    failed = Path(f"{template}.failed")
    deadline = time.monotonic() + 180
    while not template.exists():
        assert not failed.exists(), f"the first Prefect test server failed: {failed.read_text()}"
        assert time.monotonic() < deadline, "the first Prefect test server took over 180 s"
        time.sleep(0.2)


def _start_test_server(running: ExitStack, config: pytest.Config, tmp_path_factory) -> Path:
    """Prefect's test harness entered on `running`, on a copy of the session's migrated
    database if another worker has made one (or making it, if this worker is the first);
    returns the path of the database it serves."""
    import prefect.testing.utilities
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    given = getattr(config, "workerinput", {}).get(_MIGRATED)
    template = Path(given) if given else None
    first = template is not None and _first_to_migrate(template)
    copy = None
    with pytest.MonkeyPatch.context() as patch:
        if template is not None and not first:
            _await_template(template)
            copy = tmp_path_factory.mktemp("prefect-test-server") / "prefect-test.db"
            snapshot_database(template, copy)
            # The harness makes its database in a new temporary folder: this one.
            patch.setattr(prefect.testing.utilities, "mkdtemp", lambda: str(copy.parent))
        try:
            running.enter_context(
                prefect.testing.utilities.prefect_test_harness(server_startup_timeout=60)
            )
        except BaseException as exc:
            if first:
                Path(f"{template}.failed").write_text(repr(exc))
            raise
    database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    assert copy is None or database == copy, database  # the copy, not a new database
    if first:
        partial = Path(f"{template}.partial")
        snapshot_database(database, partial)
        partial.rename(template)  # whole or not at all: the others wait for this name
    return database


@pytest.fixture(scope="session")
def prefect_server(request, tmp_path_factory):
    """One Prefect test server (temporary database) for the whole session."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Prefect's console handler keeps the stream it finds first: let that be the real stderr,
    # not a test's capsys buffer that is closed when the test ends.
    ensure_logging_setup()
    # Flow runs in this process send no liveness heartbeats: at its end a run waits for the
    # heartbeat thread's one-second sleep (0.8 s a run measured, for a few hundred runs).
    # Heartbeats only serve the server's detection of runs that died; the runs the e2e tests
    # start in processes of their own keep Prefect's default (every 180 s).
    no_heartbeats = temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    with ExitStack() as running:
        database = _start_test_server(running, request.config, tmp_path_factory)
        running.enter_context(no_heartbeats)
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
        # Set, then unset: monkeypatch then puts back what was there before (nothing, mostly)
        # even when the code under test writes os.environ itself (`--simulate` does).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = simulator_env(sims, tmp_path / "territory.duckdb") | {
        "TAVILY_TIMEOUT": "5",
        "LLM_TIMEOUT": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "prefect-results"}):
        yield tmp_path
