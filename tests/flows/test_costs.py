"""Cost you can see and cap: credits and tokens per company and per run, turned into money by the
price table, and a budget that stops scheduling before it is exceeded. Assertions on DuckDB and
on what the simulators billed."""

import json

import pytest

from domain.costs import Prices, Spend, load_prices
from simulators.faults import FaultRule
from territory.cli import main
from tests.helpers import query

pytestmark = pytest.mark.slow

PRICES = """
[tavily]
usd_per_credit = 0.01
credits = { basic = 1, advanced = 2 }

[llm."sim-model"]
input = 1.00
output = 2.00
"""


@pytest.fixture
def priced(territory_env, monkeypatch):
    """A price table with the test model's price (1 and 2 USD per million tokens)."""
    path = territory_env / "prices.toml"
    path.write_text(PRICES)
    monkeypatch.setenv("PRICES_FILE", str(path))
    return territory_env


def billed(sims):
    """Tokens the LLM simulator reported per company, over every call it answered."""
    out = {}
    for e in sims.llm.stats()["log"]:
        if e.get("prompt_tokens") is not None:
            p, c = out.get(e["company"], (0, 0))
            out[e["company"]] = (p + e["prompt_tokens"], c + e["completion_tokens"])
    return out


def csv_of(env, name, names):
    path = env / f"{name}.csv"
    path.write_text("name\n" + "\n".join(names) + "\n")
    return str(path)


NAMES = [f"Ledger Robotics {i}" for i in range(6)]


def test_credits_tokens_and_money_per_company_and_per_run(priced, sims, capsys):
    sims.llm.add_fault(FaultRule(kind="length", match=NAMES[1], times=1))  # billed, then retried
    csv = csv_of(priced, "costs", NAMES)
    assert main(["run", csv]) == 0
    out = capsys.readouterr().out
    tokens = billed(sims)
    rows = query(
        priced,
        "SELECT company, tavily_credits, prompt_tokens, completion_tokens, tokens_estimated, "
        "llm_cost_usd, cost_usd FROM company_results",
    )
    assert len(rows) == 6
    for company, credits, pt, ct, estimated, llm, cost in rows:
        assert credits == 2 and not estimated  # advanced search; the provider reported usage
        assert (pt, ct) == tokens[company]  # every call the LLM answered, the cut-off one too
        assert llm == pytest.approx((pt * 1.0 + ct * 2.0) / 1e6)
        assert cost == pytest.approx(llm + 2 * 0.01)
    calls = [e for e in sims.llm.stats()["log"] if e["company"] == NAMES[1]]
    assert len(calls) == 2 and tokens[NAMES[1]][0] > tokens[NAMES[0]][0]
    assert all(e["body"]["include_usage"] is True for e in sims.tavily.stats()["log"])
    ((credits, tavily, llm, cost, complete),) = query(
        priced,
        "SELECT tavily_credits, tavily_cost_usd, llm_cost_usd, cost_usd, cost_complete FROM runs",
    )
    assert (credits, complete) == (12, True) and tavily == pytest.approx(0.12)
    assert llm == pytest.approx(sum((p + 2 * c) / 1e6 for p, c in tokens.values()))
    assert cost == pytest.approx(tavily + llm)
    assert f"cost ${cost:.2f} (Tavily $0.12 for 12 credits, LLM ${llm:.2f})" in out
    assert f"${1000 * cost / 6:.2f} per 1,000 companies" in out

    # Re-scored from the stored searches: searches cost nothing, and say so.
    sims.reset()
    assert main(["rescore", "--territory", "costs"]) == 0
    capsys.readouterr()
    assert main(["runs", "--format", "json"]) == 0
    latest = json.loads(capsys.readouterr().out)[0]
    assert latest["tavily_credits"] == 0 and latest["cost_usd"] == pytest.approx(
        latest["llm_cost_usd"]
    )
    assert latest["cost_per_1k_usd"] == pytest.approx(1000 * latest["cost_usd"] / 6, abs=0.01)
    # Run again inside every company's refresh window: nothing is due, nothing is paid.
    assert main(["run", csv]) == 0
    assert "6 not due for a refresh, " in capsys.readouterr().out
    assert main(["runs", "--format", "json"]) == 0
    latest = json.loads(capsys.readouterr().out)[0]
    assert (latest["n_not_due"], latest["n_ok"], latest["cost_usd"]) == (6, 0, 0)


def test_a_missing_usage_is_estimated_and_marked_and_an_unpriced_model_is_unknown(
    priced, sims, monkeypatch, capsys
):
    sims.llm.add_fault(FaultRule(kind="no_usage", match=NAMES[0]))
    assert main(["run", csv_of(priced, "est", NAMES[:2])]) == 0
    ((pt, estimated, llm),) = query(
        priced,
        "SELECT prompt_tokens, tokens_estimated, llm_cost_usd FROM company_results "
        "WHERE company = ?",
        [NAMES[0]],
    )
    assert estimated and pt > 500 and llm == pytest.approx(pt / 1e6, rel=0.5)
    assert query(priced, "SELECT tokens_estimated FROM runs") == [(True,)]
    # A model the table does not know: tokens counted, money unknown, said so.
    monkeypatch.setenv("LLM_MODEL", "brand-new-model")
    capsys.readouterr()
    assert main(["run", csv_of(priced, "unpriced", NAMES[2:4])]) == 0
    assert "has no price in PRICES_FILE" in capsys.readouterr().out
    rows = query(
        priced,
        "SELECT llm_cost_usd, prompt_tokens FROM company_results WHERE territory = 'unpriced'",
    )
    assert all(llm is None and pt > 0 for llm, pt in rows)
    assert query(priced, "SELECT cost_complete FROM runs WHERE territory = 'unpriced'") == [
        (False,)
    ]


def test_the_cost_cap_stops_scheduling_records_skipped_and_the_next_run_picks_them_up(
    priced, sims, monkeypatch, capsys
):
    monkeypatch.setenv("BATCH_SIZE", "4")
    names = [f"Capped Robotics {i:02d}" for i in range(16)]
    csv = csv_of(priced, "capped", names)
    # Before anything is measured a chunk of 4 is expected to cost about $0.15 (a full context
    # of input tokens each, plus the searches): a $0.25 cap admits one chunk, not two.
    assert main(["run", csv, "--max-cost", "0.25"]) == 1
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("territory:")]
    assert len(said) == 1 and "cost cap of $0.25 reached" in said[0]
    assert "12 companies skipped, the next run picks them up" in said[0]
    assert sims.tavily.stats()["requests"] == 4 and sims.llm.stats()["requests"] == 4
    status = dict(query(priced, "SELECT company, status FROM company_results"))
    assert sorted(status.values()).count("ok") == 4 and list(status.values()).count("skipped") == 12
    ((run_status, n_skipped, cost, cap),) = query(
        priced, "SELECT status, n_skipped, cost_usd, max_cost_usd FROM runs"
    )
    assert (run_status, n_skipped, cap) == ("stopped", 12, 0.25) and 0 < cost <= 0.25
    errors = {
        e for (e,) in query(priced, "SELECT error FROM company_results WHERE status = 'skipped'")
    }
    assert len(errors) == 1 and errors.pop().startswith("skipped (budget)")

    sims.reset()
    assert main(["run", csv]) == 0  # no cap: the skipped ones are done, the done ones kept
    assert sims.tavily.stats()["requests"] == 12 and sims.llm.stats()["requests"] == 12
    assert query(priced, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [(16,)]


def test_a_skipped_company_keeps_its_earlier_result(priced, sims, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "4")
    names = [f"Kept Robotics {i}" for i in range(8)]
    csv = csv_of(priced, "kept", names)
    assert main(["run", csv]) == 0
    before = dict(query(priced, "SELECT company, run_id FROM company_results"))
    assert main(["run", csv, "--refresh", "--max-cost", "0.2"]) == 1
    after = query(priced, "SELECT company, status, run_id FROM company_results")
    assert all(status == "ok" for _, status, _ in after)  # nothing good was overwritten
    moved = [c for c, _, run in after if run != before[c]]
    assert len(moved) == 4  # the one chunk the cap allowed
    skipped = query(priced, "SELECT count(*) FROM result_history WHERE status = 'skipped'")
    assert skipped == [(4,)]


def test_the_price_table_prices_what_it_lists():
    prices = load_prices()
    assert prices.tavily.usd_per_credit == 0.008 and prices.search_credits("advanced") == 2
    assert prices.llm_usd("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert prices.llm_usd("no-such-model", 10, 10) is None
    assert isinstance(prices, Prices)
    spend = Spend()
    spend.add(None, "x" * 400, "y" * 40)
    assert (spend.prompt_tokens, spend.completion_tokens, spend.estimated) == (100, 10, True)
