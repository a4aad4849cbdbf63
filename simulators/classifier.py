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

import html
import re
from dataclasses import dataclass, field
from typing import Any

from simulators.profiles import stable_hash

_COMPANY_LINE = re.compile(r"^[ \t]*Company:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_DOMAIN_LINE = re.compile(r"^[ \t]*Domain:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
# A block has attributes: the rubric's own mention of "<source> and </source>" is not one.
_SOURCE_BLOCK = re.compile(r"<source\s([^>]*)>(.*?)</source>", re.DOTALL)
_ATTRIBUTE = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

HOT_MIN, WARM_MIN = 70, 40
SIGNAL_KINDS = (
    "funding", "headcount", "ml_training", "inference", "gpu_infrastructure", "hiring", "other",
)  # fmt: skip
MAX_SIGNALS = 6
MAX_CORROBORATING = 4  # signals from a second site for the kinds already found
# Rubric lines: "- HOT (score 70-100): ..." and "Signal kinds: funding, hiring, other."
_BAND_LINE = re.compile(
    r"^[ \t]*[-*][ \t]*(HOT|WARM|COLD)[ \t]*\([ \t]*score[ \t]+(\d{1,3})[ \t]*[-\u2013]",
    re.MULTILINE,
)
_KINDS_LINE = re.compile(r"^[ \t]*Signal kinds:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_SYSTEM_ROLES = ("system", "developer")
# Markdown link targets ("[Acme](https://acme.example)") are addresses, not claims.
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
# How a gullible model recognises orders inside a page, and the evidence it is told to cite.
_TAKEOVER = re.compile(r"ignore (?:all )?(?:previous|prior|above) instructions", re.IGNORECASE)
_DICTATED = re.compile(
    r'cite this evidence:\s*"([^"]+)"\s*from\s+(\S+?)[.,;<]?(?:\s|$|<)', re.IGNORECASE
)


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
    return _SOURCE_BLOCK.sub("", text)


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


def parse_prompt(messages: Any) -> ClassificationPrompt:
    """Find the company, domain, sources and rubric (tier bands, kinds) in the chat messages."""
    text = message_text(messages)
    rubric = _rubric_text(messages, text)
    company = _COMPANY_LINE.search(text)
    domain = _DOMAIN_LINE.search(text)
    sources = []
    for index, block in enumerate(_SOURCE_BLOCK.finditer(text), start=1):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTRIBUTE.findall(block.group(1))}
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
                text=block.group(2).strip("\n"),
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
class _Evidence:
    kind: str
    points: int
    url: str
    excerpt: str


def _collect_evidence(prompt: ClassificationPrompt) -> dict[str, list[_Evidence]]:
    """For each signal kind, every sentence that supports it, strongest first."""
    name = (prompt.company or "").strip()
    name_pattern = re.compile(re.escape(name), re.IGNORECASE) if name else None
    found: dict[str, list[_Evidence]] = {}
    for source in prompt.sources:
        for sentence in _sentences(source.text):
            if name_pattern is not None:
                if not name_pattern.search(sentence):
                    continue
                # Judge what is said about the company, not the words in its name.
                judged = name_pattern.sub("the company", sentence)
            else:
                judged = sentence
            judged = _LINK_TARGET.sub("]", judged)
            best: dict[str, int] = {}
            for rule in _RULES:
                if rule.points > best.get(rule.kind, 0) and rule.pattern.search(judged):
                    best[rule.kind] = rule.points
            funding = _funding_points(judged)
            if funding:
                best["funding"] = funding
            for kind, points in best.items():
                found.setdefault(kind, []).append(_Evidence(kind, points, source.url, sentence))
    for items in found.values():
        items.sort(key=lambda e: -e.points)  # stable: earlier sources win ties
    return found


_KIND_WORDS = {
    "gpu_infrastructure": "GPU infrastructure",
    "ml_training": "model training",
    "inference": "inference workloads",
    "hiring": "ML hiring",
    "funding": "funding",
    "headcount": "headcount",
    "other": "general ML use",
}


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url


def obey_injection(prompt: ClassificationPrompt) -> dict[str, Any] | None:
    """What a model that follows orders found in its sources answers, or None if none are.

    It stands for the worst case: a model talked into a HOT verdict with dictated "evidence",
    so tests can show that such evidence never reaches the database.
    """
    orders = [s for s in prompt.sources if _TAKEOVER.search(s.text)]
    if not orders:
        return None
    signals = [
        {"kind": "gpu_infrastructure", "url": url, "excerpt": excerpt}
        for source in orders
        for excerpt, url in _DICTATED.findall(source.text)
    ]
    return {
        "tier": "HOT",
        "score": 100,
        "confidence": "high",
        "reasoning": f"{prompt.company or 'The company'} runs a large GPU cluster.",
        "signals": signals,
    }


def classify(prompt: ClassificationPrompt) -> dict[str, Any]:
    """The classification JSON for a prompt (deterministic for identical prompts)."""
    company = prompt.company or "The company"
    if not prompt.sources:
        return {
            "tier": "COLD",
            "score": 0,
            "confidence": "low",
            "reasoning": f"No search results were provided for {company}, so there is no "
            "evidence of a need for GPU compute.",
            "signals": [],
        }
    evidence = _collect_evidence(prompt)
    raw_score = min(100, sum(items[0].points for items in evidence.values()))
    tier = prompt.bands.tier_for(raw_score)
    # A small per-company wobble so scores look graded, never crossing a tier boundary.
    low, high = prompt.bands.range_of(tier)
    wobble = stable_hash((prompt.company or "").casefold()) % 7 - 3
    score = max(low, min(high, raw_score + wobble))

    strong_kinds = [k for k in evidence if k not in ("headcount", "other")]
    sources_with_evidence = {e.url for items in evidence.values() for e in items}
    if len(strong_kinds) >= 4 and len(sources_with_evidence) >= 2:
        confidence = "high"
    elif len(evidence) >= 2:
        confidence = "medium"
    else:
        confidence = "low"

    signals = []
    used: set[str] = set()
    for kind in sorted(evidence, key=lambda k: -evidence[k][0].points):
        # Only kinds the rubric lists; the rest become "other" if it may be used, else they go
        # unmentioned (their points stay in the score, which measures evidence, not labels).
        label = kind if kind in prompt.kinds else "other" if "other" in prompt.kinds else None
        if label is None:
            continue
        items = evidence[kind]
        top = items[0].points
        pick = next((e for e in items if e.points == top and e.excerpt not in used), items[0])
        used.add(pick.excerpt)
        signals.append({"kind": label, "url": pick.url, "excerpt": pick.excerpt})
        if len(signals) == MAX_SIGNALS:
            break
    # Then corroboration, as a careful model gives it: for each kind, the same kind of evidence
    # from one other site, if a page there says it about as strongly.
    for signal in list(signals):
        if len(signals) >= MAX_SIGNALS + MAX_CORROBORATING:
            break
        kind = next(k for k in evidence if signal["excerpt"] in {e.excerpt for e in evidence[k]})
        seen = {_host(s["url"]) for s in signals if s["kind"] == signal["kind"]}
        other = next(
            (
                e
                for e in evidence[kind]
                if 2 * e.points >= evidence[kind][0].points
                and _host(e.url) not in seen
                and e.excerpt not in used
            ),
            None,
        )
        if other is not None:
            used.add(other.excerpt)
            signals.append({"kind": signal["kind"], "url": other.url, "excerpt": other.excerpt})

    if signals:
        named = ", ".join(dict.fromkeys(_KIND_WORDS[s["kind"]] for s in signals[:4]))
        reasoning = (
            f"{company} shows evidence of {named} across {len(sources_with_evidence)} of "
            f"{len(prompt.sources)} sources. "
        )
    elif evidence:
        reasoning = (
            f"{company} shows evidence across {len(sources_with_evidence)} of "
            f"{len(prompt.sources)} sources. "
        )
    else:
        reasoning = f"None of the {len(prompt.sources)} sources mention {company} doing ML work. "
    reasoning += {
        "HOT": "It trains or serves models at scale on dedicated GPUs.",
        "WARM": "It uses ML in its product but relies mostly on managed services.",
        "COLD": "There are no signs that it needs GPU compute.",
    }[tier]
    return {
        "tier": tier,
        "score": score,
        "confidence": confidence,
        "reasoning": reasoning,
        "signals": signals,
    }
