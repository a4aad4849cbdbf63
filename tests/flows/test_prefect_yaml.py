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
        if d["name"] == "apply-review":
            continue  # another flow: see the next test
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
