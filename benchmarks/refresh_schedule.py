"""Refresh by tier: searches and cost per year of a weekly schedule for a 10,000-company
territory, with the rubric's [refresh] table against re-searching every company every week.

    uv run python -m benchmarks.refresh_schedule               # mix from a simulator run (~2 min)
    uv run python -m benchmarks.refresh_schedule --mix-from territory.duckdb:companies

1. The mix: each company's latest status, tier and confidence, and what classifying it cost,
   read from a territory in DuckDB. By default a fresh `territory run examples/companies.csv
   --simulate` (the 300 sample companies through the real flow and the simulators, its model
   `simulated-model` priced like gpt-4.1-mini) in a temporary directory.
2. 52 weekly runs over N companies of that mix, scaled. Each run asks the flow's own rule
   (`domain.refresh.is_due`, the bundled rubric's [refresh] table) which companies are due;
   a due company is searched and classified some time into the run (searches are spread over
   --run-hours, so last week's search is a little under a week old at this week's start).
3. Tier changes: each week a company's true verdict is redrawn from the mix with a chance set
   so that the given share of companies changes tier per week (--changes, in %). A company
   whose tier changed is only seen to have changed when it is searched again: its next search
   is still scheduled by the verdict it had. The default rates are 0 and the simulated web's
   own week-later rate (the share of sample companies whose tier the Tavily simulator's
   `--epoch 1` changes: WARM companies with news that makes them HOT).

Costs: a search costs its credits (advanced: 2) at the price table's USD per credit
(domain/prices.toml); a classification what the mix's companies of that verdict cost on
average. Re-searching every week classifies every company every week.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from pydantic import BaseModel

from domain.costs import load_prices
from domain.models import TIERS
from domain.refresh import RefreshPolicy, Standing, is_due
from domain.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "companies.csv"
WEEK = timedelta(days=7)
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)  # a Monday, 06:00: the weekly-refresh cron
KEY, RUBRIC, MODEL = "tavily-bench", "bench@1", "bench-model"  # never change: no re-judging


@dataclass(frozen=True)
class Verdict:
    """One kind of latest result in the mix, how many companies have it, and what classifying
    one of them cost on average."""

    status: str
    tier: str | None
    confidence: str | None
    count: int
    llm_usd: float

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.tier or self.status, self.confidence) if x)


@dataclass
class Year:
    """What one schedule did over the simulated weeks."""

    searches: int = 0
    llm_usd: float = 0.0
    changed: int = 0  # true tier changes (company-weeks)
    by_tier: Counter[str] | None = None
    waits: list[int] | None = None  # weeks each tier change waited to be seen
    waits_to_hot: list[int] | None = None  # the same, for companies that became HOT

    @staticmethod
    def mean(waits: list[int] | None) -> str:
        return f"{sum(waits) / len(waits):.2f}" if waits else "-"


def sample_run(workdir: Path) -> Path:
    """Run the sample territory through the real flow and the simulators; its database."""
    from flows.settings import Settings

    db = workdir / "sample.duckdb"
    env = {k: v for k, v in os.environ.items() if k.upper() not in _setting_names(Settings)}
    env.pop("PREFECT_API_URL", None)  # an ephemeral Prefect server of its own
    env |= {"TERRITORY_DB": str(db), "PREFECT_HOME": str(workdir / "prefect")}
    cmd = [sys.executable, "-m", "territory.cli", "run", str(SAMPLE), "--simulate"]
    print(f"running the sample through the simulators: {' '.join(cmd[2:])}", file=sys.stderr)
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the sample run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return db


def _setting_names(settings: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        names.update(str(c).upper() for c in getattr(alias, "choices", []))
    return names


def read_mix(db: Path, territory: str) -> tuple[list[Verdict], str]:
    """The territory's latest results grouped by verdict, and where they came from."""
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            "SELECT status, tier, confidence, count(*), "
            "avg(coalesce(llm_cost_usd, 0)) FILTER (status = 'ok') "
            "FROM company_results WHERE territory = ? GROUP BY ALL ORDER BY ALL",
            [territory],
        ).fetchall()
        found = conn.execute(
            "SELECT DISTINCT model FROM company_results WHERE territory = ? AND model IS NOT NULL",
            [territory],
        ).fetchall()
    if not rows:
        raise SystemExit(f"no results of territory {territory!r} in {db}")
    mix = [Verdict(s, t, c, int(n), float(usd or 0.0)) for s, t, c, n, usd in rows]
    mix.sort(key=lambda v: (v.status != "ok", TIERS.index(v.tier) if v.tier in TIERS else 9))
    models = ", ".join(m for (m,) in found) or "no model"
    return mix, f"{sum(v.count for v in mix)} companies of {territory!r} in {db.name} ({models})"


def simulated_web_change_rate() -> float:
    """Share of sample companies whose tier the simulated web changes a week later (epoch 1)."""
    from simulators.profiles import expected_tier, expected_tier_at

    with SAMPLE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    moved = sum(
        expected_tier_at(r["name"], 1, r["domain"]) != expected_tier(r["name"], r["domain"])
        for r in rows
    )
    return moved / len(rows)


def scaled(mix: list[Verdict], n: int) -> list[int]:
    """N companies' verdicts (indexes into `mix`) in the mix's proportions (largest remainder)."""
    total = sum(v.count for v in mix)
    exact = [n * v.count / total for v in mix]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(mix)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return [i for i, c in enumerate(counts) for _ in range(c)]


def redraw_chance(mix: list[Verdict], change_rate: float) -> float:
    """The weekly chance of redrawing a verdict from the mix (which may draw the same tier)
    that makes `change_rate` of companies change tier per week, the mix staying as it is."""
    total = sum(v.count for v in mix)
    tiers = Counter[str]()
    for v in mix:
        tiers[v.tier or v.status] += v.count
    same = sum((c / total) ** 2 for c in tiers.values())
    return min(1.0, change_rate / (1 - same)) if same < 1 else 0.0


def simulate(
    mix: list[Verdict],
    n: int,
    weeks: int,
    change_rate: float,
    policy: RefreshPolicy | None,
    run_hours: float,
    seed: int,
) -> Year:
    """Weekly runs over N companies; `policy` None re-searches every company every week."""
    # Separate draws for the web and for the run's timing: both schedules see the same web.
    web, timing = random.Random(seed), random.Random(seed + 1)
    truth = scaled(mix, n)  # each company's verdict if it were searched now
    seen = list(truth)  # its latest stored verdict: what schedules its next search
    searched: list[datetime | None] = [None] * n
    weights = [v.count for v in mix]
    redraw = redraw_chance(mix, change_rate)
    year = Year(by_tier=Counter(), waits=[], waits_to_hot=[])
    unseen: list[int | None] = [None] * n  # the week the truth left the stored verdict's tier
    for week in range(weeks):
        now = START + week * WEEK
        for i in range(n):
            if week and web.random() < redraw:
                before = truth[i]
                truth[i] = web.choices(range(len(mix)), weights)[0]
                year.changed += mix[before].tier != mix[truth[i]].tier
                differs = mix[truth[i]].tier != mix[seen[i]].tier
                unseen[i] = (unseen[i] if unseen[i] is not None else week) if differs else None
            if policy is not None and not is_due(
                policy, standing(mix[seen[i]], searched[i]), search_key=KEY, rubric=RUBRIC,
                model=MODEL, now=now,
            ):  # fmt: skip
                continue
            if unseen[i] is not None:  # searched: the change is seen now
                waited = week - unseen[i]
                year.waits.append(waited)
                if mix[truth[i]].tier == "HOT":
                    year.waits_to_hot.append(waited)
                unseen[i] = None
            seen[i] = truth[i]  # searched and classified: the verdict is current again
            searched[i] = now + timedelta(hours=timing.uniform(0, run_hours))
            year.searches += 1
            year.llm_usd += mix[truth[i]].llm_usd
            year.by_tier[mix[truth[i]].label] += 1
    return year


def standing(verdict: Verdict, searched: datetime | None) -> Standing:
    """What the due rule reads for a company with this verdict, searched then (None: never)."""
    if searched is None:
        return Standing()
    return Standing(
        verdict.status, verdict.tier, verdict.confidence, RUBRIC, MODEL, KEY, searched, searched
    )


def report(
    mix: list[Verdict], source: str, n: int, weeks: int, rows: list[tuple[str, float, Year]]
) -> str:
    """The mix, and one line per schedule and change rate."""
    prices = load_prices()
    search_usd = prices.tavily_usd(prices.search_credits("advanced"))
    total = sum(v.count for v in mix)
    refresh = load_rubric().refresh
    lines = [
        f"mix: {source}: " + ", ".join(f"{v.label} {v.count} ({v.count / total:.1%})" for v in mix),
        f"territory: {n:,} companies of that mix, {weeks} weekly runs; a search ${search_usd:.3f} "
        "(advanced, 2 credits, domain/prices.toml); a classification what the mix's companies "
        "of that verdict cost",
        f"[refresh] (bundled rubric): HOT {refresh.HOT:g} days, WARM {refresh.WARM:g}, "
        f"COLD {refresh.COLD:g}, low confidence {refresh.low_confidence:g}"
        if refresh
        else "",
        "",
        f"{'schedule':<30}{'tier changes':>14}{'searches/yr':>13}{'vs weekly':>11}"
        f"{'Tavily $/yr':>13}{'LLM $/yr':>11}{'total $/yr':>12}{'seen after':>12}"
        f"{'to HOT after':>14}",
    ]
    baseline: dict[float, int] = {}
    for name, rate, year in rows:
        tavily = year.searches * search_usd
        if name.startswith("every"):
            baseline[rate] = year.searches
        fewer = 1 - year.searches / baseline[rate] if rate in baseline else 0.0
        vs = f"-{fewer:.1%}" if fewer else ""
        changed = year.changed / (n * max(1, weeks - 1))
        lines.append(
            f"{name:<30}{f'{changed:.1%}/week':>14}{year.searches:>13,}{vs:>11}{tavily:>13,.2f}"
            f"{year.llm_usd:>11,.2f}{tavily + year.llm_usd:>12,.2f}"
            f"{Year.mean(year.waits) + ' wk':>12}{Year.mean(year.waits_to_hot) + ' wk':>14}"
        )
    shares = {v.label: v.count / total for v in mix}
    for name, rate, year in rows:
        if year.by_tier and not name.startswith("every"):
            per = ", ".join(f"{k} {year.by_tier[k] / (n * shares[k]):.1f}" for k in shares)
            lines.append(f"searches a year per company of each verdict, {rate:.1%}: {per}")
    lines.append(
        "seen after: mean weeks from a company's tier changing on the web to a run searching "
        "it again (to HOT: those that became HOT)"
    )
    return "\n".join(line for line in lines if line is not None)


def main(argv: list[str] | None = None) -> int:
    """Get the mix, simulate both schedules at each change rate, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.refresh_schedule", description=__doc__
    )
    parser.add_argument("--mix-from", help="DB:TERRITORY to read the mix from (default: a run)")
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--changes", type=float, nargs="*", default=None,
                        help="%% of companies changing tier per week (default: 0 and the "
                        "simulated web's rate)")  # fmt: skip
    parser.add_argument("--run-hours", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.mix_from:
        db, _, territory = args.mix_from.rpartition(":")
        mix, source = read_mix(Path(db), territory)
    else:
        with tempfile.TemporaryDirectory(prefix="refresh-bench-") as tmp:
            mix, source = read_mix(sample_run(Path(tmp)), "companies")
            source = f"the sample (examples/companies.csv) run through the simulators: {source}"
    rates = [r / 100 for r in args.changes] if args.changes else [0.0, simulated_web_change_rate()]
    policy = RefreshPolicy.of(load_rubric().refresh)
    rows = []
    for rate in rates:
        for name, rule in (("every company every week", None), ("[refresh] by tier", policy)):
            year = simulate(mix, args.companies, args.weeks, rate, rule, args.run_hours, args.seed)
            rows.append((name, rate, year))
    print(report(mix, source, args.companies, args.weeks, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
