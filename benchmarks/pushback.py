"""Push-back benchmark: the real flow, with its defaults, against every shape of 429 we know.

    uv run python -m benchmarks.pushback                 # every shape, about 27 minutes
    uv run python -m benchmarks.pushback --only bucket   # the rows whose name contains "bucket"

Each row runs `territory run` (through Prefect, in its own process) against the simulators in
another process, at real time: sporadic 429s with and without Retry-After, token buckets,
a sliding window, OpenAI's rate-limit headers, two runs sharing one key, and an outage. The
numbers come from the simulators' own request logs and from DuckDB. See README "Rate limits".
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

from benchmarks.throughput import SimulatorProcess, simulator_env, write_territory

# Latencies of this benchmark (seconds): close to a fast search and a short structured answer,
# so that 120 companies at LLM_CONCURRENCY=10 take under a minute when nothing is refused.
SEARCH_LATENCY = {"median": 1.0, "sigma": 0.4, "max": 6.0}
LLM_LATENCY = {"median": 3.0, "sigma": 0.35, "max": 12.0}
FAST_LLM = {"median": 0.3, "sigma": 0.3, "max": 1.0}


@dataclass(frozen=True)
class Shape:
    """One row: what the simulators do, and the run(s) sent against them."""

    name: str
    n: int = 120
    env: dict[str, str] = field(default_factory=lambda: {"LLM_CONCURRENCY": "10"})
    tavily: dict[str, Any] = field(default_factory=dict)  # /_sim/config changes
    llm: dict[str, Any] = field(default_factory=dict)
    tavily_faults: list[dict[str, Any]] = field(default_factory=list)
    llm_faults: list[dict[str, Any]] = field(default_factory=list)
    limited: str = "llm"  # the provider whose push-back the row is about
    runs: int = 1  # runs at once, sharing the simulators' one key

    @property
    def limit_rpm(self) -> int | None:
        return (self.tavily if self.limited == "tavily" else self.llm).get("rpm_limit")


def _sporadic(share: float, retry_after: float | None) -> Shape:
    rule = {"kind": "rate_limit", "probability": share, "retry_after": retry_after}
    label = "Retry-After: 1" if retry_after else "no Retry-After"
    return Shape(f"sporadic {share:.0%} ({label})", tavily_faults=[rule], llm_faults=[rule])


def _bucket(rpm: int, burst: int, **kw: Any) -> dict[str, Any]:
    return {"rpm_limit": rpm, "rpm_burst": burst, **kw}


SHAPES = [
    Shape("clean"),
    *(_sporadic(share, ra) for share in (0.05, 0.10, 0.20) for ra in (1.0, None)),
    Shape("bucket LLM 120/min, burst 5, no headers", llm=_bucket(120, 5, limit_headers=False)),
    Shape("bucket LLM 120/min, burst 5, stated headers", llm=_bucket(120, 5)),
    Shape(
        "bucket LLM 600/min, burst 10, no headers",
        n=600,
        env={"LLM_CONCURRENCY": "50"},
        llm=_bucket(600, 10, limit_headers=False),
    ),
    Shape(
        "bucket Tavily 1,000/min, burst 10",
        n=1000,
        env={},
        llm={"latency": FAST_LLM},
        tavily=_bucket(1000, 10),
        limited="tavily",
    ),
    Shape(
        "window LLM 600/min, no headers",
        n=1200,
        env={"LLM_CONCURRENCY": "50"},
        llm={"rpm_limit": 600, "limit_headers": False},
    ),
    Shape(
        "two runs sharing a 120/min bucket, no headers",
        llm=_bucket(120, 5, limit_headers=False),
        runs=2,
    ),
    Shape(
        "outage: LLM answers 503 for 5 min",
        llm_faults=[{"kind": "unavailable", "seconds": 300}],
    ),
]


@dataclass
class Result:
    """What one row measured."""

    shape: Shape
    wall: list[float]  # per run, the flow run's own
    stored: list[int]
    failed: list[int]
    requests: int
    refused: int
    sustained: list[float]  # accepted requests/min of the limited provider, per run
    log_lines: list[str] = field(default_factory=list)


def configure(sims: SimulatorProcess, shape: Shape) -> None:
    """Reset both simulators, then apply the row's config and faults."""
    for service, changes, faults, latency in (
        ("tavily", shape.tavily, shape.tavily_faults, SEARCH_LATENCY),
        ("llm", shape.llm, shape.llm_faults, LLM_LATENCY),
    ):
        base = sims.admin[service]
        httpx.post(f"{base}/_sim/reset").raise_for_status()
        config = {
            "time_scale": 1.0,
            "latency": latency,
            "rpm_limit": None,
            "rpm_burst": None,
            "rpm_window": 60.0,
        }
        if service == "llm":
            config["limit_headers"] = True
        config.update(changes)
        httpx.post(f"{base}/_sim/config", json=config).raise_for_status()
        httpx.delete(f"{base}/_sim/faults").raise_for_status()
        if faults:
            httpx.post(f"{base}/_sim/faults", json=faults).raise_for_status()


def start_run(sims: SimulatorProcess, workdir: Path, shape: Shape, i: int) -> subprocess.Popen:
    """`territory run` in its own process, with the defaults plus the row's few settings."""
    prefix = f"Run{i} Account" if shape.runs > 1 else "Benchmark Account"
    csv = workdir / f"run{i}.csv"
    write_territory(csv, shape.n)
    csv.write_text(csv.read_text().replace("Benchmark Account", prefix))
    env = simulator_env(
        sims,
        workdir / f"run{i}.duckdb",
        workdir / f"prefect-home-{i}",
        drop=("LLM_", "RATE_LIMIT"),
    )
    env.update(shape.env)
    cmd = [sys.executable, "-m", "territory.cli", "run", str(csv), "--territory", f"run{i}"]
    log = (workdir / f"run{i}.log").open("w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def measure(sims: SimulatorProcess, shape: Shape) -> Result:
    """Run the row and read its numbers from DuckDB and the simulators' logs."""
    configure(sims, shape)
    workdir = Path(tempfile.mkdtemp(prefix="territory-pushback-"))
    procs = [start_run(sims, workdir, shape, i) for i in range(shape.runs)]
    for proc in procs:
        proc.wait()
    walls, stored, failed, lines = [], [], [], []
    for i, proc in enumerate(procs):
        log = (workdir / f"run{i}.log").read_text()
        if proc.returncode != 0:
            raise RuntimeError(f"{shape.name}: run {i} exited {proc.returncode}:\n{log[-2000:]}")
        lines += [ln for ln in log.splitlines() if "429" in ln or "failed every" in ln]
        with duckdb.connect(str(workdir / f"run{i}.duckdb"), read_only=True) as conn:
            wall, ok, bad = conn.execute(
                "SELECT epoch(finished_at - started_at), n_ok, n_failed FROM runs "
                "ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
        walls.append(float(wall))
        stored.append(int(ok))
        failed.append(int(bad))
    reply = httpx.get(
        f"{sims.admin[shape.limited]}/_sim/stats", params={"log": "company"}, timeout=60
    )
    log = reply.raise_for_status().json()["log"]
    refused = sum(1 for _, _, status, _ in log if status == 429)
    return Result(shape, walls, stored, failed, len(log), refused, sustained(log, shape), lines)


def sustained(log: list[list[Any]], shape: Shape) -> list[float]:
    """Accepted requests per minute, per run, over the time every run was sending (from the
    first request to the last accepted one), less the burst a bucket lets through at once."""
    runs = [f"Run{i} Account" for i in range(shape.runs)] if shape.runs > 1 else [""]
    per_run = [[e for e in log if (e[3] or "").startswith(r)] for r in runs]
    start = max(min(e[0] for e in entries) for entries in per_run)
    end = min(max(e[0] for e in entries if e[2] == 200) for entries in per_run)
    if end <= start:
        return [0.0 for _ in runs]
    burst = (shape.tavily if shape.limited == "tavily" else shape.llm).get("rpm_burst") or 0
    rates = []
    for entries in per_run:
        accepted = sum(1 for e in entries if e[2] == 200 and start <= e[0] <= end)
        rates.append(max(accepted - burst / len(runs), 0) / (end - start) * 60)
    return rates


def render(results: list[Result]) -> str:
    """One markdown table, a row per shape."""
    clean = next((r for r in results if r.shape.name == "clean"), None)
    lines = [
        f"Push-back benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; simulators (ours) at real "
        f"time, search ~{SEARCH_LATENCY['median']:g} s, LLM ~{LLM_LATENCY['median']:g} s; "
        "every setting at its default except the concurrency named.",
        "",
        "| push-back | N | limit (req/min) | sustained (req/min) | of limit | 429s (of requests) "
        "| wall (s) | vs clean | stored | failed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        limit = r.shape.limit_rpm
        rate = " + ".join(f"{x:.0f}" for x in r.sustained) if limit else ""
        share = " + ".join(f"{x / limit:.0%}" for x in r.sustained) if limit else ""
        if limit and r.shape.runs > 1:
            share += f" = {sum(r.sustained) / limit:.0%}"
        vs = (
            f"{max(r.wall) / clean.wall[0]:.2f}x"
            if clean and limit is None and r is not clean
            else ""
        )
        lines.append(
            f"| {r.shape.name} | {r.shape.n * r.shape.runs} | {limit or ''} | {rate} | {share} "
            f"| {r.refused} ({r.refused / max(r.requests, 1):.1%}) "
            f"| {' / '.join(f'{w:.0f}' for w in r.wall)} | {vs} | {sum(r.stored)} "
            f"| {sum(r.failed)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the shapes and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pushback", description=__doc__)
    parser.add_argument("--only", help="run only the shapes whose name contains this")
    args = parser.parse_args(argv)
    shapes = [s for s in SHAPES if not args.only or args.only in s.name or s.name == "clean"]
    sims = SimulatorProcess(1.0)
    results = []
    try:
        for shape in shapes:
            _say(f"{shape.name}: {shape.n} companies x {shape.runs} run(s)")
            results.append(measure(sims, shape))
            for line in results[-1].log_lines[-3:]:
                _say(f"  {line.strip()[-160:]}")
            _say("  " + render(results).splitlines()[-1])
    finally:
        sims.stop()
    print(render(results))
    return 0


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
