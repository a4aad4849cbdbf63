"""Reading commands stream rows from DuckDB: their output is what the whole-list code wrote."""

import contextlib
import csv
import io
import json

import pytest

from domain.models import Classification, CompanyResult, Signal
from storage.duckdb_store import TerritoryStore
from territory.cli import main
from territory.console import text, write_csv, write_json_list
from territory.read_commands import _public
from tests.helpers import seed_database

TERRITORY = "emea"


@pytest.fixture
def varied_db(tmp_path, monkeypatch):
    """The seeded territory plus companies whose passthrough columns differ row to row (one
    named like a result column), more of them than one fetch of rows."""
    db = seed_database(tmp_path / "varied.duckdb")
    verdict = Classification(
        tier="WARM", score=50, confidence="low", reasoning="Some ML.\nTwo lines, “quoted”.",
        signals=[Signal(kind="ml", url="https://w.example/é", excerpt="Uses GPUs 🚀.")],
    )  # fmt: skip
    extra = [
        CompanyResult(
            company_key=f"warm {i:04d}",
            name=f"Warm Co {i:04d}",
            status="ok",
            classification=verdict,
            metadata={"region": "EMEA", "Tier": "gold"} if i % 2 else {"segment": "SMB"},
        )
        for i in range(2_100)
    ]
    with TerritoryStore.open(db) as store:
        run = store.start_run(TERRITORY, "full", {}, None, len(extra), 0, len(extra))
        store.save_results(run, TERRITORY, extra)
        store.finish_run(run, "completed")
    monkeypatch.setenv("TERRITORY_DB", str(db))
    return db


def old_rows(db):
    with TerritoryStore.open(db, read_only=True) as store:
        return [_public(r) for r in store.effective_results(territory=TERRITORY)]


def test_json_list_is_byte_for_byte_json_dumps():
    for rows in ([], [{"a": [1, {"b": "x\ny"}], "c": "é"}], [{}, [], "s", None]):
        out = io.StringIO()
        write_json_list(rows, out)
        assert out.getvalue() == json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def test_results_json_and_csv_are_what_the_lists_gave(varied_db, capsys):
    rows = old_rows(varied_db)
    assert main(["results", "--territory", TERRITORY, "--format", "json"]) == 0
    streamed = capsys.readouterr().out
    assert streamed == json.dumps(rows, ensure_ascii=False, indent=2, default=text) + "\n"

    assert main(["results", "--territory", TERRITORY, "--format", "csv"]) == 0
    streamed = capsys.readouterr().out
    with contextlib.redirect_stdout(io.StringIO()) as whole:
        write_csv(rows)  # the union of every row's keys, in the order they first appear
    assert streamed == whole.getvalue()
    header = next(csv.reader(io.StringIO(streamed)))
    assert header[-4:] == ["crm_id", "segment", "region", "meta_Tier"]


def test_export_streams_every_company_in_each_format(varied_db, tmp_path, capsys):
    n = len(old_rows(varied_db))
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"out.{fmt}"
        assert main(["export", str(out), "--territory", TERRITORY]) == 0
        assert f"export: {n} companies" in capsys.readouterr().err
        if fmt == "csv":
            with out.open(encoding="utf-8-sig") as handle:
                found = list(csv.DictReader(handle))
            assert list(found[0])[:5] == ["owner", "crm_id", "segment", "region", "meta_Tier"]
        elif fmt == "json":
            found = json.loads(out.read_text(encoding="utf-8"))
            assert found[1]["signals"] == [
                {"kind": "ml", "url": "https://w.example/é", "excerpt": "Uses GPUs 🚀."}
            ]
        else:
            import duckdb

            found = duckdb.sql(f"SELECT * FROM '{out}'").fetchall()
        assert len(found) == n == 2_103


def test_rows_keep_their_own_text_when_two_territories_share_a_company(tmp_path):
    db = seed_database(tmp_path / "two.duckdb")  # emea: helix, crumb, initech
    verdict = Classification(tier="COLD", score=3, confidence="high", reasoning="APAC view.",
                             signals=[])  # fmt: skip
    with TerritoryStore.open(db) as store:
        run = store.start_run("apac", "full", {}, None, 1, 0, 1)
        store.save_results(run, "apac", [
            CompanyResult(company_key="helix", name="Helix AI", status="ok",
                          classification=verdict, metadata={"owner": "Kim"}),
        ])  # fmt: skip
        store.finish_run(run, "completed")
    with TerritoryStore.open(db, read_only=True) as store:
        rows = list(store.iter_effective_results())  # every territory
        by_place = {(r["territory"], r["company_key"]): r for r in rows}
        assert len(rows) == 4
        assert by_place[("apac", "helix")]["reasoning"] == "APAC view."
        assert by_place[("apac", "helix")]["metadata"] == {"owner": "Kim"}
        assert by_place[("emea", "helix")]["metadata"] == {"owner": "Dana", "crm_id": "7"}
        assert rows == store.effective_results()
        narrow = list(store.iter_effective_results("emea", columns=["tier", "score"]))
        assert [set(r) for r in narrow] == [{"territory", "company_key", "tier", "score"}] * 3
