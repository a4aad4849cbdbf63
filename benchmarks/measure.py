"""Measure a child process tree: wall time, peak memory of the whole tree, CPU per process."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO

import psutil


@dataclass
class Measured:
    """What one measured command used."""

    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process name, summed
    peak_rss_by_label: dict[str, int] = field(default_factory=dict)  # each label's own peak
    stderr_tail: str = ""
    # (epoch seconds, CPU seconds per label so far) at each sample: the CPU spent after a
    # moment (a run's start, once imports and the server's start-up are done) is read from it.
    cpu_timeline: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    def cpu_since(self, epoch: float) -> dict[str, float]:
        """CPU seconds per label spent after `epoch` (from the last sample before it)."""
        before = [cpu for at, cpu in self.cpu_timeline if at <= epoch]
        start = before[-1] if before else {}
        return {label: total - start.get(label, 0.0) for label, total in self.cpu_seconds.items()}

    @property
    def cpu_total(self) -> float:
        """CPU seconds of every process of the tree."""
        return sum(self.cpu_seconds.values())


class TreeSampler(threading.Thread):
    """Samples the RSS of a process and all its descendants; remembers the peak of the sum."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self._root = psutil.Process(pid)
        self._interval = interval
        self._halt = threading.Event()
        self.peak_rss = 0
        self.peak_by_label: dict[str, int] = {}  # where the memory is: flow or Prefect server
        # Last CPU times seen per pid: a process that exits keeps its last sample.
        self._cpu: dict[int, tuple[str, float]] = {}
        self.timeline: list[tuple[float, dict[str, float]]] = []

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self._interval)

    def sample(self) -> None:
        """One sample of the tree (processes may vanish while we look)."""
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        by_label: dict[str, int] = {}
        for proc in procs:
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
                    label = self._cpu[proc.pid][0] if proc.pid in self._cpu else _label(proc)
                    self._cpu[proc.pid] = (label, times.user + times.system)
            except psutil.Error:
                continue
            total += rss
            by_label[label] = by_label.get(label, 0) + rss
        self.peak_rss = max(self.peak_rss, total)
        self.timeline.append((time.time(), self._by_label()))
        for label, rss in by_label.items():
            self.peak_by_label[label] = max(self.peak_by_label.get(label, 0), rss)

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per process label."""
        self._halt.set()
        self.join()
        return self._by_label()

    def _by_label(self) -> dict[str, float]:
        by_label: dict[str, float] = {}
        for label, seconds in self._cpu.values():
            by_label[label] = by_label.get(label, 0.0) + seconds
        return by_label


def _label(proc: psutil.Process) -> str:
    """'prefect-server' for Prefect's own server subprocess, else 'flow'."""
    try:
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        return "flow"
    return "prefect-server" if "uvicorn" in cmdline or "prefect" in cmdline.split()[1:3] else "flow"


def run_measured(cmd: list[str], env: dict[str, str], stdout: IO[str] | None = None) -> Measured:
    """Run `cmd` to completion, sampling its process tree; stdout goes to `stdout`."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.monotonic() - started
    cpu = sampler.stop()
    tail = "\n".join(stderr.strip().splitlines()[-15:])
    return Measured(
        proc.returncode, wall, sampler.peak_rss, cpu, sampler.peak_by_label, tail, sampler.timeline
    )
