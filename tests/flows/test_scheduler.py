"""The chunk scheduler through fakes of its seams (plan, tasks, sink): ordering, crashes,
fatal errors, the cache, re-scores and the cost cap, in milliseconds and without Prefect."""

import threading
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from domain.accounts import Account
from domain.models import SearchOutcome, SearchRequest
from flows.pipeline import ChunkScheduler
from flows.store_pace import StorePace
from tasks.chunk_outcome import ChunkOutcome
from tasks.search import SearchChunkOutcome


class Finished:
    """A task run that has already ended, with a value or a crash."""

    def __init__(self, value=None, crash: BaseException | None = None):
        self.value, self.crash = value, crash

    def add_done_callback(self, fn):
        fn(self)

    def outcome(self):
        return (None, self.crash) if self.crash else (self.value, None)


class Plan:
    def __init__(self, cached=()):
        self.cached_keys = set(cached)

    def request(self, account):
        return SearchRequest(company_key=account.key, name=account.name, query=account.name)

    def cached(self, requests):
        return {r.company_key: outcome(r) for r in requests if r.company_key in self.cached_keys}


def outcome(request):
    return SearchOutcome(request=request, fetched_at=datetime.now(UTC), pages=[])


class Tasks:
    """Answers each submission at once; `search_fatal`/`classify_fatal` name the chunk whose
    task reports a fatal provider error, `crash` the chunk whose search task breaks."""

    def __init__(self, search_fatal=None, classify_fatal=None, crash=None):
        self.search_fatal, self.classify_fatal, self.crash = search_fatal, classify_fatal, crash
        self.calls = []
        self.early = []  # results handed over before their chunk ends

    def early_searches(self):
        return []

    def early_results(self):
        found, self.early = self.early, []
        return found

    def handoff(self, index, keys):
        return None  # each chunk is classified once its searches have ended

    def search(self, index, requests, handoff=None):
        self.calls.append(("search", index, [r.company_key for r in requests]))
        if index == self.crash:
            return Finished(crash=RuntimeError("worker died"))
        result = SearchChunkOutcome(index, {r.company_key: outcome(r) for r in requests})
        if index == self.search_fatal:
            result = SearchChunkOutcome(index, fatal="Tavily 432: plan limit reached")
        return Finished(result)

    def classify(self, work):
        self.calls.append(("classify", work.index, [i.company_key for i in work.items]))
        results = [
            i.result(status="ok" if i.outcome else "failed", error=i.search_error)
            for i in work.items
        ]
        if work.index == self.classify_fatal:
            keys = [i.company_key for i in work.items]
            return Finished(ChunkOutcome(work.index, [], keys, "LLM 401: invalid key"))
        return Finished(ChunkOutcome(work.index, results))


class Sink:
    """Records each write, how often the file was taken (as the real sink, at a block's first
    write: a block that writes nothing takes none), and any write made without it."""

    def __init__(self):
        self.calls = []
        self.results = {}
        self.holds, self.writes, self._depth, self.unheld = 0, 0, 0, []

    @contextmanager
    def holding(self):
        outer, writes = self._depth == 0, self.writes
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.holds += outer and self.writes > writes

    def searched(self, outcomes):
        self._write(("searched", sorted(o.request.company_key for o in outcomes)))

    def finished(self, results):
        self._write(("finished", sorted(r.company_key for r in results)))
        self._store(results)

    def chunk_stored(self, chunk):
        self.calls.append(("classified", chunk.index))  # a line in the log, not a write
        assert all(r.company_key in self.results for r in chunk.results), "said before stored"

    def _write(self, call):
        self.calls.append(call)
        self.writes += 1
        if not self._depth:
            self.unheld.append(call)

    def _store(self, results):
        for r in results:
            assert r.company_key not in self.results, f"{r.company_key} stored twice"
            self.results[r.company_key] = (r.status, r.error)


def one_chunk(tasks, sink) -> ChunkScheduler:
    """A scheduler of one chunk that stores whatever finished at each turn (these flows are
    too short for a real pace)."""
    pace = StorePace(every=0, at_least=1)
    return ChunkScheduler(
        chunks(1), Plan(), tasks, sink, 1, 1, threading.Event(), threading.Event(), pace=pace
    )


def chunks(n_chunks, size=3):
    return [
        [Account(f"c{c}{i}", f"Company {c}{i}", None, {}, (c * size + i,)) for i in range(size)]
        for c in range(n_chunks)
    ]


def schedule(
    n_chunks=4, plan=None, tasks=None, budget=None, may_search=True, windows=(2, 1), pace=None
):
    stop, search_stop = threading.Event(), threading.Event()
    plan, tasks, sink = plan or Plan(), tasks or Tasks(), Sink()
    scheduler = ChunkScheduler(
        chunks(n_chunks),
        plan,
        tasks,
        sink,
        max_open_chunks=windows[0],
        max_searching=windows[1],
        stop=stop,
        search_stop=search_stop,
        may_search=may_search,
        budget=budget,
        pace=pace or StorePace.for_chunks(3),  # as a run sets it
    )
    return scheduler.run(), tasks, sink, stop, search_stop


def test_every_chunk_is_searched_then_classified_and_stored_in_order():
    report, tasks, sink, stop, _ = schedule()
    assert report.chunks_done == 4 and report.fatal is None and report.unprocessed == []
    assert report.searches_sent == 12 and len(sink.results) == 12
    assert all(status == ("ok", None) for status in sink.results.values())
    # Each chunk's pages are stored before its results, and it is said stored after both.
    for index in range(4):
        said = sink.calls.index(("classified", index))
        searched = {k for call in sink.calls[:said] if call[0] == "searched" for k in call[1]}
        assert {f"c{index}{i}" for i in range(3)} <= searched
    assert not stop.is_set()
    # Every write is made holding the file, taken at most once per task run's end (runs
    # that ended together share one), never once a write.
    assert sink.unheld == [] and sink.holds <= 8


def test_the_scheduler_lets_go_of_each_chunks_accounts_as_it_opens_it():
    # A run of 100,000 companies held every account to its end (about 60 MiB): each chunk's
    # accounts are let go of once it is open, its items carrying its companies on.
    held = []

    class Watching(Tasks):
        def search(self, index, requests, handoff=None):
            held.append([len(c) for c in scheduler.chunks])
            return super().search(index, requests, handoff)

    stop, search_stop, sink = threading.Event(), threading.Event(), Sink()
    scheduler = ChunkScheduler(
        chunks(4), Plan(), Watching(), sink, max_open_chunks=2, max_searching=1,
        stop=stop, search_stop=search_stop,
    )  # fmt: skip
    report = scheduler.run()
    assert held == [[3, 3, 3, 3], [0, 3, 3, 3], [0, 0, 3, 3], [0, 0, 0, 3]]
    assert scheduler.chunks == [[], [], [], []]
    assert report.chunks_done == 4 and len(sink.results) == 12
    assert sink.results["c32"] == ("ok", None)


def test_task_runs_that_ended_together_are_taken_in_together():
    # Four chunks open at once and their runs end before the flow looks: each wave of ended
    # runs is taken in one turn with one open of the file, so none waits in the queue (here
    # a store is due at every turn).
    pace = StorePace(every=0, at_least=1)
    report, tasks, sink, *_ = schedule(n_chunks=4, windows=(4, 4), pace=pace)
    assert report.chunks_done == 4 and len(sink.results) == 12
    assert [c[0] for c in tasks.calls] == ["search"] * 4 + ["classify"] * 4
    assert sink.holds == 2 and sink.unheld == []


def test_a_chunks_end_stores_its_results_only_when_a_store_is_due():
    # A store session costs about the same for 10 companies as for 50 (StorePace): the
    # store each chunk's end forced held a few companies a time after the pace's own. Four
    # chunks that end at once, nothing due before the run's end: one store, then the lines.
    report, tasks, sink, *_ = schedule(n_chunks=4, windows=(4, 4))
    assert report.chunks_done == 4 and report.classified == 12
    keys = sorted(f"c{c}{i}" for c in range(4) for i in range(3))
    assert sink.calls == [("searched", keys), ("finished", keys)] + [
        ("classified", index) for index in range(4)
    ]
    assert sink.holds == 1 and sink.unheld == []


def test_cached_companies_skip_the_search_and_a_rescore_never_searches():
    report, tasks, sink, *_ = schedule(n_chunks=1, plan=Plan(cached={"c00", "c01"}))
    assert [c for c in tasks.calls if c[0] == "search"] == [("search", 0, ["c02"])]
    assert (report.searches_cached, report.searches_sent) == (2, 1)

    report, tasks, sink, *_ = schedule(n_chunks=1, plan=Plan(cached={"c00"}), may_search=False)
    assert [c[0] for c in tasks.calls] == ["classify"]
    assert sink.results["c01"] == ("failed", "no stored search content to re-score")


def test_a_search_task_that_breaks_fails_its_companies_and_the_run_goes_on():
    report, tasks, sink, *_ = schedule(tasks=Tasks(crash=1))
    assert sink.results["c10"] == ("failed", "search task failed: worker died")
    assert sink.results["c20"] == ("ok", None) and report.chunks_done == 4


def test_a_fatal_search_error_stops_searching_but_classifies_what_was_searched():
    report, tasks, sink, stop, search_stop = schedule(tasks=Tasks(search_fatal=1))
    assert report.fatal == "Tavily 432: plan limit reached" and search_stop.is_set()
    assert not stop.is_set()  # the LLM may still classify what is searched
    assert {k for k, v in sink.results.items() if v == ("ok", None)} == {"c00", "c01", "c02"}
    assert sorted(report.unprocessed) == [f"c{c}{i}" for c in (1, 2, 3) for i in range(3)]


def test_a_fatal_llm_error_stops_everything_and_leaves_the_rest_for_the_next_run():
    report, tasks, sink, stop, _ = schedule(tasks=Tasks(classify_fatal=0))
    assert report.fatal == "LLM 401: invalid key" and stop.is_set()
    assert sink.results == {}
    assert sorted(report.unprocessed) == [f"c{c}{i}" for c in range(4) for i in range(3)]


def test_the_cost_cap_skips_the_chunks_that_do_not_fit():
    class Cap:
        capped = True  # a chunk's spend is counted as it is stored: before it is let go of

        def __init__(self, sink):
            self.sink, self.released = sink, []

        def admit(self, index, companies, searches):
            return index < 2

        def done(self, index):
            self.released.append((index, sorted(self.sink.results)))

    sink, tasks = Sink(), Tasks()
    cap = Cap(sink)
    report = ChunkScheduler(
        chunks(4), Plan(), tasks, sink, 2, 1, threading.Event(), threading.Event(), budget=cap
    ).run()
    assert [a.key for a in report.skipped] == [f"c{c}{i}" for c in (2, 3) for i in range(3)]
    assert len(sink.results) == 6
    assert cap.released == [
        (0, ["c00", "c01", "c02"]),
        (1, [f"c{c}{i}" for c in (0, 1) for i in range(3)]),
    ]
    assert not any(call[1] >= 2 for call in tasks.calls)  # nothing was sent for them


class Later:
    """A task run that ends when `end()` is called (from another thread)."""

    def __init__(self, value):
        self.value, self.callbacks = value, []

    def add_done_callback(self, fn):
        self.callbacks.append(fn)

    def outcome(self):
        return self.value, None

    def end(self):
        for fn in self.callbacks:
            fn(self)


class SlowChunk(Tasks):
    """Chunk 0's companies finish one by one; its task ends only when told."""

    def __init__(self):
        super().__init__()
        self.running = None

    def classify(self, work):
        self.calls.append(("classify", work.index, [i.company_key for i in work.items]))
        results = [i.result(status="ok") for i in work.items]
        self.early += results[:2]  # two companies done, the third still at the LLM
        self.running = Later(ChunkOutcome(work.index, results))
        return self.running


def test_companies_are_stored_as_they_finish_not_when_their_chunk_does():
    tasks, sink = SlowChunk(), Sink()
    scheduler = one_chunk(tasks, sink)
    ended = threading.Event()

    def end_when_stored():
        while ("finished", ["c00", "c01"]) not in sink.calls:
            threading.Event().wait(0.05)
        ended.set()
        tasks.running.end()

    threading.Thread(target=end_when_stored, daemon=True).start()
    report = scheduler.run()
    assert ended.is_set() and report.classified == 3
    assert sink.calls[-3:] == [
        ("finished", ["c00", "c01"]),
        ("finished", ["c02"]),  # the one its chunk's end brought
        ("classified", 0),
    ]
    assert sink.results == {k: ("ok", None) for k in ("c00", "c01", "c02")}  # each once


class InterruptedOnce(Sink):
    """A store that Ctrl-C cuts short the first time: its transaction rolls back."""

    def __init__(self):
        super().__init__()
        self.interrupted = False

    def finished(self, results):
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        super().finished(results)


def test_results_whose_store_was_interrupted_are_stored_on_the_way_out():
    tasks, sink = SlowChunk(), InterruptedOnce()
    scheduler = one_chunk(tasks, sink)
    try:
        scheduler.run()  # the periodic store of the two finished companies is interrupted
    except KeyboardInterrupt:
        pass
    assert sink.interrupted and sink.results == {}
    scheduler.store_finished()  # what the run does on its way out (research_run.run_chunks)
    assert sink.results == {"c00": ("ok", None), "c01": ("ok", None)}


def test_a_chunk_started_after_a_fitting_answer_trusts_the_model_before_any_store():
    # A chunk's results now wait for the store's pace: the count that tells a later chunk
    # the model can fill the schema (tasks/schema_watch.py) comes as they are handed over.
    class Watched(Tasks):
        def classify(self, work):
            self.proven = [*getattr(self, "proven", []), work.answers_proven]
            return super().classify(work)

    report, tasks, sink, *_ = schedule(n_chunks=2, windows=(1, 1), tasks=Watched())
    assert tasks.proven == [False, True] and report.classified == 6
    assert sink.holds == 1  # nothing was stored before the run's end


def test_a_batch_counts_searches_and_results_together():
    # A chunk's searches end in a burst and its results as companies finish: counted apart,
    # each made a store of its own. One chunk open at a time, a batch of 6: each chunk's 3
    # searches and 3 results go in one store (none of either alone would be due).
    pace = StorePace(every=0, at_least=6)
    report, tasks, sink, *_ = schedule(n_chunks=2, windows=(1, 1), pace=pace)
    assert report.chunks_done == 2 and len(sink.results) == 6
    first, second = [f"c0{i}" for i in range(3)], [f"c1{i}" for i in range(3)]
    assert sink.calls == [
        ("searched", first), ("finished", first), ("classified", 0),
        ("searched", second), ("finished", second), ("classified", 1),
    ]  # fmt: skip
    assert sink.holds == 2


@pytest.mark.parametrize("capped", [True, False])
def test_searches_a_stop_leaves_unclassified_are_stored_as_the_run_ends(capped):
    # A search's end does not store on its own (StorePace: a store session costs about the
    # same for 10 companies as for 50): chunk 1's searches end after the LLM failed for good,
    # are never classified, and are stored, paid for, as their chunk closes (and counted
    # before its expected cost is let go of), or as the run ends without a cost cap.
    class LateSearch(Tasks):
        def search(self, index, requests, handoff=None):
            run = super().search(index, requests, handoff)
            if index == 1:
                self.late = Later(run.outcome()[0])
                return self.late
            return run

    class Spend:  # a cost cap's view: a chunk's spend is counted before it is let go of
        capped = True

        def admit(self, index, companies, searches):
            return True

        def done(self, index):
            sink.calls.append(("done", index))

    tasks, sink, stop = LateSearch(classify_fatal=0), Sink(), threading.Event()
    scheduler = ChunkScheduler(
        chunks(2), Plan(), tasks, sink, 2, 2, stop, threading.Event(),
        budget=Spend() if capped else None,
    )  # fmt: skip  # the default pace: nothing here is due before the chunk's close
    threading.Thread(target=lambda: stop.wait(10) and tasks.late.end(), daemon=True).start()
    report = scheduler.run()
    assert report.fatal == "LLM 401: invalid key"
    first, second = [f"c0{i}" for i in range(3)], [f"c1{i}" for i in range(3)]
    if capped:  # each chunk's spend is stored as it closes, then its expectation let go of
        assert sink.calls == [
            ("searched", first), ("classified", 0), ("done", 0), ("searched", second), ("done", 1)
        ]  # fmt: skip
    else:  # nothing was due: stored as the run ends, with the first chunk's
        assert sink.calls == [("searched", first + second), ("classified", 0)]
    assert sink.unheld == []
    assert sink.results == {}
    assert sorted(report.unprocessed) == [f"c{c}{i}" for c in (0, 1) for i in range(3)]
