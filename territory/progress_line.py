"""What a run shows on the terminal while it works: one live line when stderr is a console,
Prefect's plain log lines (one per chunk) when it is not, and never a line per task run.

Prefect's console handler sits on the root logger (prefect/logging/logging.yml), not on the
`prefect` logger: a task run's record goes `prefect.task_runs` -> `prefect` -> root, and only
the root's handler writes it to the terminal. So the filters go on the handlers such a record
reaches, walked up the logger tree; the `prefect.task_runs` logger's own handler (the one that
sends logs to the Prefect API) is left alone, so the API still gets every line.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import IO, Any, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
)
from rich.table import Column
from rich.text import Text

from flows.progress import PROGRESS_LINE, ProgressSnapshot, listening

TIER_STYLES = {"HOT": "bold red", "WARM": "yellow", "COLD": "cyan"}


class _RoutineTaskRunLines(logging.Filter):
    """Drops a task run's "Finished in state Completed()": one per chunk step, noise on a
    terminal (a failed task's line, at ERROR, still shows)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("prefect.task_runs")
            and record.levelno <= logging.INFO
            and record.getMessage().startswith("Finished in state")
        )


class _ProgressLines(logging.Filter):
    """Drops the per-chunk progress line while the live line shows the same numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, PROGRESS_LINE, False)


ROUTINE_TASK_RUN_LINES = _RoutineTaskRunLines()
PROGRESS_LINES = _ProgressLines()


def terminal_handlers(logger_name: str) -> list[logging.StreamHandler[Any]]:
    """The handlers a record of `logger_name` reaches that write to a stream (not a file)."""
    found: list[logging.StreamHandler[Any]] = []
    logger: logging.Logger | None = logging.getLogger(logger_name)
    while logger is not None:
        found += [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler)
            and not isinstance(h, logging.FileHandler)
            and h not in found
        ]
        logger = logger.parent if logger.propagate else None
    return found


def quiet_task_run_lines() -> None:
    """Keep task runs' state lines off the terminal; they still reach the Prefect API."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    for handler in terminal_handlers("prefect.task_runs"):
        handler.addFilter(ROUTINE_TASK_RUN_LINES)  # once: addFilter skips one already there


class NameColumn(ProgressColumn):
    """The territory's name, cut short (never wrapped) when the terminal is narrow."""

    def render(self, task: Task) -> Text:
        return Text(task.description, style="bold", no_wrap=True, overflow="ellipsis")


class SnapshotColumn(ProgressColumn):
    """Rate, ETA, tiers, failures and cost of the latest snapshot."""

    def render(self, task: Task) -> Text:
        snapshot: ProgressSnapshot | None = task.fields.get("snapshot")
        if snapshot is None:
            return Text("starting", style="dim")
        return Text.assemble(
            snapshot.rate_text(),
            "  ETA ",
            snapshot.eta_text(),
            "  ",
            ("HOT", TIER_STYLES["HOT"]),
            f" {snapshot.hot} ",
            ("WARM", TIER_STYLES["WARM"]),
            f" {snapshot.warm} ",
            ("COLD", TIER_STYLES["COLD"]),
            f" {snapshot.cold}  ",
            (f"{snapshot.failed} failed", "red" if snapshot.failed else ""),
            f"  ${snapshot.cost_usd:.2f}",
        )


class LiveLine:
    """A run's live line on a console (rich's Progress); starts with the first snapshot, so
    a run refused before any work leaves no empty bar behind."""

    def __init__(self, console: Console, territory: str) -> None:
        fixed = Column(no_wrap=True)  # the numbers; the name and the bar give way to them
        self.progress = Progress(
            NameColumn(table_column=Column(max_width=24)),
            BarColumn(bar_width=16),
            MofNCompleteColumn(table_column=fixed),
            SnapshotColumn(table_column=fixed),
            TimeElapsedColumn(table_column=fixed),
            console=console,
            refresh_per_second=2,  # the elapsed time ticks; the numbers move once per batch
        )
        self.task = self.progress.add_task(territory, total=None, start=False)
        self.started = False

    def progressed(self, snapshot: ProgressSnapshot) -> None:
        """Show `snapshot` (called in the flow's thread, once per stored batch)."""
        self.progress.update(
            self.task, completed=snapshot.done, total=snapshot.total, snapshot=snapshot
        )
        if not self.started:  # the clock starts with the research, not with the command
            self.progress.start_task(self.task)
            self.progress.start()
            self.started = True

    def stop(self) -> None:
        """Leave the last line drawn on the terminal."""
        if self.started:
            self.progress.stop()


@contextmanager
def progress_display(territory: str, console: Console | None = None) -> Iterator[LiveLine | None]:
    """While inside: one live line on `console` (stderr) if it is a terminal, with Prefect's
    other lines printed above it; else nothing changes (Prefect's plain lines, one per chunk)."""
    console = console or Console(stderr=True)
    if not console.is_terminal or console.is_dumb_terminal:
        yield None
        return
    line = LiveLine(console, territory)
    with ExitStack() as stack:
        for handler in terminal_handlers("prefect.flow_runs"):
            stack.callback(_route(handler, console))
            handler.addFilter(PROGRESS_LINES)
            stack.callback(handler.removeFilter, PROGRESS_LINES)
        stack.callback(line.stop)
        stack.enter_context(listening(line))
        yield line


def _route(handler: logging.StreamHandler[Any], console: Console) -> Callable[[], None]:
    """Send what `handler` writes to the terminal through `console`, so a log line lands above
    the live line instead of over it; returns how to undo that."""
    from prefect.logging.handlers import PrefectConsoleHandler

    if isinstance(handler, PrefectConsoleHandler):  # it writes through its own rich Console
        target = handler.console
        old = target.file
        if not _is_terminal(old):
            return lambda: None
        target.file = cast(IO[str], LinesAbove(console, old))
        return lambda: setattr(target, "file", old)
    stream = handler.stream
    if not _is_terminal(stream):
        return lambda: None
    handler.setStream(cast(IO[str], LinesAbove(console, stream)))
    return lambda: handler.setStream(stream) and None


class LinesAbove(io.TextIOBase):
    """A terminal stream whose lines `console` prints above its live display. (rich's own
    FileProxy does the same for sys.stderr, but a rich Console given a FileProxy as its file
    writes past it, to the file underneath: over the live line.)"""

    def __init__(self, console: Console, terminal: IO[str]) -> None:
        self.console, self.terminal, self._partial = console, terminal, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Lines are printed as they are completed; nothing is held but a partial one."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.terminal.fileno()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
