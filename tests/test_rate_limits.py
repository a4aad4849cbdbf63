"""Providers that enforce requests-per-minute limits: the flow adapts its pace on its own."""

import pytest

from tests.test_flow import query, run_flow, write_csv

pytestmark = pytest.mark.slow


def sustained_rate(log, window):
    """Accepted requests per second once the first window (the provider's burst allowance,
    taken at once) is over, up to the last accepted one; and the counts."""
    accepted = sorted(e["t"] for e in log if e["status"] == 200)
    refused = sum(1 for e in log if e["status"] == 429)
    steady = [t for t in accepted if t >= accepted[0] + window]
    return (len(steady) - 1) / (steady[-1] - steady[0]), len(accepted), refused


@pytest.mark.parametrize(
    ("service", "retry_after"),
    [("llm", None), ("llm", 1), ("tavily", None), ("tavily", 1)],
)
def test_rate_limited_provider_paces_the_run_without_losing_a_company(
    territory_env, sims, monkeypatch, service, retry_after
):
    # 180 requests per 12-second window = 15 per second, against concurrency for ~100 a
    # second: a minute scaled down to 12 seconds, with a Retry-After of 1 (5 s in a minute).
    limit, window = 180, 12.0
    monkeypatch.setenv("RATE_LIMIT_WINDOW", str(window))
    monkeypatch.setenv("BATCH_SIZE", "25")
    monkeypatch.setenv("LLM_CONCURRENCY", "20")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "20")
    names = [f"Paced Account {i:03d}" for i in range(400)]
    csv = write_csv(territory_env / "paced.csv", names)
    if service == "llm":
        # Searches come from the cache, so only the LLM limit paces the run (in this test the
        # simulators share the test process's CPU; generating pages would pace it otherwise).
        assert run_flow(companies_csv=csv).is_completed()
        sims.reset()
    simulator = getattr(sims, service)
    simulator.configure(
        rpm_limit=limit,
        rpm_window=window,
        rpm_retry_after=retry_after,
        latency={"median": 0.1, "sigma": 0.0, "max": 0.1},
    )

    state = run_flow(companies_csv=csv)

    assert state.is_completed(), state.message
    stored = query(territory_env, "SELECT status, count(*) FROM company_results GROUP BY 1")
    assert stored == [("ok", 400)]  # no company lost to the rate limit
    rate, accepted, refused = sustained_rate(simulator.stats()["log"], window)
    assert accepted == 400
    # Only a collapse of the pace fails here. Wall-clock throughput is not a test target: the
    # 90% target is proven on a fake clock in test_pacing.py and measured at per-minute
    # windows by benchmarks/ (README). Here a minute is squeezed into 12 s and the
    # simulators share this process's two cores with the flow, so the measured rate swung
    # from 7.9 to 15 per second between runs of one commit (the limit is 15).
    assert rate >= 0.3 * limit / window, rate
    # It slowed down instead of hammering: far fewer refusals than requests.
    assert refused <= 0.25 * accepted, refused
