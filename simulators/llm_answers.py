"""What the model writes, per provider mode: token caps, run-on answers, JSON of small models."""

from __future__ import annotations

import json
from typing import Any

# Servers that know only max_tokens (llama-cpp-python; Ollama's /v1 before it learnt
# max_completion_tokens) and, without it, generate until the context window is full.
RUN_ON_MODES = frozenset({"llamacpp", "ollama"})
# What a model that cannot fill the schema says about the tier instead of naming one.
_VAGUE_TIERS = {"HOT": "probably high", "WARM": "probably moderate", "COLD": "probably low"}
# Ollama ignored json_schema before v0.5: the model answered in its chatty way.
_PROSE_BEFORE = "Here is the classification:\n```json\n"
_PROSE_AFTER = "\n```\nLet me know if you need anything else."
# Filler a model emits once it has said its piece: whitespace, so JSON parsers still accept
# the answer and only finish_reason (and the bill) show that it ran on.
_PADDING = "\n" + " " * 63


def format_type(body: dict[str, Any]) -> str | None:
    """The request's response_format type, if it names one."""
    response_format = body.get("response_format")
    return response_format.get("type") if isinstance(response_format, dict) else None


def _has_schema(body: dict[str, Any]) -> bool:
    """True for llama-cpp-python's schema-constrained json_object (a `schema` beside the type)."""
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and isinstance(response_format.get("schema"), dict)


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def token_cap(mode: str, body: dict[str, Any]) -> int | None:
    """The output cap the server honours: servers before the rename know only max_tokens."""
    if mode in RUN_ON_MODES:
        return _positive_int(body.get("max_tokens"))
    return _positive_int(body.get("max_completion_tokens")) or _positive_int(body.get("max_tokens"))


def runaway_tokens(mode: str, body: dict[str, Any], context_tokens: int, prompt_tokens: int) -> int:
    """Tokens a run-on server generates for a request without max_tokens (0: it stops).

    llama-cpp-python treats a missing max_tokens as "the rest of the context"; at least one
    token is always generated, as a server does even when the prompt fills its window.
    """
    if mode not in RUN_ON_MODES or token_cap(mode, body) is not None:
        return 0
    return max(1, context_tokens - prompt_tokens)


def run_on(content: str, tokens: int) -> str:
    """The answer padded with whitespace (or cut) to exactly `tokens` tokens of ~4 chars."""
    size = tokens * 4
    padding = _PADDING * (size // len(_PADDING) + 1)
    return (content + padding)[:size]


def schema_violation(result: dict[str, Any]) -> dict[str, Any]:
    """Valid JSON that breaks the classification schema in several ways at once."""
    return {
        "tier": "SCORCHING",
        "score": 250,
        "confidence": "certain",
        "reasoning": result["reasoning"],
        "signals": [{"kind": "vibes", "url": None}],
    }


def unfilled_schema(result: dict[str, Any], company: str | None) -> dict[str, Any]:
    """A small model's answer: its own keys, no score or signals, a tier that is no tier."""
    vague = _VAGUE_TIERS.get(result["tier"], "unclear")
    return {
        "company": company or "unknown",
        "tier": f"GPU compute need: {vague}",
        "answer": result["reasoning"],
    }


def loose_json(result: dict[str, Any]) -> str:
    """The JSON a small model writes when told only "JSON": tier and confidence in its own
    case, and a raw newline in the reasoning (strict parsers reject it)."""
    reasoning = result["reasoning"]
    head, sep, tail = reasoning.partition(". ")
    head, tail = (head + ".", tail) if sep else (reasoning, "")
    sloppy = {**result, "tier": result["tier"].lower(), "confidence": result["confidence"].title()}
    text = json.dumps(sloppy)
    # Splice a raw newline between the escaped halves of the reasoning string.
    raw = json.dumps(head)[:-1] + "\n" + json.dumps(tail)[1:]
    return text.replace(json.dumps(reasoning), raw, 1)


def model_text(
    mode: str, body: dict[str, Any], payload: dict[str, Any], *, is_classification: bool
) -> str:
    """The text the model writes for `payload`, shaped by what the server does with the format.

    `is_classification` is False when the payload is already spoilt (a fault, a model that
    cannot fill the schema): only a proper classification gets the small model's sloppiness.
    """
    kind = format_type(body)
    loose = mode == "llamacpp" and kind == "json_object" and not _has_schema(body)
    if loose and is_classification:
        return loose_json(payload)
    if mode == "ollama" and kind == "json_schema":
        return _PROSE_BEFORE + json.dumps(payload, indent=2) + _PROSE_AFTER
    return json.dumps(payload)
