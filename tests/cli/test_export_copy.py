"""Exports and `results --format csv` are written by DuckDB's COPY; each row must say what
`territory results` says of the same stored result (`public_result` and the passthrough
columns), the results' CSV byte for byte what the Python writer gave: overrides, failures,
no signals, empty text, odd and colliding passthrough names, formulas, tiers, ranks per owner."""

import contextlib
import csv
import io
import json
from datetime import datetime

import duckdb
import pytest

from domain.models import Classification, CompanyResult, Signal
from domain.review import OverrideRequest
from storage.duckdb_store import StoreError, TerritoryStore
from territory.cli import main
from territory.console import write_csv
from territory.export import FORMULA_START, result_types
from territory.read_commands import _public, passthrough, public_result
from tests.helpers import seed_database

# Passthrough keys a CRM export has: a space, a dot, a quote, non-ASCII, and names that a
# result column already has in another case (they become meta_*).
ODD_KEYS = {"Account Owner": "Kim", "a.b": "dot", 'say "hi"': "q", "Région": "Île", "Tier": "A"}


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = seed_database(tmp_path / "t.duckdb")
    verdict = Classification(
        tier="WARM",
        score=50,
        confidence="low",
        reasoning='=SUM(A1) is how it starts, with a line\nbreak, a comma and a "quote"',
        signals=[
            Signal(kind="other", url="https://f.example/x", excerpt="-Uses AI daily."),
            Signal(kind="ml_training", url="https://f.example/y", excerpt="Trains “models”."),
        ],
    )
    bare = Classification(tier="COLD", score=0, confidence="low", reasoning="", signals=[])
    with TerritoryStore.open(path) as store:
        run = store.start_run("emea", "full", {}, None, 2, 0, 2)
        store.save_results(
            run,
            "emea",
            [
                CompanyResult(
                    company_key="formula",
                    name="@Formula Co",
                    status="ok",
                    classification=verdict,
                    metadata={"owner": "Kim", "crm_id": "+007", **ODD_KEYS},
                    cost_usd=0.0123,
                ),
                CompanyResult(
                    company_key="bare",
                    name="Bare Co",
                    status="ok",
                    classification=bare,
                    metadata={"owner": "Kim"},
                    cost_usd=1e-05,
                ),
            ],
        )
        store.finish_run(run, "completed")
        store.save_overrides(
            "emea",
            [
                OverrideRequest(
                    "Crumb Bakery", "set", tier="HOT", score=70, reason="=1+1", by="Dana"
                )
            ],
            "cli",
        )
    monkeypatch.setenv("TERRITORY_DB", str(path))
    return path


def flatten(r, types):
    """One flat row as the Python code wrote it before COPY: passthrough columns first, then
    the result columns of `types` (signals as JSON text, none as no cell)."""
    public = public_result(r)
    signals = public["signals"]
    result = {c: public[c] for c in types if c != "signals"}
    result["signals"] = json.dumps(signals, ensure_ascii=False) if signals else None
    return passthrough(r, types) | result


def _expected(db, by_owner):
    """The flat rows as the Python builder makes them, every value as a CSV cell's text."""
    types = result_types(by_owner)
    with TerritoryStore.open(db, read_only=True) as store:
        owner = "owner" if by_owner else None
        keys = store.metadata_keys("emea", owner=owner)
        rows = [flatten(r, types) for r in store.iter_effective_results("emea", owner=owner)]
    columns = [*passthrough({"metadata": dict.fromkeys(keys)}, types), *types]
    return columns, rows


def _cell(value):
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@pytest.mark.parametrize("by_owner", [False, True])
def test_the_copied_csv_says_what_the_row_builder_says(db, tmp_path, by_owner):
    out = tmp_path / "emea.csv"
    argv = ["export", str(out), "--territory", "emea"] + (["--by", "owner"] if by_owner else [])
    assert main(argv) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    with out.open(newline="", encoding="utf-8-sig") as handle:
        got = list(csv.DictReader(handle))
    columns, rows = _expected(db, by_owner)
    assert list(got[0]) == columns and len(got) == len(rows) == 5
    assert {"meta_Tier", "Account Owner", 'say "hi"', "Région"} <= set(columns)
    for row, want in zip(got, rows, strict=True):
        for column in columns:
            value = want.get(column)
            if isinstance(value, datetime):  # ISO 8601 either way; the same instant
                assert datetime.fromisoformat(row[column]) == value, column
            else:
                assert row[column] == _cell(value), (column, row[column], value)
    formula = next(r for r in got if r["company"] == "'@Formula Co")
    assert formula["crm_id"] == "'+007" and formula["top_signal"] == "'-Uses AI daily."
    assert formula["reasoning"].startswith("'=SUM(A1)") and "\nbreak" in formula["reasoning"]


def test_the_copied_parquet_is_typed_and_holds_the_exact_values(db, tmp_path):
    out = tmp_path / "emea.parquet"
    assert main(["export", str(out), "--territory", "emea", "--by", "owner"]) == 0
    columns, rows = _expected(db, by_owner=True)
    with duckdb.connect() as conn:
        relation = conn.sql(f"SELECT * FROM read_parquet('{out}')")
        assert relation.columns == columns
        types = dict(zip(relation.columns, map(str, relation.types), strict=True))
        got = relation.fetchall()
    assert types["owner_rank"] == "INTEGER" and types["overridden"] == "BOOLEAN"
    assert types["Région"] == "VARCHAR" and types["cost_usd"] == "DOUBLE"
    assert types["updated_at"].startswith("TIMESTAMP")
    for row, want in zip(got, rows, strict=True):
        assert list(row) == [want.get(c) for c in columns]


def test_the_copied_json_keeps_the_signals_a_list_and_the_exact_values(db, tmp_path):
    out = tmp_path / "emea.json"
    assert main(["export", str(out), "--territory", "emea"]) == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    columns, rows = _expected(db, by_owner=False)
    assert [list(r) for r in records] == [columns] * len(rows)
    for record, want in zip(records, rows, strict=True):
        for column in columns:
            value = want.get(column)
            if column == "signals":
                assert record[column] == (json.loads(value) if value else [])
            elif isinstance(value, datetime):
                assert datetime.fromisoformat(record[column]) == value, column
            else:
                assert record[column] == value, (column, record[column], value)
    assert records[0]["company"] == "Helix AI" and records[0]["rank"] == 1


@pytest.mark.parametrize(
    "extra", [[], ["--tier", "HOT"], ["--by", "owner"], ["--tier", "WARM", "--by", "owner"]]
)
def test_results_as_csv_are_the_text_the_python_writer_gave(db, capsys, extra):
    assert main(["results", "--territory", "emea", "--format", "csv", *extra]) == 0
    got = capsys.readouterr().out
    tier = extra[extra.index("--tier") + 1] if "--tier" in extra else None
    owner = "owner" if "--by" in extra else None
    with TerritoryStore.open(db, read_only=True) as store:  # what the rows wrote, row by row
        keys = store.metadata_keys("emea", tier, owner)
        found = list(store.iter_effective_results("emea", tier, owner=owner))
    public = list(public_result(found[0]))
    columns = [*public, *passthrough({"metadata": dict.fromkeys(keys)}, public)]
    with contextlib.redirect_stdout(io.StringIO()) as want:
        write_csv((_public(r) for r in found), columns)
    assert got == want.getvalue() and len(found) >= 1
    if not extra:
        assert ",Bare Co,," in got and '"=SUM(A1) is how it starts' in got  # as stored


def test_a_file_duckdb_cannot_write_is_one_line_and_leaves_nothing(db, tmp_path, capsys):
    out = tmp_path / "emea.csv"
    with TerritoryStore.open(db, read_only=True) as store:
        (tmp_path / "taken.csv.0").mkdir()  # where the first part file would go
        with pytest.raises(StoreError, match=f"cannot write in {tmp_path}: "):
            store.copy_flat_results(tmp_path / "taken.csv", "csv", "emea", {})
    assert main(["export", str(out), "--territory", "emea"]) == 0  # the store still reads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emea.csv", "t.duckdb", "taken.csv.0"]
