"""The writer keeps its DuckDB between sessions and lets go of the file after each: another
process reads it between them, and a session that broke off starts the next one afresh."""

import subprocess
import sys
from pathlib import Path

import pytest

from storage.duckdb_store import WRITER_SESSIONS, TerritoryStore


def read_elsewhere(path: Path, sql: str) -> str:
    """`sql`'s first value, read by another process (it cannot open a file held here)."""
    code = (
        "import duckdb\n"
        f"print(duckdb.connect({str(path)!r}, read_only=True).execute({sql!r}).fetchone()[0])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_writer_keeps_its_duckdb_and_lets_go_of_the_file_between_sessions(tmp_path):
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    with store.session() as first:
        run = store.start_run("emea", "full", {}, None, 1, 0, 1)
    # Let go, and checkpointed as a close would: no write-ahead log left for a reader.
    assert not Path(f"{path}.wal").exists()
    assert read_elsewhere(path, "SELECT status FROM runs") == "running"
    with store.session() as second:
        store.finish_run(run, "completed")
    assert second is first  # the same DuckDB, the file attached again
    assert read_elsewhere(path, "SELECT status FROM runs") == "completed"


def test_the_writer_makes_its_duckdb_anew_after_so_many_sessions_and_keeps_every_write(tmp_path):
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    used = []  # the DuckDB of each session (kept here, so no two are the same object)
    for n in range(2 * WRITER_SESSIONS + 1):
        with store.session() as conn:
            store.start_run(f"territory {n}", "full", {}, None, 1, 0, 1)
            used.append(conn)
    streaks = [[used[0]]]  # sessions in a row on one DuckDB
    for conn in used[1:]:
        if conn is streaks[-1][0]:
            streaks[-1].append(conn)
        else:
            assert all(conn is not earlier[0] for earlier in streaks)  # never one taken back
            streaks.append([conn])
    assert len(streaks) >= 2 and max(map(len, streaks)) <= WRITER_SESSIONS
    assert read_elsewhere(path, "SELECT count(*) FROM runs") == str(len(used))


def test_a_session_that_broke_off_leaves_nothing_and_the_next_starts_afresh(tmp_path):
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    with pytest.raises(KeyboardInterrupt), store.session() as broken:
        broken.execute("BEGIN TRANSACTION")
        store.start_run("emea", "full", {}, None, 1, 0, 1)
        raise KeyboardInterrupt  # a Ctrl-C inside an open transaction
    assert read_elsewhere(path, "SELECT count(*) FROM runs") == "0"
    with store.session() as after:
        store.start_run("emea", "full", {}, None, 1, 0, 1)
    assert after is not broken
    assert read_elsewhere(path, "SELECT count(*) FROM runs") == "1"


def test_a_transaction_left_open_is_rolled_back_and_the_file_let_go(tmp_path):
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    with store.session() as conn:
        conn.execute("BEGIN TRANSACTION")
        store.start_run("emea", "full", {}, None, 1, 0, 1)  # never committed
    assert read_elsewhere(path, "SELECT count(*) FROM runs") == "0"


def test_the_writers_duckdb_work_runs_on_the_thread_that_asks_for_it(tmp_path):
    """No DuckDB worker thread beside it: what a session costs shows in the store phase's
    clock (a thread's CPU), not somewhere the run's phases do not look."""
    code = f"""
import resource, time
from datetime import UTC, datetime
from domain.models import SearchPage
from storage.duckdb_store import WRITER_SESSIONS, TerritoryStore
from tests.storage.test_page_storage import outcome

store = TerritoryStore.open({str(tmp_path / "t.duckdb")!r})
def process_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, mine = process_cpu(), time.thread_time()
for s in range(12):  # sessions of new texts, merged by each close's checkpoint
    pages = [SearchPage(url=f"https://{{s}}-{{i}}.example", title="t", score=0.9, content="c",
                        raw_content=f"Page {{s}} {{i}}. " + "H100 cluster of GPUs. " * 900)
             for i in range(40)]
    store.save_searches([outcome(f"co-{{s}}", datetime(2026, 11, 1, tzinfo=UTC), pages)])
print(time.thread_time() - mine, process_cpu() - start)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mine, process = map(float, proc.stdout.split())
    assert mine >= 0.9 * process, (mine, process)
