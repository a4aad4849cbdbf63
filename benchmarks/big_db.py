"""A territory database of 100,000 companies x 2 runs, and how long the reading commands take
on it (wall time and peak memory of the whole command).

Built in bulk SQL from a real simulated run (`TERRITORY_DB=T territory run
examples/companies.csv --simulate`): company i copies template company i mod 300 (its
result, signals, evidence, search and its 20 pages of simulator text), with the name
numbered (`Ashcombe Bakehouse 17`) everywhere it occurs, so every company's rows and pages
are its own and the sizes are real. The second run moves about one company in twelve to
another tier and nudges every score; 0.5% of the companies carry a reviewer's override.

    uv run python -m benchmarks.big_db build TEMPLATE.duckdb BIG.duckdb [--companies 100000]
    uv run python -m benchmarks.big_db measure BIG.duckdb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from storage.duckdb_store import TerritoryStore
from storage.pages import BODY_HASH_SQL
from storage.schema import RESULT_COLUMNS

TERRITORY = "big"
RUN_GAP_DAYS = 35  # the second run comes a refresh window after the first
BATCH = 2_000  # companies per INSERT of pages: a slice's text sorts in memory
MEMORY_LIMIT = "2GB"  # DuckDB's own cap while building: this machine is shared


def build(template: Path, out: Path, companies: int, runs: int) -> None:
    """Write the big file (replacing any file there)."""
    out.unlink(missing_ok=True)
    TerritoryStore.open(out).session().__enter__().close()  # the tables, current schema
    conn = duckdb.connect(str(out), config={"memory_limit": MEMORY_LIMIT})
    conn.execute(f"ATTACH '{template}' AS t (READ_ONLY)")
    conn.execute(
        """
        CREATE TEMP TABLE tmpl AS
        SELECT row_number() OVER (ORDER BY company_key) - 1 AS n, * FROM t.company_results
        WHERE status = 'ok'
        """
    )
    (t,) = conn.execute("SELECT count(*) FROM tmpl").fetchone() or (0,)
    if not t:
        raise SystemExit(f"{template}: no classified companies to copy")
    conn.execute(
        f"""
        CREATE TEMP TABLE co AS
        SELECT i, i % {t} AS n, (i // {t}) + 1 AS copy FROM range({companies}) r(i)
        """
    )
    for run in range(runs):
        started = time.monotonic()
        _write_run(conn, run)
        print(f"run {run + 1}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    _write_overrides(conn)
    conn.execute("CHECKPOINT")
    conn.close()


def _named(column: str) -> str:
    """A template text with its company's name numbered (the copy's own name)."""
    return f"replace({column}, tm.company, tm.company || ' ' || co.copy)"


def _write_run(conn: duckdb.DuckDBPyConnection, run: int) -> None:
    """One run: its row, every company's search with its pages, and its results."""
    run_id = f"00000000-0000-4000-8000-00000000000{run + 1}"
    at = f"(TIMESTAMPTZ '2026-10-01 09:00:00+00' + INTERVAL {RUN_GAP_DAYS * run} DAY)"
    conn.execute(
        f"INSERT INTO runs (run_id, territory, mode, status, started_at, finished_at, "
        f"n_companies, n_input_rows, n_merged) SELECT '{run_id}', '{TERRITORY}', 'full', "
        f"'completed', {at}, {at} + INTERVAL 4 HOUR, count(*), count(*), 0 FROM co"
    )
    key = "tm.company_key || ' ' || co.copy"
    search_key = f"md5({key} || '|{run}')"
    conn.execute(
        f"""
        INSERT INTO searches (search_key, fetched_at, company_key, query, parameters, request_id,
            response_time, n_pages, run_id, credits, cost_usd)
        SELECT {search_key}, {at}, {key}, {_named("s.query")}, s.parameters,
            md5(co.i || '-{run}'), s.response_time, s.n_pages, '{run_id}', s.credits, s.cost_usd
        FROM co JOIN tmpl tm USING (n) JOIN t.searches s ON s.search_key = tm.search_key
        """
    )
    (companies,) = conn.execute("SELECT count(*) FROM co").fetchone() or (0,)
    content, raw = _named("c.body"), _named("r.body")
    for start in range(0, companies, BATCH):  # in slices: the text of one run is ~9 GB
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE slice AS
            SELECT {search_key} AS search_key, {at} AS fetched_at, p.rank, p.url,
                {_named("p.title")} AS title, p.score, {content} AS content, {raw} AS raw
            FROM co JOIN tmpl tm USING (n) JOIN t.search_pages p ON p.search_key = tm.search_key
            LEFT JOIN t.page_bodies c ON c.hash = p.content_hash
            LEFT JOIN t.page_bodies r ON r.hash = p.raw_hash
            WHERE co.i >= ? AND co.i < ? ORDER BY co.i, p.rank
            """,
            [start, start + BATCH],
        )
        # Each text once (a copy's text is its own: its name is numbered into it); a later
        # run's text is the earlier run's, found by its hash and not stored again.
        h = BODY_HASH_SQL.format
        conn.execute(
            f"""
            INSERT INTO page_bodies
            SELECT hash, any_value(body) FROM (
                SELECT {h("content")} AS hash, content AS body, (0, search_key, rank) AS seen
                FROM slice
                UNION ALL SELECT {h("raw")}, raw, (1, search_key, rank) FROM slice
            ) WHERE body IS NOT NULL AND hash NOT IN (SELECT hash FROM page_bodies)
            GROUP BY hash ORDER BY min(seen)
            """
        )
        conn.execute(
            f"INSERT INTO search_pages SELECT search_key, fetched_at, rank, url, title, score, "
            f"{h('content')}, {h('raw')} FROM slice"
        )
    # The second run: a few companies move a tier, every score moves a little.
    moved = f"hash(co.i, {run}) % 12 = 0 AND {run} > 0"
    tier = (
        f"CASE WHEN {moved} THEN CASE tm.tier WHEN 'HOT' THEN 'WARM' ELSE 'HOT' END "
        "ELSE tm.tier END"
    )
    nudge = f"CASE WHEN {run} > 0 THEN (hash(co.i) % 11)::INTEGER - 5 ELSE 0 END"
    score = f"least(100, greatest(0, tm.score + {nudge}))"
    values = {
        "territory": f"'{TERRITORY}'", "company_key": key,
        "company": "tm.company || ' ' || co.copy",
        "tier": tier, "score": score, "reasoning": _named("tm.reasoning"),
        "signals": _named("tm.signals::VARCHAR"), "run_id": f"'{run_id}'",
        "search_key": search_key, "search_fetched_at": at, "updated_at": f"{at} + INTERVAL 2 HOUR",
        "evidence": "tm.evidence", "metadata": "tm.metadata",
    }  # fmt: skip
    select = ", ".join(values.get(c, f"tm.{c}") for c in RESULT_COLUMNS.split(", "))
    # Each run stores every company: its rows are the latest (no key to replace by: see
    # UNKEYED in storage/schema.py).
    conn.execute("DELETE FROM company_results WHERE territory = ?", [TERRITORY])
    for table in ("result_history", "company_results"):
        conn.execute(
            f"INSERT INTO {table} ({RESULT_COLUMNS}) "
            f"SELECT {select} FROM co JOIN tmpl tm USING (n) ORDER BY co.i"
        )


def _write_overrides(conn: duckdb.DuckDBPyConnection) -> None:
    """A reviewer's override on 0.5% of the companies."""
    conn.execute(
        f"""
        INSERT INTO overrides (override_id, territory, company_key, company, action, tier,
            reason, set_by, created_at, source, model_status, model_tier, model_score,
            model_confidence, model_run_id)
        SELECT md5(company_key), territory, company_key, company, 'set',
            CASE tier WHEN 'HOT' THEN 'COLD' ELSE 'HOT' END, 'known account', 'reviewer',
            updated_at, 'cli', status, tier, score, confidence, run_id
        FROM company_results WHERE territory = '{TERRITORY}' AND hash(company_key) % 200 = 0
        """
    )


COMMANDS = {
    "results (table)": ["results", "--territory", TERRITORY],
    "results --format csv": ["results", "--territory", TERRITORY, "--format", "csv"],
    "results --format json": ["results", "--territory", TERRITORY, "--format", "json"],
    "results --by owner": ["results", "--territory", TERRITORY, "--by", "owner"],
    "export csv": ["export", "{dir}/out.csv", "--territory", TERRITORY],
    "export parquet": ["export", "{dir}/out.parquet", "--territory", TERRITORY],
    "export json": ["export", "{dir}/out.json", "--territory", TERRITORY],
    "changes": ["changes", "--territory", TERRITORY],
    "changes --format json": ["changes", "--territory", TERRITORY, "--format", "json"],
    "report": ["report", "{dir}/report.html", "--territory", TERRITORY],
}


def measure(db: Path, only: list[str] | None) -> None:
    """Run each reading command on the file: wall and CPU seconds, peak RSS (GNU time)."""
    env = os.environ | {"TERRITORY_DB": str(db)}
    print("| command | wall (s) | CPU (s) | peak RSS (MiB) | output (MB) |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for label, argv in COMMANDS.items():
            if only and not any(o in label for o in only):
                continue
            args = [a.replace("{dir}", folder) for a in argv]
            out = Path(folder) / "stdout"
            with out.open("wb") as sink:
                started = time.monotonic()
                proc = subprocess.run(
                    ["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "territory.cli",
                     *args],
                    stdout=sink, stderr=subprocess.PIPE, env=env, check=False,
                )  # fmt: skip
                wall = time.monotonic() - started
            if proc.returncode != 0:
                print(f"| {label} | failed: {proc.stderr.decode()[-300:]} | | | |")
                continue
            peak, user, system = proc.stderr.decode().strip().splitlines()[-1].split()
            cpu = float(user) + float(system)
            written = sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())
            for f in Path(folder).iterdir():
                f.unlink()
            mib, mb = int(peak) / 1024, written / 1e6
            print(f"| {label} | {wall:.1f} | {cpu:.1f} | {mib:.0f} | {mb:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("template", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--companies", type=int, default=100_000)
    b.add_argument("--runs", type=int, default=2)
    m = sub.add_parser("measure")
    m.add_argument("db", type=Path)
    m.add_argument("--only", nargs="*")
    args = parser.parse_args()
    if args.command == "build":
        started = time.monotonic()
        build(args.template, args.out, args.companies, args.runs)
        size = args.out.stat().st_size
        took = time.monotonic() - started
        print(f"{args.out}: {args.companies} companies x {args.runs} runs, {size / 1e9:.2f} GB "
              f"({size / args.companies / 1e3:.1f} KB/company), {took:.0f} s")  # fmt: skip
    else:
        measure(args.db, args.only)


if __name__ == "__main__":
    main()
