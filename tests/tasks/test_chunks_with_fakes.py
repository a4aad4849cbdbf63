"""The two tasks' logic through in-process fakes: retries, fatal errors, unusable answers and
the evidence check, each in milliseconds (no HTTP, no Prefect server), and both tasks under the
flow's scheduler when a fatal search error comes mid-run. The same paths over the wire, with
the real clients, are in tests/flows/test_faults.py against the simulators."""

import gc
import pickle
import queue
import threading
import uuid
from contextlib import nullcontext
from datetime import date

import pytest
from pydantic import SecretStr

from domain.accounts import Account
from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    PermanentError,
    RateLimitedError,
    TimedOutError,
    TransientError,
)
from domain.models import Classification, SearchPage, SearchRequest, Signal, Usage
from domain.rubric import load_rubric
from flows.limits import SlotPool
from flows.pipeline import ChunkScheduler
from flows.store_pace import StorePace
from tasks.classify import ChunkItem, ChunkWork, ClassifyOptions, classify_chunk
from tasks.fakes import FakeClassifier, Fakes, FakeSearchClient
from tasks.handoff import Handoff
from tasks.providers import Providers
from tasks.retry import RetryPolicy
from tasks.search import search_chunk, to_outcome

RAW = "Helix AI trains large language models on a cluster of 2,000 H100 GPUs in Oslo."


def body(company: str = "helix", raw: str = RAW) -> dict:
    return {
        "results": [
            {
                "url": f"https://{company}.example/about",
                "title": f"{company} about",
                "score": 0.9,
                "content": raw[:80],
                "raw_content": raw,
            }
        ],
        "response_time": 0.4,
        "usage": {"credits": 2},
    }


def providers(search=None, classifier=None, attempts=3) -> Providers:
    return Providers(
        run_id=str(uuid.uuid4()),  # a fresh run: fresh pacers
        tavily_key=SecretStr("unused"),
        tavily_url="http://fake.invalid",
        tavily_timeout=1.0,
        tavily_pool=4,
        llm_key=SecretStr("unused"),
        llm_url=None,
        llm_model="fake-model",
        llm_timeout=1.0,
        structured_output="json_schema",
        max_output_tokens=1000,
        policy=RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.001),
        fakes=Fakes(search or FakeSearchClient(), classifier or FakeClassifier()),
    )


def requests(*keys: str) -> list[SearchRequest]:
    return [SearchRequest(company_key=k, name=k.title(), query=f"{k} gpu") for k in keys]


def search(p: Providers, keys, stop=None):
    return search_chunk.fn(0, requests(*keys), p, SlotPool(4), stop or threading.Event(), 1000)


def test_a_failed_search_is_retried_and_the_pages_are_kept():
    fake = FakeSearchClient(TransientError("Tavily HTTP 502"), body())
    outcome = search(providers(fake), ["helix"])
    assert outcome.errors == {} and outcome.fatal is None
    pages = outcome.outcomes["helix"].pages
    assert [p.url for p in pages] == ["https://helix.example/about"] and pages[0].raw_content == RAW
    assert outcome.outcomes["helix"].credits == 2
    assert [c.query for c in fake.calls] == ["helix gpu", "helix gpu"]  # the same search, twice


def test_a_search_that_cannot_succeed_fails_its_company_only():
    def answer(call):
        return PermanentError("Tavily HTTP 400: bad query") if call.query == "bad gpu" else body()

    fake = FakeSearchClient(default=answer)
    outcome = search(providers(fake), ["bad", "good"])
    assert outcome.errors == {"bad": "Tavily HTTP 400: bad query"}
    assert list(outcome.outcomes) == ["good"]
    assert sum(c.query == "bad gpu" for c in fake.calls) == 1  # a 400 is not retried


def test_running_out_of_attempts_fails_the_company_with_the_last_reason():
    fake = FakeSearchClient(default=lambda c: TransientError("Tavily HTTP 503"))
    outcome = search(providers(fake, attempts=3), ["helix"])
    assert outcome.errors == {"helix": "Tavily HTTP 503 (gave up after 3 attempts)"}
    assert len(fake.calls) == 3


def test_a_fatal_search_error_stops_the_run_and_leaves_the_rest_unsearched():
    stop = threading.Event()
    fake = FakeSearchClient(FatalProviderError("Tavily 432: plan limit reached"), default=body)
    p = providers(fake)
    outcome = search(p, ["a", "b", "c", "d", "e", "f"], stop)
    assert outcome.fatal == "Tavily 432: plan limit reached" and stop.is_set()
    # The first request goes alone (its answer may state the limits): nothing else was sent.
    assert len(fake.calls) == 1 and outcome.outcomes == {} and outcome.errors == {}


def test_rate_limits_get_more_attempts_than_other_failures():
    fake = FakeSearchClient(*[RateLimitedError("429", 0.001)] * 5, body())
    outcome = search(providers(fake, attempts=3), ["helix"])
    assert list(outcome.outcomes) == ["helix"] and len(fake.calls) == 6


# -- classification ---------------------------------------------------------------------------

OPTIONS = ClassifyOptions(0.0, 60_000, load_rubric(), date(2026, 12, 1))


def item(key: str = "helix", raw: str = RAW) -> ChunkItem:
    (request,) = requests(key)
    chunk_item = ChunkItem(key, key.title(), None, {"owner": "Dana"})
    chunk_item.outcome = to_outcome(request, body(key, raw), 60_000)
    return chunk_item


def verdict(*excerpts: str, key: str = "helix") -> Classification:
    return Classification(
        tier="HOT",
        score=90,
        confidence="high",
        reasoning="Trains LLMs on its own GPUs.",
        signals=[
            Signal(kind="ml_training", url=f"https://{key}.example/about", excerpt=e)
            for e in excerpts
        ],
    )


def classify(p: Providers, *items: ChunkItem, stop=None, slots=4):
    work = ChunkWork(0, list(items))
    return classify_chunk.fn(work, p, SlotPool(slots), stop or threading.Event(), OPTIONS)


def test_an_unusable_answer_is_retried_and_billed():
    unusable = InvalidOutputError("finish_reason=length: the answer was cut off")
    unusable.usage, unusable.answer = Usage(prompt_tokens=900, completion_tokens=50), '{"tier":'
    fake = FakeClassifier(unusable, (verdict(RAW), Usage(prompt_tokens=900, completion_tokens=70)))
    (result,) = classify(providers(classifier=fake), item()).results
    assert result.status == "ok" and result.classification.tier == "HOT"
    assert result.usage == Usage(prompt_tokens=1800, completion_tokens=120)  # both calls
    assert len(fake.calls) == 2
    assert "Helix AI trains large language models" in fake.calls[0][-1]["content"]


def test_a_quote_that_is_not_on_the_page_is_dropped():
    made_up = "Helix AI operates 50,000 GPUs across three continents."
    fake = FakeClassifier(verdict(RAW, made_up))
    (result,) = classify(providers(classifier=fake), item()).results
    assert result.status == "ok" and result.signals_dropped == 1
    assert [s.excerpt for s in result.classification.signals] == [RAW]


def test_an_llm_that_keeps_failing_fails_the_company_with_the_reason():
    fake = FakeClassifier(default=lambda m: TransientError("LLM HTTP 500"))
    (result,) = classify(providers(classifier=fake, attempts=2), item()).results
    assert (result.status, result.error) == ("failed", "LLM HTTP 500 (gave up after 2 attempts)")
    assert result.metadata == {"owner": "Dana"} and len(fake.calls) == 2


def test_a_company_whose_search_failed_is_not_sent_to_the_llm():
    failed = ChunkItem("gone", "Gone", None, {}, search_error="Tavily HTTP 500")
    fake = FakeClassifier()
    (result,) = classify(providers(classifier=fake), failed).results
    assert (result.status, result.error) == ("failed", "search failed: Tavily HTTP 500")
    assert fake.calls == []


@pytest.mark.parametrize("first", [0, 1])
def test_a_fatal_llm_error_stops_the_chunk_and_reports_the_rest_unprocessed(first):
    stop = threading.Event()
    answers = [verdict(RAW, key="a")] * first + [FatalProviderError("LLM 401: invalid key")]
    fake = FakeClassifier(*answers, default=lambda m: verdict(RAW))
    # One slot: the calls go one after another, so the 401 is the (first + 1)th.
    outcome = classify(providers(classifier=fake), *(item(k) for k in "abcd"), stop=stop, slots=1)
    assert outcome.fatal == "LLM 401: invalid key" and stop.is_set()
    assert len(outcome.results) == first and len(outcome.unprocessed) == 4 - first
    assert len(fake.calls) == first + 1  # nothing more was sent after the 401


def unusable(answer: str, problem: str = "LLM output did not match the schema: tier: bad"):
    exc = InvalidOutputError(problem, 0.0)
    exc.usage, exc.answer = Usage(prompt_tokens=900, completion_tokens=40), answer
    return exc


def test_a_retry_tells_the_model_what_was_wrong_with_its_answer():
    wrong = unusable('{"tier": "hot-ish"}', "LLM output did not match the schema: tier: bad")
    fake = FakeClassifier(wrong, verdict(RAW))
    (result,) = classify(providers(classifier=fake), item()).results
    assert result.status == "ok" and len(fake.calls) == 2
    first, second = fake.calls
    assert second[: len(first)] == first  # the same prompt, then what was wrong with it
    said, told = second[len(first) :]
    assert said == {"role": "assistant", "content": '{"tier": "hot-ish"}'}
    assert told["role"] == "user" and "tier: bad" in told["content"]


def test_a_failed_company_keeps_the_last_answer_that_did_not_fit():
    fake = FakeClassifier(default=lambda m: unusable('{"tier": "maybe"}' + "x" * 5000))
    (result,) = classify(providers(classifier=fake, attempts=2), item()).results
    assert result.status == "failed" and result.error.startswith("LLM output did not match")
    kept = result.evidence["last_answer"]
    assert kept.startswith('{"tier": "maybe"}') and len(kept) == 2000
    assert "tier: bad" in result.evidence["answer_problem"]


def test_a_model_that_cannot_fill_the_schema_stops_the_run_after_its_first_answers():
    stop = threading.Event()
    fake = FakeClassifier(default=lambda m: unusable('{"company": "x"}'))
    outcome = classify(
        providers(classifier=fake, attempts=2), *(item(k) for k in "abcdef"), stop=stop, slots=1
    )
    assert stop.is_set() and "cannot produce the answer's schema" in outcome.fatal
    assert "fake-model" in outcome.fatal and "tier: bad" in outcome.fatal
    # Six unusable answers for three companies: the run stops. Companies that used up their
    # attempts are kept as failed (with what the model said); the rest are left for later.
    assert {r.status for r in outcome.results} == {"failed"} and len(outcome.results) <= 3
    assert all(r.evidence["last_answer"] == '{"company": "x"}' for r in outcome.results)
    assert len(outcome.unprocessed) >= 3 and len(fake.calls) <= 6 + 1


def test_a_model_that_has_answered_once_is_only_having_a_bad_moment():
    stop = threading.Event()
    answers = [verdict(RAW, key="a")] + [unusable("{}")] * 8
    fake = FakeClassifier(*answers, default=lambda m: verdict(RAW))
    outcome = classify(
        providers(classifier=fake, attempts=2), *(item(k) for k in "abcdef"), stop=stop, slots=1
    )
    assert not stop.is_set() and outcome.fatal is None and outcome.unprocessed == []
    statuses = [r.status for r in outcome.results]
    assert len(statuses) == 6 and statuses.count("failed") >= 3 and "ok" in statuses


def test_a_timed_out_attempt_is_counted_as_an_estimate():
    fake = FakeClassifier(TimedOutError("LLM request timed out"), verdict(RAW))
    (result,) = classify(providers(classifier=fake), item()).results
    assert result.status == "ok" and result.tokens_estimated
    assert result.usage.prompt_tokens > 2 * 10  # the timed-out prompt, estimated, counts too


# -- CPU by phase -----------------------------------------------------------------------------


def test_a_search_chunk_reports_the_cpu_its_searches_cost():
    outcome = search(providers(FakeSearchClient(default=lambda c: body())), ["a", "b", "c"])
    assert set(outcome.outcomes) == {"a", "b", "c"}
    assert set(outcome.phase_seconds) == {"search"} and outcome.phase_seconds["search"] > 0
    # A plain dict, no clock or lock: it comes back from a Dask worker process as it is.
    assert pickle.loads(pickle.dumps(outcome)).phase_seconds == outcome.phase_seconds


def test_a_classify_chunk_reports_each_phase_that_ran_and_none_that_did_not():
    classified = classify(providers(classifier=FakeClassifier(verdict(RAW))), item())
    assert set(classified.phase_seconds) == {"trim", "classify", "evidence"}
    assert all(s > 0 for s in classified.phase_seconds.values()), classified.phase_seconds
    assert pickle.loads(pickle.dumps(classified)).phase_seconds == classified.phase_seconds
    # Nothing relevant on the pages: trimmed, never asked, nothing to check.
    nothing = item()
    assert nothing.outcome is not None
    nothing.outcome.pages.clear()
    unasked = classify(providers(classifier=FakeClassifier()), nothing).phase_seconds
    assert unasked["trim"] > 0 and unasked["classify"] == unasked["evidence"] == 0
    # The search failed: the company costs no phase of classification at all.
    failed = ChunkItem("gone", "Gone", None, {}, search_error="Tavily HTTP 500")
    assert set(classify(providers(), failed).phase_seconds.values()) == {0.0}


def test_a_chunks_companies_trim_their_pages_one_at_a_time(monkeypatch):
    # Fifty companies trimming side by side held the GIL from each other in turn, and the
    # request threads waited behind all of them to send (tasks/cpu_turn.py): live, requests
    # reached the provider up to 1.7 s after the pacer let them go, in bursts.
    import tasks.classify

    inside, most = [], []
    real = tasks.classify.build_sources

    def build_sources(*args, **kwargs):
        inside.append(1)
        most.append(len(inside))
        threading.Event().wait(0.002)  # room for another thread to come in, were it let in
        try:
            return real(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(tasks.classify, "build_sources", build_sources)
    keys = [f"co{i:02d}" for i in range(20)]
    fake = FakeClassifier(default=lambda m: verdict(RAW, key="x"))
    outcome = classify(providers(classifier=fake), *(item(k) for k in keys), slots=20)
    assert len(outcome.results) == 20 and len(most) == 20
    assert max(most) == 1


def test_a_chunk_hands_each_result_over_once_and_keeps_only_its_status():
    # An ended chunk can wait in the flow's queue until the run ends (a busy flow thread):
    # with its results in it, a 10,000-company run held most of its results to the end.
    import queue

    feed: queue.Queue = queue.Queue()
    fake = FakeClassifier(default=lambda m: verdict(RAW, key="x"))
    failed = ChunkItem("gone", "Gone", None, {}, search_error="Tavily HTTP 500")
    work = ChunkWork(0, [item("helix"), item("nova"), failed])
    outcome = classify_chunk.fn(
        work, providers(classifier=fake), SlotPool(4), threading.Event(), OPTIONS, feed
    )
    fed = [feed.get_nowait() for _ in range(feed.qsize())]
    assert sorted(r.company_key for r in fed) == ["gone", "helix", "nova"]
    assert outcome.results == []  # nothing carried twice
    assert outcome.statuses() == {"helix": "ok", "nova": "ok", "gone": "failed"}


# -- a fatal search error mid-run: the search and classify tasks under the flow's scheduler ----

# What the Tavily client raises for a 433 (tests/tasks/test_client_errors.py maps it on the wire).
SPENDING_CAP = (
    "Tavily pay-as-you-go spending cap reached (433): Spending cap reached. Completed work is "
    "saved; raise the cap and run again"
)


class Ended:
    """A task run that has already ended with `value`."""

    def __init__(self, value):
        self.value = value

    def add_done_callback(self, fn):
        fn(self)

    def outcome(self):
        return self.value, None


class TasksInThisThread:
    """The flow's two task bodies run at once in this thread instead of as Prefect task runs,
    with the flow's two stop signals (searches stop first; classifying stops on the LLM)."""

    def __init__(self, p: Providers):
        self.p, self.stop, self.search_stop = p, threading.Event(), threading.Event()
        self.search_slots, self.llm_slots = SlotPool(2), SlotPool(2)

    def handoff(self, index, keys):
        return None  # each chunk is classified once its searches have ended

    def search(self, index, requests, handoff=None):
        return Ended(search_chunk.fn(index, requests, self.p, SlotPool(2), self.search_stop, 1000))

    def classify(self, work):
        return Ended(classify_chunk.fn(work, self.p, SlotPool(2), self.stop, OPTIONS))

    def early_searches(self):
        return []

    def early_results(self):
        return []


class Plan:
    def request(self, account):
        return SearchRequest(company_key=account.key, name=account.name, query=account.name)

    def cached(self, requests):
        return {}


class Writer:
    """What the run's one writer is handed: paid-for searches and results, each company once."""

    def __init__(self):
        self.searched_keys, self.results = [], {}

    def holding(self):
        return nullcontext()

    def searched(self, outcomes):
        self.searched_keys += [o.request.company_key for o in outcomes]

    def finished(self, results):
        for r in results:
            assert r.company_key not in self.results, f"{r.company_key} stored twice"
            self.results[r.company_key] = r.status

    def chunk_stored(self, outcome):
        assert all(r.company_key in self.results for r in outcome.results), "said before stored"


def capped_territory():
    """24 companies whose 11th search meets the spending cap, and the fakes that say so."""
    names = [f"Stopping Co {i:02d} Group" for i in range(24)]
    keys = [f"stop{i:02d}" for i in range(24)]
    accounts = [Account(keys[i], n, None, {}, (i,)) for i, n in enumerate(names)]
    search = FakeSearchClient(
        default=lambda c: FatalProviderError(SPENDING_CAP) if c.query == names[10] else body()
    )
    return names, keys, accounts, search, FakeClassifier(default=lambda m: verdict(RAW))


def test_a_spending_cap_mid_run_stops_once_and_keeps_every_search_paid_for():
    # As in test_faults.py's fatal-error runs: 24 companies in chunks of 4, 2 searches and
    # 2 LLM calls at a time, and the cap met at company 10 (the third chunk).
    names, keys, accounts, search, llm = capped_territory()
    tasks, writer = TasksInThisThread(providers(search, llm)), Writer()
    scheduler = ChunkScheduler(
        [accounts[i : i + 4] for i in range(0, 24, 4)],
        Plan(),
        tasks,
        writer,
        max_open_chunks=5,  # what run_chunks gives these settings
        max_searching=3,
        stop=tasks.stop,
        search_stop=tasks.search_stop,
    )

    report = scheduler.run()

    assert report.fatal == SPENDING_CAP  # one reason: the run's message and the CLI's line
    assert tasks.search_stop.is_set() and not tasks.stop.is_set()  # searched ones classified
    asked = [c.query for c in search.calls]
    assert asked.count(names[10]) == 1  # a fatal answer is not retried
    assert not set(asked) & set(names[12:])  # no search after the chunk that met the cap
    answered = {keys[names.index(q)] for q in asked if q != names[10]}
    assert sorted(writer.searched_keys) == sorted(answered)  # every paid search kept, once
    # Every company searched is classified and stored; whole chunks before the cap at least.
    assert set(writer.results) == answered and set(writer.results.values()) == {"ok"}
    assert set(keys[:8]) <= answered and len(llm.calls) == len(answered) < 24
    # The rest, the capped company among them, is neither failed nor lost: left for the next
    # run, and counted as not processed in the run's message.
    assert sorted(report.unprocessed) == sorted(set(keys) - answered)


class Running:
    """A task run whose body runs in a thread of its own, as the thread runner's do."""

    def __init__(self, body):
        self._callbacks, self._ended, self._outcome = [], threading.Event(), (None, None)
        self._lock = threading.Lock()
        threading.Thread(target=self._run, args=(body,), daemon=True).start()

    def _run(self, body):
        try:
            self._outcome = (body(), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the scheduler, as Prefect does
            self._outcome = (None, exc)
        with self._lock:
            self._ended.set()
            callbacks = list(self._callbacks)
        for fn in callbacks:
            fn(self)

    def add_done_callback(self, fn):
        with self._lock:
            if not self._ended.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    def outcome(self):
        return self._outcome


class TasksInThreads(TasksInThisThread):
    """The two task bodies in threads, a chunk's classification alongside its searches, each
    company handed on as its search ends: how the flow runs them with the thread runner."""

    def __init__(self, p: Providers):
        super().__init__(p)
        self.results, self.searches = queue.Queue(), queue.Queue()
        self.search_slots = SlotPool(4)  # two may hang, and the others still go

    def handoff(self, index, keys):
        return Handoff(keys, self.searches)

    def search(self, index, requests, handoff=None):
        slots, stop = self.search_slots, self.search_stop
        return Running(lambda: search_chunk.fn(index, requests, self.p, slots, stop, 1000, handoff))

    def classify(self, work):
        slots, stop, feed = self.llm_slots, self.stop, self.results
        return Running(lambda: classify_chunk.fn(work, self.p, slots, stop, OPTIONS, feed))

    def early_results(self):
        return drain(self.results)

    def early_searches(self):
        return drain(self.searches)


def drain(feed):
    found = []
    while not feed.empty():
        found.append(feed.get_nowait())
    return found


def threaded_scheduler(tasks, writer, accounts, size=4):
    return ChunkScheduler(
        [accounts[i : i + size] for i in range(0, len(accounts), size)],
        Plan(),
        tasks,
        writer,
        max_open_chunks=5,
        max_searching=3,
        stop=tasks.stop,
        search_stop=tasks.search_stop,
        pace=StorePace(every=0, at_least=1),
    )


def test_a_search_that_hangs_holds_up_its_own_company_not_its_chunk():
    names = [f"Quickstep {i} Labs" for i in range(4)]
    accounts = [Account(f"q{i}", n, None, {}, (i,)) for i, n in enumerate(names)]
    released, stored_before_release = threading.Event(), []

    def answer(call):
        # The straggler (not the first search: until a first answer the pacer sends no other).
        if call.query == names[3]:  # it answers once the others are stored
            stored_before_release.append(released.wait(timeout=10))
        return body()

    class Watching(Writer):
        def finished(self, results):
            super().finished(results)
            if set(self.results) >= {"q0", "q1", "q2"}:
                released.set()

    search, llm = FakeSearchClient(default=answer), FakeClassifier(default=lambda m: verdict(RAW))
    tasks, writer = TasksInThreads(providers(search, llm)), Watching()

    report = threaded_scheduler(tasks, writer, accounts).run()

    # The other three were classified and stored while the straggler's search still hung.
    assert stored_before_release == [True]
    assert writer.results == dict.fromkeys(["q0", "q1", "q2", "q3"], "ok")
    assert sorted(writer.searched_keys) == ["q0", "q1", "q2", "q3"]  # each search stored once
    assert report.chunks_done == 1 and report.unprocessed == [] and report.fatal is None


def test_a_chunk_held_open_by_its_slowest_company_keeps_none_of_the_others_pages():
    """A chunk stays open until its slowest company ends; the pages of the companies already
    stored (about 100 KB each on real searches) must not stay with it: a run held every
    finished company's pages of every such chunk, and its memory grew with the territory."""
    names = [f"Keepsake {i} Labs" for i in range(4)]
    accounts = [Account(f"k{i}", n, None, {}, (i,)) for i, n in enumerate(names)]
    released, alive_while_held = threading.Event(), []

    def answer(call):
        if call.query == names[3]:  # the straggler answers once the others are stored
            released.wait(timeout=10)
        return body(company=f"keepsake{names.index(call.query)}")

    def pages_alive(hosts):
        gc.collect()
        return sum(
            1
            for o in gc.get_objects()
            if isinstance(o, SearchPage) and any(h in o.url for h in hosts)
        )

    class Watching(Writer):
        def finished(self, results):
            super().finished(results)
            if set(self.results) >= {"k0", "k1", "k2"} and not released.is_set():
                alive_while_held.append(pages_alive(["keepsake0.", "keepsake1.", "keepsake2."]))
                released.set()

    search, llm = FakeSearchClient(default=answer), FakeClassifier(default=lambda m: verdict(RAW))
    tasks, writer = TasksInThreads(providers(search, llm)), Watching()

    report = threaded_scheduler(tasks, writer, accounts).run()

    assert alive_while_held == [0]  # stored and classified: nothing holds their pages
    assert writer.results == dict.fromkeys(["k0", "k1", "k2", "k3"], "ok")
    assert sorted(writer.searched_keys) == ["k0", "k1", "k2", "k3"]
    assert report.chunks_done == 1 and report.unprocessed == []


def test_a_fatal_search_with_classification_alongside_keeps_every_search_and_loses_no_one():
    # As the spending-cap test above, but as the thread runner runs it: each company goes on
    # to classification as its search ends, and searches run ahead of classification.
    names, keys, accounts, search, llm = capped_territory()
    tasks, writer = TasksInThreads(providers(search, llm)), Writer()

    report = threaded_scheduler(tasks, writer, accounts).run()

    assert report.fatal == SPENDING_CAP
    assert tasks.search_stop.is_set() and not tasks.stop.is_set()
    answered = {keys[names.index(c.query)] for c in search.calls if c.query != names[10]}
    assert sorted(writer.searched_keys) == sorted(answered)  # every paid search kept, once
    assert set(writer.results) == answered and set(writer.results.values()) == {"ok"}
    assert len(llm.calls) == len(answered) < 24
    assert sorted(report.unprocessed) == sorted(set(keys) - answered)  # left for the next run


def test_a_chunk_down_to_its_straggler_makes_room_for_the_next():
    # Room for two chunks of four, and a straggler in each: the third opens once the others
    # have finished (counted by company, a straggler holds one place, not its chunk's four).
    names = [f"Roomy {i:02d} Works" for i in range(12)]
    accounts = [Account(f"r{i:02d}", n, None, {}, (i,)) for i, n in enumerate(names)]
    released, third_chunk_stored = threading.Event(), []

    def answer(call):
        if call.query in (names[3], names[7]):
            third_chunk_stored.append(released.wait(timeout=10))
        return body()

    class Watching(Writer):
        def finished(self, results):
            super().finished(results)
            if {"r08", "r09", "r10", "r11"} <= set(self.results):
                released.set()

    search, llm = FakeSearchClient(default=answer), FakeClassifier(default=lambda m: verdict(RAW))
    tasks, writer = TasksInThreads(providers(search, llm)), Watching()
    scheduler = threaded_scheduler(tasks, writer, accounts)
    scheduler.max_open_chunks = 2

    report = scheduler.run()

    assert third_chunk_stored == [True, True]
    assert len(writer.results) == 12 and set(writer.results.values()) == {"ok"}
    assert report.chunks_done == 3 and report.unprocessed == []
