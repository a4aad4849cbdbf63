"""Provider faults, all at once: a territory finishes whatever the providers do.

Hundreds of companies against simulators injecting every failure they know together (429s with
and without Retry-After, 500/502/503/504 with HTML bodies, hangs past the client timeout,
dropped connections, broken JSON, truncated, refused, off-schema and fenced LLM answers) plus a
few companies that always fail. Then the fatal ones, one per provider (Tavily 432, LLM
insufficient_quota): one clear message, nothing stored is lost, and the next run picks up where
it stopped. Assertions are on DuckDB and on what reached the simulators. Tavily's 433 takes the
same path once its client has mapped it (tests/tasks/test_client_errors.py); a run meeting it
mid-way is in tests/tasks/test_chunks_with_fakes.py."""

import pytest

from simulators.faults import FaultRule
from territory.cli import main
from tests.helpers import query

pytestmark = pytest.mark.slow

N = 300
NAMES = [f"Faultline {i:03d} Systems" for i in range(N)]
# Company i meets TAVILY[i % 10] and LLM[i % 13] (coprime, so the pairs vary); each recovers
# within the default MAX_ATTEMPTS (4). 429s, with and without Retry-After, are spread like every
# other fault: a provider under load refuses some requests whatever the pace, and a run must
# lose neither companies nor speed to them (the defaults a user gets, nothing squeezed).
TAVILY = [
    None,
    dict(kind="server_error", times=2),
    dict(kind="bad_gateway_html", times=1),
    dict(kind="unavailable", times=1),
    dict(kind="hang", delay=10, times=1),
    dict(kind="drop", times=1),
    dict(kind="invalid_json", times=1),
    dict(kind="status", status=504, times=1),
    dict(kind="rate_limit", retry_after=1, times=1),
    dict(kind="rate_limit", times=2),
]
LLM = [
    None,
    dict(kind="length", times=1),
    dict(kind="refusal", times=1),
    dict(kind="schema_violation", times=1),
    dict(kind="fenced"),  # every answer in code fences: parsed, never retried
    dict(kind="hang", delay=10, times=1),
    dict(kind="drop", times=1),
    dict(kind="invalid_json", times=1),
    dict(kind="bad_gateway_html", times=1),
    dict(kind="server_error", times=2),
    dict(kind="unavailable", times=1),
    dict(kind="rate_limit", retry_after=1, times=1),
    dict(kind="rate_limit", times=2),
]
# The companies that can never succeed, which provider refuses them, and what the user reads.
ALWAYS = {
    13: ("tavily", dict(kind="server_error"), "search failed: Tavily HTTP 500 (gave up after 4"),
    57: ("tavily", dict(kind="status", status=400), "search failed: Tavily 400 bad request"),
    113: ("tavily", dict(kind="unavailable"), "search failed: Tavily HTTP 503 (gave up after 4"),
    71: ("llm", dict(kind="schema_violation"), "LLM output did not match the schema"),
    171: ("llm", dict(kind="length"), "LLM output was cut off (finish_reason=length)"),
    201: ("llm", dict(kind="bad_gateway_html"), "LLM HTTP 502 (gave up after 4 attempts)"),
}


def arm(sims):
    """Every fault at once; a company's always-failing rule comes first, so it wins."""
    for i, (service, rule, _) in ALWAYS.items():
        getattr(sims, service).add_fault(FaultRule(match=f"{NAMES[i]}", **rule))
    for i, name in enumerate(NAMES):
        if tavily_fault(i):
            sims.tavily.add_fault(FaultRule(match=name, **tavily_fault(i)))
        if llm_fault(i):
            sims.llm.add_fault(FaultRule(match=name, **llm_fault(i)))


def tavily_fault(i):
    return TAVILY[i % len(TAVILY)]


def llm_fault(i):
    return LLM[i % len(LLM)]


def by_company(log, key):
    out = {}
    for entry in log:
        name = next((n for n in NAMES if n in (entry.get(key) or "")), None)
        out.setdefault(name, []).append(entry)
    return out


def test_every_fault_at_once_loses_no_company_and_rerun_failed_completes_them(
    territory_env, sims, monkeypatch, capsys
):
    for name, value in {
        "BATCH_SIZE": "25",
        "TAVILY_CONCURRENCY": "20",
        "LLM_CONCURRENCY": "20",
        # A hang (10 s) outlasts it; an answer slowed by a busy machine does not (at 2 s, a
        # client timing out on an answer already sent paid for it twice).
        "TAVILY_TIMEOUT": "5",
        "LLM_TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    csv = territory_env / "faults.csv"
    csv.write_text("name,crm_id\n" + "".join(f"{n},CRM-{i}\n" for i, n in enumerate(NAMES)))
    db = territory_env / "territory.duckdb"
    arm(sims)
    assert main(["run", str(csv)]) == 0, capsys.readouterr().err[-2000:]

    failed = assert_every_company_stored_once(db)
    tavily = by_company(sims.tavily.stats()["log"], "query")
    llm = by_company(sims.llm.stats()["log"], "company")
    tavily_always = {NAMES[i] for i, (s, _, _) in ALWAYS.items() if s == "tavily"}
    assert_every_search_fault_fired_and_nothing_paid_twice(db, tavily, tavily_always)
    assert_every_llm_fault_fired_and_one_usable_answer_each(llm, failed, tavily_always)

    # With the faults gone, rerun-failed completes exactly the failed companies.
    before = dict(query(db, "SELECT company, updated_at FROM company_results WHERE status = 'ok'"))
    sims.reset()
    assert main(["rerun-failed", "--territory", "faults"]) == 0
    sent = {n for e in sims.tavily.stats()["log"] for n in NAMES if n in e["query"]}
    assert sent == tavily_always  # the others' searches came from the cache
    assert sorted(e["company"] for e in sims.llm.stats()["log"]) == sorted(failed)
    assert query(db, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [(N,)]
    after = dict(query(db, "SELECT company, updated_at FROM company_results"))
    assert all(after[c] == t for c, t in before.items())  # nobody else was touched


def assert_every_company_stored_once(db) -> dict[str, str]:
    """Every company exactly once, in the latest results and in the run's history; only the
    always-failing ones failed, each with its one-line reason. Returns them with their errors."""
    (run_id,) = query(db, "SELECT run_id FROM runs")[0]
    assert query(db, "SELECT count(*), count(DISTINCT company_key) FROM company_results") == [
        (N, N)
    ]
    assert query(db, "SELECT count(*) FROM result_history WHERE run_id = ?", [run_id]) == [(N,)]
    rows = {
        c: (s, t, e)
        for c, s, t, e in query(db, "SELECT company, status, tier, error FROM company_results")
    }
    failed = {c: e for c, (s, _, e) in rows.items() if s == "failed"}
    assert sorted(failed) == sorted(NAMES[i] for i in ALWAYS)
    for i, (_, _, reason) in ALWAYS.items():
        error = failed[NAMES[i]]
        assert error.startswith(reason) or reason in error, (NAMES[i], error)
        assert "\n" not in error and "Traceback" not in error
    assert all(t in ("HOT", "WARM", "COLD") for s, t, _ in rows.values() if s == "ok")
    assert query(db, "SELECT status, n_ok, n_failed FROM runs") == [("completed", N - 6, 6)]
    return failed


def assert_every_search_fault_fired_and_nothing_paid_twice(db, tavily, tavily_always) -> None:
    """What reached the Tavily simulator: each company's fault, then one answer, nothing after."""
    for i, name in enumerate(NAMES):
        faults = {e["fault"] for e in tavily[name]}
        if tavily_fault(i) and name not in tavily_always:
            assert tavily_fault(i)["kind"] in faults, (name, faults)
        if name not in tavily_always:
            answered = [e for e in tavily[name] if e["status"] == 200 and e["fault"] is None]
            assert len(answered) == 1, (name, [(e["status"], e["fault"]) for e in tavily[name]])
            assert tavily[name][-1] is answered[0]  # and nothing was sent after it
    searched = query(db, "SELECT count(*), count(DISTINCT company_key) FROM searches")
    assert searched == [(N - 3, N - 3)]  # one stored search per company that was searched
    waited = tavily[NAMES[8]]  # TAVILY[8]: one 429 with Retry-After: 1
    assert [e["status"] for e in waited] == [429, 200]
    assert waited[1]["t"] - waited[0]["t_end"] >= 1.0  # Retry-After honoured
    limited = [i for i in range(N) if (tavily_fault(i) or {}).get("kind") == "rate_limit"]
    limited += [i for i in range(N) if (llm_fault(i) or {}).get("kind") == "rate_limit"]
    assert len(limited) >= 50  # as many companies as any other fault


def assert_every_llm_fault_fired_and_one_usable_answer_each(llm, failed, tavily_always) -> None:
    """What reached the LLM simulator: each company's fault, then one usable answer (none for
    the ones that failed, no call at all for those never searched)."""
    for i, name in enumerate(NAMES):
        if name in tavily_always:
            assert name not in llm  # no search, nothing to classify: no LLM call either
            continue
        usable = [e for e in llm[name] if e["status"] == 200 and e["fault"] in (None, "fenced")]
        assert len(usable) == (0 if name in failed else 1), (name, llm[name])
        if llm_fault(i) and name not in failed:
            assert llm_fault(i)["kind"] in {e["fault"] for e in llm[name]}, (name, llm[name])
            if llm_fault(i)["kind"] == "fenced":
                assert len(llm[name]) == 1  # a fenced answer is read, not retried


STOPS = {
    "tavily-432": (
        "Tavily credits exhausted (432)",
        lambda sims: sims.tavily.configure(credits=20),
    ),
    "llm-quota": (
        "the LLM account is out of quota (429 insufficient_quota)",
        lambda sims: sims.llm.configure(credits=10),
    ),
}


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_a_fatal_provider_error_stops_once_keeps_work_and_the_next_run_picks_up(
    territory_env, sims, monkeypatch, capsys, stop
):
    reason, inject = STOPS[stop]
    for name, value in {
        "BATCH_SIZE": "4",
        "TAVILY_CONCURRENCY": "2",
        "LLM_CONCURRENCY": "2",
    }.items():
        monkeypatch.setenv(name, value)
    names = [f"Stopping Co {i:02d} Group" for i in range(24)]
    csv = territory_env / "stops.csv"
    csv.write_text("name\n" + "\n".join(names) + "\n")
    db = territory_env / "territory.duckdb"
    inject(sims)

    assert main(["run", str(csv)]) == 1
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("territory:")]
    assert len(said) == 1 and reason in said[0] and "not processed" in said[0], said
    stored = dict(query(db, "SELECT company, status FROM company_results"))
    assert set(stored.values()) == {"ok"} and 4 <= len(stored) < len(names)  # whole chunks kept
    ((status, message),) = query(db, "SELECT status, message FROM runs")
    assert status == "stopped" and reason in message
    cached = {n for (q,) in query(db, "SELECT query FROM searches") for n in names if n + " " in q}

    sims.reset()  # credit topped up, cap raised: the same command again
    assert main(["run", str(csv)]) == 0
    searched = {n for e in sims.tavily.stats()["log"] for n in names if n + " " in e["query"]}
    assert searched == set(names) - cached  # no search paid for twice
    classified = sorted(e["company"] for e in sims.llm.stats()["log"])
    assert classified == sorted(set(names) - set(stored))  # nothing stored is redone
    assert query(db, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [(24,)]
    assert query(db, "SELECT status, n_resumed, n_ok FROM runs ORDER BY started_at") == [
        ("stopped", 0, len(stored)),
        ("completed", len(stored), 24 - len(stored)),
    ]
