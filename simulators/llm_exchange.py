"""One chat-completions request being answered: its response headers and error responses."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from simulators.asgi import json_response
from simulators.faults import FaultRule
from simulators.html_errors import proxy_error_page
from simulators.limits import WindowDecision
from simulators.llm_state import LLMSimulator
from simulators.llm_wire import (
    QUOTA_MESSAGE,
    error_body,
    model_not_found_body,
    rate_limit_body,
    rate_limit_headers,
    unauthorized_body,
)

# The request limit advertised in x-ratelimit-* headers when no RPM limit is configured.
ADVERTISED_RPM = 10_000


def _number(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class Exchange:
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
        limit = self.sim.config.rpm_limit or ADVERTISED_RPM
        return rate_limit_headers(limit, remaining, reset, prompt_tokens)

    def quota_exhausted(self) -> Response:
        """429 insufficient_quota; deliberately without `x-should-retry: false`, like the real
        API, so the SDK retries it and only the pipeline's own check can stop the waste."""
        body = error_body(
            self.mode, 429, QUOTA_MESSAGE, type_="insufficient_quota", code="insufficient_quota"
        )
        return self.error(429, body)

    def rate_limited(self, window: WindowDecision, prompt_tokens: int) -> Response:
        """429 for a key over its RPM limit, with the limit headers and Retry-After."""
        extra = self.limit_headers(0, window.reset_seconds, prompt_tokens)
        if self.mode != "crusoe":  # Crusoe documents no Retry-After on its 429s
            extra.update(self.retry_after(self.sim.config.rpm_retry_after))
        body = rate_limit_body(self.mode, window.limit, window.reset_seconds)
        return self.error(429, body, extra)

    def success_headers(self, window: WindowDecision | None, prompt_tokens: int) -> dict[str, str]:
        """The headers of a 200 answer, stating what is left of the key's RPM window."""
        remaining = window.remaining if window else ADVERTISED_RPM - 1
        reset = window.reset_seconds if window else 0.006
        return self.headers(self.limit_headers(remaining, reset, prompt_tokens))

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
            limit = self.sim.config.rpm_limit or ADVERTISED_RPM
            return self.error(429, rate_limit_body(mode, limit, window), extra)
        body = error_body(mode, status, request_id=self.request_id)
        return self.error(status, body, extra)
