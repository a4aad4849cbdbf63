"""How far a run is, counted from what it stores: shown in the Prefect UI (a progress artifact,
one log line per chunk) and handed to listeners in the same process (the CLI's live line).

Counting from the stored results themselves keeps it cheap: one snapshot per stored batch, and
no query to DuckDB to make it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from domain.models import CompanyResult

# The `extra` a per-chunk progress log line carries, so a live display can keep it off the
# terminal (it shows the same numbers) while the line still reaches the Prefect API.
PROGRESS_LINE = "territory_progress"

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressSnapshot:
    """A run's counts after one stored batch."""

    done: int  # companies stored (classified, failed or ambiguous)
    total: int  # companies this run researches
    hot: int
    warm: int
    cold: int
    failed: int
    cost_usd: float  # searches paid for plus LLM calls priced, so far
    elapsed: float  # seconds since the run started researching

    @property
    def rate_per_minute(self) -> float | None:
        """Companies stored per minute so far (None before the first one)."""
        if self.done <= 0 or self.elapsed <= 0:
            return None
        return 60.0 * self.done / self.elapsed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far (None while there is no rate yet)."""
        rate = self.rate_per_minute
        if self.done >= self.total:
            return 0.0
        if rate is None:
            return None
        return 60.0 * (self.total - self.done) / rate

    def rate_text(self) -> str:
        """`12.5/min`, or `-/min` before the first company is stored."""
        rate = self.rate_per_minute
        return "-/min" if rate is None else f"{rate:.1f}/min"

    def eta_text(self) -> str:
        """`1h 02m`, `3m 05s`, `42s`, or `-` while unknown."""
        eta = self.eta_seconds
        if eta is None:
            return "-"
        seconds = round(eta)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours}h {minutes:02d}m"
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"

    def tiers_text(self) -> str:
        """`HOT 3, WARM 5, COLD 9`."""
        return f"HOT {self.hot}, WARM {self.warm}, COLD {self.cold}"

    def describe(self) -> str:
        """The whole snapshot as one plain line (no colours: it goes to logs as it is)."""
        return (
            f"{self.done}/{self.total} done ({self.tiers_text()}, {self.failed} failed), "
            f"${self.cost_usd:.2f} so far, {self.rate_text()}, ETA {self.eta_text()}"
        )


class ProgressListener(Protocol):
    """Something that shows a run's progress as it goes (the CLI's live line, the UI)."""

    def progressed(self, snapshot: ProgressSnapshot) -> None:
        """Show `snapshot`, the counts after the latest stored batch."""
        ...


_listeners: list[ProgressListener] = []
_listeners_lock = threading.Lock()


@contextmanager
def listening(listener: ProgressListener) -> Iterator[None]:
    """Hand `listener` the snapshots of runs started in this process while inside the block
    (the CLI calls the flow in its own process, so this is its seam to the flow)."""
    with _listeners_lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _listeners_lock:
            _listeners.remove(listener)


def active_listeners() -> list[ProgressListener]:
    """The listeners registered with `listening` right now."""
    with _listeners_lock:
        return list(_listeners)


class Progress:
    """A run's counts, from the results and searches as they are stored; each stored batch
    hands one snapshot to every listener."""

    def __init__(
        self,
        total: int,
        listeners: Iterable[ProgressListener] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.listeners, self.clock = total, list(listeners), clock
        self.started = clock()
        self.done = self.hot = self.warm = self.cold = self.failed = 0
        self.cost_usd = 0.0
        self.latest = self._publish()  # the total, before the first batch takes its time

    def paid(self, usd: float) -> None:
        """Count searches paid for (shown with the next stored batch)."""
        self.cost_usd += usd

    def stored(self, results: list[CompanyResult]) -> None:
        """Count a stored batch of results and hand the new snapshot to the listeners."""
        if not results:
            return
        for result in results:
            tier = result.classification.tier if result.classification else None
            self.hot += tier == "HOT"
            self.warm += tier == "WARM"
            self.cold += tier == "COLD"
            self.failed += result.status == "failed"
            self.cost_usd += result.llm_cost_usd or 0.0
        self.done += len(results)
        self.latest = self._publish()

    def snapshot(self) -> ProgressSnapshot:
        """The counts so far."""
        return ProgressSnapshot(
            done=self.done,
            total=self.total,
            hot=self.hot,
            warm=self.warm,
            cold=self.cold,
            failed=self.failed,
            cost_usd=self.cost_usd,
            elapsed=self.clock() - self.started,
        )

    def _publish(self) -> ProgressSnapshot:
        snapshot = self.snapshot()
        for listener in self.listeners:
            try:
                listener.progressed(snapshot)
            except Exception:  # a display that breaks must not stop a paid-for run
                _logger.warning("progress display %r failed", listener, exc_info=True)
        return snapshot
