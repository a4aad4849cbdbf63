"""The search task: one Tavily search per company, cached across runs on its inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from tasks.errors import RetryPolicy
from tasks.models import SearchOutcome, SearchPage, SearchRequest
from tasks.tavily_client import SearchClient

# Tasks with this tag share one Prefect concurrency limit of TAVILY_CONCURRENCY slots.
TAVILY_TAG = "tavily"
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


def search_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache on the normalised company and search parameters only, so later runs reuse it."""
    return parameters["request"].cache_key


@task(
    name="search-company",
    task_run_name="search {request.name}",
    tags=[TAVILY_TAG],
    cache_key_fn=search_cache_key,
    result_serializer="json",
    persist_result=True,
    # Raw pages are large: read them back from storage when needed, never hold them all.
    cache_result_in_memory=False,
)
def search_company(
    request: SearchRequest, client: SearchClient, policy: RetryPolicy, raw_content_cap: int
) -> SearchOutcome:
    """Search the web for one company with Tavily and keep its raw pages."""
    body = policy.call(
        lambda: client.search(
            request.query,
            search_depth=request.search_depth,
            max_results=request.max_results,
            include_raw_content=request.include_raw_content,
        )
    )
    return to_outcome(request, body, raw_content_cap)


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
    )


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
