"""Validation of a chat-completions request body: model, messages, stream, response_format."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from simulators.llm_exchange import Exchange
from simulators.llm_wire import (
    JSON_SCHEMA_UNSUPPORTED,
    LLAMACPP_FORMAT_ERROR,
    LLAMACPP_FORMAT_TYPES,
    error_body,
    strict_schema_problem,
)

RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def invalid_request(body: dict[str, Any], exchange: Exchange) -> Response | None:
    """A 400 response for a malformed request (llamacpp: a 500 for an unknown format), or None."""
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
    if mode == "llamacpp" and isinstance(kind, str) and kind not in LLAMACPP_FORMAT_TYPES:
        # Its request model rejects the type, and its route handler makes that a 500.
        message = LLAMACPP_FORMAT_ERROR.format(value=kind)
        return exchange.error(500, error_body(mode, 500, message, type_="internal_server_error"))
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
    if mode == "ollama":  # it takes the format without looking at it
        return None
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
