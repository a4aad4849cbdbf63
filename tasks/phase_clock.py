"""CPU per phase of a run: the thread CPU time each piece of a company's work costs.

Work runs in many threads (a thread per company inside a chunk task), so each piece is timed
with `time.thread_time()`: the CPU of the thread doing it, not the time it spent waiting for a
slot, a pace or an answer. Tasks may run in other processes (Dask), so a task hands its
seconds back as a plain dict inside its outcome and the flow adds them up; a `PhaseClock`
itself (it holds a lock) is never sent anywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal, get_args

# search: the Tavily call and turning its body into an outcome; trim: sorting out namesakes
# and cutting the pages shown to the LLM; classify: the LLM call(s), parsing and validating
# the answer; evidence: checking the quotes and judging the verdict; store: the flow's DuckDB
# calls; other: the rest of the flow thread's work (opening chunks, submitting task runs).
Phase = Literal["search", "trim", "classify", "evidence", "store", "other"]
PHASES: tuple[Phase, ...] = get_args(Phase)
# What each chunk task measures; store and other are measured in the flow's own thread.
SEARCH_TASK_PHASES: tuple[Phase, ...] = ("search",)
CLASSIFY_TASK_PHASES: tuple[Phase, ...] = ("trim", "classify", "evidence")


class PhaseClock:
    """Thread CPU seconds per phase, added up from any number of threads of one process."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self._lock = threading.Lock()
        self.companies = 0  # whose work it covers (counted by the flow as it stores them)

    @contextmanager
    def timing(self, phase: Phase) -> Iterator[None]:
        """Charge the CPU this thread spends inside the block to `phase` (also if it raises)."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(phase, time.thread_time() - start)

    def add(self, phase: str, seconds: float) -> None:
        """Charge `seconds` of CPU to `phase`."""
        if phase not in self._seconds:
            raise ValueError(f"unknown phase {phase!r} (one of {', '.join(PHASES)})")
        with self._lock:
            self._seconds[phase] += seconds

    def add_all(self, seconds: Mapping[str, float]) -> None:
        """Charge what another clock measured (a task's `phase_seconds`)."""
        for phase, value in seconds.items():
            self.add(phase, value)

    def count(self, companies: int) -> None:
        """Count `companies` more as covered."""
        with self._lock:
            self.companies += companies

    def seconds(self, phases: tuple[Phase, ...] = PHASES) -> dict[str, float]:
        """Seconds per phase so far, as a plain dict (what a task returns in its outcome)."""
        with self._lock:
            return {phase: self._seconds[phase] for phase in phases}


def cpu_ms(seconds: Mapping[str, float], companies: int) -> dict[str, float | int]:
    """A run's `cpu_ms`: milliseconds per phase summed over the run, and how many companies
    they cover."""
    totals: dict[str, float | int] = {p: round(seconds.get(p, 0.0) * 1000, 1) for p in PHASES}
    return totals | {"companies": companies}


def per_company(cpu: Mapping[str, float | int]) -> dict[str, float]:
    """Milliseconds per company by phase (empty when the run covered no company)."""
    companies = int(cpu.get("companies") or 0)
    if not companies:
        return {}
    return {p: float(cpu.get(p) or 0.0) / companies for p in PHASES}


def total_per_company(cpu: Mapping[str, float | int] | None) -> float | None:
    """All phases' milliseconds per company (None when the run covered no company)."""
    found = per_company(cpu or {})
    return round(sum(found.values()), 1) if found else None


def describe(cpu: Mapping[str, float | int]) -> str:
    """`search 1.2 ms, trim 3.4 ms, ...` per company; '' when it covered no company."""
    return ", ".join(f"{p} {ms:.1f} ms" for p, ms in per_company(cpu).items())
