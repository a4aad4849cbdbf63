"""The Prefect way, for real: `prefect server start`, `prefect deploy` from prefect.yaml, a process
worker, deployment runs against the simulators; assertions on DuckDB, the Prefect API and what
reached the simulators. Run alone with `uv run pytest -m e2e`."""

import json
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from simulators.faults import FaultRule
from tests.helpers import (
    LLM_KEY,
    PREFECT,
    TAVILY_KEY,
    files_holding,
    key_needles,
    simulator_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]
ROOT = Path(__file__).parent.parent.parent


@pytest.fixture(scope="module")
def prefect_env(e2e_server):
    """The e2e Prefect server, with the deployments of prefect.yaml applied."""
    env, api, home = e2e_server
    run = dict(env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    created = subprocess.run(
        [*PREFECT, "work-pool", "create", "territory-process", "--type", "process"], **run
    )
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = subprocess.run([*PREFECT, "--no-prompt", "deploy", "--all"], **run)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    return env, api, home


@pytest.fixture
def worker_factory(prefect_env, sims, tmp_path):
    """Start process workers whose flow runs reach the simulators and a fresh DuckDB file."""
    env, _, _ = prefect_env
    env = env | simulator_env(sims, tmp_path / "territory.duckdb")
    # How often the worker asks the server for scheduled runs (Prefect's default is 10 s):
    # it only sets how soon a run created after the worker started is picked up.
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    started = []

    def start_worker(**extra: str) -> Path:
        log = open(tmp_path / f"worker-{len(started)}.log", "w")
        proc = subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", "territory-process"],
            env=env | extra,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        started.append((proc, log))
        return tmp_path

    yield start_worker
    for proc, log in started:
        # Ctrl-C, as a person stops a worker: it exits at once (on SIGTERM it lingered 30 s,
        # which was most of this file's time).
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def worker(worker_factory):
    return worker_factory()


def api_call(method: str, url: str, **kwargs) -> httpx.Response:
    """One API request, retried like Prefect's own client does when the server is busy: a
    SQLite-backed server answers 503 while its database is locked by other writes."""
    for attempt in range(6):
        response = httpx.request(method, url, timeout=30, **kwargs)
        if response.status_code not in (429, 502, 503) or attempt == 5:
            break
        time.sleep(1 + attempt)
    response.raise_for_status()
    return response


def start(api: str, deployment: str, request: dict) -> str:
    """Create a flow run of a deployment through the API, as the UI's Run button does."""
    dep = api_call("GET", f"{api}/deployments/name/territory-research/{deployment}")
    created = api_call(
        "POST",
        f"{api}/deployments/{dep.json()['id']}/create_flow_run",
        json={"parameters": {"request": request}},
    )
    return created.json()["id"]


def wait(api: str, flow_run_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api_call("GET", f"{api}/flow_runs/{flow_run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} did not finish in {timeout}s")


def both_running(api: str, flow_run_ids: list[str], timeout: float = 180) -> None:
    """Wait until every one of the flow runs is RUNNING (and none has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [api_call("GET", f"{api}/flow_runs/{r}").json()["state"] for r in flow_run_ids]
        ended = [s for s in states if s["type"] not in ("SCHEDULED", "PENDING", "RUNNING")]
        assert not ended, f"a flow run ended before the others ran: {ended}"
        if all(s["type"] == "RUNNING" for s in states):
            return
        time.sleep(0.5)
    raise AssertionError(f"the flow runs were not all running within {timeout}s")


def artifacts(api: str, flow_run_id: str) -> dict[str, dict]:
    found = api_call(
        "POST",
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
    ).json()
    return {a["key"]: a for a in found if a["key"]}


def test_deployment_run_then_rerun_failed_through_a_worker(prefect_env, worker, sims):
    _, api, _ = prefect_env
    names = [f"E2E Robotics {i}" for i in range(6)]
    csv = worker / "e2e.csv"
    csv.write_text("name,owner\n" + "\n".join(f"{n},Rep {i}" for i, n in enumerate(names)) + "\n")
    sims.llm.add_fault(FaultRule(kind="server_error", match=names[3]))

    run = wait(api, start(api, "ad-hoc", {"companies_csv": str(csv), "territory": "e2e"}))
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["name"].startswith("e2e-refresh-")
    with duckdb.connect(str(worker / "territory.duckdb"), read_only=True) as con:
        rows = dict(con.execute("SELECT company, status FROM company_results").fetchall())
        flow_run_id = con.execute("SELECT flow_run_id FROM runs").fetchone()[0]
    assert rows.pop(names[3]) == "failed" and set(rows.values()) == {"ok"} and len(rows) == 5
    assert flow_run_id == run["id"]
    arts = artifacts(api, run["id"])
    assert arts["progress-e2e"]["data"] == 100.0
    table = arts["territory-e2e"]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    assert len(table) == 6 and {r["company"] for r in table} == set(names)
    assert "| failed | 1 |" in arts["summary-e2e"]["data"]
    assert names[3] in arts["summary-e2e"]["data"]
    # Task runs reach the server as events; give its recorder a moment.
    expected = {"search chunk 0", "classify chunk 0"}  # one search and one classify per chunk
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task_runs = api_call(
            "POST", f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}}
        ).json()
        if expected <= {t["name"] for t in task_runs}:
            break
        time.sleep(1)
    assert expected <= {t["name"] for t in task_runs}

    sims.reset()
    rerun = wait(api, start(api, "rerun-failed", {"rerun_failed": True, "territory": "e2e"}))
    assert rerun["state"]["type"] == "COMPLETED", rerun["state"]
    assert {e["company"] for e in sims.llm.stats()["log"]} == {names[3]}
    assert all(names[3] in e["query"] for e in sims.tavily.stats()["log"])
    with duckdb.connect(str(worker / "territory.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FILTER (status = 'ok'), count(*) FROM company_results"
        ).fetchone() == (6, 6)


def test_two_runs_at_once_share_the_tavily_cap(prefect_env, worker_factory, sims, tmp_path):
    _, api, _ = prefect_env
    # The searches wait at the simulator's door until both flow runs are running: their
    # processes start up to 18 s apart on a loaded machine, and a run left to itself once
    # ended before the other began. Let go, each search takes 1.5 s: the second run reaches
    # its searches while the first one's are still going.
    sims.tavily.configure(held=True, latency={"median": 1.5, "sigma": 0.0, "max": 1.5})
    folder = tmp_path
    runs = []
    for territory in ("north", "south"):
        csv = folder / f"{territory}.csv"
        csv.write_text("name\n" + "\n".join(f"{territory.title()} Shared {i}" for i in range(5)))
        runs.append(start(api, "ad-hoc", {"companies_csv": str(csv), "territory": territory}))
    # Started after both runs are queued, the worker's first poll picks up both at once.
    # Both runs write the same DuckDB file, taking turns chunk by chunk.
    assert worker_factory(SHARE_LIMITS_ACROSS_RUNS="true", TAVILY_CONCURRENCY="2") == folder
    try:
        both_running(api, runs)
        # One run's first searches hold the two shared slots at the door. The other gets to
        # its own searches well within 2 s of running, and waits for a slot: were the cap not
        # shared, its searches would reach the simulator too (more than 2 in flight).
        deadline = time.monotonic() + 60
        while sims.tavily.stats()["in_flight"] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
    finally:
        sims.tavily.configure(held=False)
    finished = [wait(api, r) for r in runs]
    assert [r["state"]["type"] for r in finished] == ["COMPLETED", "COMPLETED"]
    stats = sims.tavily.stats()
    assert stats["requests"] == 10
    # The two flow runs really ran at the same time, and together never exceeded the cap.
    (a_start, a_end), (b_start, b_end) = [(r["start_time"], r["end_time"]) for r in finished]
    assert a_start < b_end and b_start < a_end
    assert stats["max_in_flight"] <= 2
    slots = api_call("GET", f"{api}/v2/concurrency_limits/territory-tavily").json()
    assert (slots["limit"], slots["active_slots"]) == (2, 0)  # every slot given back
    with duckdb.connect(str(folder / "territory.duckdb"), read_only=True) as con:
        counts = con.execute(
            "SELECT territory, count(*) FROM company_results GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert counts == [("north", 5), ("south", 5)]


def test_retrying_a_failed_flow_run_redoes_only_unfinished_work(prefect_env, worker, sims):
    _, api, _ = prefect_env
    names = [f"Retry Robotics {i}" for i in range(6)]
    csv = worker / "retry.csv"
    csv.write_text("name\n" + "\n".join(names) + "\n")
    # The LLM account runs dry after three answers: the run stops early and fails.
    sims.llm.configure(credits=3)
    request = {
        "companies_csv": str(csv),
        "territory": "retry",
        "batch_size": 2,
        "llm_concurrency": 1,
    }
    flow_run_id = start(api, "ad-hoc", request)
    first = wait(api, flow_run_id)
    assert first["state"]["type"] == "FAILED" and "insufficient_quota" in first["state"]["message"]
    with duckdb.connect(str(worker / "territory.duckdb"), read_only=True) as con:
        done = {c for (c,) in con.execute("SELECT company FROM company_results").fetchall()}
    assert len(done) == 3

    # "Retry" in the UI: the same flow run goes back to Scheduled and a worker runs it again.
    sims.reset()
    retried = api_call(
        "POST",
        f"{api}/flow_runs/{flow_run_id}/set_state",
        json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
    )
    assert retried.status_code in (200, 201), retried.text
    second = wait(api, flow_run_id, timeout=300)
    while second["state"]["type"] != "COMPLETED" and second["run_count"] < 2:
        second = wait(api, flow_run_id)
    assert second["state"]["type"] == "COMPLETED", second["state"]
    classified = [e["company"] for e in sims.llm.stats()["log"]]
    assert sorted(classified) == sorted(set(names) - done)  # finished companies not redone
    searched = sims.tavily.stats()["log"]
    assert all(not any(d in e["query"] for d in done) for e in searched)  # cached or stored
    with duckdb.connect(str(worker / "territory.duckdb"), read_only=True) as con:
        runs = con.execute(
            "SELECT count(*), any_value(status), any_value(n_ok) FROM runs "
            "WHERE territory = 'retry'"
        ).fetchone()
    assert runs == (1, "completed", 6)  # one run row, continued by the retry


def test_cancelling_from_the_ui_keeps_stored_chunks(prefect_env, worker, sims):
    _, api, _ = prefect_env
    sims.llm.configure(latency={"median": 1.0, "sigma": 0.0, "max": 1.0})
    csv = worker / "cancel.csv"
    csv.write_text("name\n" + "\n".join(f"Cancel Robotics {i}" for i in range(24)) + "\n")
    flow_run_id = start(
        api,
        "ad-hoc",
        {"companies_csv": str(csv), "territory": "cancel", "batch_size": 4, "llm_concurrency": 4},
    )
    db = worker / "territory.duckdb"
    deadline = time.monotonic() + 240
    stored = 0
    while stored < 4 and time.monotonic() < deadline:  # wait for the first stored chunk
        time.sleep(0.5)
        try:
            with duckdb.connect(str(db), read_only=True) as con:
                stored = con.execute("SELECT count(*) FROM company_results").fetchone()[0]
        except duckdb.Error:
            pass  # the file is being written right now
    assert stored >= 4
    # The UI's Cancel button: the run goes to Cancelling and its worker stops it.
    cancel = api_call(
        "POST",
        f"{api}/flow_runs/{flow_run_id}/set_state",
        json={"state": {"type": "CANCELLING"}, "force": True},
    )
    assert cancel.status_code in (200, 201), cancel.text
    final = wait(api, flow_run_id, timeout=180)
    assert final["state"]["type"] == "CANCELLED"
    time.sleep(1)
    with duckdb.connect(str(db), read_only=True) as con:
        status, why = con.execute(
            "SELECT status, message FROM runs WHERE territory = 'cancel'"
        ).fetchone()
        kept = con.execute(
            "SELECT count(*), count(*) FILTER (status = 'ok') "
            "FROM company_results WHERE territory = 'cancel'"
        ).fetchone()
    assert kept[0] == kept[1] and 4 <= kept[0] < 24
    assert status == "cancelled", why  # the flow saw the stop and recorded it


def test_no_key_reaches_the_server_its_api_or_the_worker_logs(prefect_env, worker, sims):
    """Last in this module: by now the server holds every deployment run above as well."""
    _, api, home = prefect_env
    names = [f"Secretive Robotics {i}" for i in range(4)]
    sims.llm.add_fault(FaultRule(kind="unauthorized", match=names[2]))  # a 401 on the way
    # Given in the request form (as the UI does), the names sit in the run's parameters on the
    # server whichever company the 401 stops first: what is searched below is what it wrote.
    companies = [{"name": n} for n in names]
    run = wait(api, start(api, "ad-hoc", {"companies": companies, "territory": "secret"}))
    assert run["state"]["type"] == "FAILED" and "401" in run["state"]["message"]

    # Everything the API serves about the runs: parameters, states, logs, artifacts. Logs
    # arrive in batches: wait until this run's final line is there.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        logs = api_call(
            "POST",
            f"{api}/logs/filter",
            json={"logs": {"flow_run_id": {"any_": [run["id"]]}}, "limit": 200},
        ).json()
        if any("rejected the API key" in log["message"] for log in logs):
            break
        time.sleep(1)
    served = []
    for path in ("flow_runs/filter", "artifacts/filter", "logs/filter", "deployments/filter"):
        offset = 0
        while True:
            page = api_call("POST", f"{api}/{path}", json={"limit": 200, "offset": offset}).json()
            served.extend(page)
            offset += len(page)
            if len(page) < 200:
                break
    kinds = [("parameters" in s, "message" in s and "level" in s, "key" in s) for s in served]
    assert all(map(any, zip(*kinds, strict=True)))  # flow runs, logs and artifacts were read
    text = json.dumps(served)
    assert "Secretive Robotics" in text
    for key in (TAVILY_KEY, LLM_KEY):
        assert not any(n.decode() in text for n in key_needles(key))
    # And on disk: the server's database and log, and the worker's log.
    assert (home / "prefect.db").stat().st_size > 0
    assert files_holding([TAVILY_KEY, LLM_KEY], home, *worker.glob("worker-*.log")) == []
