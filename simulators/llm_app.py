"""The OpenAI-compatible `POST /v1/chat/completions` simulator."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping
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
    wait_while_connected,
)
from simulators.classifier import (
    classify,
    message_text,
    obey_injection,
    parse_prompt,
)
from simulators.faults import DEFAULT_HANG_SECONDS, LLM_FAULT_KINDS, FaultRule
from simulators.html_errors import proxy_error_page
from simulators.limits import CreditLedger
from simulators.llm_wire import (
    JSON_SCHEMA_UNSUPPORTED,
    LLM_MODES,
    QUOTA_MESSAGE,
    REFUSAL_TEXT,
    chat_completion,
    error_body,
    estimate_tokens,
    model_not_found_body,
    new_request_id,
    rate_limit_body,
    rate_limit_headers,
    strict_schema_problem,
    unauthorized_body,
)
from simulators.state import BaseConfig, SimulatorState
from simulators.stats import scrub_body

DEFAULT_LLM_KEY = "sk-sim-key"
COMPLETIONS_PATH = "/v1/chat/completions"
RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# The request limit advertised in x-ratelimit-* headers when no RPM limit is configured.
_ADVERTISED_RPM = 10_000


@dataclasses.dataclass(frozen=True)
class LLMConfig(BaseConfig):
    """LLM settings: provider mode, json_schema support and an optional model allowlist."""

    keys: frozenset[str] = frozenset({DEFAULT_LLM_KEY})
    mode: str = "openai"
    json_schema_supported: bool = True
    models: frozenset[str] | None = None
    # Completions each key may make before the account is out of quota (429
    # insufficient_quota until reset); None = unlimited.
    credits: int | None = None
    # A gullible model: it obeys instructions planted in the pages it reads.
    follows_injections: bool = False
    # OpenAI's x-ratelimit-* headers on every response (openai mode); off, none are sent, as
    # by vLLM and by gateways that enforce limits without stating them.
    limit_headers: bool = True

    def validate(self, service: str) -> None:
        """Also check the provider mode."""
        super().validate(service)
        if self.mode not in LLM_MODES:
            raise ValueError(f"mode must be one of {LLM_MODES}")


class LLMSimulator(SimulatorState):
    """State of the chat-completions simulator (config, faults, RPM windows, stats)."""

    service = "llm"

    def __init__(self, config: LLMConfig | None = None) -> None:
        super().__init__(config or LLMConfig(), LLM_FAULT_KINDS)
        self._ledger = CreditLedger()

    def try_spend(self, key: str) -> bool:
        """Use one completion of the key's quota, or return False once it is exhausted."""
        budget = self.config.credits  # type: ignore[attr-defined]
        with self._lock:
            if not self._ledger.can_spend(key, 1, budget):
                return False
            self._ledger.spend(key, 1)
            return True

    def refund(self, key: str) -> None:
        """Return the quota reserved by a request that a fault turned into an error."""
        with self._lock:
            self._ledger.refund(key, 1)

    def _extra_stats(self) -> dict[str, Any]:
        with self._lock:
            return {"credits_used": self._ledger.total_used()}

    def _reset_extra(self) -> None:
        self._ledger.clear()

    @property
    def mode(self) -> str:
        """The provider whose error shapes are imitated."""
        return self.config.mode  # type: ignore[attr-defined]


def _number(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _schema_violation(result: dict[str, Any]) -> dict[str, Any]:
    """Valid JSON that breaks the classification schema in several ways at once."""
    return {
        "tier": "SCORCHING",
        "score": 250,
        "confidence": "certain",
        "reasoning": result["reasoning"],
        "signals": [{"kind": "vibes", "url": None}],
    }


class _Exchange:
    """One chat-completions request being answered: headers and error helpers."""

    def __init__(self, sim: LLMSimulator, request_id: str) -> None:
        self.sim = sim
        self.mode = sim.mode
        self.request_id = request_id
        self.started = time.monotonic()

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Response headers every answer carries (x-request-id; OpenAI's org/version too)."""
        headers = {"x-request-id": self.request_id}
        if self.mode == "openai":
            elapsed = int((time.monotonic() - self.started) * 1000)
            headers.update(
                {
                    "openai-organization": "territory-sim",
                    "openai-processing-ms": str(elapsed),
                    "openai-version": "2020-10-01",
                }
            )
        headers.update(extra or {})
        return headers

    def error(self, status: int, body: Any, extra: Mapping[str, str] | None = None) -> Response:
        """A JSON error response with the standard headers."""
        return json_response(status, body, self.headers(extra))

    def bad_request(self, message: str, param: str | None = None) -> Response:
        """A 400 invalid_request_error in the provider's shape."""
        body = error_body(self.mode, 400, message, type_="invalid_request_error", param=param)
        return self.error(400, body)

    def retry_after(self, seconds: float | None) -> dict[str, str]:
        """The retry-after header (seconds, fractions allowed) or nothing."""
        return {} if seconds is None else {"retry-after": _number(seconds)}

    def limit_headers(self, remaining: int, reset: float, prompt_tokens: int) -> dict[str, str]:
        """x-ratelimit-* headers (OpenAI mode only; the others send none)."""
        if self.mode != "openai" or not self.sim.config.limit_headers:  # type: ignore[attr-defined]
            return {}
        limit = self.sim.config.rpm_limit or _ADVERTISED_RPM
        return rate_limit_headers(limit, remaining, reset, prompt_tokens)

    def quota_exhausted(self) -> Response:
        """429 insufficient_quota; deliberately without `x-should-retry: false`, like the real
        API, so the SDK retries it and only the pipeline's own check can stop the waste."""
        body = error_body(
            self.mode, 429, QUOTA_MESSAGE, type_="insufficient_quota", code="insufficient_quota"
        )
        return self.error(429, body)

    def fault_response(self, fault: FaultRule, model: str, prompt_tokens: int) -> Response | None:
        """The response for faults that replace the answer outright (None for the others)."""
        mode, kind = self.mode, fault.kind
        status = {
            "status": int(fault.status or 500),
            "rate_limit": 429,
            "server_error": 500,
            "bad_gateway_html": 502,
            "unavailable": 503,
            "unauthorized": 401,
            "insufficient_quota": 429,
        }.get(kind)
        if status is None:
            return None
        if kind == "insufficient_quota":
            return self.quota_exhausted()
        if status in (502, 504):
            html = proxy_error_page(status)
            return Response(html, status, media_type="text/html", headers=self.headers())
        extra = self.retry_after(fault.retry_after)
        if status == 401:
            return self.error(401, unauthorized_body(mode, "sk-simulated-revoked-key"))
        if status == 404:
            return self.error(404, model_not_found_body(mode, model))
        if status == 429:
            window = self.sim.config.rpm_window
            extra.update(self.limit_headers(0, window, prompt_tokens))
            limit = self.sim.config.rpm_limit or _ADVERTISED_RPM
            return self.error(429, rate_limit_body(mode, limit, window), extra)
        body = error_body(mode, status, request_id=self.request_id)
        return self.error(status, body, extra)


def _validate(body: dict[str, Any], exchange: _Exchange) -> Response | None:
    """A 400 response for a malformed request, or None."""
    sim, mode = exchange.sim, exchange.mode
    if not isinstance(body.get("model"), str) or not body["model"]:
        return exchange.bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if messages is None:
        return exchange.bad_request("'messages' is a required property", "messages")
    if not isinstance(messages, list) or not messages:
        return exchange.bad_request(f"{messages!r} is too short - 'messages'", "messages")
    if body.get("stream"):
        return exchange.bad_request("stream=true is not supported by this simulator", "stream")
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in RESPONSE_FORMAT_TYPES:
        return exchange.bad_request(
            f"Invalid value: {kind!r}. Supported values are: 'text', 'json_object', and "
            "'json_schema'.",
            "response_format.type",
        )
    if kind != "json_schema":
        return None
    if not sim.config.json_schema_supported:  # type: ignore[attr-defined]
        return exchange.bad_request(JSON_SCHEMA_UNSUPPORTED, "response_format")
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return exchange.bad_request(
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
        )
    if not _SCHEMA_NAME.match(spec["name"]):
        return exchange.bad_request(
            "Invalid 'response_format.json_schema.name': string does not match pattern. "
            "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            "response_format.json_schema.name",
        )
    if mode == "openai" and spec.get("strict"):
        problem = strict_schema_problem(spec.get("schema", {}), spec["name"])
        if problem:
            return exchange.bad_request(problem, "response_format")
    return None


def create_llm_app(sim: LLMSimulator) -> ASGIApp:
    """The ASGI app serving `/v1/chat/completions` (plus `/_sim/*` admin endpoints)."""
    app = new_app("OpenAI-compatible LLM simulator")
    app.include_router(admin_router(sim))

    @app.post(COMPLETIONS_PATH)
    async def chat_completions(request: Request) -> Response:
        """Auth, validation, limits, faults, latency, then the graded classification."""
        exchange = _Exchange(sim, new_request_id())
        record = record_of(request)
        retry_count = request.headers.get("x-stainless-retry-count")
        record.set(retry_count=int(retry_count) if (retry_count or "").isdigit() else None)
        key = bearer_token(request)
        if sim.config.keys and key not in sim.config.keys:
            return exchange.error(401, unauthorized_body(exchange.mode, key))
        sim.recorder.enter_in_flight(record)

        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return exchange.bad_request(
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly.)"
            )
        if not isinstance(body, dict):
            return exchange.bad_request("The request body must be a JSON object.")
        body = scrub_body(body)
        prompt = parse_prompt(body.get("messages"))
        response_format = body.get("response_format")
        format_type = response_format.get("type") if isinstance(response_format, dict) else None
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        prompt_tokens = estimate_tokens(message_text(body.get("messages")))
        record.set(
            body=body,
            company=prompt.company,
            model=model or None,
            response_format=format_type,
        )

        invalid = _validate(body, exchange)
        if invalid is not None:
            return invalid
        allowed_models = sim.config.models  # type: ignore[attr-defined]
        if allowed_models is not None and model not in allowed_models:
            return exchange.error(404, model_not_found_body(exchange.mode, model))

        window = sim.check_rate(key or "")
        if window is not None and not window.allowed:
            extra = exchange.limit_headers(0, window.reset_seconds, prompt_tokens)
            if exchange.mode != "crusoe":  # Crusoe documents no Retry-After on its 429s
                extra.update(exchange.retry_after(sim.config.rpm_retry_after))
            body_429 = rate_limit_body(exchange.mode, window.limit, window.reset_seconds)
            return exchange.error(429, body_429, extra)

        if not sim.try_spend(key or ""):
            return exchange.quota_exhausted()

        fault = sim.pick_fault(prompt.company or prompt.text)
        if fault is not None:
            record.set(fault=fault.kind)
            immediate = exchange.fault_response(fault, model, prompt_tokens)
            if immediate is not None:
                sim.refund(key or "")  # error answers are not billed
                return immediate
            if fault.kind == "hang":
                delay = fault.delay if fault.delay is not None else DEFAULT_HANG_SECONDS
                await wait_while_connected(request, delay, sim)
        await wait_while_connected(request, sim.sample_latency(), sim)

        obeyed = obey_injection(prompt) if sim.config.follows_injections else None  # type: ignore[attr-defined]
        result = obeyed or classify(prompt)
        kind = fault.kind if fault is not None else None
        content: str | None = json.dumps(
            _schema_violation(result) if kind == "schema_violation" else result
        )
        finish_reason, refusal = "stop", None
        if kind == "fenced":
            content = f"```json\n{content}\n```"
        elif kind == "length":
            content = content[: len(content) // 2]
            finish_reason = "length"
        elif kind == "refusal":
            content, refusal = None, REFUSAL_TEXT
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        if content and isinstance(cap, int) and cap > 0 and estimate_tokens(content) > cap:
            content, finish_reason = content[: cap * 4], "length"

        document = chat_completion(
            mode=exchange.mode,
            model=model,
            content=content,
            finish_reason=finish_reason,
            refusal=refusal,
            prompt_tokens=prompt_tokens,
            include_usage=kind != "no_usage",
        )
        usage = document.get("usage") or {}
        record.set(
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
        remaining = window.remaining if window else _ADVERTISED_RPM - 1
        reset = window.reset_seconds if window else 0.006
        headers = exchange.headers(exchange.limit_headers(remaining, reset, prompt_tokens))
        if kind == "drop":
            return PartialBodyResponse(json.dumps(document).encode(), sim.recorder, record, headers)
        if kind == "invalid_json":
            text = json.dumps(document)
            return Response(
                text[: len(text) // 2], 200, media_type="application/json", headers=headers
            )
        return json_response(200, document, headers)

    return RecordingMiddleware(app, sim.recorder, frozenset({COMPLETIONS_PATH}))
