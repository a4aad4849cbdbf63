"""Push-back through the whole flow: the real clients, the pacer and the retry policy against
the simulators' own limiters, with the defaults a user gets (RATE_LIMIT_WINDOW of a minute,
the default concurrency). The rates each shape sustains are measured on a fake clock in
test_pushback.py and end to end by the benchmark (README); these check the wiring: every
company stored, the refusals few, and stated limits read from OpenAI's headers."""

import pytest

from simulators.faults import FaultRule
from tests.helpers import query, run_flow, seed_searched_territory, write_csv
from tests.simulator_process import simulators_in_a_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def process_simulators():
    with simulators_in_a_process() as sims:
        yield sims


@pytest.fixture
def sims(process_simulators):
    """The simulators in a process of their own (tests/simulator_process.py says why); the
    `territory_env` of these tests points at them."""
    process_simulators.reset()
    return process_simulators


@pytest.fixture(autouse=True)
def default_timeouts(territory_env, monkeypatch):
    """The timeouts a user gets (60 s / 120 s), not the 5 s the fault tests squeeze them to:
    on a busy machine a 5 s client timeout fires on answers that are on their way, which are
    then asked for again."""
    monkeypatch.delenv("TAVILY_TIMEOUT", raising=False)
    monkeypatch.delenv("LLM_TIMEOUT", raising=False)


# Told its room, a run paces at 95% of the stated rate: at 10 a second a burst of 10 absorbs a
# second of a busy machine's jitter (at 20 a second, half that).
@pytest.mark.parametrize(
    ("stated", "n", "per_minute"),
    [(False, 240, 1200), (True, 120, 600)],
    ids=["429s-only", "openai-headers"],
)
def test_a_token_bucket_on_the_llm_paces_the_run_and_loses_no_company(
    territory_env, sims, stated, n, per_minute
):
    names = [f"Paced Account {i:03d}" for i in range(n)]
    csv = write_csv(territory_env / "paced.csv", names)
    # The run re-scores from stored searches, so only the LLM's limit paces it. They are
    # stored as a full run would have stored them (the Tavily simulator's pages), not paid
    # for by one: that run took longer than the run under test.
    seed_searched_territory(csv, "paced")
    sims.reset()
    # Room for 10, against 50 requests in flight.
    sims.llm.configure(
        rpm_limit=per_minute,
        rpm_burst=10,
        limit_headers=stated,
        latency={"median": 0.5, "sigma": 0.0, "max": 0.5},
    )

    state = run_flow(territory="paced", rescore=True)

    assert state.is_completed(), state.message
    stored = query(territory_env, "SELECT status, count(*) FROM company_results GROUP BY 1")
    assert stored == [("ok", n)]  # no company lost to the limit
    log = sims.llm.stats()["log"]
    statuses = [e["status"] for e in log]
    assert statuses.count(200) == n
    refused = statuses.count(429)
    # When the refusals came, seconds into the run: the start's wave, or all along?
    when = [round(e["t"] - log[0]["t"], 1) for e in log if e["status"] == 429]
    # It slowed down instead of hammering; told the room, it hardly met a 429 at all. (Most of
    # the 429s are the start's, before the first refusals come back: 27-33 of 240 alone, 18-19
    # with a core kept busy beside it, our simulators. Before the companies took turns at
    # their CPU work (tasks/cpu_turn.py), requests reached the simulator up to 1.7 s after
    # the pacer let them go, in bursts: up to 62 with the suite's load. Over long runs the
    # fake clock holds buckets to 1-5%.)
    assert refused <= (5 if stated else 0.2 * n), (refused, when, round(log[-1]["t"] - log[0]["t"]))


def test_sporadic_429s_on_both_providers_lose_no_company(territory_env, sims):
    names = [f"Busy Provider {i:03d}" for i in range(150)]
    csv = write_csv(territory_env / "busy.csv", names)
    for simulator in (sims.tavily, sims.llm):
        simulator.add_fault(FaultRule(kind="rate_limit", probability=0.1, retry_after=1))
        simulator.add_fault(FaultRule(kind="rate_limit", probability=0.1))

    state = run_flow(companies_csv=csv)

    assert state.is_completed(), state.message
    assert query(territory_env, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [
        (150,)
    ]
    for simulator in (sims.tavily, sims.llm):
        statuses = [e["status"] for e in simulator.stats()["log"]]
        assert statuses.count(200) == 150 and statuses.count(429) >= 10
