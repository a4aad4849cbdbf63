"""Where the database's bytes go, per company: by table, and the page text's storage.

Writes companies through the store's own methods (save_searches, save_results) into a fresh
file, checkpoints it, and attributes the file's bytes to tables from DuckDB's storage info.
Two sources of page text:

* `simulated`: N companies (names from examples/companies.csv, numbered past 300), each with
  the 20 pages the Tavily simulator serves for the default query (simulators.content, the
  same text `territory run --simulate` stores), through the same to_outcome as the flow. A
  later run stores the same pages again (as the simulator serves them);
* `real-like`: real text nobody on the project wrote, at the simulator's volume per company
  (20 pages of 4,500 characters, each with a snippet of up to three 500-character chunks):
  the pages of benchmarks/corpus, then the long descriptions (READMEs) of the Python packages
  installed with the project, cut into pages in that order, each text used once. A later run
  finds a share of each company's pages again, byte for byte (`--recur`, one block per share);
  the rest are new text. The pool holds about 1.6 M characters: a few companies.

For both, the pages alone (`search_pages` with `page_bodies`, their keys included) are also
copied into a file of 16 KiB blocks (fine enough for a few companies) as they are stored now
and as schema version 9 stored them (the text in `search_pages`, zstd): the figure a small
real-like file can give, and the before/after of the same pages. The real-like estimate per
company is then the simulated file's other tables plus the real-like pages. `--db FILE`
breaks down a file made elsewhere (e.g. by `TERRITORY_DB=FILE territory run
examples/companies.csv --simulate`).

    uv run python -m benchmarks.db_size [--companies 300] [--runs 2] [--recur 0 0.5 0.8 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import distributions
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
from storage.pages import PAGE_BODIES_TABLE, SEARCH_PAGES_TABLE
from tasks.search import build_query, to_outcome

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "companies.csv"
RAW_CAP = 60_000  # CONTEXT_MAX_CHARS default: the flow cuts raw content there
DEFAULT_QUERY_TEMPLATE = load_rubric().search.query
CHUNK = 50  # companies per stored chunk, as the flow stores them
PAGES = 20  # pages per search, as the flow asks Tavily for them
REAL_PAGE_CHARS = 4_500  # with its snippet, the simulator's 100 K characters per company
RECUR = (0.0, 0.5, 0.8, 1.0)  # shares of a company's pages a later run finds again
# search_pages as schema version 9 stored it: the text in the table, zstd.
SEARCH_PAGES_V9 = """
CREATE TABLE search_pages (
    search_key VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL, rank INTEGER NOT NULL,
    url VARCHAR NOT NULL, title VARCHAR, score DOUBLE,
    content VARCHAR USING COMPRESSION zstd, raw_content VARCHAR USING COMPRESSION zstd,
    PRIMARY KEY (search_key, fetched_at, rank)
);
"""
Named = tuple[str, str | None, SearchOutcome]


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


def real_text_pool() -> Iterator[str]:
    """Real text nobody on the project wrote, always in the same order: the corpus' pages,
    then the long descriptions of the installed Python packages (their READMEs)."""
    for company in load_corpus():
        yield from (p["text"] for p in company.pages)
    for dist in sorted(distributions(), key=lambda d: str(d.metadata["Name"]).lower()):
        meta = dist.read_text("METADATA") or ""
        yield meta.split("\n\n", 1)[1] if "\n\n" in meta else ""


def real_pages(pool: Iterator[str]) -> Iterator[tuple[str, str]]:
    """The pool cut into pages of REAL_PAGE_CHARS, each with a snippet as Tavily's advanced
    search gives one: its first three paragraphs of up to 500 characters, joined by [...]."""
    carry = ""
    for text in pool:
        carry += text + "\n\n"
        while len(carry) >= REAL_PAGE_CHARS:
            page, carry = carry[:REAL_PAGE_CHARS], carry[REAL_PAGE_CHARS:]
            paragraphs = [p.strip() for p in page.split("\n\n") if p.strip()][:3]
            yield page, " [...] ".join(p[:500] for p in paragraphs)


def real_like_runs(runs: int, recur: float, companies: int) -> list[list[Named]]:
    """`companies` companies of real text, for `runs` runs: a later run finds `recur` of each
    company's pages again as they were (the best ranked ones), the rest are new text."""
    pages = real_pages(real_text_pool())
    out: list[list[Named]] = []
    for run in range(runs):
        this = []
        for i in range(companies):
            name = f"Real Company {i + 1}"
            kept = out[-1][i][2].pages[: round(recur * PAGES)] if out else []
            new = [
                SearchPage(url=f"https://site{i}-{run}-{n}.example/page", title=f"Page {n}",
                           score=0.5, content=content, raw_content=raw)
                for n, (raw, content) in zip(range(PAGES - len(kept)), pages, strict=False)
            ]  # fmt: skip
            if len(kept) + len(new) < PAGES:
                raise SystemExit(f"the real-text pool holds too few pages for {companies} "
                                 f"companies x {runs} runs")  # fmt: skip
            request = SearchRequest(company_key=name.casefold(), name=name, query=f"{name} GPU")
            at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=30 * run)
            outcome = SearchOutcome(request=request, fetched_at=at, pages=[*kept, *new])
            this.append((name, None, outcome))
        out.append(this)
    return out


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


def write(path: Path, runs: list[list[Named]]) -> None:
    """Store the companies as the runs of the flow would, chunk by chunk."""
    store = TerritoryStore.open(path)
    for companies in runs:
        with store.session():
            run_id = store.start_run("bench", "full", {}, None, len(companies), 0, len(companies))
        for start in range(0, len(companies), CHUNK):
            part = companies[start : start + CHUNK]
            with store.session():
                store.save_searches([o for _, _, o in part], run_id, usd_per_credit=0.008)
                store.save_results(run_id, "bench", [result_for(n, d, o) for n, d, o in part])
        with store.session():
            store.finish_run(run_id, "completed")
    with duckdb.connect(str(path)) as conn:
        conn.execute("CHECKPOINT")


def repeated(companies: list[Named], runs: int) -> list[list[Named]]:
    """The same searches for each run, 30 days apart (the simulator serves the same pages)."""
    return [
        [(n, d, o.model_copy(update={"fetched_at": o.fetched_at + timedelta(days=30 * run)}))
         for n, d, o in companies]
        for run in range(runs)
    ]  # fmt: skip


def breakdown(path: Path) -> dict[str, int]:
    """Bytes of the file by table: each column segment's share of
    its block, from its offset to the next segment's (a block's unused tail counts to its
    last segment); free blocks and the rest (indexes, catalog) on lines of their own."""
    with duckdb.connect(str(path), read_only=True) as conn:
        block = conn.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        segments = []
        tables = conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        free = conn.execute("SELECT free_blocks FROM pragma_database_size()").fetchone()[0]
        for (table,) in tables:
            segments += [
                (table, block_id, offset, extra or [])
                for block_id, offset, extra in conn.execute(
                    "SELECT block_id, block_offset, additional_block_ids FROM "
                    f"pragma_storage_info('{table}') WHERE persistent AND block_id >= 0"
                ).fetchall()
            ]
    by_block: dict[int, list[tuple[int, str]]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for table, block_id, offset, extra in segments:
        by_block[block_id].append((offset, table))
        sizes[table] += block * len(extra)
    for parts in by_block.values():
        parts.sort()
        for (offset, label), (after, _) in zip(parts, [*parts[1:], (block, "")], strict=True):
            sizes[label] += after - offset
    sizes["free blocks (reused by later writes)"] = free * block
    sizes["indexes, catalog"] = os.path.getsize(path) - sum(sizes.values())
    return dict(sizes)


def page_bytes(path: Path, layout: str) -> int:
    """The bytes of the stored pages alone (text, keys and primary-key index): `now`
    (page_bodies and search_pages) or `v9` (the text in search_pages, zstd: schema version
    9). Each run's rows are copied into a file of 16 KiB blocks of their own (fine enough for
    a few companies), as in a file of a real territory, where a later run's pages sit
    thousands of rows (other zstd frames) away from the earlier run's; the sum of the runs."""
    total = 0
    with duckdb.connect() as conn:
        conn.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        runs = conn.execute("SELECT run_id FROM src.runs ORDER BY started_at").fetchall()
        seen: set[int] = set()
        for (run,) in runs:
            sizes = []
            for rows in ([], [run]):
                with tempfile.TemporaryDirectory() as folder:
                    conn.execute(f"ATTACH '{folder}/b.duckdb' AS b (BLOCK_SIZE 16384)")
                    conn.execute("USE b")
                    conn.execute(
                        SEARCH_PAGES_V9 if layout == "v9"
                        else SEARCH_PAGES_TABLE.format(name="search_pages") + PAGE_BODIES_TABLE
                    )  # fmt: skip
                    conn.execute("USE memory")
                    for r in rows:
                        _copy_run(conn, layout, r, seen)
                    conn.execute("CHECKPOINT b")
                    (used,) = conn.execute(
                        "SELECT used_blocks * block_size FROM pragma_database_size() "
                        "WHERE database_name = 'b'"
                    ).fetchone() or (0,)
                    sizes.append(int(used))
                    conn.execute("DETACH b")
            total += sizes[1] - sizes[0]
    return total


def _copy_run(conn: duckdb.DuckDBPyConnection, layout: str, run: str, seen: set[int]) -> None:
    """One run's pages into `b`: with the texts no earlier run stored (`now`), or their text
    (`v9`)."""
    pages = (
        "FROM src.{table} p JOIN src.searches s USING (search_key, fetched_at) "
        f"WHERE s.run_id = '{run}' ORDER BY p.fetched_at, p.search_key, p.rank"
    )
    if layout == "v9":
        conn.execute(
            f"INSERT INTO b.search_pages SELECT p.* {pages.format(table='search_page_text')}"
        )
        return
    conn.execute(f"INSERT INTO b.search_pages SELECT p.* {pages.format(table='search_pages')}")
    conn.execute(
        "INSERT INTO b.page_bodies SELECT * FROM src.page_bodies WHERE hash IN (SELECT "
        "content_hash FROM b.search_pages UNION SELECT raw_hash FROM b.search_pages) AND "
        "NOT list_contains(?::UHUGEINT[], hash) ORDER BY rowid",
        [[str(h) for h in seen]],
    )
    seen.update(int(h) for (h,) in conn.execute("SELECT hash FROM b.page_bodies").fetchall())


def page_chars(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        found = conn.execute(
            "SELECT sum(strlen(coalesce(raw_content, '')) + strlen(coalesce(content, ''))) "
            "FROM search_page_text"
        ).fetchone()
    return int(found[0] or 0) if found else 0


def report(label: str, path: Path, n: int, runs: int, whole_file: bool = True) -> float:
    """One block of the table: bytes per company by table (`whole_file`), and the pages alone
    as stored now and as version 9 stored them. Returns the pages' KB per company now."""
    total = os.path.getsize(path)
    text = page_chars(path)
    print(f"\n{label}: {n} companies x {runs} run(s), page text {text / n / 1e3:.1f} K "
          "characters/company")  # fmt: skip
    if whole_file:
        sizes = breakdown(path)
        print(f"  file {total / 1e6:.1f} MB = {total / n / 1e3:.1f} KB/company "
              f"({total / n / runs / 1e3:.1f} KB/company and run)")  # fmt: skip
        for name in sorted(sizes, key=lambda k: -sizes[k]):
            print(f"  {name:36} {sizes[name] / n / 1e3:8.1f} KB/company")
    now, v9 = page_bytes(path, "now"), page_bytes(path, "v9")
    print(f"  pages alone: {now / n / 1e3:.1f} KB/company ({text / max(now, 1):.1f}x), "
          f"{now / n / runs / 1e3:.1f} KB/company and run; as version 9 stored them "
          f"{v9 / n / 1e3:.1f} KB/company ({text / max(v9, 1):.1f}x), "
          f"{v9 / n / runs / 1e3:.1f} KB/company and run")  # fmt: skip
    return now / n / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--runs", type=int, default=2, help="runs (each searches anew)")
    parser.add_argument("--recur", type=float, nargs="*", default=list(RECUR))
    parser.add_argument("--db", type=Path, help="only break down this file")
    args = parser.parse_args()
    if args.db:
        with duckdb.connect(str(args.db), read_only=True) as conn:
            n = conn.execute("SELECT count(DISTINCT company_key) FROM company_results").fetchone()
            (runs,) = conn.execute("SELECT count(*) FROM runs").fetchone() or (1,)
        report(str(args.db), args.db, int(n[0]) if n else 1, max(int(runs), 1))
        return
    with tempfile.TemporaryDirectory() as folder:
        sim = Path(folder) / "simulated.duckdb"
        companies = simulated_companies(args.companies)
        named = [(n, d, simulated_outcome(n, d, k)) for n, d, k in companies]
        write(sim, repeated(named, args.runs))
        pages = report("simulated pages", sim, len(companies), args.runs)
        rest = (os.path.getsize(sim) / len(companies) / 1e3 - pages) / args.runs
        print(f"  the rest of the file: {rest:.1f} KB/company and run")
        # As many companies as the pool gives with nothing recurring, for every share alike.
        n = sum(1 for _ in real_pages(real_text_pool())) // (PAGES * args.runs)
        for recur in args.recur:
            real = Path(folder) / f"real-{recur}.duckdb"
            write(real, real_like_runs(args.runs, recur, n))
            label = f"real-like pages, {recur:.0%} of the pages found again by a later run"
            pages = report(label, real, n, args.runs, whole_file=False)
            print(f"  estimate with the simulated file's other tables: "
                  f"{pages / args.runs + rest:.1f} KB/company and run")  # fmt: skip


if __name__ == "__main__":
    main()
