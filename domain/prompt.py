"""The messages sent to the LLM: the rubric's instructions, then the company and its sources."""

from __future__ import annotations

import functools
import json

from domain.context import SourceBlock, render_sources
from domain.rubric import Rubric, answer_model, schema_instruction, system_message


def user_message(name: str, domain: str | None, sources: list[SourceBlock]) -> str:
    """The company and its fenced sources."""
    head = f"Company: {name}\n" + (f"Domain: {domain}\n" if domain else "")
    if not sources:
        return head + "\nNo sources were found.\n"
    return f"{head}\nSources ({len(sources)}):\n{render_sources(sources)}\n\nClassify {name}."


def build_messages(
    rubric: Rubric,
    name: str,
    domain: str | None,
    sources: list[SourceBlock],
    include_schema: bool,
) -> list[dict[str, str]]:
    """System instructions from the rubric (with the JSON schema spelled out for providers
    without json_schema support) + the user's evidence, ready for chat.completions."""
    schema = schema_text(rubric.kinds) if include_schema else None
    return [
        {"role": "system", "content": system_message(rubric, schema)},
        {"role": "user", "content": user_message(name, domain, sources)},
    ]


@functools.cache
def answer_schema(kinds: tuple[str, ...]) -> dict[str, object]:
    """The JSON schema of the answer, its signal kinds those of the rubric (built once per
    rubric: it goes with every json_object request)."""
    return answer_model(kinds).model_json_schema()


@functools.cache
def schema_text(kinds: tuple[str, ...]) -> str:
    """The answer's schema as compact JSON, as the prompt spells it out."""
    return json.dumps(answer_schema(kinds), separators=(",", ":"))


def with_schema_instruction(
    messages: list[dict[str, str]], kinds: tuple[str, ...]
) -> list[dict[str, str]]:
    """The messages with the answer's schema spelled out in the system message, for a provider
    that cannot be given it as a response format (unchanged if it is there already)."""
    schema = schema_text(kinds)
    if not messages or messages[0].get("role") != "system" or schema in messages[0]["content"]:
        return messages
    system = {
        **messages[0],
        "content": messages[0]["content"] + "\n\n" + schema_instruction(schema),
    }
    return [system, *messages[1:]]
