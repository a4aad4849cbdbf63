"""How long the verdict in force and the ranks take for a large territory.

Fills a fresh DuckDB file with N synthetic companies (random tiers, scores and confidences,
one in 40 failed, 50 owners), overrides one in 100 through the store, then times the
`effective_results` view (ranks in the territory), the ranks per owner, and the store's
`effective_results` call that the CLI makes (rows as Python dicts).

    uv run python -m benchmarks.ranks [--companies N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from domain.review import OverrideRequest
from storage.duckdb_store import TerritoryStore

SEED_SQL = """
INSERT INTO company_results (territory, company_key, company, metadata, status, tier, score,
    confidence, run_id, updated_at)
SELECT 'big', printf('co%06d', i), printf('Company %06d', i),
    json_object('Account Owner', printf('Rep %02d', i % 50)),
    CASE WHEN i % 40 = 0 THEN 'failed' ELSE 'ok' END,
    CASE WHEN i % 40 = 0 THEN NULL ELSE ['HOT', 'WARM', 'COLD'][(1 + hash(i) % 3)::BIGINT] END,
    CASE WHEN i % 40 = 0 THEN NULL ELSE (hash(i + 1) % 101)::INTEGER END,
    CASE WHEN i % 40 = 0 THEN NULL
         ELSE ['high', 'medium', 'low'][(1 + hash(i + 2) % 3)::BIGINT] END,
    'bench', now()
FROM range(?) t(i)
"""


def timed(label: str, work) -> object:
    started = time.perf_counter()
    out = work()
    print(f"{label:<52} {time.perf_counter() - started:7.3f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    n = parser.parse_args().companies
    db = Path(tempfile.mkdtemp()) / "ranks.duckdb"
    with TerritoryStore.open(db) as store:
        store.conn.execute(SEED_SQL, [n])
        requests = [
            OverrideRequest(f"co{i:06d}", "set", "HOT", None, "bench", "bench")
            for i in range(0, n, 100)
        ]
        timed(
            f"{len(requests):,} overrides stored",
            lambda: store.save_overrides("big", requests, "cli"),
        )
    with TerritoryStore.open(db, read_only=True) as store:
        conn = store.conn
        print(f"{n:,} companies")
        timed(
            "ranks in the territory (SQL)",
            lambda: conn.execute(
                "SELECT count(rank), count(*) FILTER (overridden) FROM effective_results "
                "WHERE territory = 'big'"
            ).fetchall(),
        )
        timed(
            "ranks in each owner's book (SQL)",
            lambda: conn.execute(
                "SELECT count(owner_rank) FROM (SELECT *, row_number() OVER (PARTITION BY "
                "owner, rank IS NOT NULL ORDER BY rank) AS owner_rank FROM (SELECT *, "
                "metadata->>'Account Owner' AS owner FROM effective_results "
                "WHERE territory = 'big'))"
            ).fetchall(),
        )
        timed("effective_results() as dicts", lambda: store.effective_results("big"))
        timed(
            "effective_results(owner=...) as dicts",
            lambda: store.effective_results("big", owner="Account Owner"),
        )
        timed(
            "latest_results() as dicts (no ranks, for comparison)",
            lambda: store.latest_results("big"),
        )


if __name__ == "__main__":
    main()
