"""OpenAI-compatible wire format: error bodies per provider mode, headers, completions."""

from __future__ import annotations

import math
import secrets
import time
from typing import Any

LLM_MODES = ("openai", "crusoe", "vllm", "ollama", "llamacpp")

RATE_LIMIT_MESSAGE = (
    "Rate limit reached for requests in organization org-territorysim on requests per min "
    "(RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)
QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
SERVER_ERROR_MESSAGE = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through our help center at help.openai.com if you keep seeing this "
    "error. (Please include the request ID {request_id} in your email.)"
)
OVERLOADED_MESSAGE = (
    "That model is currently overloaded with other requests. You can retry your request, or "
    "contact us through our help center at help.openai.com if the error persists. (Please "
    "include the request ID {request_id} in your message.)"
)
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
    "(with blank username) if you're accessing the API from your browser and are prompted for "
    "a username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
# llama-cpp-python's request model allows only these response_format types; pydantic's
# complaint about any other comes back as a 500 (its route handler wraps every exception).
LLAMACPP_FORMAT_TYPES = ("text", "json_object")
LLAMACPP_FORMAT_ERROR = (
    "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should "
    "be 'text' or 'json_object' [type=literal_error, input_value={value!r}, input_type=str]"
)
JSON_SCHEMA_UNSUPPORTED = "response_format type json_schema is not supported by this model"
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."

# OpenAI (type, code) per status; messages are filled in by error_body().
_OPENAI_KINDS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    403: (
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The requested resource was not found."),
    408: ("timeout", None, "Request timed out."),
    409: ("conflict", None, "The request conflicted with another request. Please retry."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached."),
    500: ("server_error", None, SERVER_ERROR_MESSAGE),
    503: ("server_error", None, OVERLOADED_MESSAGE),
}
# Other providers do not point people at help.openai.com.
_GENERIC_MESSAGES = {
    500: "Internal server error",
    503: "The server is currently overloaded. Please retry with exponential backoff.",
}
# vLLM's exception-class names used as `type` in its error bodies.
_VLLM_TYPES = {
    400: "BadRequestError",
    401: "Unauthorized",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    429: "RateLimitError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}

# llama-cpp-python's error types; everything it does not recognise is an internal_server_error.
_LLAMACPP_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


def new_request_id() -> str:
    """An OpenAI-style request id for the x-request-id header."""
    return "req_" + secrets.token_hex(16)


def mask_key(key: str) -> str:
    """Mask a key the way OpenAI does in 401 messages (never echo a secret in full)."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def error_body(
    mode: str,
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
    request_id: str = "",
) -> dict[str, Any]:
    """The JSON error body a provider in `mode` sends for `status`."""
    default_type, default_code, default_message = _OPENAI_KINDS.get(
        status, ("api_error", None, "An error occurred.")
    )
    if message is None and mode != "openai" and status in _GENERIC_MESSAGES:
        message = _GENERIC_MESSAGES[status]
    if message is None:
        message = default_message.format(request_id=request_id or new_request_id())
    if mode == "vllm":
        # vLLM's flat error object; the SDK exposes `code` as the string "400" etc.
        return {
            "object": "error",
            "message": message,
            "type": type_ or _VLLM_TYPES.get(status, "InternalServerError"),
            "param": param,
            "code": status,
        }
    kind: str
    shown_code: str | int | None = code
    if mode == "crusoe":
        # Crusoe is vLLM-based: the newer nested shape with an integer code.
        kind, shown_code = type_ or _VLLM_TYPES.get(status, "InternalServerError"), code or status
    elif mode == "llamacpp":
        # llama-cpp-python's ErrorResponse: param and code are always null.
        kind = type_ or _LLAMACPP_TYPES.get(status, "internal_server_error")
        param, shown_code = None, None
    elif mode == "ollama":
        kind = type_ or "api_error"
    else:
        kind = type_ or default_type
        shown_code = code if code is not None else default_code
    return {"error": {"message": message, "type": kind, "param": param, "code": shown_code}}


def unauthorized_body(mode: str, presented_key: str | None) -> dict[str, Any]:
    """The 401 body for a missing or wrong key, per provider."""
    if mode == "crusoe":
        return {"errors": ["Authentication failed"]}
    if mode == "vllm":
        return {"error": "Unauthorized"}
    if mode == "llamacpp":
        return error_body(mode, 401, "Invalid API key", type_="invalid_request_error")
    if not presented_key:
        return error_body(mode, 401, NO_KEY_MESSAGE, type_="invalid_request_error")
    message = (
        f"Incorrect API key provided: {mask_key(presented_key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
    return error_body(mode, 401, message, type_="invalid_request_error", code="invalid_api_key")


def rate_limit_body(mode: str, limit: int, wait_seconds: float) -> dict[str, Any]:
    """The 429 body for exceeding the requests-per-minute limit."""
    message = RATE_LIMIT_MESSAGE.format(limit=limit, wait=go_duration(wait_seconds))
    if mode == "openai":
        return error_body(mode, 429, message, type_="requests", code="rate_limit_exceeded")
    return error_body(mode, 429, message, type_="rate_limit_error", code="rate_limit_exceeded")


def model_not_found_body(mode: str, model: str) -> dict[str, Any]:
    """The 404 body for an unknown or retired model."""
    if mode == "ollama":
        return error_body(mode, 404, f'model "{model}" not found, try pulling it first')
    if mode == "vllm":
        return error_body(mode, 404, f"The model `{model}` does not exist.")
    if mode == "llamacpp":
        return error_body(mode, 404, f"The model `{model}` does not exist")
    return error_body(
        mode,
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        type_="invalid_request_error",
        code="model_not_found",
    )


def go_duration(seconds: float) -> str:
    """Format seconds as OpenAI's Go-style durations: 12ms, 1.5s, 6m0s."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    return f"{int(seconds // 60)}m{int(seconds % 60)}s"


def rate_limit_headers(
    limit: int, remaining: int, reset_seconds: float, prompt_tokens: int
) -> dict[str, str]:
    """x-ratelimit-* headers as OpenAI sends them on successes and 429s."""
    token_limit = 2_000_000
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-limit-tokens": str(token_limit),
        "x-ratelimit-remaining-requests": str(max(remaining, 0)),
        "x-ratelimit-remaining-tokens": str(max(token_limit - prompt_tokens, 0)),
        "x-ratelimit-reset-requests": go_duration(reset_seconds),
        "x-ratelimit-reset-tokens": go_duration(max(prompt_tokens / token_limit * 60, 0.001)),
    }


def estimate_tokens(text: str) -> int:
    """The ~4 characters per token rule of thumb."""
    return math.ceil(len(text) / 4) if text else 0


def chat_completion(
    *,
    mode: str,
    model: str,
    content: str | None,
    finish_reason: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int,
    include_usage: bool = True,
) -> dict[str, Any]:
    """A `chat.completion` object with one choice."""
    completion_tokens = estimate_tokens(content or refusal or "")
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if mode == "openai":
        message["annotations"] = []
    document: dict[str, Any] = {
        "id": "chatcmpl-" + secrets.token_urlsafe(22).replace("-", "a").replace("_", "b"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_" + secrets.token_hex(5),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if mode == "openai":
        document["service_tier"] = "default"
    if include_usage:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if mode == "openai":
            usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
            usage["completion_tokens_details"] = {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        document["usage"] = usage
    return document


def strict_schema_problem(schema: Any, name: str) -> str | None:
    """OpenAI's strict-mode check: every object closed and every property required."""

    def walk(node: Any, path: tuple[str, ...]) -> str | None:
        if isinstance(node, dict):
            is_object = node.get("type") == "object" or "properties" in node
            if is_object:
                context = repr(path)  # OpenAI prints the path as a Python tuple
                if node.get("additionalProperties") is not False:
                    return (
                        f"Invalid schema for response_format '{name}': In context={context}, "
                        "'additionalProperties' is required to be supplied and to be false."
                    )
                required = node.get("required") or []
                missing = [key for key in node.get("properties", {}) if key not in required]
                if missing:
                    return (
                        f"Invalid schema for response_format '{name}': In context={context}, "
                        "'required' is required to be supplied and to be an array including "
                        f"every key in properties. Missing '{missing[0]}'."
                    )
            for key, child in node.items():
                if key in ("properties", "$defs", "definitions") and isinstance(child, dict):
                    for child_name, grandchild in child.items():
                        problem = walk(grandchild, (*path, key, child_name))
                        if problem:
                            return problem
                elif key in ("items", "anyOf", "allOf", "oneOf"):
                    children = child if isinstance(child, list) else [child]
                    for index, grandchild in enumerate(children):
                        sub = (
                            (*path, key)
                            if not isinstance(child, list)
                            else (*path, key, str(index))
                        )
                        problem = walk(grandchild, sub)
                        if problem:
                            return problem
        return None

    return walk(schema, ())
