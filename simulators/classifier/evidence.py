"""Evidence: the sentences of the sources that name the company, scored per signal kind."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from simulators.classifier.prompt import ClassificationPrompt

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Markdown link targets ("[Acme](https://acme.example)") are addresses, not claims.
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


@dataclass(frozen=True)
class _Rule:
    kind: str
    points: int
    pattern: re.Pattern[str]


# Ordered strongest first within each kind; a kind scores the best rule any sentence meets.
_RULES = (
    _Rule(
        "gpu_infrastructure",
        35,
        re.compile(
            r"\b(?:H100|H200|B200|GB200|A100|MI300X?)\b.*\b(?:cluster|GPUs?)\b"
            r"|\b\d[\d,]*-GPU\b|\bGPU clusters?\b",
            re.IGNORECASE,
        ),
    ),
    _Rule("gpu_infrastructure", 12, re.compile(r"\bGPUs?\b", re.IGNORECASE)),
    _Rule(
        "ml_training",
        20,
        re.compile(
            r"\bpre-?train\w*|\bfoundation models?\b|\btrain(?:s|ed|ing)?\b[^.]{0,80}?\bmodels?\b",
            re.IGNORECASE,
        ),
    ),
    _Rule("ml_training", 10, re.compile(r"\bfine-?tun\w*", re.IGNORECASE)),
    _Rule(
        "inference",
        10,
        re.compile(
            r"\binference\b|\bmodel serving\b|\bserv(?:es|ing) (?:its |the )?models?\b",
            re.IGNORECASE,
        ),
    ),
    _Rule(
        "hiring",
        10,
        re.compile(
            r"\bhiring\b[^.]*?(?:\bmachine learning\b|\bML\b|\bGPU|\bCUDA\b|\binfrastructure\b"
            r"|\bresearch (?:scientists?|engineers?)\b|\bAI\b)",
            re.IGNORECASE,
        ),
    ),
    _Rule(
        "hiring",
        5,
        re.compile(r"\bhiring\b[^.]*?\b(?:data scientists?|data engineers?|analytics)\b", re.I),
    ),
    _Rule("headcount", 2, re.compile(r"\b\d[\d,]*\+?\s+(?:employees|staff|people)\b", re.I)),
    _Rule(
        "other",
        6,
        re.compile(
            r"\bAI\b|(?i:\bmachine learning\b|\bartificial intelligence\b|\bdeep learning\b"
            r"|\bcomputer vision\b|\bneural networks?\b)"
        ),
    ),
)
_FUNDING_AMOUNT = re.compile(
    r"\brais(?:ed|es|ing)\s+(?:a\s+)?\$\s?(\d[\d,]*(?:\.\d+)?)\s*(billion|million|bn|B|M)\b",
    re.IGNORECASE,
)
_FUNDING_ROUND = re.compile(r"\bSeries [A-H]\b|\bseed round\b", re.IGNORECASE)


def _funding_points(sentence: str) -> int:
    found = _FUNDING_AMOUNT.search(sentence)
    if found:
        amount = float(found.group(1).replace(",", ""))
        if found.group(2).lower() in ("billion", "bn", "b"):
            amount *= 1000
        return 12 if amount >= 100 else 7 if amount >= 20 else 3
    return 3 if _FUNDING_ROUND.search(sentence) else 0


def _sentences(text: str) -> list[str]:
    """Split page text into sentences (never across lines), keeping them verbatim."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            line = line.lstrip("#").strip()
        for sentence in _SENTENCE_END.split(line):
            if sentence.strip():
                out.append(sentence.strip())
    return out


@dataclass
class Evidence:
    """One sentence that supports a signal kind, with its points and the URL it came from."""

    kind: str
    points: int
    url: str
    excerpt: str


def collect_evidence(prompt: ClassificationPrompt) -> dict[str, list[Evidence]]:
    """For each signal kind, every sentence that supports it, strongest first."""
    name = (prompt.company or "").strip()
    name_pattern = re.compile(re.escape(name), re.IGNORECASE) if name else None
    found: dict[str, list[Evidence]] = {}
    for source in prompt.sources:
        for sentence in _sentences(source.text):
            if name_pattern is not None:
                # Judge what is said about the company, not the words in its name.
                judged, named = name_pattern.subn("the company", sentence)
                if not named:
                    continue
            else:
                judged = sentence
            judged = _LINK_TARGET.sub("]", judged)
            kept = len(judged) <= _KEPT_CHARS  # a rare long one is judged anew: memory stays small
            for kind, points in _kept_points(judged) if kept else _points(judged):
                found.setdefault(kind, []).append(Evidence(kind, points, source.url, sentence))
    for items in found.values():
        items.sort(key=lambda e: -e.points)  # stable: earlier sources win ties
    return found


def _points(judged: str) -> tuple[tuple[str, int], ...]:
    """The points a sentence earns per signal kind: the best rule of each kind it meets (in
    the order the kinds were first met), then funding."""
    best: dict[str, int] = {}
    for rule in _RULES:
        if rule.points > best.get(rule.kind, 0) and rule.pattern.search(judged):
            best[rule.kind] = rule.points
    funding = _funding_points(judged)
    if funding:
        best["funding"] = funding
    return tuple(best.items())


# With the company's name put as "the company", most sentences of the simulated web are one of
# a few thousand (filler repeats across pages and companies): each is judged once.
_kept_points = functools.lru_cache(maxsize=8192)(_points)
_KEPT_CHARS = 1000


def business_sentence(prompt: ClassificationPrompt, used: set[str]) -> Evidence | None:
    """The first sentence naming the company that says what it is or does: what a careful
    model quotes for a COLD verdict (the rubric's "business" kind)."""
    name = (prompt.company or "").strip()
    if not name:
        return None
    name_pattern = re.compile(re.escape(name), re.IGNORECASE)
    for source in prompt.sources:
        for sentence in _sentences(source.text):
            if (
                sentence not in used
                and name_pattern.search(sentence)
                and _SAYS_WHAT.search(sentence)
            ):
                return Evidence("business", 0, source.url, sentence)
    return None


_SAYS_WHAT = re.compile(
    r"\b(?:is an?|was founded|founded|based in|makes|sells|offers|provides|operates|runs|"
    r"builds|serves|employs|opened)\b",
    re.IGNORECASE,
)
