"""prefect.yaml is reviewed configuration: every entrypoint imports, every parameter validates."""

import importlib
from pathlib import Path

import yaml

from flows.parameters import ResearchRequest

ROOT = Path(__file__).parents[2]


def deployments():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_the_deployments_exist_with_a_timezone_schedule():
    by_name = {d["name"]: d for d in deployments()}
    assert {"ad-hoc", "weekly-refresh", "rerun-failed", "rescore"} <= set(by_name)
    (schedule,) = by_name["weekly-refresh"]["schedules"]
    assert schedule["cron"] == "0 6 * * 1" and schedule["timezone"]
    assert by_name["rerun-failed"]["parameters"]["request"]["rerun_failed"] is True
    assert by_name["rescore"]["parameters"]["request"]["rescore"] is True


def test_entrypoints_import_and_parameters_validate():
    for d in deployments():
        if not d["entrypoint"].startswith("flows/territory_research.py"):
            continue  # another flow: see the tests below
        module, _, name = d["entrypoint"].partition(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)
        assert flow.name == "territory-research"
        ResearchRequest(**d["parameters"]["request"])
        assert set(d["parameters"]) == {"request"}
        assert (ROOT / d["parameters"]["request"].get("companies_csv", "prefect.yaml")).exists()


def test_the_apply_review_deployment_runs_the_review_flow():
    (d,) = [d for d in deployments() if d["name"] == "apply-review"]
    module, _, name = d["entrypoint"].partition(":")
    flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)
    assert flow.name == "apply-review"
    flow.validate_parameters(d["parameters"])  # every parameter is one the flow takes
    assert set(d["parameters"]) == {"review_csv"}


def test_the_crm_push_deployments_validate_and_chain_on_the_run_completed_event():
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers

    from domain.alerts import RUN_COMPLETED, run_resource
    from flows.crm_push import crm_push

    by_name = {d["name"]: d for d in deployments()}
    for name in ("crm-push", "crm-push-after-refresh"):
        d = by_name[name]
        assert d["entrypoint"] == "flows/crm_push.py:crm_push"
        assert d["parameters"]["dry_run"] is True  # a diff to look at first
        assert not {"token", "access_token", "api_key"} & set(d["parameters"])
    crm_push.validate_parameters(by_name["crm-push"]["parameters"])
    chained = by_name["crm-push-after-refresh"]
    (trigger,) = _initialize_deployment_triggers(chained["name"], chained["triggers"])
    assert trigger.expect == {RUN_COMPLETED}
    assert trigger.parameters == {"territory": "{{ event.payload.territory }}"}
    crm_push.validate_parameters(chained["parameters"] | {"territory": "emea"})
    # Prefect's own matching: a completed territory run's event matches; an eval's does not.
    from prefect.events.schemas.events import Resource

    run = {"territory": "emea", "run_id": "r" * 32, "status": "completed"}
    assert trigger.match.matches(Resource(run_resource(run)))
    assert not trigger.match.matches(Resource(run_resource(run | {"territory": "eval-x"})))
    assert not trigger.match.matches(Resource(run_resource(run | {"status": "failed"})))
