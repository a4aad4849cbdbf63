"""The run's line on the terminal: rich's live line when stderr is a console (drawn here on a
forced-terminal Console, and once for real on a pty), Prefect's plain lines when it is not (see
the README quickstart test), and never a task run's "Finished in state Completed()"."""

import fcntl
import io
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console

from flows.progress import PROGRESS_LINE, ProgressSnapshot, active_listeners
from simulators.faults import FaultRule
from territory.progress_line import (
    PROGRESS_LINES,
    ROUTINE_TASK_RUN_LINES,
    LinesAbove,
    LiveLine,
    progress_display,
    quiet_task_run_lines,
    terminal_handlers,
)
from tests.helpers import query, simulator_env

ROOT = Path(__file__).parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LIVE = re.compile(
    r"(?P<done>\d+)/(?P<total>\d+) (?P<rate>\S+/min)  ETA (?P<eta>.+?)  "
    r"HOT (?P<hot>\d+) WARM (?P<warm>\d+) COLD (?P<cold>\d+)  (?P<failed>\d+) failed  "
    r"\$(?P<cost>\d+\.\d\d)"
)


def snap(done, total=120, elapsed=90.0, **counts):
    fields = dict(hot=0, warm=0, cold=0, failed=0, cost_usd=0.0) | counts
    return ProgressSnapshot(done=done, total=total, elapsed=elapsed, **fields)


def terminal(width=120) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system="truecolor"), out


def screen_lines(raw: str) -> list[str]:
    """What a terminal leaves visible, roughly: each redraw (after a carriage return) replaces
    the line it is drawn over; escape codes dropped."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        lines.append(ANSI.sub("", line.split("\r")[-1] if "\r" in line else line))
    return [line for line in lines if line.strip()]


def record(name, level, message, **extra):
    rec = logging.LogRecord(name, level, __file__, 1, message, None, None)
    rec.__dict__.update(extra)
    return rec


def test_the_live_line_shows_counts_rate_eta_tiers_failures_and_cost():
    console, out = terminal()
    line = LiveLine(console, "west")
    line.progressed(snap(0))
    line.progressed(snap(30, hot=1, warm=2, cold=3, failed=4, cost_usd=0.4249))
    line.stop()
    raw = out.getvalue()
    assert "\x1b[" in raw  # drawn for a terminal: colours and redraws
    last = screen_lines(raw)[-1]
    assert last.startswith("west ")
    fields = LIVE.search(last).groupdict()
    assert fields == {
        "done": "30",
        "total": "120",
        "rate": "20.0/min",
        "eta": "4m 30s",
        "hot": "1",
        "warm": "2",
        "cold": "3",
        "failed": "4",
        "cost": "0.42",
    }


def test_a_run_refused_before_any_work_leaves_no_line():
    console, out = terminal()
    LiveLine(console, "west").stop()
    assert out.getvalue() == ""


def test_off_a_terminal_nothing_is_drawn_and_prefects_lines_stay_as_they_are():
    quiet_task_run_lines()
    handlers = terminal_handlers("prefect.flow_runs")
    plain = Console(file=io.StringIO(), force_terminal=False)
    with progress_display("west", plain) as line:
        assert line is None and active_listeners() == []
        assert not any(PROGRESS_LINES in h.filters for h in handlers)


def test_on_a_terminal_the_line_listens_and_prefects_chunk_lines_step_aside():
    quiet_task_run_lines()
    console, _ = terminal()
    from prefect.logging.handlers import PrefectConsoleHandler

    [handler] = [
        h for h in terminal_handlers("prefect.flow_runs") if isinstance(h, PrefectConsoleHandler)
    ]
    with progress_display("west", console) as line:
        assert active_listeners() == [line]
        chunk = record("prefect.flow_runs", logging.INFO, "chunk 1/2 stored", **{PROGRESS_LINE: 1})
        assert not handler.filter(chunk)  # the live line shows those numbers
        assert handler.filter(record("prefect.flow_runs", logging.WARNING, "no price for model"))
    assert active_listeners() == [] and PROGRESS_LINES not in handler.filters


def test_task_runs_state_lines_are_filtered_where_they_reach_the_terminal():
    """Prefect's console handler is on the root logger, not on `prefect` (why the old filter,
    put on `prefect`'s handlers, filtered nothing); the API handler keeps every line."""
    from prefect.logging.handlers import APILogHandler, PrefectConsoleHandler

    quiet_task_run_lines()
    handlers = terminal_handlers("prefect.task_runs")
    console = [h for h in handlers if isinstance(h, PrefectConsoleHandler)]
    assert console and all(h in logging.root.handlers for h in console)
    assert logging.getLogger("prefect").handlers == []
    for handler in console:
        assert not handler.filter(
            record("prefect.task_runs", logging.INFO, "Finished in state Completed()")
        )
        assert handler.filter(
            record("prefect.task_runs", logging.ERROR, "Finished in state Failed('x')")
        )
        assert handler.filter(
            record("prefect.flow_runs", logging.INFO, "Finished in state Completed()")
        )
    api = [
        h for h in logging.getLogger("prefect.task_runs").handlers if isinstance(h, APILogHandler)
    ]
    assert api and all(ROUTINE_TASK_RUN_LINES not in h.filters for h in api)


def test_log_lines_written_during_the_live_line_land_above_it():
    console, out = terminal()
    line = LiveLine(console, "west")
    line.progressed(snap(1))
    stream = LinesAbove(console, sys.__stderr__)
    stream.write("12:00:00 | WARNING | no price for model\n12:00:01 | INF")
    stream.write("O | Flow run - hello\n")
    line.stop()
    shown = screen_lines(out.getvalue())
    assert shown[-3:-1] == [
        "12:00:00 | WARNING | no price for model",
        "12:00:01 | INFO | Flow run - hello",
    ]
    assert LIVE.search(shown[-1])


@pytest.mark.slow
def test_territory_run_on_a_terminal_shows_one_live_line_that_ends_on_what_was_stored(
    tmp_path, sims, prefect_server
):
    """`territory run` on a pty: the live line's last state equals DuckDB; neither task runs'
    state lines nor the per-chunk lines reach the terminal, while both reach the Prefect API."""
    from prefect.settings import PREFECT_API_URL

    csv = tmp_path / "west.csv"
    names = ["Alpha Robotics", "Beta Bakery", "Gamma Labs", "Delta Foods"]
    csv.write_text("name\n" + "\n".join(names) + "\n")
    sims.llm.add_fault(FaultRule(kind="server_error", match="Delta Foods"))
    db = tmp_path / "t.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    env |= simulator_env(sims, db) | {
        "PREFECT_API_URL": PREFECT_API_URL.value(),  # the session's server: its logs are read
        "LLM_MODEL": "simulated-model",  # priced, so the cost counts the LLM too
        "BATCH_SIZE": "2",  # two chunks: two batches, four task runs
        "TERM": "xterm-256color",
        "COLUMNS": "160",
    }
    transcript = _run_on_pty([sys.executable, "-m", "territory.cli", "run", str(csv)], env)
    shown = screen_lines(transcript)
    assert "\x1b[" in transcript

    [(run_id, flow_run_id, run_cost)] = query(db, "SELECT run_id, flow_run_id, cost_usd FROM runs")
    [stored] = query(
        db,
        "SELECT count(*), count(*) FILTER (tier = 'HOT'), count(*) FILTER (tier = 'WARM'), "
        "count(*) FILTER (tier = 'COLD'), count(*) FILTER (status = 'failed'), "
        "sum(tavily_credits) * 0.008 + sum(coalesce(llm_cost_usd, 0)) "
        "FROM company_results WHERE run_id = ?",
        [run_id],
    )
    live = [m.groupdict() for m in map(LIVE.search, shown) if m]
    final = live[-1]
    done, hot, warm, cold, failed, cost = stored
    assert (done, failed) == (4, 1) and hot + warm + cold == 3
    assert [int(final[k]) for k in ("done", "total", "hot", "warm", "cold", "failed")] == [
        done,
        4,
        hot,
        warm,
        cold,
        failed,
    ]
    assert final["cost"] == f"{cost:.2f}" == f"{run_cost:.2f}" and cost > 0
    assert "west: 4 companies, 3 classified" in transcript  # the summary follows the line

    terminal_text = "\n".join(shown)
    assert "Finished in state Completed()" in terminal_text  # the flow run's own line
    assert not re.search(r"Task run .* Finished in state", terminal_text)
    assert "chunk 1/2 stored" not in terminal_text

    api = _api_logs(flow_run_id, until=lambda logs: "chunk 2/2 stored" in " ".join(logs))
    task_lines = [m for m, task_run in api if task_run and m.startswith("Finished in state")]
    assert len(task_lines) == 4 and all("Completed()" in m for m in task_lines)
    assert any(m.startswith("chunk 2/2 stored") and "4/4 done" in m for m, _ in api)


def _run_on_pty(argv: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run `argv` with stdin, stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other side closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=max(1, deadline - time.monotonic())) == 0, b"".join(chunks)[-3000:]
    finally:
        proc.kill()
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def _api_logs(flow_run_id: str, until, timeout: float = 30) -> list[tuple[str, object]]:
    """The flow run's log lines as the Prefect API has them: (message, task run id)."""
    import anyio
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read() -> list[tuple[str, object]]:
        async with get_client() as client:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
            )
        return [(log.message, log.task_run_id) for log in logs]

    deadline = time.monotonic() + timeout
    while True:
        logs = anyio.run(read)
        if until([m for m, _ in logs]) or time.monotonic() > deadline:
            return logs
        time.sleep(0.5)
