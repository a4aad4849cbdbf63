"""`territory crm push --target hubspot` against the loopback HubSpot simulator, through
hubspot-api-client: what the simulator holds and saw is what DuckDB says was pushed."""

import csv
import json

import pytest

from domain.crm import as_text
from simulators.crm_server import HUBSPOT_FIELDS, start_crm_simulators
from territory.cli import main
from tests.helpers import (
    HUBSPOT_TOKEN,
    SETTING_NAMES,
    files_holding,
    query,
    seed_database,
    seed_territory,
)

OURS = {
    "gpu_tier", "gpu_score", "gpu_confidence", "gpu_rank", "gpu_reason", "gpu_evidence_url",
    "gpu_researched_at", "gpu_override",
}  # fmt: skip


@pytest.fixture(scope="module")
def crm_sims():
    with start_crm_simulators(
        hubspot_tokens={HUBSPOT_TOKEN}, hubspot_fields=HUBSPOT_FIELDS | OURS
    ) as sims:
        yield sims


@pytest.fixture
def hubspot(crm_sims, tmp_path, monkeypatch):
    """A database seeded with emea (Helix id 7, Crumb id 8, Initech failed) and a portal
    holding records 7 and 8; the env points the CLI at both."""
    crm_sims.reset()
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    db = seed_database(tmp_path / "territory.duckdb")
    monkeypatch.setenv("TERRITORY_DB", str(db))
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", crm_sims.hubspot_url)
    monkeypatch.setenv("RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("RETRY_MAX_DELAY", "0.05")
    crm_sims.hubspot.add("7", name="Helix AI", domain="h.example", industry="AI")
    crm_sims.hubspot.add("8", name="Crumb Bakery", gpu_tier="COLD")
    yield crm_sims.hubspot
    assert not files_holding([HUBSPOT_TOKEN], tmp_path), "the token reached a file"


def push(*flags):
    return main(["crm", "push", "--territory", "emea", "--target", "hubspot", *flags])


def stored(db_dir):
    rows = query(db_dir, "SELECT company, status, record_id, sent FROM crm_pushes ORDER BY company")
    return {r[0]: r[1:] for r in rows}


def test_push_writes_our_fields_only_and_stores_what_the_crm_saw(hubspot, tmp_path):
    assert push() == 0
    records = hubspot.snapshot()
    assert records["7"]["gpu_tier"] == "HOT" and records["7"]["gpu_score"] == "91"
    assert records["7"]["industry"] == "AI" and records["8"]["gpu_tier"] == "COLD"
    assert records["7"]["gpu_evidence_url"] == "https://h.example/a"
    (update,) = hubspot.seen("POST", "batch/update")
    assert all(set(i["properties"]) == OURS for i in update.body["inputs"])
    found = stored(tmp_path)
    assert found["Initech"][0] == "skipped"  # failed research: nothing to write
    sent = {i["id"]: i["properties"] for i in update.body["inputs"]}
    for company, record in (("Helix AI", "7"), ("Crumb Bakery", "8")):
        status, record_id, values = found[company]
        assert (status, record_id) == ("pushed", record)
        assert {k: as_text(v) for k, v in json.loads(values).items()} == sent[record]


def test_dry_run_sends_nothing_and_writes_the_diff(hubspot, tmp_path, capsys):
    assert push("--dry-run", "--only-changed") == 0
    assert hubspot.seen("POST", "batch/update") == []
    assert query(tmp_path, "SELECT count(*) FROM crm_pushes") == [(0,)]
    with open(tmp_path / "crm-diff-emea-hubspot.csv", encoding="utf-8-sig") as f:
        diff = {(r["company"], r["property"]): r for r in csv.DictReader(f)}
    assert diff[("Helix AI", "gpu_tier")]["to_write"] == "HOT"
    assert diff[("Helix AI", "gpu_tier")]["crm_now"] == ""
    assert ("Crumb Bakery", "gpu_tier") not in diff  # already COLD in the CRM
    assert "gpu_tier" in capsys.readouterr().out


def test_only_changed_sends_nothing_the_second_time(hubspot, tmp_path):
    assert push("--only-changed") == 0
    assert len(hubspot.seen("POST", "batch/update")) == 1
    assert push("--only-changed") == 0
    assert len(hubspot.seen("POST", "batch/update")) == 1
    rows = query(tmp_path, "SELECT status, count(*) FROM crm_pushes GROUP BY ALL ORDER BY 1")
    assert rows == [("pushed", 2), ("skipped", 2), ("unchanged", 2)]


def test_match_by_domain_and_unmatched_rows(hubspot, tmp_path):
    import duckdb

    with duckdb.connect(str(tmp_path / "territory.duckdb")) as conn:  # Helix without an id
        conn.execute("UPDATE company_results SET metadata = '{}' WHERE company_key = 'helix'")
        conn.execute("UPDATE company_results SET metadata = '{}' WHERE company_key = 'crumb'")
    hubspot.records["7"].pop("domain")  # one record of that domain only
    hubspot.add("70", name="Helix (HubSpot)", domain="H.example")
    assert push() == 0
    assert hubspot.snapshot()["70"]["gpu_tier"] == "HOT"
    found = query(tmp_path, "SELECT company, status, record_id, reason FROM crm_pushes")
    by = {r[0]: r[1:] for r in found}
    assert by["Helix AI"][:2] == ("pushed", "70")
    assert by["Crumb Bakery"][0] == "unmatched" and by["Crumb Bakery"][1] is None
    assert hubspot.seen("POST", "batch/create") == []  # never created without the flag


def test_the_record_id_of_hubspots_own_export_matches(hubspot, tmp_path):
    import duckdb

    # The accounts came from HubSpot's company export: its id column is "Record ID".
    with duckdb.connect(str(tmp_path / "territory.duckdb")) as conn:
        conn.execute(
            """UPDATE company_results SET metadata = '{"Record ID": "7", "Company owner": "Dana"}'
            WHERE company_key = 'helix'"""
        )
    hubspot.records["7"].pop("domain")  # no way to find it but the id
    assert push() == 0
    assert hubspot.snapshot()["7"]["gpu_tier"] == "HOT"
    rows = query(tmp_path, "SELECT status, record_id, matched_by FROM crm_pushes")
    assert ("pushed", "7", "id") in rows and hubspot.seen("POST", "search") == []


def test_429_and_503_mid_batch_lose_nothing(hubspot, tmp_path):
    hubspot.inject("POST", "batch/update", 429, retry_after=0.2)
    hubspot.inject("POST", "batch/update", 503)
    assert push() == 0
    statuses = [r.status for r in hubspot.seen("POST", "batch/update")]
    assert statuses == [429, 503, 200]
    assert {r["gpu_tier"] for i, r in hubspot.snapshot().items()} == {"HOT", "COLD"}
    assert stored(tmp_path)["Helix AI"][0] == "pushed"


def test_a_property_the_portal_lacks_fails_with_the_reason_then_retry_failed(
    hubspot, tmp_path, crm_sims
):
    hubspot.writable = HUBSPOT_FIELDS | (OURS - {"gpu_rank"})
    assert push() == 1
    found = query(tmp_path, "SELECT status, reason FROM crm_pushes WHERE company = 'Helix AI'")
    assert found[0][0] == "failed" and 'Property "gpu_rank" does not exist' in found[0][1]
    assert "gpu_rank" not in hubspot.snapshot()["7"]  # the simulator refused the write
    hubspot.writable = HUBSPOT_FIELDS | OURS
    assert push("--retry-failed") == 0
    (last,) = hubspot.seen("POST", "batch/update")[-1:]
    assert {i["id"] for i in last.body["inputs"]} == {"7", "8"}
    assert hubspot.snapshot()["7"]["gpu_rank"] == "1"


def test_a_bad_token_stops_with_one_line_and_exit_1(hubspot, monkeypatch, capsys):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong")
    assert push() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("territory: HubSpot rejected the access token (401)")
    assert "pat-na1-wrong" not in "\n".join(err)


def test_crm_import_export(hubspot, tmp_path):
    out = tmp_path / "import.csv"
    assert main(["export", str(out), "--territory", "emea", "--format", "crm-import",
                 "--target", "hubspot"]) == 0  # fmt: skip
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["Record ID"] for r in rows] == ["7", "8"]
    assert rows[0]["gpu_tier"] == "HOT" and rows[0]["Company Domain Name"] == "h.example"
    assert set(rows[0]) == {"Record ID", "Company name", "Company Domain Name"} | OURS


def test_no_token_is_a_one_line_configuration_error(hubspot, monkeypatch, capsys):
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    assert push() == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("territory: HUBSPOT_ACCESS_TOKEN is not set")
    assert hubspot.requests == []


def test_a_broken_mapping_file_stops_before_any_request(hubspot, tmp_path, monkeypatch, capsys):
    (tmp_path / "map.toml").write_text("[hubspot.properties]\ntier = 'name'\n")
    monkeypatch.setenv("CRM_MAPPING_FILE", str(tmp_path / "map.toml"))
    assert push() == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "the CRM's own field" in line and hubspot.requests == []


def test_batches_stay_within_hubspots_100_inputs(hubspot, tmp_path, monkeypatch):
    ids = [str(1000 + i) for i in range(150)]
    seed_territory(
        tmp_path / "big.duckdb", [(f"Co {i}", None, {"hs_object_id": i}, "WARM") for i in ids]
    )
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "big.duckdb"))
    for record_id in ids:
        hubspot.add(record_id, name=f"Co {record_id}")
    assert main(["crm", "push", "--territory", "t", "--target", "hubspot"]) == 0
    reads = [len(r.body["inputs"]) for r in hubspot.seen("POST", "batch/read")]
    updates = [len(r.body["inputs"]) for r in hubspot.seen("POST", "batch/update")]
    assert reads == updates == [100, 50]
    assert all(r["gpu_tier"] == "WARM" for i, r in hubspot.snapshot().items() if i in ids)
