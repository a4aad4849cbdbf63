"""A run's progress, counted from what it stores: the snapshot's rate and ETA, one snapshot per
stored batch, and the sink's counts against what reached DuckDB (no Prefect server needed)."""

from datetime import UTC, datetime

import duckdb
import pytest

from benchmarks.db_size import simulated_outcome
from domain.costs import load_prices
from domain.models import (
    Classification,
    CompanyResult,
    SearchOutcome,
    SearchRequest,
)
from flows.budget import Budget
from flows.progress import (
    PROGRESS_LINE,
    Progress,
    ProgressSnapshot,
    active_listeners,
    listening,
)
from flows.store_sink import StoreSink
from storage.duckdb_store import TerritoryStore
from storage.sql import WRITE_MEMORY_LIMIT
from tasks.chunk_outcome import ChunkOutcome


class Collect:
    """A listener that keeps every snapshot it is handed."""

    def __init__(self) -> None:
        self.snapshots: list[ProgressSnapshot] = []

    def progressed(self, snapshot: ProgressSnapshot) -> None:
        self.snapshots.append(snapshot)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Logged:
    """A logger that keeps its info lines and their `extra`."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def info(self, message, *args, extra=None):
        self.lines.append((message % args, extra or {}))


def ok(key, tier, llm_usd=0.01):
    verdict = Classification(tier=tier, score=50, confidence="high", reasoning="r", signals=[])
    return CompanyResult(
        company_key=key, name=key, status="ok", classification=verdict, llm_cost_usd=llm_usd
    )


def failed(key):
    return CompanyResult(company_key=key, name=key, status="failed", error="LLM HTTP 500")


def snap(done, total, elapsed, **counts):
    fields = dict(hot=0, warm=0, cold=0, failed=0, cost_usd=0.0) | counts
    return ProgressSnapshot(done=done, total=total, elapsed=elapsed, **fields)


def test_rate_and_eta_come_from_the_companies_stored_so_far():
    s = snap(30, 120, elapsed=90.0)  # 30 in 1.5 minutes: 20 a minute, 90 left
    assert s.rate_per_minute == pytest.approx(20.0)
    assert s.eta_seconds == pytest.approx(270.0)
    assert (s.rate_text(), s.eta_text()) == ("20.0/min", "4m 30s")
    assert snap(1, 5000, elapsed=2.0).eta_text() == "2h 46m"  # 4,999 at 30 a minute
    assert snap(9, 10, elapsed=9.0).eta_text() == "1s"


def test_before_the_first_company_there_is_no_rate_and_no_eta():
    s = snap(0, 50, elapsed=12.0)
    assert s.rate_per_minute is None and s.eta_seconds is None
    assert (s.rate_text(), s.eta_text()) == ("-/min", "-")
    assert snap(0, 0, elapsed=0.0).eta_text() == "0s"  # nothing to do is done


def test_the_plain_line_says_everything_the_live_one_does():
    s = snap(150, 500, elapsed=300.0, hot=12, warm=30, cold=100, failed=8, cost_usd=0.4249)
    assert s.describe() == (
        "150/500 done (HOT 12, WARM 30, COLD 100, 8 failed), $0.42 so far, 30.0/min, ETA 11m 40s"
    )


def test_one_snapshot_per_stored_batch_counting_tiers_failures_and_cost():
    seen, clock = Collect(), Clock()
    progress = Progress(5, [seen], clock=clock)
    assert seen.snapshots == [snap(0, 5, elapsed=0.0)]  # the total, before any work
    progress.paid(0.032)  # searches: counted, shown with the next batch
    assert len(seen.snapshots) == 1
    clock.now += 30
    progress.stored([ok("a", "HOT"), ok("b", "COLD", llm_usd=None), failed("c")])
    clock.now += 30
    progress.stored([ok("d", "WARM"), ok("e", "HOT")])
    first, last = seen.snapshots[1:]
    assert first == snap(3, 5, elapsed=30.0, hot=1, cold=1, failed=1, cost_usd=pytest.approx(0.042))
    assert last == snap(
        5, 5, elapsed=60.0, hot=2, warm=1, cold=1, failed=1, cost_usd=pytest.approx(0.062)
    )
    assert last.eta_seconds == 0.0 and last.rate_text() == "5.0/min"


def test_a_broken_display_does_not_stop_the_run_or_the_other_displays():
    class Broken:
        def progressed(self, snapshot):
            raise RuntimeError("terminal went away")

    seen = Collect()
    Progress(2, [Broken(), seen]).stored([ok("a", "HOT")])
    assert [s.done for s in seen.snapshots] == [0, 1]


def test_listeners_are_registered_only_inside_the_block():
    seen = Collect()
    assert seen not in active_listeners()
    with listening(seen):
        assert seen in active_listeners()
    assert seen not in active_listeners()


def test_the_sink_counts_what_it_stores_and_logs_one_line_per_chunk(tmp_path):
    """Counts from the stored results themselves equal SQL over what reached DuckDB."""
    prices = load_prices()
    seen, logger = Collect(), Logged()
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run_id = store.start_run("west", "full", {}, None, 4, 0, 4)
        budget = Budget.for_run(None, prices, "gpt-4.1-mini", "advanced", 20_000)
        sink = StoreSink(store, run_id, "west", prices, budget, logger, 2, Progress(4, [seen]))
        request = SearchRequest(company_key="a", name="A", query="a gpu")
        now = datetime.now(UTC)
        sink.searched([SearchOutcome(request=request, fetched_at=now, pages=[], credits=2)])
        sink.finished([ok("a", "HOT", 0.002)])  # finished before its chunk did
        # As a chunk task returns it: "a" came on the feed, so the chunk carries its status only.
        sink.finished([ok("b", "COLD", 0.003)])
        sink.chunk_stored(ChunkOutcome(0, [ok("b", "COLD", 0.003)], handed_over={"a": "ok"}))
        sink.finished([failed("c"), ok("d", "WARM", 0.001)])
        sink.chunk_stored(ChunkOutcome(1, [failed("c"), ok("d", "WARM", 0.001)]))
        store.finish_run(run_id, "completed")
        counts = store.conn.execute(
            "SELECT count(*), count(*) FILTER (tier = 'HOT'), count(*) FILTER (tier = 'WARM'), "
            "count(*) FILTER (tier = 'COLD'), count(*) FILTER (status = 'failed') "
            "FROM company_results WHERE run_id = ?",
            [run_id],
        ).fetchone()
        (run_cost,) = store.conn.execute(
            "SELECT cost_usd FROM runs WHERE run_id = ?", [run_id]
        ).fetchone()
    last = seen.snapshots[-1]
    assert (last.done, last.hot, last.warm, last.cold, last.failed) == counts == (4, 1, 1, 1, 1)
    assert last.cost_usd == pytest.approx(run_cost) and run_cost == pytest.approx(0.022)
    assert [s.done for s in seen.snapshots] == [0, 1, 2, 4]  # one per stored batch
    assert [(text.split(";")[0], extra) for text, extra in logger.lines] == [
        ("chunk 1/2 stored: 2 classified, 0 failed", {PROGRESS_LINE: True}),
        ("chunk 2/2 stored: 1 classified, 1 failed", {PROGRESS_LINE: True}),
    ]
    assert logger.lines[-1][0].endswith(last.describe())


def test_the_sink_opens_the_file_once_for_a_block_of_writes_and_then_lets_it_go(tmp_path):
    """Each open and close of the DuckDB file costs tens of ms of CPU: a tick's writes share
    one, a block that writes nothing opens none, and the file is free for other runs and
    readers as soon as the block ends."""
    prices = load_prices()
    store = TerritoryStore.open(tmp_path / "t.duckdb")
    run_id = store.start_run("west", "full", {}, None, 2, 0, 2)
    budget = Budget.for_run(None, prices, "gpt-4.1-mini", "advanced", 20_000)
    sink = StoreSink(store, run_id, "west", prices, budget, Logged(), 1, Progress(2, []))
    opens = []
    connect = store._connect
    store._connect = lambda: opens.append(1) or connect()
    request = SearchRequest(company_key="a", name="A", query="a gpu")
    searched = SearchOutcome(request=request, fetched_at=datetime.now(UTC), pages=[], credits=2)
    with sink.holding():
        sink.searched([searched])
        sink.finished([ok("a", "HOT", 0.002)])
        sink.finished([])  # nothing to write: nothing opened for it either
    sink.finished([ok("b", "COLD", 0.001)])
    with sink.holding(), sink.holding():  # a turn that writes nothing opens nothing
        sink.finished([])
    assert len(opens) == 2  # one for the block, one for the write outside it
    with TerritoryStore.open(tmp_path / "t.duckdb", read_only=True) as reader:
        rows = reader.conn.execute(
            "SELECT (SELECT count(*) FROM searches WHERE run_id = ?), "
            "(SELECT string_agg(company_key, ',' ORDER BY company_key) FROM company_results "
            "WHERE run_id = ?)",
            [run_id, run_id],
        ).fetchone()
    assert rows == (1, "a,b")


def test_the_ui_bar_moves_in_whole_percents_and_always_shows_the_end():
    from flows.reporting import bar_share

    def snap(done: int, total: int = 1000) -> ProgressSnapshot:
        return ProgressSnapshot(done, total, 0, 0, 0, 0, 0.0, 1.0)

    shown, sent = 0.0, []
    for done in [0, 3, 9, 10, 14, 25, 996, 999, 1000]:
        share = bar_share(shown, snap(done))
        if share is not None:
            shown = share
            sent.append(share)
    assert sent == [1.0, 2.5, 99.6, 100.0]  # 0.3, 0.9, 1.4 and 99.9 % leave the bar as it is
    assert bar_share(0.0, snap(2, total=3)) == pytest.approx(66.67, abs=0.01)
    assert bar_share(66.6, snap(3, total=3)) == 100.0
    assert bar_share(50.0, snap(1, total=1)) == 100.0  # a run of one company ends full


def test_a_block_of_writes_holds_duckdbs_buffer_pool_to_the_write_cap_and_then_lets_it_go(
    tmp_path,
):
    """Uncapped, DuckDB kept every text a store inserted until the file closed (+53 MiB a
    store of 400 companies): a block of writes caps its buffer pool, what it lets go of goes
    to the file or beside it, and the next session gets the writer's default back."""
    prices = load_prices()
    path = tmp_path / "t.duckdb"
    store = TerritoryStore.open(path)
    run_id = store.start_run("west", "full", {}, None, 60, 0, 60)
    budget = Budget.for_run(None, prices, "gpt-4.1-mini", "advanced", 20_000)
    sink = StoreSink(store, run_id, "west", prices, budget, Logged(), 1, Progress(60, []))
    outcomes = [simulated_outcome(f"Co {i}", f"co{i}.example", f"co-{i}") for i in range(60)]
    setting = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    with duckdb.connect() as plain:
        default = plain.execute(setting).fetchone()[0]
        plain.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT}'")
        capped = plain.execute(setting).fetchone()[0]
    assert capped != default
    with sink.holding():
        sink.searched(outcomes)
        assert store.conn.execute(setting).fetchone() == (capped, f"{path}.tmp")
        # The page index lets go of what it read after each block of a large file's
        # fingerprints, inside the run's first store session: the cap stays.
        store.let_go_of_reads()
        assert store.conn.execute(setting).fetchone() == (capped, f"{path}.tmp")
    with store.session():
        assert store.conn.execute(setting).fetchone()[0] == default
    pages = sum(len(o.pages) for o in outcomes)
    with TerritoryStore.open(path, read_only=True) as reader:
        stored = reader.conn.execute(
            "SELECT (SELECT count(*) FROM search_pages), (SELECT count(DISTINCT body) FROM "
            "page_bodies), (SELECT count(*) FROM searches WHERE run_id = ?)",
            [run_id],
        ).fetchone()
    assert stored[0] == pages and stored[1] > 0 and stored[2] == 60
