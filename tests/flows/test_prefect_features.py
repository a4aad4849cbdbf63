"""What a run gives Prefect users: the request form, artifacts, Secret blocks, retry reuse."""

import json

import pytest
from pydantic import ValidationError

from domain.changes import NAMED, changes_in
from domain.models import Classification, CompanyResult
from flows.alerts import read_run_news
from flows.parameters import ResearchRequest
from flows.reporting import artifact_key, render_summary
from storage.duckdb_store import TerritoryStore
from tests.helpers import run_flow


def ok(key, tier, score):
    verdict = Classification(tier=tier, score=score, confidence="high", reasoning="r", signals=[])
    return CompanyResult(company_key=key, name=key.title(), status="ok", classification=verdict)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"companies_csv": "a.csv", "accounts_table": "t"},
        {"rerun_failed": True, "companies_csv": "a.csv"},
        {"companies_csv": "a.csv", "limit": 0},
        {"companies_csv": "a.csv", "tavily_api_key": "tvly-x"},  # keys are never parameters
    ],
)
def test_request_rejects_ambiguous_or_secret_input(fields):
    with pytest.raises(ValidationError):
        ResearchRequest(**fields)


def test_request_schema_describes_every_field_for_the_ui_form():
    schema = ResearchRequest.model_json_schema()
    assert all(p.get("description") for p in schema["properties"].values())
    assert not any("key" in name for name in schema["properties"])


def test_changes_since_previous_run_and_summary(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, 2, 0, 2)
        store.save_results(first, "emea", [ok("acme", "WARM", 55), ok("globex", "COLD", 10)])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, 3, 0, 3)
        store.save_results(
            second,
            "emea",
            [ok("acme", "HOT", 81), ok("globex", "COLD", 12), ok("initech", "WARM", 50)],
        )
        store.save_results(
            second,
            "emea",
            [
                CompanyResult(
                    company_key="umbrella", name="Umbrella", status="failed", error="LLM HTTP 500"
                )
            ],
        )
        store.finish_run(second, "completed")
        changes = changes_in(store.result_pairs("emea"), second)
        assert [(c.company, c.old_tier, c.new_tier) for c in changes] == [
            ("Acme", "WARM", "HOT"),
            ("Globex", "COLD", "COLD"),  # its score moved
            ("Initech", None, "WARM"),
        ]
        summary = store.run(second) | {"elapsed_seconds": 3.2}
        text = render_summary(summary, changes, store.run_failures(second))
    assert "| HOT | 1 |" in text and "| failed | 1 |" in text
    assert "(1 moved tier, 1 other, 1 new)" in text
    # Its new verdict quotes nothing that was checked: the summary says so.
    assert "| Acme | WARM -> HOT (55 -> 81) [no checked evidence] |" in text
    assert "New: Initech" in text
    assert "| Umbrella | LLM HTTP 500 |" in text and "3.2 s" in text


def test_a_first_run_counts_every_new_company_and_names_the_first(tmp_path):
    # Every company of a first run is new: the run's end keeps a few, not one pair each.
    keys = [f"firm {n:03d}" for n in range(NAMED + 30)]
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run = store.start_run("emea", "full", {}, None, len(keys), 0, len(keys))
        store.save_results(run, "emea", [ok(key, "WARM", 40) for key in reversed(keys)])
        store.finish_run(run, "completed")
        news = read_run_news(store, "emea", run)
        summary = store.run(run) | {"elapsed_seconds": 1.0}
        text = render_summary(summary, changes_in(news.pairs, run), [], None, news)
    assert (news.n_new, len(news.new)) == (len(keys), NAMED)
    assert f"(0 moved tier, 0 other, {len(keys)} new)" in text
    named = [key.title() for key in keys[:NAMED]]
    assert f"New: {', '.join(named)} …" in text and keys[NAMED].title() not in text


def test_a_refresh_counts_every_score_that_moved_and_lists_the_biggest(tmp_path):
    keys = [f"firm {n:03d}" for n in range(NAMED + 30)]
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, len(keys), 0, len(keys))
        store.save_results(first, "emea", [ok(key, "WARM", 20) for key in keys])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, len(keys), 0, len(keys))
        moved = [ok(key, "WARM", 21 + n) for n, key in enumerate(keys)]  # the last moved most
        store.save_results(second, "emea", moved)
        store.finish_run(second, "completed")
        news = read_run_news(store, "emea", second)
        summary = store.run(second) | {"elapsed_seconds": 1.0}
        text = render_summary(summary, changes_in(news.pairs, second), [], None, news)
    assert (news.n_other, len(news.other), news.n_changed) == (len(keys), NAMED, len(keys))
    assert f"(0 moved tier, {len(keys)} other, 0 new)" in text
    assert f"| {keys[-1].title()} | WARM (20 -> {20 + len(keys)}) [no checked evidence] |" in text
    assert f"| {keys[0].title()} |" not in text  # a move of one point, not among the first


def test_a_retried_flow_run_continues_its_run_and_skips_done_work(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run = store.start_run("t", "full", {}, "flow-run-1", 2, 0, 2)
        store.save_results(run, "t", [ok("acme", "HOT", 90)])
        store.finish_run(run, "failed", "crashed")
        again = store.start_run("t", "full", {}, "flow-run-1", 2, 0, 2)
        assert again == run and store.run(run)["status"] == "running"
        assert store.carried_over(run, "t", since=None) == {"acme"}
        store.finish_run(run, "completed")
        assert store.start_run("t", "full", {}, "flow-run-2", 2, 0, 2) != run


def test_artifact_keys_are_valid_prefect_keys():
    assert artifact_key("summary", "EMEA Enterprise / Q3!") == "summary-emea-enterprise-q3"
    japan, korea = artifact_key("progress", "日本"), artifact_key("progress", "한국")
    assert japan != korea
    for key in (japan, korea):
        assert key.startswith("progress-") and all(
            c.isascii() and (c.isalnum() or c == "-") and not c.isupper() for c in key
        )


@pytest.mark.slow
def test_run_publishes_progress_table_and_summary_artifacts(territory_env, sims):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    csv = territory_env / "arts.csv"
    csv.write_text("name\nArtifact Robotics\nArtifact Bakery\nArtifact Labs\n")
    state = run_flow(companies_csv=str(csv))
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    by_key = {a.key: a for a in artifacts}
    assert {"progress-arts", "territory-arts", "summary-arts"} <= set(by_key)
    assert by_key["progress-arts"].data == 100.0
    table = by_key["territory-arts"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert sorted(r["company"] for r in table) == [
        "Artifact Bakery",
        "Artifact Labs",
        "Artifact Robotics",
    ]
    assert {"tier", "score", "confidence", "top signal", "status"} <= set(table[0])
    assert (
        "## Changes since the last run (0 moved tier, 0 other, 3 new)"
        in by_key["summary-arts"].data
    )


@pytest.mark.slow
def test_keys_can_come_from_prefect_secret_blocks(territory_env, sims, monkeypatch):
    from prefect.blocks.system import Secret

    # Keys of their own: these are stored in the Prefect database on purpose, and the suite
    # checks that the session's keys are nowhere on disk (tests/conftest.py).
    tavily_key, llm_key = "tvly-block-KEY-0c1d2e", "sk-block-KEY-3f4a5b"
    sims.tavily.configure(keys={tavily_key})
    sims.llm.configure(keys={llm_key})
    Secret(value=tavily_key).save("test-tavily-key", overwrite=True)
    Secret(value=llm_key).save("test-llm-key", overwrite=True)
    monkeypatch.delenv("TAVILY_API_KEY")
    monkeypatch.delenv("LLM_API_KEY")
    monkeypatch.setenv("TAVILY_API_KEY_BLOCK", "test-tavily-key")
    monkeypatch.setenv("LLM_API_KEY_BLOCK", "test-llm-key")
    csv = territory_env / "blocks.csv"
    csv.write_text("name\nBlock Robotics\n")
    assert run_flow(companies_csv=str(csv)).is_completed()
    assert sims.tavily.stats()["by_status"] == {200: 1}
    assert sims.llm.stats()["by_status"] == {200: 1}
