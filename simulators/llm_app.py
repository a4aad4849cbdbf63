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
from simulators.llm_answers import (
    format_type,
    model_text,
    run_on,
    runaway_tokens,
    schema_violation,
    token_cap,
    unfilled_schema,
)
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
    kind = fault.kind if fault is not None else None
    tokens = _run_on_tokens(sim, exchange.mode, chat, kind)
    # A run-on answer takes as long to write as a real server takes to fill its context.
    writing = tokens / sim.config.tokens_per_second  # type: ignore[attr-defined]
    await simulate_delay(request, sim, fault, writing=writing)
    document = _completion(sim, exchange, chat, kind, tokens)
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
    model = body["model"] if isinstance(body.get("model"), str) else ""
    prompt_tokens = estimate_tokens(message_text(body.get("messages")))
    record.set(
        body=body,
        company=prompt.company,
        model=model or None,
        response_format=format_type(body),
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


def _written(
    sim: LLMSimulator, mode: str, chat: _Chat, kind: str | None
) -> tuple[str | None, str, str | None]:
    """What the model writes (content, finish_reason, refusal), spoilt as the fault says."""
    config = sim.config
    obeyed = obey_injection(chat.prompt) if config.follows_injections else None  # type: ignore[attr-defined]
    result = obeyed or classify(chat.prompt)
    payload = result
    if kind == "schema_violation":
        payload = schema_violation(result)
    elif config.cannot_fill_schema:  # type: ignore[attr-defined]
        payload = unfilled_schema(result, chat.prompt.company)
    text = model_text(mode, chat.body, payload, is_classification=payload is result)
    if kind == "fenced":
        return f"```json\n{text}\n```", "stop", None
    if kind == "length":
        return text[: len(text) // 2], "length", None
    if kind == "refusal":
        return None, "stop", REFUSAL_TEXT
    return text, "stop", None


def _run_on_tokens(sim: LLMSimulator, mode: str, chat: _Chat, kind: str | None) -> int:
    """Tokens a server without a cap writes until its context is full (0: it stops in time)."""
    if kind == "refusal":  # a refusal is short whatever the cap
        return 0
    context = sim.config.context_tokens  # type: ignore[attr-defined]
    return runaway_tokens(mode, chat.body, context, chat.prompt_tokens)


def _completion(
    sim: LLMSimulator, exchange: Exchange, chat: _Chat, kind: str | None, runaway: int
) -> dict[str, Any]:
    """The chat.completion document: the model's answer, run on or cut at the token cap."""
    content, finish_reason, refusal = _written(sim, exchange.mode, chat, kind)
    cap = token_cap(exchange.mode, chat.body)
    if content and runaway:
        content, finish_reason = run_on(content, runaway), "length"
    elif content and cap is not None and estimate_tokens(content) > cap:
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
