"""Shared fixtures: an isolated Prefect home and server, the simulators, and a clean env."""

import base64
import os
import tempfile
from pathlib import Path

# Before Prefect is imported anywhere: a private home, so tests never touch ~/.prefect.
_HOME = tempfile.mkdtemp(prefix="territory-tests-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILES_PATH", None)

import pytest  # noqa: E402

TAVILY_KEY = "tvly-test-KEY-7f3a9c"
LLM_KEY = "sk-test-KEY-51e2b8"


def _setting_names() -> list[str]:
    """Every environment variable the Settings model reads (names and aliases), so that a
    developer's shell or .env cannot leak into a test."""
    from pydantic import AliasChoices

    from territory.settings import Settings

    names = []
    for name, field in Settings.model_fields.items():
        names.append(name.upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names += [str(choice).upper() for choice in alias.choices]
    return sorted(set(names))


SETTING_NAMES = _setting_names()


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


def key_needles(key: str) -> list[bytes]:
    """How a key could sit in a file: as text, or inside base64 (pickled or encoded results),
    at each of the three alignments base64 can give it."""
    raw = key.encode()
    needles = [raw]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        # Drop the characters that mix in the neighbouring bytes at either end.
        start = (offset * 4 + 2) // 3 + (1 if offset else 0)
        needles.append(encoded[start : len(encoded) - 4])
    return [n for n in needles if len(n) >= 12]


def files_holding(keys: list[str], *places: Path | str) -> list[str]:
    """Every file under `places` that holds any of `keys` (in any form of key_needles)."""
    needles = [n for key in keys for n in key_needles(key)]
    found = []
    for place in map(Path, places):
        paths = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
        for path in paths:
            try:
                blob = path.read_bytes()
            except OSError:
                continue  # a socket, or a file that vanished while we looked
            if any(n in blob for n in needles):
                found.append(str(path))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_key_left_behind(tmp_path_factory):
    """After the whole suite has run with these recognisable keys, none of them is anywhere the
    runs wrote: DuckDB files, Prefect homes and result storage, logs, servers' databases."""
    yield
    leaks = files_holding([TAVILY_KEY, LLM_KEY], tmp_path_factory.getbasetemp(), _HOME)
    assert not leaks, f"a key was written to disk: {leaks[:10]}"


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server (temporary database) for the whole session."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
    from prefect.testing.utilities import prefect_test_harness

    # Prefect's console handler keeps the stream it finds first: let that be the real stderr,
    # not a test's capsys buffer that is closed when the test ends.
    ensure_logging_setup()
    with prefect_test_harness(server_startup_timeout=60):
        database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
        yield
    # The server is stopped and its logs drained; its database (flow runs, parameters, logs,
    # artifacts of every test) must not hold a key either.
    leaks = files_holding([TAVILY_KEY, LLM_KEY], *database.parent.glob(database.name + "*"))
    assert not leaks, f"a key reached the Prefect test server's database: {leaks}"


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


def seed_database(db):
    """A database holding one finished run with a HOT, a COLD and a failed company."""
    from storage.duckdb_store import TerritoryStore
    from tasks.models import Classification, CompanyResult, Signal

    hot = Classification(
        tier="HOT",
        score=91,
        confidence="high",
        reasoning="Trains models.",
        signals=[
            Signal(
                kind="ml_training",
                url="https://h.example/a",
                excerpt="Helix trains LLMs on 2,000 H100s.",
            )
        ],
    )
    cold = Classification(
        tier="COLD", score=5, confidence="medium", reasoning="A bakery.", signals=[]
    )
    with TerritoryStore.open(db) as store:
        run = store.start_run("emea", "full", {}, None, 3, 0, 3)
        store.save_results(
            run,
            "emea",
            [
                CompanyResult(
                    company_key="helix",
                    name="Helix AI",
                    domain="h.example",
                    status="ok",
                    classification=hot,
                    metadata={"owner": "Dana", "crm_id": "7"},
                ),
                CompanyResult(
                    company_key="crumb",
                    name="Crumb Bakery",
                    status="ok",
                    classification=cold,
                    metadata={"owner": "Lee", "crm_id": "8"},
                ),
                CompanyResult(
                    company_key="initech",
                    name="Initech",
                    status="failed",
                    error="search failed: Tavily HTTP 500",
                    metadata={"owner": "Lee", "crm_id": "9"},
                ),
            ],
        )
        store.finish_run(run, "completed")
    return db
