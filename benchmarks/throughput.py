"""Throughput benchmark: the real flow against the simulators, next to the old app's schedule.

    uv run python -m benchmarks.throughput                       # N = 100 and 1,000 at time scale 1
    uv run python -m benchmarks.throughput --sizes 10000 --time-scale 0.2
    uv run python -m benchmarks.throughput --rate-limit          # 429s: the sustained rate

The simulators run in their own process with the "realistic" latency profile (Tavily advanced
search ~2 s median with a long tail, LLM answers 5-30 s), every latency multiplied by the time
scale. The flow runs through Prefect (ephemeral server) in a child process; its process tree is
sampled for peak memory and CPU. See README "Benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx

from benchmarks import machine_pace
from benchmarks.measure import run_measured
from simulators.faults import SEARCH_DEPTH_FACTOR, resolve_latency
from tasks.phase_clock import PHASES, per_company

TAVILY_KEY = "tvly-bench-key"
LLM_KEY = "sk-bench-key"
PROFILE = "realistic"


@dataclass(frozen=True)
class Limits:
    """The concurrency caps and (optional) provider rate limits of one scenario."""

    tavily_concurrency: int = 100
    llm_concurrency: int = 50
    batch_size: int = 50
    tavily_rpm: int | None = None
    llm_rpm: int | None = None


@dataclass
class Row:
    """One line of the results table."""

    schedule: str
    n: int
    time_scale: float
    wall: float
    ideal: float
    peak_rss: int | None = None
    cpu_flow: float | None = None
    cpu_server: float | None = None
    stored: int = 0
    note: str = ""
    # The run's own CPU by phase (runs.cpu_ms): milliseconds summed, and the companies.
    cpu_ms: dict[str, float] = field(default_factory=dict)
    # CPU seconds from the flow run's start on (imports and the server's start-up excluded).
    run_cpu_flow: float | None = None
    run_cpu_server: float | None = None

    @property
    def per_minute(self) -> float:
        """Companies finished per minute."""
        return self.n / self.wall * 60 if self.wall else 0.0


def mean_latency(service: str, time_scale: float, samples: int = 200_000) -> float:
    """Mean seconds per request under the profile (Monte Carlo over the simulator's own model)."""
    profile = resolve_latency(PROFILE, service)
    rng = random.Random(7)
    depth = SEARCH_DEPTH_FACTOR["advanced"] if service == "search" else 1.0
    return statistics.fmean(profile.sample(rng) for _ in range(samples)) * depth * time_scale


def ideal_seconds(n: int, time_scale: float, limits: Limits) -> float:
    """The best any schedule could do: the busiest provider's capacity bound."""
    bounds = [
        n * mean_latency("search", time_scale) / limits.tavily_concurrency,
        n * mean_latency("llm", time_scale) / limits.llm_concurrency,
    ]
    # A provider's per-minute limit also scales with time (the simulator's window does).
    for rpm in (limits.tavily_rpm, limits.llm_rpm):
        if rpm:
            bounds.append(n / rpm * 60 * time_scale)
    return max(bounds)


class SimulatorProcess:
    """Both simulators in their own process, so their CPU is not counted as the flow's."""

    def __init__(self, time_scale: float) -> None:
        cmd = [
            sys.executable, "-m", "simulators", "--tavily-port", "0", "--llm-port",
            "0", "--latency", PROFILE, "--time-scale", str(time_scale),
            "--tavily-key", TAVILY_KEY, "--llm-key", LLM_KEY,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < 2:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the simulators did not start")
            if line.startswith(("Tavily simulator:", "LLM simulator:")):
                urls[line.split()[0]] = line.split()[2]
        self.tavily_url, self.llm_url = urls["Tavily"], urls["LLM"]
        self.admin = {"tavily": self.tavily_url, "llm": self.llm_url.removesuffix("/v1")}

    def configure(self, time_scale: float, limits: Limits, retry_after: float | None) -> None:
        """Reset both simulators and apply this scenario's rate limits."""
        for service, rpm in (("tavily", limits.tavily_rpm), ("llm", limits.llm_rpm)):
            base = self.admin[service]
            httpx.post(f"{base}/_sim/reset").raise_for_status()
            httpx.post(
                f"{base}/_sim/config",
                json={
                    "time_scale": time_scale,
                    "rpm_limit": rpm,
                    "rpm_window": 60 * time_scale,
                    "rpm_retry_after": retry_after,
                },
            ).raise_for_status()

    def log(self, service: str) -> list[list[float | int | None]]:
        """[start, end, status] of every request the simulator saw since the last reset."""
        reply = httpx.get(f"{self.admin[service]}/_sim/stats", params={"log": "times"}, timeout=60)
        return reply.raise_for_status().json()["log"]

    def stop(self) -> None:
        """Stop the simulator process (killed if it has not ended 15 s after being asked: a
        100,000 run's measurements were lost to a slow exit once)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def write_territory(path: Path, n: int) -> None:
    """N distinct companies; the simulator decides each one's tier from its name."""
    with path.open("w") as fh:
        fh.write("name,domain,crm_id\n")
        for i in range(n):
            fh.write(f"Benchmark Account {i:05d},bench{i:05d}.example,CRM-{i}\n")


def simulator_env(
    sims: SimulatorProcess, db: Path, prefect_home: Path, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """This process's environment pointed at the simulators, a DuckDB file and a Prefect home
    of the run's own (no outside Prefect API or provider settings leak in)."""
    dropped = ("PREFECT_API", "TAVILY_", *drop)
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        TAVILY_BASE_URL=sims.tavily_url,
        TAVILY_API_KEY=TAVILY_KEY,
        LLM_BASE_URL=sims.llm_url,
        LLM_API_KEY=LLM_KEY,
        LLM_MODEL="simulated-model",
        TERRITORY_DB=str(db),
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def flow_env(
    sims: SimulatorProcess, workdir: Path, limits: Limits, time_scale: float
) -> dict[str, str]:
    """Environment of the flow process: simulators, a fresh DuckDB file, the scenario's caps."""
    env = simulator_env(sims, workdir / "bench.duckdb", workdir / "prefect-home")
    env.update(
        TAVILY_CONCURRENCY=str(limits.tavily_concurrency),
        LLM_CONCURRENCY=str(limits.llm_concurrency),
        BATCH_SIZE=str(limits.batch_size),
        RATE_LIMIT_WINDOW=str(60 * time_scale),
    )
    return env


def run_flow(
    sims: SimulatorProcess, workdir: Path, csv: Path, territory: str, limits: Limits, scale: float
) -> Row:
    """The real flow through Prefect, measured; wall time is the flow run's own."""
    rusage = workdir / f"{territory}.rusage.json"
    cmd = [sys.executable, "-m", "benchmarks.flow_child", str(rusage), "run", str(csv),
           "--territory", territory]  # fmt: skip
    with (workdir / f"{territory}.log").open("w") as log:
        env = flow_env(sims, workdir, limits, scale)
        measured = run_measured(cmd, env, stdout=log)
    if measured.returncode != 0:
        raise RuntimeError(f"flow run failed ({measured.returncode}):\n{measured.stderr_tail}")
    with duckdb.connect(str(workdir / "bench.duckdb"), read_only=True) as conn:
        wall, stored, cpu_ms, started = conn.execute(
            "SELECT epoch(finished_at - started_at), n_ok, cpu_ms, epoch(started_at) FROM runs "
            "WHERE territory = ? ORDER BY started_at DESC LIMIT 1",
            [territory],
        ).fetchone()
    own = json.loads(rusage.read_text())
    _say(f"CPU seconds by process: {measured.cpu_seconds}")
    peaks = {k: f"{v / 2**20:.0f} MiB" for k, v in measured.peak_rss_by_label.items()}
    _say(f"peak memory by process (each at its own peak): {peaks}")
    server = measured.cpu_seconds.get("prefect-server", 0.0)
    since = measured.cpu_since(float(started))
    _say(f"CPU seconds by process from the run's start: {since}")
    return Row(
        "flow", 0, 0, float(wall), 0, measured.peak_rss_bytes, own["cpu_seconds"], server,
        int(stored), cpu_ms=json.loads(cpu_ms) if cpu_ms else {},
        run_cpu_flow=since.get("flow"), run_cpu_server=since.get("prefect-server"),
    )  # fmt: skip


def run_old(sims: SimulatorProcess, workdir: Path, csv: Path, limits: Limits, scale: float) -> Row:
    """The old app's schedule on the same simulators, measured the same way."""
    out = workdir / "old.json"
    env = flow_env(sims, workdir, limits, scale)
    with (workdir / "old.log").open("w") as log:
        measured = run_measured(
            [sys.executable, "-m", "benchmarks.old_schedule", str(csv), str(out)], env, stdout=log
        )
    if measured.returncode != 0:
        raise RuntimeError(f"old schedule failed:\n{measured.stderr_tail}")
    result = json.loads(out.read_text())
    return Row("old batcher", 0, 0, result["elapsed_seconds"], 0, measured.peak_rss_bytes,
               measured.cpu_total, None, result["classified"])  # fmt: skip


def sustained(log: list[list[float | int | None]], time_scale: float) -> tuple[float, int, int]:
    """Accepted requests per (scaled) minute once the first window is over (the provider's
    burst allowance, taken at once) up to the last accepted request; accepted, and 429s."""
    accepted = sorted(t for t, _, status in log if status == 200)
    refused = sum(1 for _, _, status in log if status == 429)
    window = 60 * time_scale
    steady = [t for t in accepted if accepted and t >= accepted[0] + window]
    if len(steady) < 2:
        return 0.0, len(accepted), refused
    return (len(steady) - 1) / (steady[-1] - steady[0]) * window, len(accepted), refused


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one markdown table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="comma-separated N (default 100,1000)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="latency multiplier")
    parser.add_argument("--no-old", action="store_true", help="skip the old schedule")
    parser.add_argument(
        "--rate-limit", action="store_true",
        help="enforce 1,000 RPM (Tavily) and 600 RPM (LLM) per scaled minute, and report the "
        "sustained rate",
    )  # fmt: skip
    parser.add_argument("--retry-after", type=float, help="seconds the simulated 429s ask for")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    scale = args.time_scale
    limits = Limits()
    if args.rate_limit:
        # Enough concurrency that the per-minute limits, not the caps, are what binds.
        limits = Limits(tavily_concurrency=100, llm_concurrency=200, batch_size=50,
                        tavily_rpm=1000, llm_rpm=600)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="territory-bench-"))
    sims = SimulatorProcess(scale)
    rows: list[Row] = []
    rates: list[str] = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            csv = workdir / f"accounts-{n}.csv"
            write_territory(csv, n)
            ideal = ideal_seconds(n, scale, limits)
            _say(f"N={n}: ideal {ideal:.0f}s; running the flow")
            sims.configure(scale, limits, args.retry_after)
            row = run_flow(sims, workdir, csv, f"bench-{n}", limits, scale)
            row.n, row.time_scale, row.ideal = n, scale, ideal
            rows.append(row)
            if args.rate_limit:
                for service, rpm in (("tavily", limits.tavily_rpm), ("llm", limits.llm_rpm)):
                    rate, ok, refused = sustained(sims.log(service), scale)
                    rates.append(f"| {n} | {service} | {rpm} | {rate:.0f} | {rate / rpm:.0%} "
                                 f"| {ok} | {refused} |")  # fmt: skip
            if not args.no_old:
                _say(f"N={n}: flow {row.wall:.0f}s; running the old schedule")
                sims.configure(scale, limits, args.retry_after)
                old = run_old(sims, workdir, csv, limits, scale)
                old.n, old.time_scale, old.ideal = n, scale, ideal
                rows.append(old)
    finally:
        sims.stop()
    _say("measuring the machine's pace (benchmarks.machine_pace, about 35 s)")
    print(render(rows, rates, limits) + "\n\n" + machine_pace.measure().describe())
    if args.keep:
        _say(f"work directory kept: {workdir}")
    return 0


def render(rows: list[Row], rates: list[str], limits: Limits) -> str:
    """The results as a markdown table, with the machine and date."""
    cpus = os.cpu_count()
    lines = [
        f"Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"{cpus} cores, Python {platform.python_version()}; profile {PROFILE}; Tavily "
        f"concurrency {limits.tavily_concurrency}, LLM concurrency {limits.llm_concurrency}.",
        "",
        "| schedule | N | time scale | wall (s) | companies/min | ideal (s) | wall/ideal "
        "| vs old | peak memory (MiB) | CPU ms/company (flow) | CPU ms/company (+Prefect server) "
        "| stored |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        old = next((r for r in rows if r.n == row.n and r.schedule == "old batcher"), None)
        speedup = f"{old.wall / row.wall:.2f}x faster" if old and row is not old else ""
        mem = f"{row.peak_rss / 2**20:.0f}" if row.peak_rss else ""
        cpu = f"{row.cpu_flow / row.n * 1000:.1f}" if row.cpu_flow is not None else ""
        both = (
            f"{(row.cpu_flow + row.cpu_server) / row.n * 1000:.1f}"
            if row.cpu_flow is not None and row.cpu_server is not None
            else ""
        )
        lines.append(
            f"| {row.schedule} | {row.n} | {row.time_scale:g} | {row.wall:.1f} "
            f"| {row.per_minute:.0f} | {row.ideal:.1f} | {row.wall / row.ideal:.2f} | {speedup} "
            f"| {mem} | {cpu} | {both} | {row.stored} |"
        )
    lines += phase_lines(rows)
    if rates:
        lines += [
            "",
            "| N | provider | limit (RPM) | sustained (RPM) | of limit | accepted | 429s |",
            "|---|---|---|---|---|---|---|",
            *rates,
        ]
    return "\n".join(lines)


def phase_lines(rows: list[Row]) -> list[str]:
    """The flow's CPU per company by phase (from the run's `cpu_ms`), and the rest of the flow
    process's CPU: start-up and imports, Prefect's task engine, its API client, logging."""
    measured = [(row, per_company(row.cpu_ms)) for row in rows if per_company(row.cpu_ms)]
    if not measured:
        return []
    lines = [
        "",
        "CPU ms per company by phase (the run's own measure, thread CPU), the rest of the "
        "flow process's CPU, and each process's CPU from the flow run's start on (imports "
        "and the Prefect server's start-up excluded):",
        "",
        f"| schedule | N | {' | '.join(PHASES)} | phases | rest of flow process "
        "| flow process after start-up | Prefect server after start-up |",
        "|---|---|" + "---|" * (len(PHASES) + 4),
    ]
    for row, ms in measured:
        total = sum(ms.values())
        rest = _per_company(row.cpu_flow, row.n, minus=total)
        cells = " | ".join(f"{ms[p]:.1f}" for p in PHASES)
        lines.append(
            f"| {row.schedule} | {row.n} | {cells} | {total:.1f} | {rest} "
            f"| {_per_company(row.run_cpu_flow, row.n)} "
            f"| {_per_company(row.run_cpu_server, row.n)} |"
        )
    return lines


def _per_company(seconds: float | None, n: int, minus: float = 0.0) -> str:
    """CPU seconds as milliseconds per company (less `minus`), or blank when not measured."""
    return f"{seconds / n * 1000 - minus:.1f}" if seconds is not None else ""


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
