"""The writer keeps its DuckDB between sessions and lets go of the file after each: another
process reads it between them, and a session that broke off starts the next one afresh."""

import subprocess
import sys
from pathlib import Path

import pytest

from storage.duckdb_store import TerritoryStore


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
