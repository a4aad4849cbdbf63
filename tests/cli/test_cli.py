"""The command line: bad input is one line and exit 2, the database untouched; output formats."""

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.duckdb_store import TerritoryStore
from territory.cli import main
from tests.helpers import seed_database

ROOT = Path(__file__).parents[2]


def territory(*args, env=None, cwd=None):
    """Run the real `territory` command in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    full_env |= {"TAVILY_API_KEY": "tvly-x", "LLM_API_KEY": "sk-x"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "territory.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=120,
    )


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def seeded_db(tmp_path):
    """A database holding one finished run with a HOT, a COLD and a failed company."""
    return seed_database(tmp_path / "seeded.duckdb")


BROKEN = {
    "no_name_column.csv": b"org,url\nAcme,acme.example\n",
    "empty.csv": b"",
    "header_only.csv": b"name,domain\n",
    "long_name.csv": b"name\n" + b"A" * 301 + b"\n",
    "invalid_utf8.csv": b"name\nCaf\xe9 \xff\xfe\n",
    "binary.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "ragged.csv": b"name,domain\nAcme,acme.example,extra,more\n",
}


@pytest.mark.parametrize("filename", sorted(BROKEN))
def test_bad_csv_is_one_line_exit_2_and_leaves_the_db_alone(tmp_path, seeded_db, filename):
    path = tmp_path / filename
    path.write_bytes(BROKEN[filename])
    before = digest(seeded_db)
    proc = territory("run", str(path), env={"TERRITORY_DB": str(seeded_db)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("territory: ") and "Traceback" not in proc.stderr
    assert digest(seeded_db) == before


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"TAVILY_API_KEY": ""}, "TAVILY_API_KEY is not set"),
        ({"LLM_API_KEY": ""}, "LLM_API_KEY (or OPENAI_API_KEY) is not set"),
        ({"TAVILY_BASE_URL": "not a url"}, "TAVILY_BASE_URL"),
        ({"BATCH_SIZE": "0"}, "BATCH_SIZE"),
    ],
)
def test_bad_configuration_is_one_line_exit_2(tmp_path, env, fragment):
    path = tmp_path / "ok.csv"
    path.write_text("name\nAcme\n")
    proc = territory("run", str(path), env={"TERRITORY_DB": str(tmp_path / "x.duckdb")} | env)
    assert proc.returncode == 2
    assert fragment in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.duckdb").exists()


def test_results_json_has_the_documented_fields(seeded_db, monkeypatch, capsys):
    monkeypatch.setenv("TERRITORY_DB", str(seeded_db))
    assert main(["results", "--territory", "emea", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["company"] for r in rows] == ["Helix AI", "Crumb Bakery", "Initech"]
    required = {
        "company",
        "domain",
        "tier",
        "score",
        "confidence",
        "status",
        "error",
        "reasoning",
        "signals",
        "run_id",
        "updated_at",
        "owner",
        "crm_id",
    }
    assert all(required <= set(r) for r in rows)
    assert rows[0]["signals"] == [
        {
            "kind": "ml_training",
            "url": "https://h.example/a",
            "excerpt": "Helix trains LLMs on 2,000 H100s.",
        }
    ]
    assert rows[2]["status"] == "failed" and "HTTP 500" in rows[2]["error"]


def test_results_filters_by_tier_and_exports_csv(seeded_db, monkeypatch, capsys):
    monkeypatch.setenv("TERRITORY_DB", str(seeded_db))
    assert main(["results", "--tier", "hot", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["company"], r["tier"], r["owner"]) for r in rows] == [("Helix AI", "HOT", "Dana")]


def test_table_output_and_run_history(seeded_db, monkeypatch, capsys):
    monkeypatch.setenv("TERRITORY_DB", str(seeded_db))
    assert main(["results"]) == 0
    out = capsys.readouterr().out
    assert "Helix AI" in out and "Helix trains LLMs" in out
    assert main(["runs", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["territory"], r["status"], r["n_ok"], r["n_failed"], r["n_hot"]) for r in runs] == [
        ("emea", "completed", 2, 1, 1)
    ]
    assert runs[0]["cpu_ms"] is None and runs[0]["cpu_ms_per_company"] is None  # not measured
    with TerritoryStore.open(seeded_db) as store:
        store.set_cpu(runs[0]["run_id"], {"search": 30.0, "trim": 45.0, "store": 15.0,
                                          "companies": 3})  # fmt: skip
    assert main(["runs", "--format", "json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["cpu_ms"]["trim"] == 45.0 and run["cpu_ms_per_company"] == 30.0
    assert main(["runs"]) == 0
    head, row = capsys.readouterr().out.splitlines()[:2]
    assert "cpu_ms_per_company" in head and " 30.0 " in row
    import duckdb

    with duckdb.connect(str(seeded_db)) as conn:  # a run's sum of many small costs
        conn.execute("UPDATE runs SET cost_usd = 5.3836036")
    assert main(["runs"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert " 5.38 " in row and "5.3836" not in row  # to the cent, like every cost line
    assert main(["runs", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["cost_usd"] == 5.3836036  # data: whole


def test_the_results_table_shows_a_quote_as_read_and_json_keeps_it_verbatim(
    seeded_db, monkeypatch, capsys
):
    import duckdb

    quote = "interfacing with the [Cohere API](https://docs.cohere.ai/) in Python 3."
    signal = {"kind": "inference", "url": "https://pypi.org/project/cohere/", "excerpt": quote}
    with duckdb.connect(str(seeded_db)) as conn:
        conn.execute(
            "UPDATE company_results SET signals = ? WHERE company = 'Helix AI'",
            [json.dumps([signal])],
        )
    monkeypatch.setenv("TERRITORY_DB", str(seeded_db))
    assert main(["results"]) == 0
    out = capsys.readouterr().out
    assert "interfacing with the Cohere API in" in out and "](" not in out
    assert main(["results", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["top_signal"] for r in rows if r["company"] == "Helix AI"] == [quote]


def test_reading_a_missing_database_is_a_clear_error(tmp_path):
    proc = territory("results", env={"TERRITORY_DB": str(tmp_path / "none.duckdb")})
    assert proc.returncode == 2 and "no database at" in proc.stderr
