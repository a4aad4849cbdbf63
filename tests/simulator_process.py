"""The simulators in a process of their own, driven through their admin API (`/_sim/...`).

A provider's rate limiter counts requests as they arrive. Sharing the test's process, a
simulator busy behind the flow's threads (the GIL) reads a second's evenly paced requests all
at once and refuses them as a burst nobody sent; in its own process it sees them as a real
provider would. The handles offer the part of the in-process simulators' interface that the
push-back tests use (configure, add_fault, stats, reset).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from simulators.faults import FaultRule
from tests.helpers import LLM_KEY, TAVILY_KEY, free_port

ROOT = Path(__file__).parent.parent


class RemoteSimulator:
    """One simulator reached over HTTP."""

    def __init__(self, root: str) -> None:
        self.root = root
        # One client: each new one loads the CA bundle (35 ms of CPU a call).
        self._http = httpx.Client(timeout=30)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"{self.root}/_sim{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def configure(self, **changes: Any) -> Any:
        return self._call("POST", "/config", json=changes)

    def add_fault(self, rule: FaultRule) -> None:
        self._call("POST", "/faults", json=rule.to_dict())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        self._http.close()


class ProcessSimulators:
    """Both simulators, as `tests.helpers.simulator_env` and the tests read them."""

    def __init__(self, tavily_root: str, llm_root: str) -> None:
        self.tavily, self.llm = RemoteSimulator(tavily_root), RemoteSimulator(llm_root)
        self.tavily_url, self.llm_url = tavily_root, llm_root + "/v1"

    def reset(self) -> None:
        self.tavily.reset()
        self.llm.reset()

    def close(self) -> None:
        self.tavily.close()
        self.llm.close()


@contextmanager
def simulators_in_a_process() -> Iterator[ProcessSimulators]:
    """`python -m simulators` on two free loopback ports, no latency, the test keys. Its
    output (whose banner names the keys) goes to a file outside the test's directories that
    is removed at the end (the suite checks no key was left on disk)."""
    handle, name = tempfile.mkstemp(prefix="territory-sims-", suffix=".log")
    os.close(handle)
    log = Path(name)
    tavily_port, llm_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "simulators", "--latency", "none",
        "--tavily-port", str(tavily_port), "--llm-port", str(llm_port),
        "--tavily-key", TAVILY_KEY, "--llm-key", LLM_KEY,
    ]  # fmt: skip
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)
    sims = ProcessSimulators(f"http://127.0.0.1:{tavily_port}", f"http://127.0.0.1:{llm_port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sims.tavily.stats()
                sims.llm.stats()
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield sims
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.unlink(missing_ok=True)
        sims.close()
