"""Admin endpoints, lifecycle, the command line, and keeping secrets out of stats."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest
import tavily
from sim_helpers import LLM_KEY, TAVILY_KEY

from simulators.faults import FaultRule, LatencyProfile, resolve_latency
from simulators.server import Simulators, start_simulators


def _root(url: str) -> str:
    return url.removesuffix("/v1")


def test_admin_endpoints_drive_a_simulator_over_http(sims: Simulators) -> None:
    for url in (sims.tavily_url, _root(sims.llm_url)):
        assert httpx.get(f"{url}/_sim/health").json()["ok"] is True

    tavily_admin = f"{sims.tavily_url}/_sim"
    config = httpx.post(f"{tavily_admin}/config", json={"rpm_limit": 1, "credits": 50}).json()
    assert config["rpm_limit"] == 1 and config["credits"] == 50 and config["keys"] == 1
    faults = httpx.post(
        f"{tavily_admin}/faults", json=[{"kind": "server_error", "match": "broken", "times": 1}]
    ).json()
    assert faults == [FaultRule(kind="server_error", match="broken", times=1).to_dict()]
    assert httpx.post(f"{tavily_admin}/faults", json=[{"kind": "nope"}]).status_code == 400
    assert httpx.post(f"{tavily_admin}/config", json={"bogus": 1}).status_code == 400

    auth = {"Authorization": f"Bearer {TAVILY_KEY}"}
    first = httpx.post(f"{sims.tavily_url}/search", json={"query": "broken"}, headers=auth)
    second = httpx.post(f"{sims.tavily_url}/search", json={"query": "fine"}, headers=auth)
    assert (first.status_code, second.status_code) == (500, 429)

    stats = httpx.get(f"{tavily_admin}/stats").json()
    assert stats["requests"] == 2 and stats["by_status"] == {"500": 1, "429": 1}
    assert stats["log"][0]["fault"] == "server_error"

    assert httpx.post(f"{tavily_admin}/reset").json() == {"ok": True}
    assert sims.tavily.stats()["requests"] == 0 and sims.tavily.config.rpm_limit is None
    assert httpx.get(f"{tavily_admin}/faults").json() == []

    llm_admin = f"{_root(sims.llm_url)}/_sim"
    httpx.post(f"{llm_admin}/config", json={"mode": "vllm"})
    httpx.post(f"{llm_admin}/faults", json={"kind": "refusal"})
    assert sims.llm.config.mode == "vllm" and sims.llm.stats()["faults"][0]["kind"] == "refusal"
    httpx.post(f"{llm_admin}/faults?replace=true", json=[{"kind": "fenced"}])
    assert [f["kind"] for f in sims.llm.stats()["faults"]] == ["fenced"]
    assert httpx.delete(f"{llm_admin}/faults").json() == []


def test_no_key_ever_appears_in_stats_or_config(sims: Simulators) -> None:
    good = openai.OpenAI(api_key=LLM_KEY, base_url=sims.llm_url, max_retries=0)
    bad = openai.OpenAI(api_key="sk-leaky-secret-123", base_url=sims.llm_url, max_retries=0)
    good.chat.completions.create(model="m", messages=[{"role": "user", "content": "Company: X"}])
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
        client.search("q")
    dumps = [
        json.dumps(sims.llm.stats()),
        json.dumps(sims.tavily.stats()),
        httpx.get(f"{_root(sims.llm_url)}/_sim/config").text,
        httpx.get(f"{sims.tavily_url}/_sim/stats").text,
    ]
    for text in dumps:
        for secret in (LLM_KEY, TAVILY_KEY, "sk-leaky-secret-123", "Bearer"):
            assert secret not in text


def test_configure_validates_and_reset_restores_defaults(sims: Simulators) -> None:
    with pytest.raises(TypeError):
        sims.tavily.configure(not_a_setting=1)
    with pytest.raises(ValueError):
        sims.tavily.configure(latency="glacial")
    with pytest.raises(ValueError):
        sims.llm.configure(mode="bard")
    with pytest.raises(ValueError):
        sims.tavily.add_fault(FaultRule(kind="refusal"))  # LLM-only kind
    with pytest.raises(ValueError):
        FaultRule(kind="status")  # needs a status code
    sims.llm.configure(latency="realistic", time_scale=0.5, json_schema_supported=False)
    sims.reset()
    assert sims.llm.config.latency == "none" and sims.llm.config.json_schema_supported


def test_latency_profiles() -> None:
    assert resolve_latency("none", "search").median == 0
    realistic = resolve_latency("realistic", "llm")
    assert realistic.min >= 5 and realistic.max <= 30 and realistic.median == 12
    assert resolve_latency("realistic", "search").max == 15
    assert resolve_latency({"median": 1, "sigma": 0, "max": 1}, "llm") == LatencyProfile(1, 0, 1)
    import random

    rng = random.Random(1)
    samples = sorted(resolve_latency("realistic", "search").sample(rng) for _ in range(2000))
    assert 1.6 < samples[1000] < 2.4 and samples[-1] <= 15 and samples[-20] > 5


def test_time_scale_multiplies_latency(sims: Simulators) -> None:
    sims.tavily.configure(latency={"median": 0.4, "sigma": 0.0}, time_scale=0.25)
    started = time.monotonic()
    with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
        client.search("q")
    assert 0.1 <= time.monotonic() - started < 0.35


def test_start_and_stop_are_clean() -> None:
    with start_simulators(tavily_options={"credits": 5}, llm_options={"mode": "crusoe"}) as sims:
        assert sims.tavily.config.credits == 5 and sims.llm.mode == "crusoe"
        assert sims.tavily_url.startswith("http://127.0.0.1:")
        assert sims.llm_url.endswith("/v1")
        port = int(sims.tavily_url.rsplit(":", 1)[1])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/_sim/health")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_runs_until_interrupted() -> None:
    tavily_port, llm_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators",
            "--tavily-port",
            str(tavily_port),
            "--llm-port",
            str(llm_port),
            "--latency",
            "none",
            "--llm-key",
            "sk-cli-key",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = [process.stdout.readline() for _ in range(2)]
        assert f"http://127.0.0.1:{tavily_port}" in banner[0] and "tvly-sim-key" in banner[0]
        assert f"http://127.0.0.1:{llm_port}/v1" in banner[1] and "sk-cli-key" in banner[1]
        client = openai.OpenAI(
            api_key="sk-cli-key", base_url=f"http://127.0.0.1:{llm_port}/v1", max_retries=0
        )
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
        assert reply.choices[0].finish_reason == "stop"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Stopping simulators" in out
