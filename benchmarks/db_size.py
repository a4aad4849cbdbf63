"""Where the database's bytes go, per company: by table, and the page text by column.

Writes companies through the store's own methods (save_searches, save_results) into a fresh
file, checkpoints it, and attributes the file's bytes to tables from DuckDB's storage info.
Two sources of page text:

* `simulated`: N companies (names from examples/companies.csv, numbered past 300), each with
  the 20 pages the Tavily simulator serves for the default query (simulators.content, the
  same text `territory run --simulate` stores), through the same to_outcome as the flow;
* `corpus`: the 20 companies of benchmarks/corpus, real page text nobody on the project
  wrote (4 to 8 pages each, cut to 2,500 characters: much less text per company).

Each row also gives what the same pages cost with schema version 6's layout (DuckDB's default
string compression), copied into a file of their own. `--db FILE` breaks down a file made
elsewhere (e.g. by `TERRITORY_DB=FILE territory run examples/companies.csv --simulate`).

    uv run python -m benchmarks.db_size [--companies 300] [--runs 1] [--db FILE]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from benchmarks.real_pages import load_corpus
from domain.accounts import read_accounts
from domain.models import (
    Classification,
    CompanyResult,
    SearchOutcome,
    SearchPage,
    SearchRequest,
    Signal,
    Usage,
)
from domain.rubric import load_rubric
from simulators.content import search_pages
from simulators.tavily_wire import search_response
from storage.duckdb_store import TerritoryStore
from tasks.search import build_query, to_outcome

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "companies.csv"
RAW_CAP = 60_000  # CONTEXT_MAX_CHARS default: the flow cuts raw content there
DEFAULT_QUERY_TEMPLATE = load_rubric().search.query
CHUNK = 50  # companies per stored chunk, as the flow stores them
TABLES = ("search_pages", "searches", "company_results", "result_history", "runs")
TEXT_COLUMNS = ("raw_content", "content")
MEASURE_BLOCK = 65536


def simulated_outcome(name: str, domain: str | None, key: str) -> SearchOutcome:
    """The search the flow would store for a company against the Tavily simulator."""
    query = build_query(DEFAULT_QUERY_TEMPLATE, name, domain)
    body = search_response(
        {"query": query, "include_raw_content": True},
        search_pages(query, 20),
        "advanced",
        0.8,
        2,
    )
    body["request_id"] = f"req-{key}"
    request = SearchRequest(
        company_key=key, name=name, domain=domain, endpoint="https://api.tavily.com",
        query=query, search_depth="advanced", max_results=20,
    )  # fmt: skip
    return to_outcome(request, body, RAW_CAP)


def corpus_outcomes() -> Iterator[tuple[str, str | None, SearchOutcome]]:
    """The real-page corpus as stored searches: each company's pages, its text as raw_content
    and the first 500 characters as Tavily's snippet."""
    for company in load_corpus():
        key = company.name.casefold()
        query = build_query(DEFAULT_QUERY_TEMPLATE, company.name, company.domain)
        request = SearchRequest(
            company_key=key, name=company.name, domain=company.domain,
            endpoint="https://api.tavily.com", query=query, search_depth="advanced",
            max_results=20,
        )  # fmt: skip
        pages = [
            SearchPage(
                url=p["url"],
                title=p["title"],
                score=0.9 - 0.05 * i,
                content=p["text"][:500],
                raw_content=p["text"],
            )
            for i, p in enumerate(company.pages)
        ]
        yield (
            company.name,
            company.domain,
            SearchOutcome(
                request=request, fetched_at=datetime.now(UTC), pages=pages, request_id=f"req-{key}"
            ),
        )


def result_for(name: str, domain: str | None, outcome: SearchOutcome) -> CompanyResult:
    """A verdict of the shape the flow stores: four signals quoting the pages, the evidence
    summary, passthrough columns and costs."""
    signals = [
        Signal(kind="business", url=p.url, excerpt=(p.raw_content or p.content)[:160])
        for p in outcome.pages[:4]
    ]
    reasoning = (
        f"{name} shows evidence of business across {len(signals)} of {len(outcome.pages)} "
        "sources. There are no signs that it needs GPU compute. [searched the pages: no GPU "
        "or ML signal]"
    )
    return CompanyResult(
        company_key=outcome.request.company_key,
        name=name,
        domain=domain,
        metadata={"owner": "Priya Shah", "region": "EMEA", "crm_id": "CRM-100000"},
        status="ok",
        classification=Classification(
            tier="COLD", score=12, confidence="medium", reasoning=reasoning, signals=signals
        ),
        search_key=outcome.request.cache_key,
        search_fetched_at=outcome.fetched_at,
        model="simulated-model",
        usage=Usage(prompt_tokens=9000, completion_tokens=400),
        tavily_credits=2,
        llm_cost_usd=0.004,
        cost_usd=0.02,
        rubric="gpu-compute@1",
        evidence={"pages_read": 10, "domains_read": 9, "sources": 0, "stale_signals": 0,
                  "set_aside": 0, "model_tier": "COLD", "model_confidence": "medium",
                  "checked_signals": len(signals), "unchecked": False},
    )  # fmt: skip


def simulated_companies(n: int) -> list[tuple[str, str | None, str]]:
    """N companies: the sample territory's, then the same names numbered (new companies to
    the simulator, with pages of their own)."""
    base = [(a.name, a.domain, a.key) for a in read_accounts(str(SAMPLE)).accounts]
    out = []
    for i in range(n):
        name, domain, key = base[i % len(base)]
        if i >= len(base):
            round_ = i // len(base) + 1
            name, domain, key = f"{name} {round_}", None, f"{key} {round_}"
        out.append((name, domain, key))
    return out


def write(path: Path, companies: list[tuple[str, str | None, SearchOutcome]], runs: int) -> None:
    """Store the companies as `runs` runs of the flow would, chunk by chunk."""
    store = TerritoryStore.open(path)
    for run in range(runs):
        with store.session():
            run_id = store.start_run("bench", "full", {}, None, len(companies), 0, len(companies))
        for start in range(0, len(companies), CHUNK):
            part = companies[start : start + CHUNK]
            outcomes = [
                o.model_copy(update={"fetched_at": o.fetched_at + timedelta(days=30 * run)})
                for _, _, o in part
            ]
            with store.session():
                store.save_searches(outcomes, run_id, usd_per_credit=0.008)
                results = [result_for(n, d, o) for (n, d, _), o in zip(part, outcomes, strict=True)]
                store.save_results(run_id, "bench", results)
        with store.session():
            store.finish_run(run_id, "completed")
    with duckdb.connect(str(path)) as conn:
        conn.execute("CHECKPOINT")


def breakdown(path: Path) -> dict[str, int]:
    """Bytes of the file by table (and page text by column): each column segment's share of
    its block, from its offset to the next segment's (a block's unused tail counts to its
    last segment); free blocks and the rest (indexes, catalog) on lines of their own."""
    with duckdb.connect(str(path), read_only=True) as conn:
        block = conn.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        segments = []
        tables = conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        free = conn.execute("SELECT free_blocks FROM pragma_database_size()").fetchone()[0]
        for (table,) in tables:
            segments += [
                (table, column, block_id, offset, extra or [])
                for column, block_id, offset, extra in conn.execute(
                    "SELECT column_name, block_id, block_offset, additional_block_ids FROM "
                    f"pragma_storage_info('{table}') WHERE persistent AND block_id >= 0"
                ).fetchall()
            ]
    by_block: dict[int, list[tuple[int, str]]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for table, column, block_id, offset, extra in segments:
        label = f"{table}.{column}" if column in TEXT_COLUMNS else table
        by_block[block_id].append((offset, label))
        sizes[label] += block * len(extra)
    for parts in by_block.values():
        parts.sort()
        for (offset, label), (after, _) in zip(parts, [*parts[1:], (block, "")], strict=True):
            sizes[label] += after - offset
    sizes["free blocks (reused by later writes)"] = free * block
    sizes["indexes, catalog"] = os.path.getsize(path) - sum(sizes.values())
    return dict(sizes)


def text_bytes(path: Path, compression: str) -> int:
    """The bytes of the page text columns alone, copied into a file of 64 KiB blocks (fine
    enough for a few hundred pages; smaller ones push long strings out of FSST), stored with
    `compression`: zstd as now, or `auto`, schema version 6's layout (DuckDB's choice)."""
    using = "" if compression == "auto" else f" USING COMPRESSION {compression}"
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as conn:
        conn.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        used = []
        for name, source in (("empty", "WHERE false"), ("copy", "")):
            target = Path(folder) / f"{name}.duckdb"
            conn.execute(f"ATTACH '{target}' AS {name} (BLOCK_SIZE {MEASURE_BLOCK})")
            conn.execute(f"CREATE TABLE {name}.t (a VARCHAR{using}, b VARCHAR{using})")
            conn.execute(f"INSERT INTO {name}.t SELECT raw_content, content FROM src.search_pages "
                         f"{source}")  # fmt: skip
            conn.execute(f"CHECKPOINT {name}")
            found = conn.execute(
                "SELECT used_blocks * block_size FROM pragma_database_size() "
                "WHERE database_name = ?",
                [name],
            ).fetchone()
            used.append(int(found[0]) if found else 0)
        return used[1] - used[0]


def page_chars(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        found = conn.execute(
            "SELECT sum(strlen(coalesce(raw_content, '')) + strlen(coalesce(content, ''))) "
            "FROM search_pages"
        ).fetchone()
    return int(found[0] or 0) if found else 0


def report(label: str, path: Path, n: int) -> None:
    """One block of the table: bytes per company by table, and the page text's ratio."""
    sizes = breakdown(path)
    total = os.path.getsize(path)
    text = page_chars(path)
    pages = sum(v for k, v in sizes.items() if k.startswith("search_pages"))
    print(f"\n{label}: {n} companies, file {total / 1e6:.1f} MB = {total / n / 1e3:.1f} KB/company")
    for name in sorted(sizes, key=lambda k: -sizes[k]):
        print(f"  {name:36} {sizes[name] / n / 1e3:8.1f} KB/company")
    print(f"  page text: {text / n / 1e3:.1f} K characters/company; search_pages takes "
          f"{pages / n / 1e3:.1f} KB/company")  # fmt: skip
    now, v6 = text_bytes(path, "zstd"), text_bytes(path, "auto")
    print(f"  page text alone: {now / n / 1e3:.1f} KB/company ({text / max(now, 1):.1f}x); "
          f"as version 6 stored it {v6 / n / 1e3:.1f} KB/company "
          f"({text / max(v6, 1):.1f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1, help="runs (each searches anew)")
    parser.add_argument("--db", type=Path, help="only break down this file")
    args = parser.parse_args()
    if args.db:
        with duckdb.connect(str(args.db), read_only=True) as conn:
            n = conn.execute("SELECT count(DISTINCT company_key) FROM company_results").fetchone()
        report(str(args.db), args.db, int(n[0]) if n else 1)
        return
    with tempfile.TemporaryDirectory() as folder:
        sim = Path(folder) / "simulated.duckdb"
        companies = simulated_companies(args.companies)
        write(sim, [(n, d, simulated_outcome(n, d, k)) for n, d, k in companies], args.runs)
        report(f"simulated pages, {args.runs} run(s)", sim, len(companies))
        real = Path(folder) / "corpus.duckdb"
        corpus = list(corpus_outcomes())
        write(real, corpus, args.runs)
        report(f"real-page corpus, {args.runs} run(s)", real, len(corpus))


if __name__ == "__main__":
    main()
