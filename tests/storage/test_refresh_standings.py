"""What refresh by tier reads from DuckDB: each company's latest verdict and the newest stored
search for its request (`standings`), and the cache read with a threshold per company."""

from datetime import UTC, datetime, timedelta

from domain.models import Classification, CompanyResult, SearchOutcome, SearchPage, SearchRequest
from domain.refresh import Standing
from storage.duckdb_store import TerritoryStore

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def request(key, query=None):
    return SearchRequest(company_key=key, name=key.title(), query=query or f"{key} GPU")


def searched(key, days_ago, query=None):
    page = SearchPage(url=f"https://{key}.example/{days_ago}", raw_content=f"{key} page")
    return SearchOutcome(request=request(key, query), fetched_at=NOW - days_ago * DAY, pages=[page])


def verdict(search, tier="WARM", confidence="high", model="m", rubric="r@1"):
    c = Classification(tier=tier, score=50, confidence=confidence, reasoning="r", signals=[])
    return CompanyResult(
        company_key=search.request.company_key,
        name=search.request.name,
        status="ok",
        classification=c,
        search_key=search.request.cache_key,
        search_fetched_at=search.fetched_at,
        model=model,
        rubric=rubric,
    )


def test_standings_give_the_latest_verdict_and_the_newest_search_whatever_its_age(tmp_path):
    acme_old, acme_new = searched("acme", 40), searched("acme", 3)
    globex = searched("globex", 10)
    initech_other_query = searched("initech", 1, query="initech something else")
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([acme_old, acme_new, globex, initech_other_query])
        run = store.start_run("emea", "full", {}, None, 3, 0, 3)
        # acme was judged on its older search; globex on its only one, with low confidence.
        store.save_results(run, "emea", [verdict(acme_old), verdict(globex, "COLD", "low")])
        failed = CompanyResult(company_key="hooli", name="Hooli", status="failed", error="x")
        store.save_results(run, "emea", [failed])
        other = store.start_run("apac", "full", {}, None, 1, 0, 1)
        store.save_results(other, "apac", [verdict(searched("initech", 1), "HOT")])

        found = store.standings(
            "emea", [request("acme"), request("globex"), request("initech"), request("hooli")]
        )
    assert found["acme"] == Standing(
        "ok", "WARM", "high", "r@1", "m", request("acme").cache_key, acme_old.fetched_at,
        acme_new.fetched_at,
    )  # fmt: skip
    assert found["globex"] == Standing(
        "ok", "COLD", "low", "r@1", "m", request("globex").cache_key, globex.fetched_at,
        globex.fetched_at,
    )  # fmt: skip
    # initech has a verdict in another territory only, and a search of another query only.
    assert found["initech"] == Standing()
    assert found["hooli"].status == "failed" and found["hooli"].newest_search is None
    assert store.standings("emea", []) == {}


def test_cached_searches_take_a_freshness_threshold_per_company(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([searched("acme", 10), searched("acme", 40), searched("globex", 10)])
        reqs = [request("acme"), request("globex"), request("nobody")]
        # acme may be 20 days old (a COLD window), globex only 5 (a HOT one).
        after = {"acme": NOW - 20 * DAY, "globex": NOW - 5 * DAY, "nobody": NOW - 99 * DAY}
        found = store.cached_searches(reqs, after)
        assert set(found) == {"acme"}
        assert found["acme"].fetched_at == NOW - 10 * DAY  # the newest, not the oldest
        assert [p.url for p in found["acme"].pages] == ["https://acme.example/10"]
        assert found["acme"].request == reqs[0]  # the request as asked, its name included
        # One time for every company works too.
        assert set(store.cached_searches(reqs, NOW - 11 * DAY)) == {"acme", "globex"}


def test_an_override_paces_the_refresh_by_the_tier_in_force(tmp_path):
    from domain.review import OverrideRequest

    acme = searched("acme", 3)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        store.save_searches([acme])
        run = store.start_run("emea", "full", {}, None, 1, 0, 1)
        store.save_results(run, "emea", [verdict(acme, "COLD", "low")])
        override = OverrideRequest("Acme", "set", tier="HOT", reason="met them", by="dana")
        store.save_overrides("emea", [override], "cli")
        found = store.standings("emea", [request("acme")])
    # HOT, and a person looked: not the model's low-confidence COLD.
    assert (found["acme"].tier, found["acme"].confidence) == ("HOT", "high")
