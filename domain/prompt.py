"""The messages sent to the LLM: the rubric's instructions, then the company and its sources."""

from __future__ import annotations

import json

from domain.context import SourceBlock, render_sources
from domain.rubric import Rubric, answer_model, system_message


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
    schema = None
    if include_schema:
        model = answer_model(rubric.kinds)
        schema = json.dumps(model.model_json_schema(), separators=(",", ":"))
    return [
        {"role": "system", "content": system_message(rubric, schema)},
        {"role": "user", "content": user_message(name, domain, sources)},
    ]
