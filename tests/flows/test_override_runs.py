"""Through the real flow (the code path of the CLI and of every deployment): a re-score keeps
reviewers' overrides and flags where the model now disagrees; eval takes them as labels."""

import csv
import json
from pathlib import Path

import pytest

from domain.rubric import load_rubric
from territory.cli import main
from tests.helpers import query, run_flow

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
STRICT = ROOT / "examples" / "rubrics" / "gpu-strict.toml"


def test_a_rescore_keeps_overrides_flags_disagreement_and_eval_takes_them_as_labels(
    territory_env, sims, capsys
):
    model = run_north(territory_env)
    strict = load_rubric(STRICT)
    confirmed, raised = override_two(model, strict)
    overrides = query(territory_env, "SELECT * FROM overrides ORDER BY seq")

    state = run_flow(territory="north", rescore=True, rubric_file=str(STRICT))
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["n_overrides"], summary["n_overrides_disputed"]) == (2, 2)
    assert query(territory_env, "SELECT * FROM overrides ORDER BY seq") == overrides  # kept
    effective = query(
        territory_env,
        "SELECT company, tier, model_tier, override_disputed, rubric FROM effective_results "
        "WHERE overridden ORDER BY company",
    )
    assert sorted(effective) == sorted(
        [
            (
                confirmed,
                model[confirmed][0],
                strict.tier_for(model[confirmed][1]),
                True,
                "gpu-strict@1",
            ),
            (raised, "HOT", "COLD", True, "gpu-strict@1"),
        ]
    )
    check_the_run_artifacts(state, raised)
    check_eval_with_overrides(territory_env, sims, capsys, model, confirmed, raised)


def run_north(territory_env):
    """Twelve example companies as territory `north`, through the CLI; their tier and score."""
    rows = list(csv.DictReader((ROOT / "examples" / "companies.csv").open()))[:12]
    accounts = territory_env / "north.csv"
    accounts.write_text("name,domain\n" + "".join(f"{r['name']},{r['domain']}\n" for r in rows))
    assert main(["run", str(accounts)]) == 0
    return {
        c: (t, s)
        for c, t, s in query(territory_env, "SELECT company, tier, score FROM company_results")
    }


def override_two(model, strict):
    """A reviewer confirms a verdict the strict rubric will lower, and raises a sure COLD."""
    confirmed = next(c for c, (t, s) in sorted(model.items()) if strict.tier_for(s) != t)
    raised = next(c for c, (t, s) in sorted(model.items()) if t == strict.tier_for(s) == "COLD")
    for company, tier, by in ((confirmed, model[confirmed][0], "Dana"), (raised, "HOT", "Lee")):
        argv = ["override", company, "--territory", "north", "--tier", tier, "--by", by]
        assert main([*argv, "--reason", "checked by hand"]) == 0
    return confirmed, raised


def check_the_run_artifacts(state, raised):
    """The re-score's summary lists the disputed overrides; its table says who set them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    by_key = {a.key: a.data for a in artifacts}
    assert "## Overrides the model now disputes (2)" in by_key["summary-north"]
    assert f"| {raised} | HOT | Lee | COLD (" in by_key["summary-north"]
    table = by_key["territory-north"]
    assert "by Lee: checked by hand (the model says COLD)" in str(table)


def check_eval_with_overrides(territory_env, sims, capsys, model, confirmed, raised):
    """`eval --with-overrides` grades the model against the overrides, from the cache."""
    sims.reset()
    capsys.readouterr()
    assert main(["eval", "--with-overrides", "--territory", "north"]) == 0
    assert "agreement: 50.0% of 2 companies" in capsys.readouterr().out
    assert sims.tavily.stats()["requests"] == 0  # the searches came from the cache
    assert query(territory_env, "SELECT golden, territory, n, agreement FROM evals") == [
        ("2 overrides of north", "eval-north-reviewed", 2, 0.5)
    ]
    assert sorted(
        query(territory_env, "SELECT company, expected, predicted, correct FROM eval_items")
    ) == sorted(
        [
            (confirmed, model[confirmed][0], model[confirmed][0], True),
            (raised, "HOT", "COLD", False),
        ]
    )


def test_the_territory_table_holds_the_first_rows_and_says_how_many_there_are(
    territory_env, sims, monkeypatch
):
    # The table reads its first rows only, a batch at a time, and counts the rest.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    import flows.reporting
    from tests.helpers import write_csv

    monkeypatch.setattr(flows.reporting, "MAX_TABLE_ROWS", 2)
    csv_path = write_csv(territory_env / "few.csv", [f"Table Row {i}" for i in range(3)])
    state = run_flow(companies_csv=csv_path, territory="few")
    assert state.is_completed(), state.message
    with get_client(sync_client=True) as client:
        (table,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                key={"any_": ["territory-few"]},
            )
        )
    ranked = query(
        territory_env, "SELECT company FROM effective_results WHERE territory = 'few' ORDER BY rank"
    )
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [r["company"] for r in rows] == [c for (c,) in ranked[:2]]
    assert "(first 2 of 3)" in table.description
