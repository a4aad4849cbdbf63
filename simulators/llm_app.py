"""The OpenAI-compatible `POST /v1/chat/completions` simulator."""

from __future__ import annotations

import dataclasses
import json
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
from simulators.classifier import (
    ClassificationPrompt,
    classify,
    message_text,
    obey_injection,
    parse_prompt,
)
from simulators.limits import WindowDecision
from simulators.llm_exchange import Exchange
from simulators.llm_state import LLMSimulator
from simulators.llm_validation import invalid_request
from simulators.llm_wire import (
    REFUSAL_TEXT,
    chat_completion,
    estimate_tokens,
    model_not_found_body,
    new_request_id,
    unauthorized_body,
)
from simulators.stats import RequestRecord, scrub_body

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclasses.dataclass(frozen=True)
class _Chat:
    """What a chat-completions request asks for, as far as the answer depends on it."""

    body: dict[str, Any]
    prompt: ClassificationPrompt
    model: str
    prompt_tokens: int


def create_llm_app(sim: LLMSimulator) -> ASGIApp:
    """The ASGI app serving `/v1/chat/completions` (plus `/_sim/*` admin endpoints)."""
    app = new_app("OpenAI-compatible LLM simulator")
    app.include_router(admin_router(sim))

    @app.post(COMPLETIONS_PATH)
    async def chat_completions(request: Request) -> Response:
        """Auth, validation, limits, faults, latency, then the graded classification."""
        return await _answer(sim, request)

    return RecordingMiddleware(app, sim.recorder, frozenset({COMPLETIONS_PATH}))


async def _answer(sim: LLMSimulator, request: Request) -> Response:
    exchange = Exchange(sim, new_request_id())
    record = record_of(request)
    retry_count = request.headers.get("x-stainless-retry-count")
    record.set(retry_count=int(retry_count) if retry_count and retry_count.isdigit() else None)
    key = bearer_token(request)
    if sim.config.keys and key not in sim.config.keys:
        return exchange.error(401, unauthorized_body(exchange.mode, key))
    sim.recorder.enter_in_flight(record)

    body = await _json_object(request, exchange)
    if isinstance(body, Response):
        return body
    chat = _read_chat(body, record)
    refused = _refusal(sim, exchange, chat)
    if refused is not None:
        return refused
    window = sim.check_rate(key or "")
    if window is not None and not window.allowed:
        return exchange.rate_limited(window, chat.prompt_tokens)
    if not sim.try_spend(key or ""):
        return exchange.quota_exhausted()

    fault = sim.pick_fault(chat.prompt.company or chat.prompt.text)
    if fault is not None:
        record.set(fault=fault.kind)
        immediate = exchange.fault_response(fault, chat.model, chat.prompt_tokens)
        if immediate is not None:
            sim.refund(key or "")  # error answers are not billed
            return immediate
    await simulate_delay(request, sim, fault)
    kind = fault.kind if fault is not None else None
    document = _completion(sim, exchange, chat, kind)
    return _success(sim, exchange, record, document, window, chat.prompt_tokens, kind)


async def _json_object(request: Request, exchange: Exchange) -> dict[str, Any] | Response:
    """The request's JSON object without credential fields, or the 400 answer."""
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return exchange.bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly.)"
        )
    if not isinstance(body, dict):
        return exchange.bad_request("The request body must be a JSON object.")
    return scrub_body(body)


def _read_chat(body: dict[str, Any], record: RequestRecord) -> _Chat:
    """The prompt, model and token count of a request, logged with its body."""
    prompt = parse_prompt(body.get("messages"))
    response_format = body.get("response_format")
    format_type = response_format.get("type") if isinstance(response_format, dict) else None
    model = body["model"] if isinstance(body.get("model"), str) else ""
    prompt_tokens = estimate_tokens(message_text(body.get("messages")))
    record.set(
        body=body,
        company=prompt.company,
        model=model or None,
        response_format=format_type,
    )
    return _Chat(body, prompt, model, prompt_tokens)


def _refusal(sim: LLMSimulator, exchange: Exchange, chat: _Chat) -> Response | None:
    """A 400 for a malformed request or a 404 for a model outside the allowlist, or None."""
    invalid = invalid_request(chat.body, exchange)
    if invalid is not None:
        return invalid
    allowed_models = sim.config.models  # type: ignore[attr-defined]
    if allowed_models is not None and chat.model not in allowed_models:
        return exchange.error(404, model_not_found_body(exchange.mode, chat.model))
    return None


def _schema_violation(result: dict[str, Any]) -> dict[str, Any]:
    """Valid JSON that breaks the classification schema in several ways at once."""
    return {
        "tier": "SCORCHING",
        "score": 250,
        "confidence": "certain",
        "reasoning": result["reasoning"],
        "signals": [{"kind": "vibes", "url": None}],
    }


def _completion(
    sim: LLMSimulator, exchange: Exchange, chat: _Chat, kind: str | None
) -> dict[str, Any]:
    """The chat.completion document: the graded classification, spoilt as the fault says."""
    obeyed = obey_injection(chat.prompt) if sim.config.follows_injections else None  # type: ignore[attr-defined]
    result = obeyed or classify(chat.prompt)
    text = json.dumps(_schema_violation(result) if kind == "schema_violation" else result)
    content: str | None = text
    finish_reason, refusal = "stop", None
    if kind == "fenced":
        content = f"```json\n{text}\n```"
    elif kind == "length":
        content = text[: len(text) // 2]
        finish_reason = "length"
    elif kind == "refusal":
        content, refusal = None, REFUSAL_TEXT
    cap = chat.body.get("max_completion_tokens") or chat.body.get("max_tokens")
    if content and isinstance(cap, int) and cap > 0 and estimate_tokens(content) > cap:
        content, finish_reason = content[: cap * 4], "length"
    return chat_completion(
        mode=exchange.mode,
        model=chat.model,
        content=content,
        finish_reason=finish_reason,
        refusal=refusal,
        prompt_tokens=chat.prompt_tokens,
        include_usage=kind != "no_usage",
    )


def _success(
    sim: LLMSimulator,
    exchange: Exchange,
    record: RequestRecord,
    document: dict[str, Any],
    window: WindowDecision | None,
    prompt_tokens: int,
    kind: str | None,
) -> Response:
    """The 200 answer, logged with its token usage; cut short for "drop" and "invalid_json"."""
    usage = document.get("usage") or {}
    record.set(
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )
    headers = exchange.success_headers(window, prompt_tokens)
    if kind == "drop":
        return PartialBodyResponse(json.dumps(document).encode(), sim.recorder, record, headers)
    if kind == "invalid_json":
        text = json.dumps(document)
        return Response(text[: len(text) // 2], 200, media_type="application/json", headers=headers)
    return json_response(200, document, headers)
