"""Tavily's wire format: error bodies and the /search response document."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

from simulators.content import Page, answer_for

# Error messages verbatim from Tavily's OpenAPI spec and observed responses.
UNAUTHORIZED = "Unauthorized: missing or invalid API key."
RATE_LIMITED = (
    "Your request has been blocked due to excessive requests. Please reduce rate of requests."
)
PLAN_LIMIT = (
    "This request exceeds your plan's set usage limit. Please upgrade your plan or contact "
    "support@tavily.com"
)
PAYGO_LIMIT = (
    "This request exceeds the pay-as-you-go limit. You can increase your limit on the Tavily "
    "dashboard."
)
QUERY_TOO_LONG = "Query is too long. Max query length is 400 characters."
INTERNAL_ERROR = "Internal Server Error"

_MESSAGE_BY_STATUS = {
    400: "Bad request.",
    401: UNAUTHORIZED,
    403: "[403] Forbidden",
    429: RATE_LIMITED,
    432: PLAN_LIMIT,
    433: PAYGO_LIMIT,
    500: INTERNAL_ERROR,
}

SEARCH_DEPTHS = ("basic", "advanced", "fast", "ultra-fast")
TOPICS = ("general", "news", "finance")
TIME_RANGES = ("day", "week", "month", "year", "d", "w", "m", "y")
CREDIT_COST = {"basic": 1, "fast": 1, "ultra-fast": 1, "advanced": 2}
# HTML bodies are what the load balancer returns for these, not the API itself.
HTML_STATUSES = frozenset({502, 503, 504})


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The `{"detail": {"error": ...}}` body Tavily uses for every JSON error."""
    if message is None:
        message = _MESSAGE_BY_STATUS.get(status)
        if message is None:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = f"Error {status}"
    return {"detail": {"error": message}}


def search_response(
    body: dict[str, Any],
    pages: list[Page],
    depth: str,
    response_time: float,
    credits: int,
) -> dict[str, Any]:
    """The 200 /search document, with optional fields only when the request asked."""
    query = body["query"]
    raw_mode = body.get("include_raw_content")
    chunks = int(body.get("chunks_per_source") or 3)
    images_wanted = bool(body.get("include_images"))
    with_descriptions = bool(body.get("include_image_descriptions"))
    results = []
    for page in pages:
        if depth in ("advanced", "fast"):
            content = page.chunks(query, chunks)
        else:
            content = page.snippet(query)
        result: dict[str, Any] = {"url": page.url, "title": page.title, "content": content}
        result["score"] = page.score
        if raw_mode:
            result["raw_content"] = page.raw_content("text" if raw_mode == "text" else "markdown")
        else:
            result["raw_content"] = None
        if body.get("topic") == "news":
            result["published_date"] = page.published
        if body.get("include_favicon"):
            result["favicon"] = "https://" + page.url.split("/")[2] + "/favicon.ico"
        results.append(result)

    images: list[Any] = []
    if images_wanted:
        for page in pages[:3]:
            url = "https://images.example/" + page.url.split("/")[2] + ".jpg"
            images.append({"url": url, "description": page.title} if with_descriptions else url)

    document: dict[str, Any] = {
        "query": query,
        "follow_up_questions": None,
        "answer": answer_for(query) if body.get("include_answer") else None,
        "images": images,
        "results": results,
    }
    if body.get("auto_parameters"):
        document["auto_parameters"] = {
            "topic": body.get("topic") or "general",
            "search_depth": depth,
        }
    document["response_time"] = round(response_time, 2)
    if body.get("include_usage"):
        document["usage"] = {"credits": credits}
    document["request_id"] = str(uuid.uuid4())
    return document
