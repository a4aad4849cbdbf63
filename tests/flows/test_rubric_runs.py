"""Issue 6 end to end, through the CLI against the simulators: evidence that holds up,
re-scoring with another rubric or model without searching, what changed, namesakes, and an
eval on a labelled golden set. Assertions on DuckDB and on what reached the simulators."""

import json
import shutil
from pathlib import Path

import pytest

from domain.rubric import load_rubric
from simulators.content import changes_at_epoch, expected_tier, expected_tier_at
from territory.cli import main
from tests.helpers import query

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
STRICT = ROOT / "examples" / "rubrics" / "gpu-strict.toml"
GOLDEN = ROOT / "examples" / "golden.csv"


def sample(n, offset=0):
    """Sample companies with domains, spread over the three tiers."""
    import csv

    rows = list(csv.DictReader((ROOT / "examples" / "companies.csv").open()))
    return [(r["name"], r["domain"]) for r in rows[offset : offset + n]]


def write(env, name, companies):
    path = env / f"{name}.csv"
    path.write_text("name,domain\n" + "".join(f"{n},{d}\n" for n, d in companies))
    return str(path)


def test_every_stored_result_carries_rubric_model_checked_evidence_and_its_basis(
    territory_env, sims, capsys
):
    companies = sample(12)
    assert main(["run", write(territory_env, "basis", companies)]) == 0
    rows = query(
        territory_env,
        "SELECT company, tier, confidence, reasoning, signals, evidence, rubric, model "
        "FROM company_results",
    )
    assert len(rows) == 12
    for company, tier, confidence, reasoning, signals, evidence, rubric, model in rows:
        assert (rubric, model) == ("gpu-infrastructure@2", "sim-model")
        assert tier == expected_tier(company)
        evidence, signals = json.loads(evidence), json.loads(signals)
        assert evidence["pages_read"] >= 5 and evidence["domains_read"] >= 4
        if tier != "COLD":
            # Every signal cites a page and the date that page gives; sources are counted.
            assert signals and all(s["url"] and s["excerpt"] for s in signals)
            assert all(s.get("published", "").startswith("20") for s in signals)
            weak = load_rubric().weak_kinds
            hosts = {s["url"].split("/")[2] for s in signals if s["kind"] not in weak}
            assert evidence["sources"] == len(hosts) >= 1
        else:
            # Absence is evidence: what was searched, and that nothing was found.
            assert f"searched {evidence['pages_read']} pages from " in reasoning
            assert "no GPU or ML signal" in reasoning and confidence in ("high", "medium")
    assert query(territory_env, "SELECT rubric FROM runs") == [("gpu-infrastructure@2",)]


def test_rescore_with_another_rubric_and_model_sends_no_search_and_changes_shows_it(
    territory_env, sims, capsys
):
    companies = sample(20)
    assert main(["run", write(territory_env, "north", companies)]) == 0
    before = dict(query(territory_env, "SELECT company, tier FROM company_results"))
    sims.reset()
    strict = ["--rubric", str(STRICT), "--model", "other-model"]
    assert main(["rescore", "--territory", "north", *strict]) == 0
    assert sims.tavily.stats()["requests"] == 0  # re-scored from what is stored
    log = sims.llm.stats()["log"]
    assert len(log) == 20 and {e["body"]["model"] for e in log} == {"other-model"}
    assert all("- HOT (score 85-100):" in e["body"]["messages"][0]["content"] for e in log)
    after = {
        c: (t, s, r, m)
        for c, t, s, r, m in query(
            territory_env, "SELECT company, tier, score, rubric, model FROM company_results"
        )
    }
    assert {(r, m) for _, _, r, m in after.values()} == {("gpu-strict@1", "other-model")}
    # Same evidence, higher bars: every tier follows the new thresholds, and some fell.
    rubric = load_rubric(STRICT)
    assert all(t == rubric.tier_for(s) for t, s, _, _ in after.values())
    rank = {"COLD": 0, "WARM": 1, "HOT": 2}
    fell = sorted(c for c in before if after[c][0] != before[c])
    assert fell and all(rank[after[c][0]] < rank[before[c]] for c in fell)
    assert query(territory_env, "SELECT mode, rubric FROM runs ORDER BY started_at") == [
        ("full", "gpu-infrastructure@2"),
        ("rescore", "gpu-strict@1"),
    ]
    capsys.readouterr()
    assert main(["changes", "--territory", "north"]) == 0
    listed = capsys.readouterr().out.splitlines()
    # Tier moves first, each spelled out; score-only moves (if any) after them.
    assert sorted(line.split("  ")[0].strip() for line in listed[: len(fell)]) == fell
    for line in listed[: len(fell)]:
        company = line.split("  ")[0].strip()
        assert f" {before[company]} -> {after[company][0]} (" in line


def test_changes_name_the_new_evidence_after_the_web_changes(territory_env, sims, capsys):
    moving = next(
        (n, d) for n, d in sample(120) if changes_at_epoch(n, 1) and expected_tier(n) == "WARM"
    )
    steady = [c for c in sample(8) if not changes_at_epoch(c[0], 1)]
    csv = write(territory_env, "south", [moving, *steady])
    assert main(["run", csv]) == 0
    first_run = query(territory_env, "SELECT run_id FROM runs")[0][0]
    sims.tavily.configure(epoch=1)  # a week later the web has news
    capsys.readouterr()
    assert main(["run", csv, "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "changed since the last run, most important first:" in out
    assert expected_tier_at(moving[0], 1) == "HOT"
    assert main(["changes", "--territory", "south", "--since", first_run[:8]]) == 0
    top = capsys.readouterr().out.splitlines()[0]
    assert top.startswith(moving[0]) and "WARM -> HOT (" in top
    assert "new signal '" in top and "techwire-daily.example, 2026-11-02" in top
    assert main(["changes", "--territory", "south", "--format", "json"]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert moved[0]["company"] == moving[0] and moved[0]["appeared"]
    summary = query(
        territory_env, "SELECT count(*) FROM result_history WHERE company = ?", [moving[0]]
    )
    assert summary == [(2,)]


def test_namesakes_are_told_apart_by_domain_and_flagged_without_one(territory_env, sims):
    csv = write(
        territory_env,
        "names",
        [("Mercury Labs", "mercurylabs-dental.example"), ("Atlas Works", "")],
    )
    assert main(["run", csv]) == 0
    rows = {
        c: (s, t, e, json.loads(ev) if ev else None)
        for c, s, t, e, ev in query(
            territory_env, "SELECT company, status, tier, error, evidence FROM company_results"
        )
    }
    status, tier, _, evidence = rows["Mercury Labs"]
    assert (status, tier) == ("ok", expected_tier("Mercury Labs", "mercurylabs-dental.example"))
    assert tier == "COLD" and evidence["set_aside"] >= 2  # the AI lab's pages were set aside
    status, tier, error, _ = rows["Atlas Works"]
    assert (status, tier) == ("ambiguous", None)
    assert "3 organisations named 'Atlas Works'" in error and "give its domain" in error
    assert "atlasworks-robotics.example" in error and "atlasworks-plumbing.example" in error
    assert [e["company"] for e in sims.llm.stats()["log"]] == ["Mercury Labs"]  # no guess paid
    assert query(territory_env, "SELECT n_ok, n_ambiguous, n_failed FROM runs") == [(1, 1, 0)]


def test_eval_scores_the_golden_set_stores_it_and_compares_two_rubrics(territory_env, sims, capsys):
    golden = str(shutil.copy(GOLDEN, territory_env / "golden.csv"))
    assert main(["eval", golden]) == 0
    report = capsys.readouterr().out
    n = len(GOLDEN.read_text().splitlines()) - 1
    assert f"agreement: 100.0% of {n} companies" in report  # the simulated web's true tiers
    assert "rubric gpu-infrastructure@2" in report and "confusion" in report
    searched = sims.tavily.stats()["requests"]
    assert searched == n

    sims.reset()
    assert main(["eval", golden, "--rubric", str(STRICT)]) == 0
    report = capsys.readouterr().out
    assert sims.tavily.stats()["requests"] == 0  # re-scored from stored searches
    strict_agreement = float(report.split("agreement: ")[1].split("%")[0])
    assert strict_agreement < 100.0

    assert main(["eval", "--compare"]) == 0
    comparison = capsys.readouterr().out
    assert "gpu-infrastructure@2" in comparison and "gpu-strict@1" in comparison
    assert "judged differently: " in comparison and "expected WARM; " in comparison
    assert main(["eval", "--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    evals = query(territory_env, "SELECT rubric, n, agreement FROM evals ORDER BY created_at")
    assert [(r, k) for r, k, _ in evals] == [("gpu-infrastructure@2", n), ("gpu-strict@1", n)]
    wrong = query(
        territory_env,
        "SELECT count(*) FROM eval_items i JOIN evals e USING (eval_id) "
        "WHERE e.rubric = 'gpu-strict@1' AND NOT correct",
    )[0][0]
    assert wrong == round(n * (1 - evals[1][2]))


def test_a_bad_golden_file_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "g.csv"
    bad.write_text("company,expected_tier\nAcme,HOT\nGlobex,LUKEWARM\n")
    assert main(["eval", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"territory: {bad}: line 3: expected tier 'LUKEWARM' is not HOT, WARM or COLD"
    (tmp_path / "h.csv").write_text("company\nAcme\n")
    assert main(["eval", str(tmp_path / "h.csv")]) == 2
    assert "no expected tier column" in capsys.readouterr().err
