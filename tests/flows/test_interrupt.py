"""Stopping a run part-way (Ctrl-C here; Prefect cancellation raises the same way) keeps what
was stored, and the file stays sound for the next run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.helpers import fresh_prefect_home, simulator_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def test_ctrl_c_keeps_finished_chunks_and_marks_the_run(tmp_path, sims, prefect_server):
    sims.llm.configure(latency={"median": 0.7, "sigma": 0.0, "max": 0.7})
    csv = tmp_path / "big.csv"
    csv.write_text("name\n" + "\n".join(f"Interrupted Co {i:02d}" for i in range(24)) + "\n")
    db = tmp_path / "t.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    env |= simulator_env(sims, db) | {
        "BATCH_SIZE": "4",
        "LLM_CONCURRENCY": "2",  # about 8 s of LLM calls: time to interrupt it
        "PREFECT_HOME": str(fresh_prefect_home(tmp_path / "prefect-home")),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "territory.cli", "run", str(csv)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    for line in proc.stderr:
        if "chunk 1/6 stored" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-1500:]
    assert "interrupted; chunks already stored are kept" in err

    with duckdb.connect(str(db), read_only=True) as con:
        status, message = con.execute("SELECT status, message FROM runs").fetchone()
        stored = con.execute(
            "SELECT count(*), count(*) FILTER (status = 'ok') FROM company_results"
        ).fetchone()
    assert status == "cancelled" and "KeyboardInterrupt" in message
    assert stored[0] == stored[1] and 4 <= stored[0] < 24
