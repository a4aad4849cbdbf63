"""Which accounts a run works on, decided a batch of standings at a time: the same accounts,
in the same order, as one read of them all, and never more than a batch's rows at once."""

from datetime import timedelta

from domain.accounts import Account
from domain.refresh import Standing
from domain.rubric import load_rubric
from flows import research_run
from flows.parameters import ResearchRequest
from flows.research_run import StoredSearchPlan
from flows.settings import load_settings


class FakeStandingsStore:
    """The store's `standings`, from a table of standings by company key, with the calls."""

    def __init__(self, standings: dict[str, Standing]) -> None:
        self.table = standings
        self.calls: list[list[str]] = []

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
    # Each company's cache window, from its standing (never judged: the shortest).
    assert set(plan.fresh_after) == {a.key for a in accounts}
    assert plan.fresh_after["co-1"] == now - plan.policy.shortest
    assert plan.fresh_after["co-0"] == now - plan.policy.tiers["HOT"]
