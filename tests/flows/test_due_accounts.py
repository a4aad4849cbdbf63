"""Which accounts a run works on, decided a batch of standings at a time: the same accounts,
in the same order, as one read of them all, and never more than a batch's rows at once."""

import logging
from contextlib import contextmanager
from datetime import timedelta

from domain.account_chunks import packed_chunks
from domain.accounts import Account
from domain.refresh import Standing
from domain.rubric import load_rubric
from flows import research_run
from flows.parameters import ResearchRequest
from flows.research_run import StoredSearchPlan
from flows.run_context import RunContext
from flows.settings import load_settings


class FakeStandingsStore:
    """The store's `standings`, from a table of standings by company key, with the calls."""

    def __init__(self, standings: dict[str, Standing]) -> None:
        self.table = standings
        self.calls: list[list[str]] = []
        self.cache_reads: list[list[str]] = []

    def cached_searches(self, requests, fresh_after):
        self.cache_reads.append([r.company_key for r in requests])
        return {}

    def standings(self, territory, requests):
        self.calls.append([r.company_key for r in requests])
        return {
            r.company_key: self.table[r.company_key]
            for r in requests
            if r.company_key in self.table
        }


def test_due_accounts_are_decided_a_batch_at_a_time_with_the_same_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "t.duckdb"))
    settings = load_settings()
    rubric = load_rubric(settings.rubric_file)
    accounts = [
        Account(f"co-{i}", f"Co {i}", None, {}, (i,)) for i in range(2 * research_run.DUE_BATCH + 7)
    ]
    request = ResearchRequest(companies_csv="x.csv", territory="emea")
    plan = StoredSearchPlan(settings, rubric, FakeStandingsStore({}), "emea", request)
    now = plan.now
    # Every third company was judged an hour ago on its newest search: its verdict stands.
    hour_ago = now - timedelta(hours=1)
    standing = {
        a.key: Standing("ok", "HOT", "high", rubric.label, settings.llm_model,
                        plan.request(a).cache_key, hour_ago, hour_ago)
        for a in accounts[::3]
    }  # fmt: skip
    store = FakeStandingsStore(standing)
    plan.store = store
    due = plan.due(accounts)
    assert due == [a for i, a in enumerate(accounts) if i % 3]
    assert [len(c) for c in store.calls] == [research_run.DUE_BATCH] * 2 + [7]
    assert sum(store.calls, []) == [a.key for a in accounts]
    # The cache window of each company with a stored search fresh enough, from its standing.
    assert set(plan.fresh_after) == {a.key for a in accounts[::3]}
    assert plan.fresh_after["co-0"] == now - plan.policy.tiers["HOT"]


def test_a_chunk_whose_companies_have_no_fresh_stored_search_reads_nothing(tmp_path, monkeypatch):
    # Opening the file to look for cached searches cost 35 ms of CPU a chunk on the
    # 100,000-company file; a territory's first run has none to find.
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "t.duckdb"))
    settings = load_settings()
    rubric = load_rubric(settings.rubric_file)
    accounts = [Account(f"co-{i}", f"Co {i}", None, {}, (i,)) for i in range(6)]
    plan = StoredSearchPlan(settings, rubric, FakeStandingsStore({}), "emea",
                            ResearchRequest(companies_csv="x.csv", territory="emea"))  # fmt: skip
    now, rubric_changed = plan.now, "another@1"
    searched = {  # searched (not judged by this rubric: due) 1 hour and 100 days ago
        a.key: Standing("ok", "WARM", "high", rubric_changed, settings.llm_model,
                        plan.request(a).cache_key, at, at)
        for a, at in [(accounts[0], now - timedelta(hours=1)),
                      (accounts[1], now - timedelta(days=100))]
    }  # fmt: skip
    plan.store = store = FakeStandingsStore(searched)
    assert plan.due(accounts) == accounts
    requests = [plan.request(a) for a in accounts]
    assert plan.cached(requests[3:]) == {} and store.cache_reads == []
    assert plan.cached(requests[:3]) == {}
    assert store.cache_reads == [["co-0"]]  # the one with a search fresh enough, alone


class FakeRunStore(FakeStandingsStore):
    """A store with the calls due_accounts makes besides the standings."""

    not_due: int | None = None

    @contextmanager
    def session(self):
        yield None

    def set_not_due(self, run_id, n):
        self.not_due = n


def test_the_run_hands_its_accounts_over_and_keeps_none(tmp_path, monkeypatch):
    # The scheduler lets go of each chunk's accounts as it opens it: the run context, which
    # lives to the run's end, must not hold them all (about 60 MiB at 100,000 companies).
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "t.duckdb"))
    settings = load_settings()
    rubric = load_rubric(settings.rubric_file)
    accounts = [Account(f"co-{i}", f"Co {i}", None, {}, (i,)) for i in range(120)]
    request = ResearchRequest(companies_csv="x.csv", territory="emea")
    store = FakeRunStore({})
    run = RunContext(request, settings, rubric, store, "run-1", "emea", list(accounts))
    plan = StoredSearchPlan(settings, rubric, store, "emea", request)
    chunks = packed_chunks(research_run.due_accounts(run, plan, logging.getLogger("t")), 50)
    assert run.accounts == [] and sum(map(len, chunks)) == 120 and store.not_due == 0
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert [a for chunk in chunks for a in chunk] == accounts
