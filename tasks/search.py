"""The search task: one Tavily search per company, a chunk of companies per task run.

A task run per company cost about 27 ms of flow CPU and 34 ms of Prefect-server CPU per
company here (benchmarks/), several times the searching itself; a chunk per task run makes
that negligible. The cache lives in DuckDB (the flow looks it up before submitting), keyed per
company on `SearchRequest.cache_key`, so each company is still cached, retried and reported
on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NO_CACHE

from domain.errors import FatalProviderError, ProviderError
from domain.models import SearchOutcome, SearchPage, SearchRequest
from tasks.cpu_turn import cpu_turn
from tasks.pacing import Pacer, paced_call
from tasks.phase_clock import SEARCH_TASK_PHASES, PhaseClock
from tasks.providers import Providers
from tasks.slots import Slots, Stopped, StopSignal, map_in_threads, priority
from tasks.tavily_client import SearchClient

QUERY_MAX_CHARS = 400  # Tavily answers 400 to longer queries


def build_query(template: str, name: str, domain: str | None) -> str:
    """Render the query; the domain disambiguates, and is dropped before the name is truncated."""
    label = f"{name} ({domain})" if domain and "{domain}" not in template else name
    query = template.format(company_name=label, domain=domain or "")
    if len(query) > QUERY_MAX_CHARS and label != name:
        query = template.format(company_name=name, domain=domain or "")
    if len(query) > QUERY_MAX_CHARS:
        room = max(1, len(name) - (len(query) - QUERY_MAX_CHARS))
        query = template.format(company_name=name[:room], domain=domain or "")
    return " ".join(query.split())[:QUERY_MAX_CHARS]


@dataclass
class SearchChunkOutcome:
    """A chunk's searches: pages per company, why the others failed, and whether to stop."""

    index: int
    # Pages per company, of the searches not handed over as they ended (with a hand-off, the
    # flow has those already; keeping them too held their pages until the chunk's last search).
    outcomes: dict[str, SearchOutcome] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    # Thread CPU seconds the chunk's searches cost (the "search" phase; a plain dict, so that
    # it comes back from a Dask worker as it does from a thread).
    phase_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchedCompany:
    """One company's search, handed over the moment it ends: its pages, or why it failed."""

    company_key: str
    outcome: SearchOutcome | None = None
    error: str | None = None


class SearchFeed(Protocol):
    """Where a company's search goes the moment it ends (the flow's scheduler drains it)."""

    def put(self, item: SearchedCompany) -> None:
        """Hand over one search."""
        ...


@task(name="search-chunk", task_run_name="search chunk {index}", cache_policy=NO_CACHE)
def search_chunk(
    index: int,
    requests: list[SearchRequest],
    providers: Providers,
    slots: Slots,
    stop: StopSignal,
    raw_content_cap: int,
    feed: SearchFeed | None = None,
) -> SearchChunkOutcome:
    """Search the web with Tavily for each company of a chunk (concurrently) and keep raw pages."""
    result = SearchChunkOutcome(index)
    client, pace = providers.search_client(), providers.search_pace()
    clock = PhaseClock()

    def search_one(request: SearchRequest) -> None:
        with clock.timing("search"):  # the call, its pacing and retries, reading the body
            search(request)

    def search(request: SearchRequest) -> None:
        attempt = _paced_search(request, client, slots, pace, stop)
        try:
            body = providers.policy.call(attempt, should_stop=stop.is_set, outage=pace.outage)
        except Stopped:
            return  # neither searched nor failed: the company is left for a later run
        except FatalProviderError as exc:
            result.fatal = result.fatal or str(exc)
            stop.set()  # no further search can succeed: tell every task of the run
            return
        except ProviderError as exc:
            error = result.errors[request.company_key] = str(exc) or type(exc).__name__
            if feed is not None:
                feed.put(SearchedCompany(request.company_key, error=error))
            return
        with cpu_turn():  # see tasks.cpu_turn
            outcome = to_outcome(request, body, raw_content_cap)
        if feed is not None:  # its classification need not wait for the chunk's slowest search
            # Handed on, not also kept for the task's end: its pages (about 100 KB) would stay
            # until the chunk's slowest search ends.
            feed.put(SearchedCompany(request.company_key, outcome))
        else:
            result.outcomes[request.company_key] = outcome

    # One thread per company; the shared slots, not the thread count, cap requests in flight.
    with priority(index):  # the oldest chunk's companies get Tavily slots first
        map_in_threads(search_one, requests, "tavily")
    result.phase_seconds = clock.seconds(SEARCH_TASK_PHASES)
    return result


def _paced_search(
    request: SearchRequest, client: SearchClient, slots: Slots, pace: Pacer, stop: StopSignal
) -> Callable[[], dict[str, Any]]:
    """One company's Tavily search as an attempt to retry: it holds a slot, waits for the
    pace, and tells the pacer whether it is a retry."""
    attempts = 0

    def attempt() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        return paced_call(
            lambda: client.search(
                request.query,
                search_depth=request.search_depth,
                max_results=request.max_results,
                include_raw_content=request.include_raw_content,
            ),
            slots,
            pace,
            stop,
            client.stated_limits,
            retry=attempts > 1,
        )

    return attempt


def to_outcome(request: SearchRequest, body: dict[str, Any], raw_content_cap: int) -> SearchOutcome:
    """Keep what later steps need from a Tavily response; no page can exceed the context cap."""
    pages = []
    for item in body.get("results") or []:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        raw = item.get("raw_content")
        pages.append(
            SearchPage(
                url=str(item["url"]),
                title=str(item.get("title") or ""),
                score=_as_float(item.get("score")),
                content=str(item.get("content") or ""),
                raw_content=str(raw)[:raw_content_cap] if raw else None,
            )
        )
    return SearchOutcome(
        request=request,
        fetched_at=datetime.now(UTC),
        pages=pages,
        response_time=_as_float(body.get("response_time")) or None,
        request_id=str(body["request_id"]) if body.get("request_id") else None,
        credits=_credits(body),
    )


def _credits(body: dict[str, Any]) -> float | None:
    """`usage.credits` of a response, if it has one."""
    usage = body.get("usage")
    if isinstance(usage, dict) and usage.get("credits") is not None:
        return _as_float(usage["credits"])
    return None


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
