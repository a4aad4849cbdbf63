"""What the end-to-end tests share: a real `prefect server start` on loopback."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import free_port

PREFECT = [sys.executable, "-m", "prefect"]


@contextmanager
def start_prefect_server(home: Path) -> Iterator[tuple[dict[str, str], str]]:
    """`prefect server start` with its own PREFECT_HOME; yields the environment that points a
    process at it (no key or setting of the developer's shell) and its API URL."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TAVILY_", "LLM_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Large maps: record every task run (the default recorder drops events past 10k).
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    }
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=home,
    )
    env["PREFECT_API_URL"] = api
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                home / "server.log"
            ).read_text()[-3000:]
            time.sleep(0.5)
        yield env, api
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
