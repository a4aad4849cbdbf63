"""TASK_RUNNER=dask: the same flow with its tasks on a local Dask cluster of worker processes."""

import pytest

import tasks.providers
from tests.helpers import query, run_flow, write_csv

pytestmark = pytest.mark.slow


def test_dask_runs_the_tasks_in_worker_processes_with_caps_and_one_writer(
    territory_env, sims, monkeypatch
):
    monkeypatch.setenv("TASK_RUNNER", "dask")
    monkeypatch.setenv("DASK_WORKERS", "2")
    monkeypatch.setenv("BATCH_SIZE", "4")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "3")
    monkeypatch.setenv("LLM_CONCURRENCY", "2")
    sims.tavily.configure(latency={"median": 0.1, "sigma": 0.0, "max": 0.1})
    sims.llm.configure(latency={"median": 0.1, "sigma": 0.0, "max": 0.1})
    names = [f"Dask Worker Co {i:02d}" for i in range(16)]
    csv = write_csv(territory_env / "dask.csv", names)
    tasks.providers._cache.clear()

    state = run_flow(companies_csv=csv)

    assert state.is_completed(), state.message
    stored = query(territory_env, "SELECT company, status FROM company_results ORDER BY 1")
    assert stored == [(n, "ok") for n in names]
    assert query(territory_env, "SELECT count(*) FROM searches") == [(16,)]
    # Every request reached the simulators, but none was sent from the flow process: the
    # clients are built where the tasks run, and the flow process built none.
    assert sims.tavily.stats()["requests"] == 16 and sims.llm.stats()["requests"] == 16
    assert tasks.providers._cache == {}
    # The caps hold across worker processes (distributed semaphores).
    assert sims.tavily.stats()["max_in_flight"] <= 3
    assert sims.llm.stats()["max_in_flight"] <= 2
    # The tasks' CPU by phase came back from the worker processes in their outcomes.
    [(search_ms, classify_ms, companies)] = query(
        territory_env,
        "SELECT cpu_ms->>'$.search', cpu_ms->>'$.classify', cpu_ms->>'$.companies' FROM runs",
    )
    assert float(search_ms) > 0 and float(classify_ms) > 0 and int(companies) == 16
