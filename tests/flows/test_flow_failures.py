"""The whole flow through Prefect when a provider pushes back or breaks: retries that honour
Retry-After, a bad key, one failing company and rerunning it, invalid model output, a provider
without JSON schema, exhausted quota and credits; assertions on DuckDB and on what reached the
simulators."""

import pytest

from simulators.faults import FaultRule
from tests.helpers import query, run_flow, write_csv

pytestmark = pytest.mark.slow
NAMES = [f"Northwind Analytics {i:02d}" for i in range(10)]


def tavily_queries(sims):
    return [e["query"] for e in sims.tavily.stats()["log"]]


def test_429_and_5xx_are_retried_honouring_retry_after(territory_env, sims):
    target = NAMES[0]
    sims.tavily.add_fault(FaultRule(kind="rate_limit", match=target, times=1, retry_after=1))
    sims.llm.add_fault(FaultRule(kind="unavailable", match=NAMES[1], times=2))
    csv = write_csv(territory_env / "retry.csv", NAMES[:3])
    assert run_flow(companies_csv=csv).is_completed()
    hits = [e for e in sims.tavily.stats()["log"] if target in e["query"]]
    assert [e["status"] for e in hits] == [429, 200]
    assert hits[1]["t"] - hits[0]["t_end"] >= 1.0  # waited out Retry-After
    llm_hits = [e for e in sims.llm.stats()["log"] if e["company"] == NAMES[1]]
    assert [e["status"] for e in llm_hits] == [503, 503, 200]
    assert query(territory_env, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [
        (3,)
    ]


def test_bad_tavily_key_is_not_retried_and_stops_the_run(territory_env, sims, monkeypatch):
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-wrong")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "2")
    csv = write_csv(territory_env / "auth.csv", NAMES)
    state = run_flow(companies_csv=csv)
    assert state.is_failed()
    assert "401" in state.message and "TAVILY_API_KEY" in state.message
    # No retries and no further companies: at most the two requests already in flight.
    by_status = sims.tavily.stats()["by_status"]
    assert set(by_status) == {401} and 1 <= by_status[401] <= 2
    assert sims.llm.stats()["requests"] == 0
    assert query(territory_env, "SELECT status, message LIKE '%401%' FROM runs") == [
        ("stopped", True)
    ]


def test_one_failing_company_is_recorded_and_rerun_failed_touches_only_it(territory_env, sims):
    bad = NAMES[2]
    sims.tavily.add_fault(FaultRule(kind="server_error", match=bad))
    csv = write_csv(territory_env / "iso.csv", NAMES[:5])
    state = run_flow(companies_csv=csv)
    assert state.is_completed()
    rows = dict(query(territory_env, "SELECT company, status FROM company_results"))
    assert rows.pop(bad) == "failed" and set(rows.values()) == {"ok"}
    error = query(territory_env, "SELECT error FROM company_results WHERE company = ?", [bad])[0][0]
    assert "500" in error and "gave up after 4 attempts" in error
    assert [e["status"] for e in sims.tavily.stats()["log"] if bad in e["query"]] == [500] * 4

    sims.reset()
    state = run_flow(territory="iso", rerun_failed=True)
    assert state.is_completed()
    assert tavily_queries(sims) and all(bad in q for q in tavily_queries(sims))
    assert [e["company"] for e in sims.llm.stats()["log"]] == [bad]
    assert query(
        territory_env, "SELECT count(*), count(*) FILTER (status = 'ok') FROM company_results"
    ) == [(5, 5)]
    assert query(territory_env, "SELECT mode, n_companies FROM runs ORDER BY started_at") == [
        ("full", 5),
        ("rerun-failed", 1),
    ]


def test_invalid_llm_output_is_retried_then_recorded_as_failed(territory_env, sims):
    sims.llm.add_fault(FaultRule(kind="schema_violation", match=NAMES[0]))
    sims.llm.add_fault(FaultRule(kind="length", match=NAMES[1], times=1))
    sims.llm.add_fault(FaultRule(kind="refusal", match=NAMES[2], times=1))
    csv = write_csv(territory_env / "invalid.csv", NAMES[:4])
    assert run_flow(companies_csv=csv).is_completed()
    rows = dict(
        query(territory_env, "SELECT company, coalesce(error, status) FROM company_results")
    )
    assert "did not match the schema" in rows[NAMES[0]]
    assert rows[NAMES[1]] == rows[NAMES[2]] == rows[NAMES[3]] == "ok"
    assert len([e for e in sims.llm.stats()["log"] if e["company"] == NAMES[0]]) == 4


def test_provider_without_json_schema_falls_back_to_json_object(territory_env, sims):
    sims.llm.configure(json_schema_supported=False)
    csv = write_csv(territory_env / "fallback.csv", NAMES[:3])
    assert run_flow(companies_csv=csv).is_completed()
    log = sims.llm.stats()["log"]
    answered = [e["body"]["response_format"]["type"] for e in log if e["status"] == 200]
    refused = [e["body"]["response_format"]["type"] for e in log if e["status"] == 400]
    assert answered == ["json_object"] * 3  # every company classified after the switch
    assert refused and set(refused) == {"json_schema"}  # only requests sent before it
    assert query(territory_env, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [
        (3,)
    ]


def test_quota_exhaustion_stops_early_keeping_what_was_classified(territory_env, sims, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "2")
    monkeypatch.setenv("LLM_CONCURRENCY", "1")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "2")
    # The account runs out after four completions, whichever companies they were for: OpenAI's
    # insufficient_quota is the account's, not one request's.
    sims.llm.configure(credits=4)
    csv = write_csv(territory_env / "quota.csv", NAMES)
    state = run_flow(companies_csv=csv)
    assert state.is_failed() and "insufficient_quota" in state.message
    log = sims.llm.stats()["log"]
    assert [e["status"] for e in log] == [200] * 4 + [429]  # not retried, nothing sent after it
    classified = {e["company"] for e in log if e["status"] == 200}
    stored = dict(query(territory_env, "SELECT company, status FROM company_results"))
    assert stored == dict.fromkeys(classified, "ok")  # what was classified kept; the rest not
    assert query(territory_env, "SELECT status FROM runs") == [("stopped",)]


def test_tavily_credits_exhausted_stops_the_run_with_one_message(territory_env, sims, monkeypatch):
    monkeypatch.setenv("TAVILY_CONCURRENCY", "1")
    monkeypatch.setenv("BATCH_SIZE", "2")
    sims.tavily.configure(credits=8)  # advanced search costs 2: four searches, then 432
    csv = write_csv(territory_env / "credits.csv", NAMES)
    state = run_flow(companies_csv=csv)
    assert state.is_failed()
    assert "credits exhausted (432)" in state.message and "not processed" in state.message
    assert sims.tavily.stats()["by_status"] == {200: 4, 432: 1}
    stored = dict(query(territory_env, "SELECT company, status FROM company_results"))
    assert set(stored.values()) <= {"ok"} and len(stored) >= 2
    # The searches that succeeded are cached: a later run pays Tavily only for the rest.
    sims.reset()
    assert run_flow(companies_csv=csv).is_completed()
    assert sims.tavily.stats()["requests"] == len(NAMES) - 4
