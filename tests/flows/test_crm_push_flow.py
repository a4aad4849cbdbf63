"""The `crm-push` flow on the session's Prefect server: a dry run leaves the diff as an
artifact and sends nothing; the token reaches neither parameters nor artifacts."""

import pytest

from simulators.crm_server import HUBSPOT_FIELDS, start_crm_simulators
from tests.helpers import HUBSPOT_TOKEN, SETTING_NAMES, seed_database

OURS = {"gpu_tier", "gpu_score", "gpu_confidence", "gpu_rank", "gpu_reason",
        "gpu_evidence_url", "gpu_researched_at", "gpu_override"}  # fmt: skip


@pytest.mark.slow
def test_dry_run_flow_makes_the_diff_artifact(prefect_server, tmp_path, monkeypatch):
    from prefect.artifacts import Artifact

    from flows.crm_push import crm_push

    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERRITORY_DB", str(seed_database(tmp_path / "territory.duckdb")))
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    with start_crm_simulators({HUBSPOT_TOKEN}, HUBSPOT_FIELDS | OURS) as sims:
        monkeypatch.setenv("HUBSPOT_BASE_URL", sims.hubspot_url)
        sims.hubspot.add("7", name="Helix AI", gpu_tier="WARM")
        sims.hubspot.add("8", name="Crumb Bakery")
        state = crm_push(territory="emea", target="hubspot", dry_run=True, return_state=True)
        assert state.is_completed(), state.message
        assert state.result() == {"would_push": 2, "skipped": 1}
        assert sims.hubspot.seen("POST", "batch/update") == []
        assert sims.hubspot.snapshot()["7"]["gpu_tier"] == "WARM"
    artifact = Artifact.get("crm-push-emea-hubspot", _sync=True)
    assert artifact is not None
    assert "| Helix AI | 7 | gpu_tier | WARM | HOT |" in artifact.data
    assert HUBSPOT_TOKEN not in artifact.data


@pytest.mark.slow
def test_the_token_can_come_from_a_secret_block(prefect_server, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    from flows.crm_push import crm_push

    # A token of its own: stored in the Prefect database on purpose (the session's tokens
    # are checked to be nowhere on disk, tests/conftest.py).
    token = "pat-na1-block-TOKEN-77aa"
    Secret(value=token).save("test-hubspot-token", overwrite=True)
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERRITORY_DB", str(seed_database(tmp_path / "territory.duckdb")))
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN_BLOCK", "test-hubspot-token")
    with start_crm_simulators({token}, HUBSPOT_FIELDS | OURS) as sims:
        monkeypatch.setenv("HUBSPOT_BASE_URL", sims.hubspot_url)
        sims.hubspot.add("7", name="Helix AI")
        sims.hubspot.add("8", name="Crumb Bakery")
        state = crm_push(territory="emea", target="hubspot", dry_run=False, return_state=True)
        assert state.is_completed(), state.message
        assert state.result() == {"pushed": 2, "skipped": 1}
        assert sims.hubspot.snapshot()["7"]["gpu_tier"] == "HOT"
