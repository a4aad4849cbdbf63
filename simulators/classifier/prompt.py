"""Reading a chat request: the company, its `<source>` blocks and the rubric's bands and kinds.

Rubric lines are read from the system message(s), never from a source (a page can quote a
rubric, but it must not set one).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_COMPANY_LINE = re.compile(r"^[ \t]*Company:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_DOMAIN_LINE = re.compile(r"^[ \t]*Domain:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
# A block has attributes: the rubric's own mention of "<source> and </source>" is not one.
# (`_source_blocks` finds the blocks this pattern defines, without its slow lazy body.)
_SOURCE_BLOCK = re.compile(r"<source\s([^>]*)>(.*?)</source>", re.DOTALL)
_SOURCE_OPEN, _SOURCE_CLOSE = re.compile(r"<source\s([^>]*)>"), "</source>"
_ATTRIBUTE = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')

HOT_MIN, WARM_MIN = 70, 40
SIGNAL_KINDS = (
    "funding", "headcount", "ml_training", "inference", "gpu_infrastructure", "hiring", "other",
)  # fmt: skip
# Rubric lines: "- HOT (score 70-100): ..." and "Signal kinds: funding, hiring, other."
_BAND_LINE = re.compile(
    r"^[ \t]*[-*][ \t]*(HOT|WARM|COLD)[ \t]*\([ \t]*score[ \t]+(\d{1,3})[ \t]*[-\u2013]",
    re.MULTILINE,
)
_KINDS_LINE = re.compile(r"^[ \t]*Signal kinds:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True)
class Source:
    """One `<source>` block of the prompt."""

    id: str
    url: str
    title: str
    score: float | None
    text: str


@dataclass(frozen=True)
class Bands:
    """Where each tier starts on the 0-100 score scale (COLD is everything below WARM)."""

    hot_min: int = HOT_MIN
    warm_min: int = WARM_MIN

    def tier_for(self, score: int) -> str:
        """The tier a score falls in."""
        return "HOT" if score >= self.hot_min else "WARM" if score >= self.warm_min else "COLD"

    def range_of(self, tier: str) -> tuple[int, int]:
        """The lowest and highest score of a tier."""
        return {
            "HOT": (self.hot_min, 100),
            "WARM": (self.warm_min, self.hot_min - 1),
            "COLD": (0, self.warm_min - 1),
        }[tier]


@dataclass
class ClassificationPrompt:
    """What the simulator understood from the chat messages."""

    company: str | None
    domain: str | None
    sources: list[Source] = field(default_factory=list)
    text: str = ""
    bands: Bands = field(default_factory=Bands)
    kinds: tuple[str, ...] = SIGNAL_KINDS


def message_text(messages: Any) -> str:
    """All text content of a chat `messages` list (string or content-part form), joined."""
    parts: list[str] = []
    if not isinstance(messages, list):
        return ""
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
    return "\n".join(parts)


def _rubric_text(messages: Any, text: str) -> str:
    """Where rubric lines are read: the system message(s), else the prompt minus its sources
    (a page can quote a rubric, but it must not set one)."""
    if isinstance(messages, list):
        system = [m for m in messages if isinstance(m, dict) and m.get("role") in _SYSTEM_ROLES]
        if system:
            return message_text(system)
    return _without_sources(text)


def parse_bands(text: str) -> Bands:
    """Tier bands from "- HOT (score 85-100): ..." lines; the defaults for missing or
    inconsistent ones (HOT must start above WARM, WARM above 0)."""
    found = {tier: int(low) for tier, low in _BAND_LINE.findall(text)}
    bands = Bands(found.get("HOT", HOT_MIN), found.get("WARM", WARM_MIN))
    if not 0 < bands.warm_min < bands.hot_min <= 100:
        return Bands()
    return bands


def parse_kinds(text: str) -> tuple[str, ...]:
    """Signal kinds from a "Signal kinds: a, b, other." line; every known kind without one."""
    found = _KINDS_LINE.search(text)
    if found is None:
        return SIGNAL_KINDS
    kinds = tuple(k.strip() for k in found.group(1).rstrip(".").split(","))
    kinds = tuple(k for k in kinds if _KIND.match(k))
    return kinds or SIGNAL_KINDS


def _source_blocks(text: str) -> Iterator[tuple[re.Match[str], int]]:
    """Each block `_SOURCE_BLOCK.finditer` would find, as its opening tag and where its body
    ends, found the way a person would: the next opening tag, then the first "</source>"
    after it. (The regex's lazy body tries the closing tag at every character: 1.3 ms for a
    prompt of 20 raw pages.)"""
    start = 0
    while (opening := _SOURCE_OPEN.search(text, start)) is not None:
        end = text.find(_SOURCE_CLOSE, opening.end())
        if end < 0:
            return  # no block closes after this opening tag, nor after any later one
        yield opening, end
        start = end + len(_SOURCE_CLOSE)


def _without_sources(text: str) -> str:
    """`_SOURCE_BLOCK.sub("", text)`: the text with every source block cut out."""
    kept, start = [], 0
    for opening, end in _source_blocks(text):
        kept.append(text[start : opening.start()])
        start = end + len(_SOURCE_CLOSE)
    kept.append(text[start:])
    return "".join(kept)


def parse_prompt(messages: Any) -> ClassificationPrompt:
    """Find the company, domain, sources and rubric (tier bands, kinds) in the chat messages."""
    text = message_text(messages)
    rubric = _rubric_text(messages, text)
    company = _COMPANY_LINE.search(text)
    domain = _DOMAIN_LINE.search(text)
    sources = []
    for index, (opening, end) in enumerate(_source_blocks(text), start=1):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTRIBUTE.findall(opening.group(1))}
        try:
            score = float(attrs["score"]) if "score" in attrs else None
        except ValueError:
            score = None
        sources.append(
            Source(
                id=attrs.get("id", str(index)),
                url=attrs.get("url", ""),
                title=attrs.get("title", ""),
                score=score,
                text=text[opening.end() : end].strip("\n"),
            )
        )
    return ClassificationPrompt(
        company=company.group(1) if company else None,
        domain=domain.group(1) if domain else None,
        sources=sources,
        text=text,
        bands=parse_bands(rubric),
        kinds=parse_kinds(rubric),
    )
