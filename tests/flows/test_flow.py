"""The whole flow through Prefect, against the simulators; assertions on DuckDB and on what
reached the simulators. (When a provider pushes back or breaks: test_flow_failures.py.)"""

import csv as csv_module
import json
import time
from pathlib import Path

import duckdb
import pytest

from domain.names import normalize_name
from flows.store_sink import StoreSink
from simulators.classifier import classify, parse_prompt
from simulators.faults import FaultRule
from simulators.profiles import expected_tier
from storage.duckdb_store import TerritoryStore
from tasks.phase_clock import PHASES
from tests.helpers import query, run_flow, write_csv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def llm_prompts(sims):
    return [e["body"]["messages"][-1]["content"] for e in sims.llm.stats()["log"]]


def tavily_queries(sims):
    return [e["query"] for e in sims.tavily.stats()["log"]]


NAMES = [f"Northwind Analytics {i:02d}" for i in range(10)]


def test_run_stores_every_company_with_evidence_and_metadata(territory_env, sims, monkeypatch):
    # Each opening of the DuckDB file costs CPU, a small run's largest own cost: its start
    # and its end take one each, the store's turns one per block that writes (none else).
    openings, held = [], []
    connect, take_file = TerritoryStore._connect, StoreSink._take_file

    def counted_take_file(sink):
        if sink._held is not None and not sink._opened:  # the block's first write opens it
            held.append(1)
        return take_file(sink)

    monkeypatch.setattr(TerritoryStore, "_connect", lambda s: openings.append(1) or connect(s))
    monkeypatch.setattr(StoreSink, "_take_file", counted_take_file)
    csv = write_csv(
        territory_env / "emea.csv",
        NAMES,
        {NAMES[0]: "nw00.example"},
        extra=[f" {NAMES[1].upper()} ,,dup,CRM-9999", ""],
    )
    cpu_before = time.process_time()
    state = run_flow(companies_csv=csv)
    cpu_spent_ms = (time.process_time() - cpu_before) * 1000
    assert state.is_completed(), state.message
    # The start, the due accounts, the end: one each (a first run has no cached searches
    # to read as its chunk opens).
    assert len(openings) == 3 + len(held), (len(openings), len(held))
    summary = state.result()
    assert (summary["n_companies"], summary["n_merged"], summary["n_ok"]) == (10, 1, 10)
    # The work's CPU by phase: every phase ran, and together they are part of what this
    # process (flow, tasks and simulators in its threads) spent during the run.
    (cpu,) = query(territory_env, "SELECT cpu_ms FROM runs")[0]
    cpu = json.loads(cpu)
    assert cpu["companies"] == 10 and summary["cpu_ms"] == cpu
    assert all(cpu[phase] > 0 for phase in PHASES), cpu
    assert 0 < sum(cpu[phase] for phase in PHASES) < cpu_spent_ms

    rows = query(
        territory_env,
        "SELECT company, status, tier, score, confidence, reasoning, "
        "signals, metadata, search_key FROM company_results WHERE territory = 'emea' "
        "ORDER BY company",
    )
    assert [r[0] for r in rows] == NAMES
    for _company, status, tier, score, confidence, reasoning, signals, metadata, key in rows:
        assert status == "ok" and tier in ("HOT", "WARM", "COLD") and 0 <= score <= 100
        assert confidence in ("high", "medium", "low") and reasoning
        assert json.loads(metadata)["crm_id"].startswith("CRM-")
        cited = {
            u
            for (u,) in query(
                territory_env, "SELECT url FROM search_pages WHERE search_key = ?", [key]
            )
        }
        for signal in json.loads(signals):
            assert signal["url"] in cited and signal["excerpt"]
    run = query(
        territory_env,
        "SELECT status, n_companies, n_ok, n_failed, n_merged, finished_at IS NOT NULL FROM runs",
    )
    assert run == [("completed", 10, 10, 0, 1, True)]
    # One search per company, the domain used to disambiguate, advanced + raw content.
    log = sims.tavily.stats()["log"]
    assert len(log) == 10
    assert any("(nw00.example)" in e["query"] for e in log)
    assert all(
        e["body"]["search_depth"] == "advanced"
        and e["body"]["max_results"] == 20
        and e["body"]["include_raw_content"] is True
        for e in log
    )
    assert query(territory_env, "SELECT count(DISTINCT search_key) FROM searches") == [(10,)]


def test_tavily_concurrency_cap_holds_at_the_simulator(territory_env, sims, monkeypatch):
    monkeypatch.setenv("TAVILY_CONCURRENCY", "3")
    sims.tavily.configure(latency={"median": 0.15, "sigma": 0.0, "max": 0.15})
    csv = write_csv(territory_env / "cap.csv", [f"Capped Co {i}" for i in range(15)])
    assert run_flow(companies_csv=csv).is_completed()
    stats = sims.tavily.stats()
    assert stats["requests"] == 15
    assert stats["max_in_flight"] == 3  # the cap held, and was used


def test_llm_concurrency_cap_holds_across_chunks(territory_env, sims, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "3")
    monkeypatch.setenv("LLM_CONCURRENCY", "4")
    sims.llm.configure(latency={"median": 0.8, "sigma": 0.0, "max": 0.8})
    csv = write_csv(territory_env / "llm.csv", [f"Chunked Co {i}" for i in range(12)])
    assert run_flow(companies_csv=csv).is_completed()
    stats = sims.llm.stats()
    assert stats["requests"] == 12
    # 4 in flight needs two chunks classifying at once: no per-chunk barrier.
    assert stats["max_in_flight"] == 4


def test_rerun_inside_the_refresh_window_sends_nothing_and_refresh_redoes_all(territory_env, sims):
    csv = write_csv(territory_env / "cache.csv", NAMES[:4])
    assert run_flow(companies_csv=csv).is_completed()
    assert sims.tavily.stats()["requests"] == 4
    sims.reset()
    state = run_flow(companies_csv=csv)
    assert state.is_completed() and state.result()["n_not_due"] == 4
    assert sims.tavily.stats()["requests"] == 0
    assert sims.llm.stats()["requests"] == 0  # every verdict still stands: nothing re-judged
    assert query(territory_env, "SELECT count(*) FROM company_results") == [(4,)]
    state = run_flow(companies_csv=csv, refresh_cache=True)
    assert state.is_completed() and state.result()["n_search_cached"] == 0
    assert state.result()["n_not_due"] == 0
    assert sims.tavily.stats()["requests"] == 4 and sims.llm.stats()["requests"] == 4


def age_searches(db, names, days):
    """Make these companies' stored searches (and the verdicts judged on them) `days` older."""
    keys = [normalize_name(n) for n in names]
    marks = ", ".join("?" * len(keys))
    shift = f"INTERVAL {days} DAY"
    with duckdb.connect(str(db)) as conn:
        found = conn.execute(
            f"SELECT search_key FROM searches WHERE company_key IN ({marks})", keys
        ).fetchall()
        search_keys = [k for (k,) in found]
        assert len(search_keys) == len(keys)
        in_keys = f"search_key IN ({', '.join('?' * len(search_keys))})"
        # A primary key column cannot be updated in place: re-insert the rows shifted.
        for table in ("searches", "search_pages"):
            conn.execute(f"CREATE TEMP TABLE shifted AS FROM {table} WHERE {in_keys}", search_keys)
            conn.execute(f"DELETE FROM {table} WHERE {in_keys}", search_keys)
            conn.execute(f"UPDATE shifted SET fetched_at = fetched_at - {shift}")
            conn.execute(f"INSERT INTO {table} FROM shifted")
            conn.execute("DROP TABLE shifted")
        for table in ("company_results", "result_history"):
            conn.execute(
                f"UPDATE {table} SET search_fetched_at = search_fetched_at - {shift} "
                f"WHERE {in_keys}",
                search_keys,
            )


def test_a_second_run_researches_only_the_companies_due_for_their_tier(territory_env, sims):
    sample = list(csv_module.DictReader((ROOT / "examples" / "companies.csv").open()))
    by_tier = {
        t: [r["name"] for r in sample if expected_tier(r["name"], r["domain"]) == t][:3]
        for t in ("HOT", "WARM", "COLD")
    }
    hot, warm, cold = by_tier["HOT"][:2], by_tier["WARM"][:2], by_tier["COLD"]
    domains = {r["name"]: r["domain"] for r in sample}
    csv = write_csv(territory_env / "weekly.csv", hot + warm + cold, domains)
    first = run_flow(companies_csv=csv)
    assert first.is_completed() and first.result()["n_ok"] == 7
    tiers = dict(query(territory_env, "SELECT company, tier FROM company_results"))
    assert tiers == {n: t for t, names in by_tier.items() for n in names if n in hot + warm + cold}

    # Later: HOT searched 8 days ago (window 7 days), WARM 8 (14), COLD 20 and 31 (30).
    db = territory_env / "territory.duckdb"
    age_searches(db, hot + warm, 8)
    age_searches(db, cold[:2], 20)
    age_searches(db, cold[2:], 31)
    newcomer = by_tier["HOT"][2]  # and a company new to the territory
    csv = write_csv(territory_env / "weekly.csv", hot + warm + cold + [newcomer], domains)
    sims.reset()
    second = run_flow(companies_csv=csv)
    assert second.is_completed()
    due = sorted(hot + cold[2:] + [newcomer])
    searched = sorted(
        n for n in hot + warm + cold + [newcomer] for q in tavily_queries(sims) if n in q
    )
    assert searched == due  # only what is due reached Tavily...
    assert sorted(e["company"] for e in sims.llm.stats()["log"]) == due  # ...and the LLM
    run_id = second.result()["run_id"]
    assert query(
        territory_env,
        "SELECT n_companies, n_not_due, n_ok, n_hot, n_cold, n_search_cached FROM runs "
        "WHERE run_id = ?",
        [run_id],
    ) == [(8, 4, 4, 3, 1, 0)]
    assert second.result()["n_not_due"] == 4
    # The others keep their verdict as it was: no new row, not even in history.
    kept = query(
        territory_env,
        "SELECT company FROM company_results WHERE run_id <> ? ORDER BY company",
        [run_id],
    )
    assert [c for (c,) in kept] == sorted(warm + cold[:2])
    assert query(
        territory_env, "SELECT count(*) FROM result_history WHERE run_id = ?", [run_id]
    ) == [(4,)]

    # Another model re-judges every company, from the stored searches (all fresh for their tier).
    sims.reset()
    third = run_flow(companies_csv=csv, llm_model="other-model")
    assert third.is_completed() and sims.tavily.stats()["requests"] == 0
    log = sims.llm.stats()["log"]
    assert len(log) == 8 and {e["body"]["model"] for e in log} == {"other-model"}
    assert (third.result()["n_not_due"], third.result()["n_search_cached"]) == (0, 8)


def test_cache_expires_after_its_ttl(territory_env, sims, monkeypatch):
    monkeypatch.setenv("SEARCH_CACHE_TTL", "1s")
    csv = write_csv(territory_env / "ttl.csv", NAMES[:2])
    assert run_flow(companies_csv=csv).is_completed()
    time.sleep(1.5)
    assert run_flow(companies_csv=csv).is_completed()
    assert sims.tavily.stats()["requests"] == 4


def test_low_relevance_pages_never_reach_the_prompt_but_raw_content_does(territory_env, sims):
    csv = write_csv(territory_env / "prompt.csv", NAMES[:3])
    assert run_flow(companies_csv=csv).is_completed()
    stored_low = query(
        territory_env,
        "SELECT count(*) FROM search_page_text WHERE score < 0.4 "
        "AND raw_content LIKE '%LOW-RELEVANCE-PAGE%'",
    )[0][0]
    assert stored_low > 0  # they exist, and are kept for re-scoring...
    prompts = llm_prompts(sims)
    assert len(prompts) == 3
    snippets = dict(
        query(territory_env, "SELECT url, content FROM search_page_text WHERE score >= 0.4")
    )
    for prompt in prompts:
        assert "LOW-RELEVANCE-PAGE" not in prompt  # ...but never sent
        # Full pages, not snippets: evidence the grader cites lies outside Tavily's snippet of
        # its page. (The RAW-PAGE-CONTENT filler that proved this before carries no signal, so
        # trimming to the rubric's passages, CONTEXT_TRIM, rightly leaves it out.)
        verdict = classify(parse_prompt([{"role": "user", "content": prompt}]))
        beyond = [s for s in verdict["signals"] if s["excerpt"] not in snippets[s["url"]]]
        assert beyond, verdict["signals"]


def test_sequential_mode_runs_one_company_at_a_time(territory_env, sims, monkeypatch):
    monkeypatch.setenv("ENABLE_BATCH_PROCESSING", "false")
    sims.tavily.configure(latency={"median": 0.05, "sigma": 0.0, "max": 0.05})
    sims.llm.configure(latency={"median": 0.05, "sigma": 0.0, "max": 0.05})
    csv = write_csv(territory_env / "seq.csv", NAMES[:4])
    assert run_flow(companies_csv=csv).is_completed()
    assert sims.tavily.stats()["max_in_flight"] == 1 and sims.llm.stats()["max_in_flight"] == 1
    assert query(territory_env, "SELECT count(*) FROM company_results") == [(4,)]


def test_keys_never_reach_duckdb_results_logs_or_the_prefect_database(territory_env, sims, caplog):
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    from tests.helpers import LLM_KEY, TAVILY_KEY

    sims.llm.add_fault(FaultRule(kind="unauthorized", match=NAMES[0], times=1))
    csv = write_csv(territory_env / "secret.csv", NAMES[:3])
    run_flow(companies_csv=csv)
    places = [territory_env / "territory.duckdb", *territory_env.rglob("prefect-results/*")]
    db_url = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if db_url.startswith("sqlite"):
        prefect_db = Path(db_url.split("///", 1)[1])
        places.extend(prefect_db.parent.glob(prefect_db.name + "*"))  # with its -wal file
    blobs = [p.read_bytes() for p in places if p.is_file()]
    assert len(blobs) >= 3
    for key in (TAVILY_KEY, LLM_KEY):
        assert not any(key.encode() in blob for blob in blobs)
        assert key not in caplog.text


def test_shared_limits_are_created_and_every_slot_is_returned(territory_env, sims, monkeypatch):
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("SHARE_LIMITS_ACROSS_RUNS", "true")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "2")
    monkeypatch.setenv("LLM_CONCURRENCY", "3")
    sims.tavily.configure(latency={"median": 0.2, "sigma": 0.0, "max": 0.2})
    csv = write_csv(territory_env / "shared.csv", NAMES[:6])
    assert run_flow(companies_csv=csv).is_completed()
    with get_client(sync_client=True) as client:
        tavily = client.read_global_concurrency_limit_by_name("territory-tavily")
        llm = client.read_global_concurrency_limit_by_name("territory-llm")
    assert (tavily.limit, tavily.active, tavily.active_slots) == (2, True, 0)
    assert (llm.limit, llm.active, llm.active_slots) == (3, True, 0)  # nothing leaked
    assert sims.tavily.stats()["max_in_flight"] == 2
    assert query(territory_env, "SELECT count(*) FROM company_results") == [(6,)]


def test_a_bad_csv_given_as_a_parameter_fails_in_one_line_and_leaves_the_db_alone(
    territory_env, sims
):
    """A deployment run (no CLI in front) with a broken file: a plain Failed state."""
    import hashlib

    good = write_csv(territory_env / "good.csv", NAMES[:2])
    assert run_flow(companies_csv=good).is_completed()
    db = territory_env / "territory.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    bad = territory_env / "bad.csv"
    bad.write_bytes(b"name,domain\nAcme,acme.example,extra\n")
    state = run_flow(companies_csv=str(bad))
    assert state.is_failed() and "\n" not in state.message
    assert "line 2: 3 values but the header has 2 columns" in state.message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sims.tavily.stats()["requests"] == 2  # the good run's only
