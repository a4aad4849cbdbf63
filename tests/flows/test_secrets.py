"""Secrets: run the real command with recognisable keys, then search everything it wrote.

The command runs in its own process against a real Prefect server with a home of its own, so
the server's SQLite database of flow runs, parameters, logs and artifacts, its log, and the
command's result storage are all in one folder we can read afterwards (both runs share the
server: a second one would cost its start, 10-15 s, and hold the same tables). Even with
results persisted by default, the flow writes none to result storage (its tasks hand results to
the flow in memory), which the test checks too. The whole suite is also checked for its own
keys at the end (tests/conftest.py)."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.faults import FaultRule
from tests.helpers import (
    files_holding,
    fresh_prefect_home,
    key_needles,
    simulator_env,
    start_prefect_server,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
TAVILY_CANARY = "tvly-CANARY-5d41402abc4b2a76"
LLM_CANARY = "sk-CANARY-7d793037a0760186"


def run_territory(args, env):
    return subprocess.run(
        [sys.executable, "-m", "territory.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_keys_are_nowhere_the_runs_wrote(tmp_path, sims, prefect_server):
    sims.tavily.configure(keys={TAVILY_CANARY})
    sims.llm.configure(keys={LLM_CANARY})
    # A home of its own, its database migrated ahead (as a first run leaves it), so that
    # everything in it was written by these runs.
    home, db = fresh_prefect_home(tmp_path / "prefect-home"), tmp_path / "territory.duckdb"
    names = [f"Canary Robotics {i}" for i in range(6)]
    csv = tmp_path / "canary.csv"
    csv.write_text("name,owner\n" + "\n".join(f"{n},Rep" for n in names) + "\n")

    with start_prefect_server(home) as (server_env, _):
        env = server_env | simulator_env(sims, db)
        env |= {
            "TAVILY_API_KEY": TAVILY_CANARY,
            "LLM_API_KEY": LLM_CANARY,
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_LOGGING_LEVEL": "DEBUG",  # the most a user could ask it to log
        }
        # A run with failures along the way, then one the LLM provider refuses (a 401 whose
        # body echoes part of the key, as OpenAI's does).
        sims.tavily.add_fault(FaultRule(kind="server_error", match=names[1]))
        sims.llm.add_fault(FaultRule(kind="bad_gateway_html", match=names[2], times=1))
        first = run_territory(["run", str(csv)], env)
        assert first.returncode == 0, first.stderr[-2000:]
        sims.reset()
        sims.tavily.configure(keys={TAVILY_CANARY})
        sims.llm.configure(keys={LLM_CANARY})
        sims.llm.add_fault(FaultRule(kind="unauthorized", match=names[0]))
        second = run_territory(["run", str(csv), "--territory", "canary-2", "--refresh"], env)
        assert second.returncode == 1 and "rejected the API key (401)" in second.stderr

    # What we search really is what the runs wrote: the server's database holds the runs'
    # parameters, logs and artifacts, its log what it said; nothing went to result storage.
    server_db = home / "prefect.db"
    with sqlite3.connect(server_db) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("flow_run", "log", "artifact")
        }
    assert counts["flow_run"] == 2 and counts["log"] > 10 and counts["artifact"] >= 3, counts
    assert not (home / "storage").exists()
    server_files = b"".join(f.read_bytes() for f in home.glob("prefect.db*"))  # and its WAL
    assert db.stat().st_size > 0 and names[0].encode() in server_files
    assert (home / "server.log").stat().st_size > 0

    outputs = [first.stdout, first.stderr, second.stdout, second.stderr]
    assert "canary: 6 companies" in first.stdout and "chunk 1/1 stored" in first.stderr
    needles = [n for key in (TAVILY_CANARY, LLM_CANARY) for n in key_needles(key)]
    for output in outputs:
        assert not any(n.decode() in output for n in needles)
    assert files_holding([TAVILY_CANARY, LLM_CANARY], tmp_path) == []


def test_the_search_finds_a_key_in_plain_text_or_base64(tmp_path):
    import base64

    (tmp_path / "clean.log").write_text("nothing to see")
    (tmp_path / "plain.log").write_text(f"Authorization: Bearer {LLM_CANARY}\n")
    for offset in range(3):  # a pickled result, base64-encoded at any alignment
        blob = base64.b64encode(b"x" * offset + TAVILY_CANARY.encode() + b"rest")
        (tmp_path / f"result-{offset}.json").write_bytes(b'{"data": "' + blob + b'"}')
    found = files_holding([TAVILY_CANARY, LLM_CANARY], tmp_path)
    assert sorted(Path(f).name for f in found) == [
        "plain.log",
        "result-0.json",
        "result-1.json",
        "result-2.json",
    ]
