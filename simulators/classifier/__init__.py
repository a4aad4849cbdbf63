"""The LLM simulator's "model": a deterministic keyword grader of company research prompts.

It reads the `Company:` line and the `<source id=.. url=.. title=.. score=..>` blocks of the
prompt, collects evidence only from sentences that name the company (so off-topic pages
cannot sway it), and turns the evidence into the project's classification JSON.

It follows the rubric in the system message where it can: tier bands given as lines like
"- HOT (score 70-100): ..." set the score each tier starts at, and a line
"Signal kinds: funding, headcount, other." limits the signal kinds it emits. Without those
lines it uses HOT from 70, WARM from 40 and every kind it knows.
"""

from __future__ import annotations

from simulators.classifier.injection import obey_injection
from simulators.classifier.prompt import (
    HOT_MIN,
    SIGNAL_KINDS,
    WARM_MIN,
    Bands,
    ClassificationPrompt,
    Source,
    message_text,
    parse_bands,
    parse_kinds,
    parse_prompt,
)
from simulators.classifier.verdict import MAX_CORROBORATING, MAX_SIGNALS, classify

__all__ = [
    "HOT_MIN",
    "MAX_CORROBORATING",
    "MAX_SIGNALS",
    "SIGNAL_KINDS",
    "WARM_MIN",
    "Bands",
    "ClassificationPrompt",
    "Source",
    "classify",
    "message_text",
    "obey_injection",
    "parse_bands",
    "parse_kinds",
    "parse_prompt",
]
