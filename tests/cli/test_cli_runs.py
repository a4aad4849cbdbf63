"""The command line driving real runs: the README quickstart, rerun-failed, lookup."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from simulators.content import expected_tier
from simulators.faults import FaultRule
from territory.cli import main
from tests.helpers import fresh_prefect_home, query

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def test_readme_quickstart_stores_every_sample_company(tmp_path, prefect_server):
    """`territory run examples/companies.csv --simulate`, as the README says, from the repo."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAVILY_", "LLM_", "PREFECT_API_URL"))
    }
    env |= {
        "TERRITORY_DB": str(tmp_path / "quickstart.duckdb"),
        # A new home, as a first-time user has; its database migrated ahead (see helpers).
        "PREFECT_HOME": str(fresh_prefect_home(tmp_path / "prefect-home")),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "territory.cli", "run", "examples/companies.csv", "--simulate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "companies: 300 companies, 300 classified" in proc.stdout
    # Not a terminal: plain lines, one per chunk with the run's numbers, no live redraws, and
    # no task run's state line (they are in the Prefect API's logs).
    chunks = [line for line in proc.stderr.splitlines() if " - chunk " in line]
    assert len(chunks) == 300 // 50 and "300/300 done (HOT " in chunks[-1]
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    assert "Finished in state Completed()" in proc.stderr  # the flow run's own line
    assert "Task run" not in proc.stderr
    with duckdb.connect(str(tmp_path / "quickstart.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT company, tier, status FROM company_results").fetchall()
    assert len(rows) == 300 and {s for _, _, s in rows} == {"ok"}
    assert all(tier == expected_tier(name) for name, tier, _ in rows)


def test_a_second_simulated_run_finds_the_first_ones_searches(territory_env, capsys, caplog):
    """`--simulate` starts its simulators on a new port each time: the runs still share one
    search cache, so the second run, inside every tier's window, does no work."""
    csv = territory_env / "demo.csv"
    csv.write_text(
        "name\nHelix Robotics\nAshcombe Bakehouse\nNorthwind Vision\n\n"  # and a report's footer
        '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
        '"Confidential Information - Do Not Distribute"\n'
    )
    assert main(["run", str(csv), "--simulate"]) == 0
    first = capsys.readouterr()
    assert "demo: 3 companies, 3 classified" in first.out
    footer = "0 duplicate rows merged; the 2 lines of a Salesforce report's footer left out)"
    assert f"territory 'demo': 3 companies ({footer}" in first.err  # the command's own line
    assert f"3 companies in territory 'demo' ({footer}" in caplog.text  # the flow run's log
    assert main(["run", str(csv), "--simulate"]) == 0
    out = capsys.readouterr().out
    assert "0 classified" in out and "3 not due for a refresh" in out
    rows = query(territory_env, "SELECT n_not_due, tavily_credits FROM runs ORDER BY started_at")
    assert [r[0] for r in rows] == [0, 3] and rows[1][1] == 0
    stored = query(territory_env, "SELECT DISTINCT parameters->>'endpoint' FROM searches")
    assert stored == [("simulator",)]


def test_cli_run_then_rerun_failed_touches_only_the_failed(territory_env, sims, capsys):
    csv = territory_env / "west.csv"
    csv.write_text("name,owner\nAlpha Robotics,A\nBeta Bakery,B\nGamma Labs,C\n")
    sims.llm.add_fault(FaultRule(kind="server_error", match="Gamma Labs"))
    assert main(["run", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "west: 3 companies, 2 classified" in out and "1 failed" in out

    sims.reset()
    assert main(["rerun-failed"]) == 0  # defaults to the most recent run's territory
    assert "west: 1 companies, 1 classified" in capsys.readouterr().out
    assert [e["company"] for e in sims.llm.stats()["log"]] == ["Gamma Labs"]
    assert sims.tavily.stats()["requests"] == 0  # its search was cached
    assert main(["results", "--territory", "west", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["company"]: (r["status"], r["owner"]) for r in rows} == {
        "Alpha Robotics": ("ok", "A"),
        "Beta Bakery": ("ok", "B"),
        "Gamma Labs": ("ok", "C"),
    }


def test_lookup_prints_one_company_in_full(territory_env, sims, capsys):
    assert main(["lookup", "Helix Robotics", "--domain", "helixrobotics.example"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Helix Robotics (helixrobotics.example)")
    assert "tier: " in out and "reasoning: " in out and "http" in out
    assert "(helixrobotics.example)" in sims.tavily.stats()["log"][0]["query"]
    # A lookup is a run of one company: it conflicts only with runs of that company.
    assert query(territory_env, "SELECT territory, only_company, status FROM runs") == [
        ("lookups", "helix robotics", "completed")
    ]
    # A company that cannot be classified is a failed lookup: exit 1, with the reason.
    sims.llm.add_fault(FaultRule(kind="server_error", match="Gamma Labs"))
    assert main(["lookup", "Gamma Labs"]) == 1
    assert "status: failed: LLM HTTP 500" in capsys.readouterr().out
