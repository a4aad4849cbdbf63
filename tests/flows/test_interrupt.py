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

from simulators.faults import FaultRule
from tests.helpers import fresh_prefect_home, simulator_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def test_ctrl_c_keeps_every_finished_company_and_does_not_wait_for_slow_answers(
    tmp_path, sims, prefect_server
):
    # Six companies the model answers at once, four it takes minutes over (a slow model):
    # stopping keeps the six, cuts the four's requests and exits in seconds.
    for i in range(4):
        sims.llm.add_fault(FaultRule(kind="hang", match=f"Slow Co {i}", delay=300))
    names = [f"Fast Co {i}" for i in range(6)] + [f"Slow Co {i}" for i in range(4)]
    csv = tmp_path / "big.csv"
    csv.write_text("name\n" + "\n".join(names) + "\n")
    db = tmp_path / "t.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    env |= simulator_env(sims, db) | {
        "PREFECT_HOME": str(fresh_prefect_home(tmp_path / "prefect-home")),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PREFECT_API_URL", None)
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "territory.cli", "run", str(csv)],
            cwd=ROOT,
            env=env,
            stderr=err,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            answered = [e for e in sims.llm.stats()["log"] if e.get("status") == 200]
            if len(answered) >= 6:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # their results handed over; stopping stores what has finished
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=120)
    took = time.monotonic() - signalled
    stderr = err_file.read_text()
    assert returncode == 130, stderr[-1500:]
    assert "interrupted; companies already classified are kept" in stderr
    assert took < 20, f"stopping took {took:.0f} s"  # not the 300 s the slow answers would

    with duckdb.connect(str(db), read_only=True) as con:
        status, message = con.execute("SELECT status, message FROM runs").fetchone()
        stored = dict(con.execute("SELECT company, status FROM company_results").fetchall())
    assert status == "cancelled" and "KeyboardInterrupt" in message
    assert stored == {f"Fast Co {i}": "ok" for i in range(6)}  # the slow four: next run's
