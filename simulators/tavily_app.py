"""The Tavily `POST /search` simulator: auth, validation, limits, faults, synthetic results."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from typing import Any

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from simulators.asgi import (
    PartialBodyResponse,
    RecordingMiddleware,
    admin_router,
    bearer_token,
    json_response,
    new_app,
    record_of,
    simulate_delay,
)
from simulators.content import Page, company_from_query, injection_page, search_pages
from simulators.faults import TAVILY_FAULT_KINDS, FaultRule
from simulators.html_errors import proxy_error_page
from simulators.limits import CreditLedger
from simulators.state import BaseConfig, SimulatorState
from simulators.stats import RequestRecord, scrub_body
from simulators.tavily_wire import (
    CREDIT_COST,
    HTML_STATUSES,
    QUERY_TOO_LONG,
    SEARCH_DEPTHS,
    TIME_RANGES,
    TOPICS,
    error_body,
    search_response,
)

DEFAULT_TAVILY_KEY = "tvly-sim-key"
MAX_QUERY_CHARS = 400
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True)
class TavilyConfig(BaseConfig):
    """Tavily settings: the common ones plus a per-key credit budget and the web's epoch."""

    keys: frozenset[str] = frozenset({DEFAULT_TAVILY_KEY})
    credits: int | None = None
    # How far the simulated web has moved on: at epoch >= 1 some WARM companies have news that
    # makes them HOT (content.changes_at_epoch); 0 is the web as it always was.
    epoch: int = 0

    def validate(self, service: str) -> None:
        """Also check the epoch."""
        super().validate(service)
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0:
            raise ValueError("epoch must be an integer >= 0")


class TavilySimulator(SimulatorState):
    """State of the Tavily simulator (config, faults, RPM windows, credit ledger, stats)."""

    service = "search"

    def __init__(self, config: TavilyConfig | None = None) -> None:
        super().__init__(config or TavilyConfig(), TAVILY_FAULT_KINDS)
        self._ledger = CreditLedger()

    def try_spend(self, key: str, cost: int) -> bool:
        """Charge `cost` credits to `key`, or return False (and latch 432) if over budget."""
        budget = self.config.credits  # type: ignore[attr-defined]
        with self._lock:
            if not self._ledger.can_spend(key, cost, budget):
                return False
            self._ledger.spend(key, cost)
            return True

    def refund(self, key: str, cost: int) -> None:
        """Return credits reserved by a request that a fault turned into an error."""
        with self._lock:
            self._ledger.refund(key, cost)

    def _extra_stats(self) -> dict[str, Any]:
        with self._lock:
            return {"credits_used": self._ledger.total_used()}

    def _reset_extra(self) -> None:
        self._ledger.clear()


def _validation_error(body: dict[str, Any]) -> str | None:
    """The 400 message for an invalid /search body, or None when it is acceptable."""
    query = body.get("query")
    if query is None:
        return "Query is missing."
    if not isinstance(query, str) or not query.strip():
        return "Query must be a non-empty string."
    if len(query) > MAX_QUERY_CHARS:
        return QUERY_TOO_LONG
    max_results = body.get("max_results", 5)
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not (0 <= max_results <= 20)
    ):
        return "Invalid max_results. Must be an integer between 0 and 20."
    depth = body.get("search_depth", "basic")
    if depth not in SEARCH_DEPTHS:
        return "Invalid search depth. Must be 'basic', 'advanced', 'fast' or 'ultra-fast'."
    if body.get("topic", "general") not in TOPICS:
        return "Invalid topic. Must be 'general', 'news' or 'finance'."
    if "time_range" in body and body["time_range"] not in TIME_RANGES:
        return "Invalid time_range. Must be 'day', 'week', 'month' or 'year'."
    for field in ("start_date", "end_date"):
        if field in body and not (isinstance(body[field], str) and _DATE.match(body[field])):
            return f"Invalid {field}. Must be in YYYY-MM-DD format."
    chunks = body.get("chunks_per_source", 3)
    if isinstance(chunks, bool) or not isinstance(chunks, int) or not 1 <= chunks <= 3:
        return "Invalid chunks_per_source. Must be an integer between 1 and 3."
    if body.get("include_raw_content", False) not in (False, True, "markdown", "text"):
        return "Invalid include_raw_content. Must be a boolean, 'markdown' or 'text'."
    if body.get("include_answer", False) not in (False, True, "basic", "advanced"):
        return "Invalid include_answer. Must be a boolean, 'basic' or 'advanced'."
    for field in ("include_domains", "exclude_domains"):
        value = body.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"Invalid {field}. Must be a list of domains."
    return None


def _retry_after_header(seconds: float | None) -> dict[str, str]:
    # Tavily documents Retry-After as a whole number of seconds.
    return {} if seconds is None else {"Retry-After": str(max(0, math.ceil(seconds)))}


def _immediate_fault_response(fault: FaultRule) -> Response | None:
    """The response for faults that replace the answer outright (None for the others)."""
    kind = fault.kind
    if kind == "status":
        status = int(fault.status or 500)
        if status in HTML_STATUSES:
            return Response(proxy_error_page(status), status, media_type="text/html")
        return json_response(status, error_body(status), _retry_after_header(fault.retry_after))
    simple = {
        "rate_limit": 429,
        "server_error": 500,
        "unauthorized": 401,
        "credits_exhausted": 432,
        "paygo_cap": 433,
    }
    if kind in simple:
        status = simple[kind]
        headers = _retry_after_header(fault.retry_after) if status == 429 else None
        return json_response(status, error_body(status), headers)
    if kind == "bad_gateway_html":
        return Response(proxy_error_page(502), 502, media_type="text/html")
    if kind == "unavailable":
        return Response(proxy_error_page(503), 503, media_type="text/html")
    return None


def create_tavily_app(sim: TavilySimulator) -> ASGIApp:
    """The ASGI app serving `/search` (plus `/_sim/*` admin endpoints) for `sim`."""
    app = new_app("Tavily simulator")
    app.include_router(admin_router(sim))

    @app.post("/search")
    async def search(request: Request) -> Response:
        """Auth, validation, limits, credits, faults, latency, then synthetic results."""
        return await _answer(sim, request)

    return RecordingMiddleware(app, sim.recorder, frozenset({"/search"}))


async def _answer(sim: TavilySimulator, request: Request) -> Response:
    started = time.monotonic()
    record = record_of(request)
    key = _accepted_key(sim, request, record)
    if key is None:
        return json_response(401, error_body(401))
    sim.recorder.enter_in_flight(record)

    body = await _json_object(request)
    if isinstance(body, Response):
        return body
    query, depth = _read_search(body, record)
    refused = _refusal(sim, key, body)
    if refused is not None:
        return refused
    cost = CREDIT_COST[depth]
    if not sim.try_spend(key, cost):
        return json_response(432, error_body(432))

    fault = sim.pick_fault(query)
    if fault is not None:
        record.set(fault=fault.kind)
        immediate = _immediate_fault_response(fault)
        if immediate is not None:
            sim.refund(key, cost)  # error answers are not billed
            return immediate
    await simulate_delay(request, sim, fault, depth)
    kind = fault.kind if fault is not None else None
    pages = _result_pages(sim, body, kind)
    document = search_response(body, pages, depth, time.monotonic() - started, cost)
    return _success(sim, record, document, kind)


def _accepted_key(sim: TavilySimulator, request: Request, record: RequestRecord) -> str | None:
    """The request's API key if the simulator accepts it (never in keyless mode), else None."""
    keyless = request.headers.get("x-tavily-access-mode", "").lower() == "keyless"
    key = bearer_token(request)
    record.set(keyless=keyless)
    if keyless or key is None or key not in sim.config.keys:
        return None
    return key


async def _json_object(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object without credential fields, or the 400 answer."""
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_response(400, error_body(400, "Invalid JSON body."))
    if not isinstance(body, dict):
        return json_response(400, error_body(400, "Request body must be a JSON object."))
    return scrub_body(body)


def _read_search(body: dict[str, Any], record: RequestRecord) -> tuple[str | None, str]:
    """The query and search depth of a request, logged with its body."""
    query = body.get("query") if isinstance(body.get("query"), str) else None
    company = company_from_query(query)[0] if query and query.strip() else None
    depth = body.get("search_depth")
    if depth is None and body.get("auto_parameters"):
        depth = "advanced"  # like the real service, auto_parameters may pick advanced
    depth = depth or "basic"
    record.set(
        body=body,
        query=query,
        company=company,
        search_depth=depth,
        max_results=body.get("max_results", 5),
    )
    return query, depth


def _refusal(sim: TavilySimulator, key: str, body: dict[str, Any]) -> Response | None:
    """A 429 when the key is over its RPM limit, else a 400 for an invalid body, else None."""
    window = sim.check_rate(key)
    if window is not None and not window.allowed:
        retry = _retry_after_header(sim.config.rpm_retry_after)
        return json_response(429, error_body(429), retry)
    problem = _validation_error(body)
    if problem:
        return json_response(400, error_body(400, problem))
    return None


def _result_pages(sim: TavilySimulator, body: dict[str, Any], kind: str | None) -> list[Page]:
    """The synthetic results, emptied or topped by an injected page as the fault says."""
    if kind == "empty_results":
        pages = []
    else:
        pages = search_pages(
            body["query"],
            body.get("max_results", 5),
            body.get("include_domains"),
            body.get("exclude_domains"),
            epoch=sim.config.epoch,  # type: ignore[attr-defined]
        )
    if kind == "prompt_injection" and pages:
        pages = [injection_page(body["query"], pages[0].url), *pages][: len(pages)]
    return pages


def _success(
    sim: TavilySimulator, record: RequestRecord, document: dict[str, Any], kind: str | None
) -> Response:
    """The 200 answer; cut short for the "drop" and "invalid_json" faults."""
    if kind == "drop":
        return PartialBodyResponse(json.dumps(document).encode(), sim.recorder, record)
    if kind == "invalid_json":
        text = json.dumps(document)
        return Response(text[: len(text) // 2], 200, media_type="application/json")
    return json_response(200, document)
