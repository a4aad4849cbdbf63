"""What the tests share: the session's recognisable keys, the settings to clear, the runs'
environment, reading DuckDB back, writing account files, seeding territories (as runs leave
them), looking for leaked keys, and a real `prefect server start` on loopback."""

import base64
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx

TAVILY_KEY = "tvly-test-KEY-7f3a9c"
LLM_KEY = "sk-test-KEY-51e2b8"
# The CRM tokens the CRM tests use: checked for leaks like the provider keys.
HUBSPOT_TOKEN = "pat-na1-test-TOKEN-c0ffee"
SALESFORCE_TOKEN = "00Dsim!test-TOKEN-5a1e5f"
CRM_TOKENS = [HUBSPOT_TOKEN, SALESFORCE_TOKEN]


def _setting_names() -> list[str]:
    """Every environment variable the Settings model reads (names and aliases), so that a
    developer's shell or .env cannot leak into a test."""
    from pydantic import AliasChoices

    from flows.settings import Settings

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


# An empty Prefect database at the current schema, copied from the test server's as it starts.
# A CLI run on a fresh PREFECT_HOME migrates a new database before its flow starts (10-20 s
# here); homes made by `fresh_prefect_home` start from this copy instead.
MIGRATED_PREFECT_DB = Path(tempfile.gettempdir()) / f"territory-tests-prefect-{os.getpid()}.db"


def snapshot_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (through SQLite's backup, WAL included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def fresh_prefect_home(path: Path) -> Path:
    """A new PREFECT_HOME whose database is already migrated (needs the `prefect_server`
    fixture, which makes the copy)."""
    path.mkdir(parents=True, exist_ok=True)
    snapshot_database(MIGRATED_PREFECT_DB, path / "prefect.db")
    return path


def query(where, sql, args=()):
    """Rows of `sql` against a DuckDB file, or against `territory.duckdb` in a directory."""
    path = Path(where)
    db = path / "territory.duckdb" if path.is_dir() else path
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(args)).fetchall()


def write_csv(path, names, domains=None, extra=None):
    """An accounts file of `names` (with owners and CRM ids); returns its path as text."""
    lines = ["name,domain,owner,crm_id"]
    for i, name in enumerate(names):
        domain = (domains or {}).get(name, "")
        lines.append(f"{name},{domain},Owner {i % 3},CRM-{i:04d}")
    lines.extend(extra or [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run_flow(**params):
    """The flow, in this process, against the session's Prefect server; its final state."""
    from flows.parameters import ResearchRequest
    from flows.territory_research import research_territory

    return research_territory(ResearchRequest(**params), return_state=True)


def seed_database(db):
    """A database holding one finished run with a HOT, a COLD and a failed company."""
    from domain.models import Classification, CompanyResult, Signal
    from storage.duckdb_store import TerritoryStore

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


def seed_territory(db, companies):
    """A territory `t` of (name, domain, metadata, tier or None) companies: ok with that
    tier (one signal each), or failed without one. Returns the store."""
    from domain.models import Classification, CompanyResult, Signal
    from storage.duckdb_store import TerritoryStore

    with TerritoryStore.open(db) as store:
        run = store.start_run("t", "full", {}, None, len(companies), 0, len(companies))
        results = []
        for name, domain, metadata, tier in companies:
            verdict = (
                Classification(
                    tier=tier,
                    score={"HOT": 90, "WARM": 50, "COLD": 10}[tier],
                    confidence="high",
                    reasoning=f"{name} reasons\nover two lines.",
                    signals=[
                        Signal(
                            kind="ml_training",
                            url=f"https://{name}.example/gpu",
                            excerpt="Trains models on GPUs.",
                        )
                    ],
                )
                if tier
                else None
            )
            results.append(
                CompanyResult(
                    company_key=name.lower(),
                    name=name,
                    domain=domain,
                    status="ok" if tier else "failed",
                    classification=verdict,
                    error=None if tier else "search failed",
                    metadata=metadata,
                )
            )
        store.save_results(run, "t", results)
        store.finish_run(run, "completed")
    return TerritoryStore.open(db)


def seed_searched_territory(csv, territory):
    """A territory as a full run against the simulators leaves it, without the run: each
    company of `csv` searched (the body the Tavily simulator answers, stored as the search task
    stores it) and classified ok with the tier its pages imply, through the store's methods.
    The settings (the database, the search's parameters) are the environment's: `territory_env`.
    """
    from domain.accounts import read_accounts
    from domain.models import Classification, CompanyResult
    from domain.rubric import load_rubric
    from flows.parameters import ResearchRequest
    from flows.research_run import StoredSearchPlan
    from flows.settings import load_settings
    from simulators.content import expected_tier
    from storage.duckdb_store import TerritoryStore
    from tasks.search import to_outcome

    settings = load_settings()
    rubric = load_rubric(settings.rubric_file)
    accounts = read_accounts(csv).accounts
    request = ResearchRequest(companies_csv=str(csv), territory=territory)
    with TerritoryStore.open(settings.territory_db) as store:
        plan = StoredSearchPlan(settings, rubric, store, territory, request)
        searches = [plan.request(a) for a in accounts]  # the queries the flow sends
        outcomes = [to_outcome(s, tavily_answer(s), settings.context_max_chars) for s in searches]
        run = store.start_run(territory, "full", {}, None, len(accounts), 0, len(accounts))
        store.save_searches(outcomes, run)
        results = []
        for account, outcome in zip(accounts, outcomes, strict=True):
            tier = expected_tier(account.name, account.domain)
            verdict = Classification(
                tier=tier,
                score={"HOT": 85, "WARM": 50, "COLD": 10}[tier],
                confidence="high",
                reasoning=f"What the pages of {account.name} say.",
                signals=[],
            )
            results.append(
                CompanyResult(
                    company_key=account.key,
                    name=account.name,
                    domain=account.domain,
                    metadata=account.metadata,
                    status="ok",
                    classification=verdict,
                    search_key=outcome.request.cache_key,
                    search_fetched_at=outcome.fetched_at,
                    model=settings.llm_model,
                    rubric=rubric.label,
                )
            )
        store.save_results(run, territory, results)
        store.finish_run(run, "completed")


def tavily_answer(search) -> dict:
    """The body the Tavily simulator answers to this search from the search task's client."""
    from simulators.content import search_pages
    from simulators.tavily_wire import CREDIT_COST, search_response

    sent = {
        "query": search.query,
        "search_depth": search.search_depth,
        "max_results": search.max_results,
        "include_raw_content": search.include_raw_content,
        "include_usage": True,
    }
    pages = search_pages(search.query, search.max_results, None, None, epoch=0)
    return search_response(sent, pages, search.search_depth, 0.0, CREDIT_COST[search.search_depth])


def free_port() -> int:
    """A loopback port nobody is listening on (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PREFECT = [sys.executable, "-m", "prefect"]


@contextmanager
def start_prefect_server(home: Path) -> Iterator[tuple[dict[str, str], str]]:
    """`prefect server start` with its own PREFECT_HOME; yields the environment that points a
    process at it (no key or setting of the developer's shell) and its API URL."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TAVILY_", "LLM_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Large maps: record every task run (the default recorder drops events past 10k).
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    }
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=home,
    )
    env["PREFECT_API_URL"] = api
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                home / "server.log"
            ).read_text()[-3000:]
            time.sleep(0.5)
        yield env, api
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
