"""Exports for a CRM or a spreadsheet: CSV, Parquet and JSON with the passthrough columns."""

import csv
import json
import os

import duckdb
import pytest

from domain.models import Classification, CompanyResult, Signal
from storage.duckdb_store import TerritoryStore
from territory.cli import main
from tests.helpers import seed_database


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = seed_database(tmp_path / "t.duckdb")
    with TerritoryStore.open(path) as store:  # and a name a spreadsheet would run as a formula
        run = store.start_run("emea", "full", {}, None, 1, 0, 1)
        verdict = Classification(
            tier="WARM",
            score=50,
            confidence="low",
            reasoning="r",
            signals=[Signal(kind="other", url="https://f.example/x", excerpt="Uses AI daily.")],
        )
        store.save_results(
            run,
            "emea",
            [
                CompanyResult(
                    company_key="formula",
                    name='=HYPERLINK("http://evil.example","Formula Co")',
                    status="ok",
                    classification=verdict,
                    metadata={"owner": "Kim", "crm_id": "007"},
                    cost_usd=0.0123,
                )
            ],
        )
        store.finish_run(run, "completed")
    monkeypatch.setenv("TERRITORY_DB", str(path))
    return path


def test_csv_keeps_crm_columns_and_defuses_formulas(db, tmp_path, capsys):
    out = tmp_path / "out" / "emea.csv"
    assert main(["export", str(out), "--territory", "emea"]) == 0
    assert "export: 4 companies of 'emea'" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert list(rows[0])[:2] == ["owner", "crm_id"]  # passthrough first, under their own names
    by_owner = {r["crm_id"]: r for r in rows}
    assert by_owner["007"]["company"].startswith("'=HYPERLINK(")  # stays text in a spreadsheet
    helix = next(r for r in rows if r["company"] == "Helix AI")
    assert (helix["tier"], helix["score"], helix["owner"]) == ("HOT", "91", "Dana")
    assert helix["top_signal"] == "Helix trains LLMs on 2,000 H100s."
    assert json.loads(helix["signals"])[0]["url"] == helix["top_signal_url"]


def test_parquet_is_typed_and_json_keeps_exact_values(db, tmp_path):
    parquet, js = tmp_path / "emea.parquet", tmp_path / "emea.json"
    assert main(["export", str(parquet), "--territory", "emea"]) == 0
    assert main(["export", str(js), "--territory", "emea"]) == 0
    with duckdb.connect() as conn:
        types = {r[0]: r[1] for r in conn.execute(f"DESCRIBE SELECT * FROM '{parquet}'").fetchall()}
        rows = conn.execute(
            f"SELECT company, score, crm_id, cost_usd FROM '{parquet}' ORDER BY crm_id"
        ).fetchall()
    assert types["score"] == "INTEGER" and types["crm_id"] == "VARCHAR"
    assert types["updated_at"].startswith("TIMESTAMP")
    assert rows[0] == ('=HYPERLINK("http://evil.example","Formula Co")', 50, "007", 0.0123)
    records = json.loads(js.read_text())
    assert {r["crm_id"] for r in records} == {"007", "7", "8", "9"}
    formula = next(r for r in records if r["crm_id"] == "007")
    assert formula["company"].startswith("=HYPERLINK(")  # JSON and Parquet: the exact value
    assert formula["signals"] == [
        {"kind": "other", "url": "https://f.example/x", "excerpt": "Uses AI daily."}
    ]
    # Every format is written whole beside the target and renamed, with the permissions of
    # any new file (not a temporary file's 0600), and leaves nothing else behind.
    csv_out = tmp_path / "emea.csv"
    assert main(["export", str(csv_out), "--territory", "emea"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    for out in (parquet, js, csv_out):
        assert out.stat().st_mode & 0o777 == 0o666 & ~umask, out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "x.csv", "--territory", "nowhere"], "territory 'nowhere' has no results"),
        (["export", "x.xlsx", "--territory", "emea"], "say --format csv, parquet or json"),
    ],
)
def test_export_mistakes_are_one_line(db, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
