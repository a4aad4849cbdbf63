"""Crashes: a run killed with SIGKILL loses nothing it stored, and two runs on one file cannot
trample each other.

Each test drives the real `territory` command in child processes (talking to the session's
Prefect test server) against the simulators, and asserts on the DuckDB file and on what
reached the simulators."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from territory.cli import main
from tests.helpers import query, simulator_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def territory_process(sims, db, *args, **env):
    """`territory ARGS` in its own process group (so a kill takes it whole, as a crash would)."""
    from prefect.settings import PREFECT_API_URL

    base = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    base |= simulator_env(sims, db) | {
        "PREFECT_API_URL": PREFECT_API_URL.value(),  # the test server: no 10 s server start
        # Each run keeps its own caps: a killed run's leased shared slots would otherwise stay
        # taken until the server reclaims them, which is not what these tests are about.
        "SHARE_LIMITS_ACROSS_RUNS": "false",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "territory.cli", *args],
        cwd=ROOT,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(proc, needle, timeout=180):
    """Read the process's stderr until a line contains `needle`; return what was read."""
    seen, deadline = [], time.monotonic() + timeout
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)[-3000:]
    raise AssertionError(f"{needle!r} never came:\n" + "".join(seen)[-3000:])


# Enough companies that a kill at the third chunk leaves some unsearched: searches run ahead
# of classification by the open window (24 companies at these settings).
NAMES = [f"Crashtest Robotics {i:02d}" for i in range(60)]


def test_sigkill_mid_run_loses_no_stored_company_and_the_rerun_does_only_the_rest(
    tmp_path, sims, prefect_server, monkeypatch
):
    # Answers slow enough that the kill comes well before the searches, 24 companies ahead,
    # run out: at 0.3 s a loaded CI machine's kill once came after all 60 were searched. A
    # chunk's line comes once its results are stored, with the store's pace: the companies
    # stored can run ahead of the lines, never behind. The rerun answers at once.
    sims.llm.configure(latency={"median": 1.0, "sigma": 0.0, "max": 1.0})
    csv = tmp_path / "crash.csv"
    csv.write_text("name\n" + "\n".join(NAMES) + "\n")
    db = tmp_path / "t.duckdb"
    proc = territory_process(
        sims, db, "run", str(csv), BATCH_SIZE="4", LLM_CONCURRENCY="4", TAVILY_CONCURRENCY="8"
    )
    try:
        seen = wait_for_line(proc, "chunk 3/15 stored")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no handler, no cleanup: a power cut
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # The file opens cleanly (read-write: DuckDB replays its log).
    with duckdb.connect(str(db)) as conn:
        stored = dict(conn.execute("SELECT company, status FROM company_results").fetchall())
        history = conn.execute("SELECT company FROM result_history").fetchall()
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
        cached = {
            n
            for (q,) in conn.execute("SELECT query FROM searches").fetchall()
            for n in NAMES
            if n + " " in q
        }
    assert status == "running"  # nobody was left to say otherwise
    logged = seen.count(" stored: ")  # chunks the run said it had stored before it died
    assert 4 * logged <= len(stored) < len(NAMES) and set(stored.values()) == {"ok"}
    # Stored as each company finished, each one whole: its latest row and its history row.
    assert sorted(c for (c,) in history) == sorted(stored)
    assert set(stored) <= cached and len(cached) < len(NAMES)

    # The same command again: only what was not stored is redone, cached searches are free.
    sims.reset()
    for name, value in simulator_env(sims, db).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(csv)]) == 0
    searched = {n for e in sims.tavily.stats()["log"] for n in NAMES if n + " " in e["query"]}
    assert searched == set(NAMES) - cached
    assert sorted(e["company"] for e in sims.llm.stats()["log"]) == sorted(set(NAMES) - set(stored))
    assert query(db, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [(60,)]
    assert query(db, "SELECT status, n_resumed FROM runs ORDER BY started_at") == [
        ("interrupted", 0),
        ("completed", len(stored)),
    ]


def test_a_second_run_of_the_same_territory_exits_with_one_line_and_no_damage(
    tmp_path, sims, prefect_server
):
    # Slow enough (16 answers of 3 s, one at a time) that the first run is still going however
    # long the second process takes to start on a busy machine; sped up once the second is done.
    sims.llm.configure(latency={"median": 3.0, "sigma": 0.0, "max": 3.0})
    names = NAMES[:16]
    csv = tmp_path / "busy.csv"
    csv.write_text("name\n" + "\n".join(names) + "\n")
    db = tmp_path / "t.duckdb"
    slow = dict(BATCH_SIZE="4", LLM_CONCURRENCY="1")
    first = territory_process(sims, db, "run", str(csv), **slow)
    wait_for_line(first, "16 companies in territory 'busy'")
    second = territory_process(sims, db, "run", str(csv), **slow)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 3, err[-2000:]
    said = [line for line in err.splitlines() if line.startswith("territory:")]
    assert len(said) == 1 and "Traceback" not in err
    assert "territory 'busy' is already being researched by run" in said[0]
    assert "wait for it to finish or stop it" in said[0]

    sims.llm.configure(latency="none")
    first.communicate(timeout=180)
    assert first.returncode == 0
    # One run, every company once, and only the first run's requests reached the providers.
    assert query(db, "SELECT status, n_ok FROM runs") == [("completed", 16)]
    assert query(db, "SELECT count(*), count(DISTINCT company_key) FROM result_history") == [
        (16, 16)
    ]
    assert sims.tavily.stats()["requests"] == 16 and sims.llm.stats()["requests"] == 16
