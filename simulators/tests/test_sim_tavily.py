"""The Tavily simulator, driven through the real tavily-python client (and httpx for headers)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests
import tavily
import tavily.errors
from sim_helpers import TAVILY_KEY, default_query, wait_until

from simulators.content import LOW_MARKER, RAW_MARKER
from simulators.faults import FaultRule
from simulators.server import Simulators

COMPANY = "Quorvex AI"
AUTH = {"Authorization": f"Bearer {TAVILY_KEY}"}


@functools.cache
def _http() -> httpx.Client:
    """One client for the module's requests, made by the first: each new one loads the CA
    bundle (35 ms of CPU), which was most of this file's time."""
    return httpx.Client(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def _close_http():
    yield
    if _http.cache_info().currsize:
        _http().close()
        _http.cache_clear()


def _post(sims: Simulators, body: dict, headers: dict | None = None) -> httpx.Response:
    return _http().post(f"{sims.tavily_url}/search", json=body, headers=headers or AUTH)


def test_successful_search_has_the_real_shape(tavily_client: tavily.TavilyClient) -> None:
    response = tavily_client.search(
        default_query(COMPANY),
        search_depth="advanced",
        max_results=10,
        include_raw_content=True,
        include_usage=True,
    )
    assert set(response) == {
        "query",
        "follow_up_questions",
        "answer",
        "images",
        "results",
        "response_time",
        "usage",
        "request_id",
    }
    assert response["query"] == default_query(COMPANY)
    assert response["follow_up_questions"] is None and response["answer"] is None
    assert response["images"] == [] and response["usage"] == {"credits": 2}
    assert isinstance(response["response_time"], float)
    uuid.UUID(response["request_id"])

    results = response["results"]
    assert len(results) == 10
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert any(s >= 0.85 for s in scores) and any(s < 0.4 for s in scores)
    for result in results:
        assert set(result) == {"title", "url", "content", "score", "raw_content"}
        chunks = result["content"].split(" [...] ")
        assert 1 <= len(chunks) <= 3 and all(len(chunk) <= 500 for chunk in chunks)
        if result["score"] >= 0.4:
            assert RAW_MARKER in result["raw_content"] and RAW_MARKER not in result["content"]
            assert COMPANY in result["raw_content"]
        else:
            assert LOW_MARKER in result["raw_content"] and "unrelated" in result["content"]


def test_raw_content_only_when_requested(tavily_client: tavily.TavilyClient) -> None:
    response = tavily_client.search(default_query(COMPANY), max_results=5)
    assert response["results"]
    for result in response["results"]:
        assert result.get("raw_content") is None
        assert len(result["content"]) <= 300
        assert RAW_MARKER not in result["content"]
    assert "usage" not in response


def test_results_are_deterministic_per_company(tavily_client: tavily.TavilyClient) -> None:
    first = tavily_client.search(default_query(COMPANY), max_results=8)["results"]
    second = tavily_client.search(default_query(COMPANY), max_results=8)["results"]
    other = tavily_client.search(default_query("Maplewick Bakery"), max_results=8)["results"]
    assert first == second
    assert first != other


def test_optional_fields_follow_the_request(tavily_client: tavily.TavilyClient) -> None:
    response = tavily_client.search(
        default_query(COMPANY),
        topic="news",
        include_answer=True,
        include_favicon=True,
        include_images=True,
        max_results=3,
    )
    assert isinstance(response["answer"], str) and COMPANY in response["answer"]
    assert len(response["images"]) == 3 and all(isinstance(i, str) for i in response["images"])
    for result in response["results"]:
        assert result["published_date"].endswith("GMT")
        assert result["favicon"].startswith("https://")


def test_async_client_works_too(sims: Simulators) -> None:
    async def search() -> dict:
        client = tavily.AsyncTavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url)
        return await client.search(default_query(COMPANY), max_results=4)

    assert len(asyncio.run(search())["results"]) == 4


def test_bad_key_is_401(sims: Simulators) -> None:
    with tavily.TavilyClient(api_key="tvly-wrong", api_base_url=sims.tavily_url) as client:
        with pytest.raises(tavily.InvalidAPIKeyError, match="missing or invalid API key"):
            client.search("anything")
    stats = sims.tavily.stats()
    assert stats["by_status"] == {401: 1} and stats["max_in_flight"] == 0


def test_keyless_requests_are_refused_and_recorded(sims: Simulators) -> None:
    response = _post(sims, {"query": "q"}, {"X-Tavily-Access-Mode": "keyless"})
    assert response.status_code == 401
    assert response.json() == {"detail": {"error": "Unauthorized: missing or invalid API key."}}
    assert sims.tavily.stats()["log"][0]["keyless"] is True


def test_validation_errors_are_400(tavily_client: tavily.TavilyClient, sims: Simulators) -> None:
    with pytest.raises(tavily.BadRequestError, match="Max query length is 400 characters"):
        tavily_client.search("x" * 401)
    with pytest.raises(tavily.BadRequestError, match="max_results"):
        tavily_client.search("q", max_results=21)
    with pytest.raises(tavily.BadRequestError, match="topic"):
        tavily_client.search("q", topic="sports")
    with pytest.raises(tavily.BadRequestError, match="search depth"):
        tavily_client.search("q", search_depth="deep")
    assert _post(sims, {"query": ""}).status_code == 400
    assert _post(sims, {}).json()["detail"]["error"]


def test_credit_ledger_goes_to_432_and_stays(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.configure(credits=3)
    tavily_client.search("q1", search_depth="advanced")  # 2 credits
    with pytest.raises(tavily.errors.ForbiddenError, match="plan's set usage limit"):
        tavily_client.search("q2", search_depth="advanced")  # would need 2 more
    with pytest.raises(tavily.errors.ForbiddenError):
        tavily_client.search("q3", search_depth="basic")  # 1 would fit, but 432 sticks
    assert sims.tavily.stats()["credits_used"] == 2
    sims.reset()
    tavily_client.search("q4", search_depth="advanced")


def test_rate_limit_fault_is_429_with_retry_after(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="rate_limit", times=2, retry_after=7))
    with pytest.raises(tavily.UsageLimitExceededError, match="excessive requests"):
        tavily_client.search("q")
    response = _post(sims, {"query": "q"})
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["detail"]["error"].startswith("Your request has been blocked")
    assert _post(sims, {"query": "q"}).status_code == 200  # the rule is used up
    assert [e["fault"] for e in sims.tavily.stats()["log"]] == ["rate_limit", "rate_limit", None]


def test_rpm_limit_is_per_key(sims: Simulators) -> None:
    sims.tavily.configure(rpm_limit=3, rpm_retry_after=2, keys={TAVILY_KEY, "tvly-second"})
    statuses = [_post(sims, {"query": f"q{i}"}).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = _post(sims, {"query": "again"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    other = _post(sims, {"query": "q"}, {"Authorization": "Bearer tvly-second"})
    assert other.status_code == 200
    sims.tavily.configure(rpm_retry_after=None)
    assert "retry-after" not in _post(sims, {"query": "q"}).headers


def test_status_faults_map_to_client_errors(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="paygo_cap", match="paygo"))
    sims.tavily.add_fault(FaultRule(kind="credits_exhausted", match="credits"))
    sims.tavily.add_fault(FaultRule(kind="unauthorized", match="revoked"))
    sims.tavily.add_fault(FaultRule(kind="server_error", match="boom"))
    sims.tavily.add_fault(FaultRule(kind="status", status=403, match="forbidden"))
    with pytest.raises(tavily.errors.ForbiddenError, match="pay-as-you-go"):
        tavily_client.search("paygo")
    with pytest.raises(tavily.errors.ForbiddenError, match="usage limit"):
        tavily_client.search("credits")
    with pytest.raises(tavily.InvalidAPIKeyError):
        tavily_client.search("revoked")
    with pytest.raises(tavily.errors.ForbiddenError):
        tavily_client.search("forbidden")
    with pytest.raises(requests.HTTPError, match="500"):
        tavily_client.search("boom")
    boom = _post(sims, {"query": "boom"})
    assert boom.json() == {"detail": {"error": "Internal Server Error"}}
    assert sims.tavily.stats()["by_status"] == {433: 1, 432: 1, 401: 1, 403: 1, 500: 2}


def test_gateway_faults_answer_html(sims: Simulators) -> None:
    sims.tavily.add_fault(FaultRule(kind="bad_gateway_html", times=1))
    sims.tavily.add_fault(FaultRule(kind="unavailable", times=1))
    bad_gateway = _post(sims, {"query": "q"})
    unavailable = _post(sims, {"query": "q"})
    assert bad_gateway.status_code == 502 and "<html>" in bad_gateway.text
    assert bad_gateway.headers["content-type"].startswith("text/html")
    assert unavailable.status_code == 503 and "503" in unavailable.text


def test_empty_and_invalid_json_answers(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="empty_results", times=1))
    sims.tavily.add_fault(FaultRule(kind="invalid_json", times=1))
    assert tavily_client.search("q")["results"] == []
    with pytest.raises(json.JSONDecodeError):
        tavily_client.search("q")


def test_fault_matching_times_and_probability(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="server_error", match="never", probability=0.0))
    sims.tavily.add_fault(FaultRule(kind="server_error", match="quorvex", times=2))
    for _ in range(2):
        with pytest.raises(requests.HTTPError):
            tavily_client.search(default_query(COMPANY))
    tavily_client.search(default_query(COMPANY))
    tavily_client.search("never fails")
    assert [e["status"] for e in sims.tavily.requests_for("Quorvex")] == [500, 500, 200]
    assert sims.tavily.requests_for("quorvex")[0]["company"] == COMPANY
    assert sims.tavily.stats()["faults"][1]["times"] == 0


def test_hang_trips_the_client_timeout(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="hang", delay=30, times=1))
    started = time.monotonic()
    with pytest.raises(tavily.errors.TimeoutError):
        tavily_client.search("q", timeout=0.3)
    assert time.monotonic() - started < 2
    # The server notices the client hung up and frees the slot well before 30 s.
    wait_until(lambda: sims.tavily.stats()["in_flight"] == 0)
    assert sims.tavily.stats()["log"][0]["fault"] == "hang"


def test_a_held_simulator_answers_only_once_let_go(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.configure(held=True)
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(tavily_client.search, f"held {i}") for i in range(2)]
        wait_until(lambda: sims.tavily.stats()["in_flight"] == 2)
        time.sleep(0.3)
        assert not any(a.done() for a in answers)  # both wait at the door, counted in flight
        sims.tavily.configure(held=False)
        assert all(a.result(timeout=5)["results"] for a in answers)
    assert sims.tavily.stats()["requests"] == 2 and sims.tavily.stats()["in_flight"] == 0


def test_drop_breaks_the_connection_mid_body(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    sims.tavily.add_fault(FaultRule(kind="drop", times=2))
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        tavily_client.search("q")

    async def async_search() -> dict:
        client = tavily.AsyncTavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url)
        return await client.search("q")

    with pytest.raises(httpx.TransportError):
        asyncio.run(async_search())
    assert sims.tavily.stats()["in_flight"] == 0
    assert tavily_client.search("q")["results"]


def test_max_in_flight_is_exact(sims: Simulators) -> None:
    sims.tavily.configure(latency={"median": 0.25, "sigma": 0.0, "max": 0.25})

    def search(i: int) -> int:
        with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
            return len(client.search(f"company {i}", max_results=2)["results"])

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(search, range(6))) == [2] * 6
    stats = sims.tavily.stats()
    assert stats["max_in_flight"] == 3 and stats["in_flight"] == 0 and stats["requests"] == 6
    assert all(e["t_end"] - e["t"] >= 0.25 for e in stats["log"])

    sims.reset()
    sims.tavily.configure(latency={"median": 0.25, "sigma": 0.0, "max": 0.25})
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(search, range(6)))
    assert sims.tavily.stats()["max_in_flight"] == 6


def test_stats_record_the_request_but_never_the_key(
    tavily_client: tavily.TavilyClient, sims: Simulators
) -> None:
    tavily_client.search(default_query(COMPANY), max_results=3)
    _post(sims, {"query": "q", "api_key": TAVILY_KEY})  # old clients put the key in the body
    with tavily.TavilyClient(api_key="tvly-some-wrong-key", api_base_url=sims.tavily_url) as bad:
        with pytest.raises(tavily.InvalidAPIKeyError):
            bad.search("q")
    stats = sims.tavily.stats()
    entry = stats["log"][0]
    assert entry["query"] == default_query(COMPANY) and entry["company"] == COMPANY
    assert entry["body"]["max_results"] == 3 and entry["status"] == 200
    assert entry["headers"]["x-client-source"] == "tavily-python"
    dumped = json.dumps(stats)
    assert TAVILY_KEY not in dumped and "tvly-some-wrong-key" not in dumped
    assert "authorization" not in dumped.lower()


def test_token_bucket_limit_refills_at_its_rate(sims: Simulators) -> None:
    sims.tavily.configure(rpm_limit=120, rpm_burst=2, rpm_retry_after=1)
    statuses = [_post(sims, {"query": f"q{i}"}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(0.55)  # two tokens a second: one is back
    assert _post(sims, {"query": "again"}).status_code == 200
    assert _post(sims, {"query": "again"}).status_code == 429


def test_sporadic_refusals_hit_a_share_of_requests(sims: Simulators) -> None:
    sims.tavily.add_fault(FaultRule(kind="rate_limit", probability=0.2, retry_after=1))
    # Ten companies asked twenty times each: the draw is per request, whatever the query (a
    # company's pages are built once, so the test pays for requests, not for page building).
    statuses = [_post(sims, {"query": f"q{i % 10}"}).status_code for i in range(200)]
    assert 20 <= statuses.count(429) <= 60 and set(statuses) == {200, 429}
