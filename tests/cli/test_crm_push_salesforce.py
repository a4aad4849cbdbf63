"""`territory crm push --target salesforce` against the loopback Salesforce simulator, through
simple-salesforce (SOQL read, sObject Collections): only our fields, typed values compared as
Salesforce returns them, retries that lose nothing, statuses equal to what the org holds."""

import csv
import json

import duckdb
import pytest

from simulators.crm_server import SALESFORCE_FIELDS, start_crm_simulators
from territory.cli import main
from tests.helpers import (
    SALESFORCE_TOKEN,
    SETTING_NAMES,
    files_holding,
    query,
    seed_database,
    seed_territory,
)

OURS = {
    "GPU_Tier__c", "GPU_Score__c", "GPU_Confidence__c", "GPU_Rank__c", "GPU_Reason__c",
    "GPU_Evidence_URL__c", "GPU_Researched_At__c", "GPU_Override__c",
}  # fmt: skip
HELIX, CRUMB = "001000000000007AAA", "001000000000008AAA"


@pytest.fixture(scope="module")
def crm_sims():
    with start_crm_simulators(
        salesforce_tokens={SALESFORCE_TOKEN}, salesforce_fields=SALESFORCE_FIELDS | OURS
    ) as sims:
        yield sims


@pytest.fixture
def salesforce(crm_sims, tmp_path, monkeypatch):
    """emea seeded with Salesforce Ids (Helix's in the 15-character form), an org holding both
    Accounts, and the env pointing the CLI at it."""
    crm_sims.reset()
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    db = seed_database(tmp_path / "territory.duckdb")
    with duckdb.connect(str(db)) as conn:
        for key, record_id in (("helix", HELIX[:15]), ("crumb", CRUMB)):
            conn.execute(
                "UPDATE company_results SET metadata = ? WHERE company_key = ?",
                [json.dumps({"Id": record_id}), key],
            )
    for name, value in {
        "TERRITORY_DB": str(db),
        "SALESFORCE_INSTANCE_URL": crm_sims.salesforce_url,
        "SALESFORCE_ACCESS_TOKEN": SALESFORCE_TOKEN,
        "RETRY_BASE_DELAY": "0.01",
        "RETRY_MAX_DELAY": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    crm_sims.salesforce.add(HELIX, Name="Helix AI", Industry="AI")
    crm_sims.salesforce.add(CRUMB, Name="Crumb Bakery", GPU_Tier__c="COLD")
    yield crm_sims.salesforce
    assert not files_holding([SALESFORCE_TOKEN], tmp_path), "the token reached a file"


def push(*flags):
    return main(["crm", "push", "--territory", "emea", "--target", "salesforce", *flags])


def test_push_writes_our_fields_only_and_stores_what_the_org_holds(salesforce, tmp_path):
    assert push() == 0
    records = salesforce.snapshot()
    assert records[HELIX]["GPU_Tier__c"] == "HOT" and records[HELIX]["GPU_Score__c"] == 91
    assert records[HELIX]["GPU_Override__c"] is False and records[HELIX]["Industry"] == "AI"
    (patch,) = salesforce.seen("PATCH", "composite/sobjects")
    assert patch.body["allOrNone"] is False
    assert all(set(r) - {"attributes", "id"} == OURS for r in patch.body["records"])
    rows = query(tmp_path, "SELECT company, status, record_id, sent FROM crm_pushes")
    by = {r[0]: r[1:] for r in rows}
    assert by["Initech"][0] == "skipped"
    for company, record_id in (("Helix AI", HELIX[:15]), ("Crumb Bakery", CRUMB)):
        status, stored_id, sent = by[company]
        assert (status, stored_id) == ("pushed", record_id)
        full = next(i for i in records if i[:15] == record_id[:15])
        assert json.loads(sent) == {k: records[full][k] for k in OURS}


def test_only_changed_sends_nothing_the_second_time(salesforce, tmp_path):
    assert push("--only-changed") == 0
    assert push("--only-changed") == 0  # 91.0 is 91; ...000+0000 is Z
    assert len(salesforce.seen("PATCH", "composite/sobjects")) == 1
    assert push("--only-changed", "--dry-run") == 0
    with open(tmp_path / "crm-diff-emea-salesforce.csv", encoding="utf-8-sig") as f:
        assert list(csv.DictReader(f)) == []


def test_429_and_503_mid_push_lose_nothing(salesforce, tmp_path):
    salesforce.inject("PATCH", "composite/sobjects", 429, retry_after=0.2)
    salesforce.inject("PATCH", "composite/sobjects", 503)
    assert push() == 0
    assert [r.status for r in salesforce.seen("PATCH", "composite/sobjects")] == [429, 503, 200]
    assert salesforce.snapshot()[CRUMB]["GPU_Tier__c"] == "COLD"
    assert salesforce.snapshot()[HELIX]["GPU_Tier__c"] == "HOT"
    assert query(tmp_path, "SELECT count(*) FROM crm_pushes WHERE status = 'pushed'") == [(2,)]


def test_a_field_the_org_lacks_fails_with_the_reason(salesforce, tmp_path):
    salesforce.writable = SALESFORCE_FIELDS | (OURS - {"GPU_Rank__c"})
    assert push() == 1
    rows = query(tmp_path, "SELECT status, reason FROM crm_pushes WHERE company = 'Helix AI'")
    assert rows[0][0] == "failed" and "No such column 'GPU_Rank__c'" in rows[0][1]
    assert salesforce.seen("PATCH", "composite/sobjects") == []  # refused at the read


def test_unmatched_then_create_missing(salesforce, tmp_path):
    with duckdb.connect(str(tmp_path / "territory.duckdb")) as conn:
        conn.execute("UPDATE company_results SET metadata = '{}' WHERE company_key = 'crumb'")
    assert push() == 0
    rows = query(tmp_path, "SELECT status, reason FROM crm_pushes WHERE company = 'Crumb Bakery'")
    assert rows[0][0] == "unmatched" and "no CRM id" in rows[0][1]
    assert salesforce.seen("POST", "composite/sobjects") == []
    assert push("--create-missing") == 0
    (post,) = salesforce.seen("POST", "composite/sobjects")
    assert post.body["records"][0]["Name"] == "Crumb Bakery"
    new_id = query(
        tmp_path, "SELECT record_id FROM crm_pushes WHERE company = 'Crumb Bakery' "
        "AND matched_by = 'created'"
    )[0][0]  # fmt: skip
    assert salesforce.snapshot()[new_id]["GPU_Tier__c"] == "COLD"


def test_a_bad_token_stops_with_one_line_and_exit_1(salesforce, monkeypatch, capsys):
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "00Dwrong")
    assert push() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("territory: Salesforce rejected the access token (401")
    assert "00Dwrong" not in "\n".join(err)


def test_crm_import_export(salesforce, tmp_path):
    out = tmp_path / "import.csv"
    args = ["export", str(out), "--territory", "emea", "--format", "crm-import"]
    assert main([*args, "--target", "salesforce"]) == 0
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["Id"] for r in rows] == [HELIX[:15], CRUMB]
    assert set(rows[0]) == {"Id", "Name"} | OURS and rows[0]["GPU_Score__c"] == "91"


def test_batches_stay_within_salesforces_200_records(salesforce, tmp_path, monkeypatch):
    ids = [f"001{i:012d}AAA" for i in range(250)]
    seed_territory(tmp_path / "big.duckdb", [(f"Co {i}", None, {"Id": i}, "HOT") for i in ids])
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "big.duckdb"))
    for record_id in ids:
        salesforce.add(record_id, Name=f"Co {record_id}")
    assert main(["crm", "push", "--territory", "t", "--target", "salesforce"]) == 0
    patches = [len(r.body["records"]) for r in salesforce.seen("PATCH", "composite/sobjects")]
    assert patches == [200, 50] and len(salesforce.seen("GET", "query")) == 2
    assert all(r["GPU_Tier__c"] == "HOT" for i, r in salesforce.snapshot().items() if i in ids)
